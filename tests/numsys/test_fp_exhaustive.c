/* Every one of the 2^32 float32 inputs through fp16 and bf16 (encode, decode and the
 * fused quantize), against the compiler's _Float16 conversion and against
 * round-to-nearest-even on the upper 16 bits. NaN inputs only need a NaN of the same
 * sign (payloads aside). The _Float16 casts run on the F16C instructions when the CPU
 * has them (libgcc's soft conversion takes ~10 minutes for 2^32); a sample checks the
 * two agree, and without F16C the sweep falls back to a stride, saying so.
 */
#include "numsys/numsys_host.h"
#include "tests/check.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK (1u << 20)

typedef void (*ref_fn)(const float *x, size_t n, uint32_t *code, float *y);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

static void fp16_soft(const float *x, size_t n, uint32_t *code, float *y)
{
    for (size_t i = 0; i < n; i++) {
        _Float16 h = (_Float16)x[i];
        uint16_t hb;
        memcpy(&hb, &h, sizeof(hb));
        code[i] = hb;
        y[i] = (float)h;
    }
}

__attribute__((target("f16c"))) static void fp16_f16c(const float *x, size_t n, uint32_t *code,
                                                      float *y)
{
    for (size_t i = 0; i < n; i++) {
        _Float16 h = (_Float16)x[i];
        uint16_t hb;
        memcpy(&hb, &h, sizeof(hb));
        code[i] = hb;
        y[i] = (float)h;
    }
}

static void bf16_ref(const float *x, size_t n, uint32_t *code, float *y)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = bits(x[i]);
        code[i] = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        uint32_t yb = code[i] << 16;
        memcpy(&y[i], &yb, sizeof(yb));
    }
}

struct bufs {
    float *x, *y, *q, *ry;
    uint64_t *codes;
    uint32_t *rcode;
};

/* Compares one chunk; returns the number of mismatching elements. inf is the code of
 * +inf: a NaN code is anything above it below the sign bit. */
static uint64_t compare(const struct bufs *b, size_t n, uint32_t inf, uint64_t shown)
{
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok;
        if (isnan(b->x[i])) {
            uint32_t c = (uint32_t)b->codes[i], mag = c & 0x7fffu;
            ok = mag > inf && c >> 15 == bits(b->x[i]) >> 31 && isnan(b->y[i]) && isnan(b->q[i]) &&
                 signbit(b->y[i]) == signbit(b->x[i]);
        } else {
            ok = b->codes[i] == b->rcode[i] && bits(b->y[i]) == bits(b->ry[i]) &&
                 bits(b->q[i]) == bits(b->ry[i]);
        }
        if (!ok && bad + shown < 5)
            fprintf(stderr, "  x=0x%08x: code 0x%llx (want 0x%x) y=0x%08x q=0x%08x (want 0x%08x)\n",
                    bits(b->x[i]), (unsigned long long)b->codes[i], b->rcode[i], bits(b->y[i]),
                    bits(b->q[i]), bits(b->ry[i]));
        bad += !ok;
    }
    return bad;
}

static void sweep(const au_numsys_registry *r, const char *spec, ref_fn ref, uint64_t stride,
                  struct bufs *b)
{
    au_numsys_fmt *f;
    struct au_diag d;
    struct au_numsys_blocks blk;
    int64_t ne[1] = {CHUNK};
    CHECK(au_numsys_fmt_new(r, spec, &f, &d) == 0);
    CHECK(au_numsys_blocks_init(&blk, au_numsys_fmt_layout(f), 1, ne, AU_NUMSYS_ROLE_ACT, &d) == 0);
    double t0 = now();
    uint64_t bad = 0, done = 0;
    float inf = INFINITY, yinf;
    uint32_t inf_code;
    ref(&inf, 1, &inf_code, &yinf);
    for (uint64_t base = 0; base < (1ULL << 32); base += (uint64_t)CHUNK * stride) {
        for (uint32_t i = 0; i < CHUNK; i++) {
            uint32_t u = (uint32_t)(base + (uint64_t)i * stride);
            memcpy(&b->x[i], &u, sizeof(u));
        }
        memcpy(b->q, b->x, CHUNK * sizeof(float));
        int rc = au_numsys_encode_tensor(f, &blk, b->x, b->codes, NULL, NULL, &d);
        rc |= au_numsys_decode_tensor(f, &blk, b->codes, NULL, b->y, &d);
        rc |= au_numsys_quantize_tensor(f, &blk, b->q, NULL, NULL, NULL, &d);
        CHECK(rc == 0);
        ref(b->x, CHUNK, b->rcode, b->ry);
        bad += compare(b, CHUNK, inf_code, bad);
        done += CHUNK;
    }
    CHECK_EQ_U64(bad, 0);
    printf("%s: %llu inputs (stride %llu), %llu mismatches, %.1f s\n", spec,
           (unsigned long long)done, (unsigned long long)stride, (unsigned long long)bad,
           now() - t0);
    au_numsys_fmt_free(f);
}

/* The hardware and soft conversions must agree before the hardware one stands in. */
static void f16c_matches_soft(struct bufs *b)
{
    uint64_t bad = 0;
    for (uint64_t base = 0; base < (1ULL << 32); base += 4099ULL * CHUNK) {
        for (uint32_t i = 0; i < CHUNK; i++) {
            uint32_t u = (uint32_t)(base + (uint64_t)i * 4099u);
            memcpy(&b->x[i], &u, sizeof(u));
        }
        fp16_soft(b->x, CHUNK, b->rcode, b->ry);
        fp16_f16c(b->x, CHUNK, (uint32_t *)b->codes, b->y);
        for (uint32_t i = 0; i < CHUNK; i++)
            bad += !isnan(b->x[i]) &&
                   (b->rcode[i] != ((uint32_t *)b->codes)[i] || bits(b->ry[i]) != bits(b->y[i]));
    }
    CHECK_EQ_U64(bad, 0);
}

int main(void)
{
    struct au_diag d;
    au_numsys_registry *r;
    struct bufs b = {malloc(CHUNK * 4), malloc(CHUNK * 4), malloc(CHUNK * 4),
                     malloc(CHUNK * 4), malloc(CHUNK * 8), malloc(CHUNK * 4)};
    CHECK(b.x && b.y && b.q && b.ry && b.codes && b.rcode);
    CHECK(au_numsys_registry_new(&r, &d) == 0);
    bool hw = __builtin_cpu_supports("f16c");
    if (hw)
        f16c_matches_soft(&b);
    else
        printf("SKIP full fp16 sweep: no F16C; soft _Float16 casts on every 61st input\n");
    sweep(r, "fp16", hw ? fp16_f16c : fp16_soft, hw ? 1 : 61, &b);
    sweep(r, "bf16", bf16_ref, 1, &b);
    au_numsys_registry_free(r);
    free(b.x);
    free(b.y);
    free(b.q);
    free(b.ry);
    free(b.codes);
    free(b.rcode);
    return check_report("test_fp_exhaustive");
}
