/* The result message of campaigns/mpi.c without MPI: a packed unit comes back with the same
 * rows (field names re-derived by the callback), an error result keeps its message, and
 * every malformed message (truncated, padded, counts that lie, flips out of trial order, a
 * target or layer out of range) is refused with AU_FORMAT and a reason, never read past its
 * end (ASan checks that the buffers are exact). */
#include "../check.h"
#include "core/alloc.h"
#include "mpi.h"

#include <string.h>

static const char *FIELDS[2] = {"mantissa", "exponent"};

/* Two layers; field "exponent" for bits >= 10, as a layout would say. */
static int field(void *ctx, int layer, int tensor, int is_meta, int bit, const char **name)
{
    (void)ctx;
    (void)tensor;
    (void)is_meta;
    if (layer < 0 || layer > 1)
        return AU_RANGE;
    *name = FIELDS[bit >= 10];
    return AU_OK;
}

static const struct au_mpi_runner RUNNER = {.n_targets = 3, .field = field};

/* n trials, trial i with i % 3 flips, targets i % 3. */
static void fill(struct au_unit_result *ur, size_t n)
{
    static struct au_store_trial t[16];
    static int to[16];
    static struct au_store_flip f[64];
    memset(ur, 0, sizeof(*ur));
    ur->unit = 7;
    ur->trials = t;
    ur->target_of = to;
    ur->flips = f;
    for (size_t i = 0; i < n; i++) {
        t[i] = (struct au_store_trial){.trial_id = 100 + (int64_t)i,
                                       .layer = (int32_t)(i % 2),
                                       .n_flips = (int32_t)(i % 3),
                                       .loss = 0.5 * (double)i,
                                       .outcome = (int32_t)(i % 4)};
        to[i] = (int)(i % 3);
        for (int k = 0; k < t[i].n_flips; k++)
            f[ur->n_flips++] = (struct au_store_flip){
                t[i].trial_id,    (int32_t)(i % 2),    0,   0,   (int64_t)(i * 10 + (size_t)k),
                (int32_t)(5 * k), FIELDS[5 * k >= 10], 1.5, -2.5};
    }
    ur->n_trials = n;
}

static int unpack(const void *buf, size_t n, struct au_unit_result *out, char *msg)
{
    struct au_diag d = {{0}};
    void *copy = malloc(n ? n : 1); /* exact size: ASan catches a read past the end */
    memcpy(copy, buf, n);
    int rc = au_mpi_unpack(&RUNNER, copy, n, out, &d);
    free(copy);
    snprintf(msg, 256, "%s", d.msg);
    return rc;
}

static void free_result(struct au_unit_result *ur)
{
    au_free(ur->trials);
    au_free(ur->target_of);
    au_free(ur->flips);
    memset(ur, 0, sizeof(*ur));
}

static void test_round_trip_keeps_every_row(void)
{
    struct au_unit_result in, out = {0};
    fill(&in, 10);
    void *buf = NULL;
    size_t cap = 0, n = 0;
    char msg[256];
    CHECK_EQ_INT(au_mpi_pack(&in, &buf, &cap, &n), 0);
    CHECK_EQ_INT(unpack(buf, n, &out, msg), 0);
    CHECK_EQ_INT(out.unit, 7);
    CHECK_EQ_INT(out.status, 0);
    CHECK_EQ_U64(out.n_trials, 10);
    CHECK_EQ_U64(out.n_flips, in.n_flips);
    CHECK(memcmp(out.trials, in.trials, 10 * sizeof(*in.trials)) == 0);
    CHECK(memcmp(out.target_of, in.target_of, 10 * sizeof(int)) == 0);
    for (size_t k = 0; k < in.n_flips; k++) {
        const struct au_store_flip *a = &in.flips[k], *b = &out.flips[k];
        CHECK(a->trial_id == b->trial_id && a->index == b->index && a->bit == b->bit &&
              a->layer == b->layer && a->before == b->before && a->after == b->after);
        CHECK(b->field && !strcmp(a->field, b->field));
    }
    /* a status-only result keeps its message */
    struct au_unit_result e = {.unit = 3, .status = AU_SHAPE};
    snprintf(e.msg, sizeof(e.msg), "m.onnx:conv1: bad shape");
    CHECK_EQ_INT(au_mpi_pack(&e, &buf, &cap, &n), 0);
    CHECK_EQ_INT(unpack(buf, n, &out, msg), 0);
    CHECK_EQ_INT(out.status, AU_SHAPE);
    CHECK(!strcmp(out.msg, "m.onnx:conv1: bad shape"));
    CHECK_EQ_U64(out.n_trials, 0);
    free(buf);
    free_result(&out);
}

/* A mutation of a good message must give AU_FORMAT with a message containing want. */
static void refused(const char *what, const void *buf, size_t n, const char *want)
{
    struct au_unit_result out = {0};
    char msg[256];
    int rc = unpack(buf, n, &out, msg);
    CHECK_EQ_INT(rc, AU_FORMAT);
    CHECK(strstr(msg, want) != NULL);
    if (rc != AU_FORMAT || !strstr(msg, want))
        fprintf(stderr, "%s: rc %d, message '%s' (wanted '%s')\n", what, rc, msg, want);
    free_result(&out);
}

static void test_malformed_messages_are_refused(void)
{
    struct au_unit_result in;
    fill(&in, 6);
    void *buf = NULL;
    size_t cap = 0, n = 0;
    CHECK_EQ_INT(au_mpi_pack(&in, &buf, &cap, &n), 0);
    unsigned char *m = malloc(n + 16);
    size_t head = 32, trials = head + 6 * sizeof(struct au_store_trial), flips = trials + 6 * 4;
    for (size_t cut = 0; cut < n; cut += 7) /* every truncation */
        refused("truncated", buf, cut, cut < head ? "shorter than its head" : "result message");
    memcpy(m, buf, n);
    memset(m + n, 0, 16);
    refused("padded", m, n + 16, "its head says");
    uint64_t big = UINT64_MAX / 2;
    memcpy(m + 16, &big, 8); /* n_trials */
    refused("huge count", m, n, "out of range");
    memcpy(m, buf, n);
    int32_t bad = 3;
    memcpy(m + trials + 4, &bad, 4); /* target of trial 1 */
    refused("target", m, n, "target 3 out of range");
    memcpy(m, buf, n);
    int64_t other = 555;
    memcpy(m + flips, &other, 8); /* first flip (of trial 101) names another trial */
    refused("flip order", m, n, "belongs to trial 555");
    memcpy(m, buf, n);
    int32_t layer = 9;
    memcpy(m + flips + 16, &layer, 4);
    refused("layer", m, n, "outside the model");
    memcpy(m, buf, n);
    int32_t nf = 1;
    memcpy(m + head + 0 * sizeof(struct au_store_trial) + 20, &nf, 4); /* trial 0: n_flips */
    refused("n_flips", m, n, "belongs to trial 101, not 100");
    free(m);
    free(buf);
}

int main(void)
{
    test_round_trip_keeps_every_row();
    test_malformed_messages_are_refused();
    return check_report("test_mpi_wire");
}
