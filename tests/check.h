/* Minimal test harness: CHECK* record a failure (file, line, seed) and continue;
 * main() returns check_report(). Random tests honour AURUM_TEST_SEED. */
#ifndef AU_CHECK_H
#define AU_CHECK_H

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures_;
static int check_count_;

static inline uint64_t check_seed(void)
{
    const char *s = getenv("AURUM_TEST_SEED");
    return s ? strtoull(s, NULL, 0) : 0x853c49e6748fea9bULL;
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        check_count_++;                                                                            \
        if (!(cond)) {                                                                             \
            check_failures_++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK(%s) failed (seed %" PRIu64 ")\n", __FILE__, __LINE__,   \
                    #cond, check_seed());                                                          \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                         \
    do {                                                                                           \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                           \
        check_count_++;                                                                            \
        if (a_ != b_) {                                                                            \
            check_failures_++;                                                                     \
            fprintf(stderr, "%s:%d: %s == %s failed: 0x%" PRIx64 " != 0x%" PRIx64 "\n", __FILE__,  \
                    __LINE__, #a, #b, a_, b_);                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        check_count_++;                                                                            \
        if (a_ != b_) {                                                                            \
            check_failures_++;                                                                     \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    a_, b_);                                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        check_count_++;                                                                            \
        if (!(fabs(a_ - b_) <= (tol))) {                                                           \
            check_failures_++;                                                                     \
            fprintf(stderr, "%s:%d: %s ~= %s failed: %.9g vs %.9g (tol %g)\n", __FILE__, __LINE__, \
                    #a, #b, a_, b_, (double)(tol));                                                \
        }                                                                                          \
    } while (0)

static inline int check_report(const char *name)
{
    if (check_failures_)
        fprintf(stderr, "%s: %d of %d checks failed\n", name, check_failures_, check_count_);
    else
        printf("%s: %d checks passed\n", name, check_count_);
    return check_failures_ ? 1 : 0;
}

#endif
