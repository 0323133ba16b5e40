/* MPI transport of the campaign runner (see mpi.h). Rank 0's dispatcher is one thread that
 * polls with MPI_Iprobe and naps, so it takes no core from the local workers and 1,000 ranks
 * need no 1,000 threads. Messages are plain bytes: every rank runs the same binary (the
 * setup fingerprint includes the row struct sizes), so trial rows travel as their structs;
 * a flip's field name is re-derived on rank 0 instead of being sent as a string. */
#include "mpi.h"

#include "core/alloc.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum { TAG_HELLO = 1, TAG_UNIT, TAG_RESULT, TAG_STOP, TAG_BYE };

static struct {
    bool on;
    int rank, size;
    MPI_Comm comm;
    int64_t bytes;        /* rank 0: unit and result messages, both directions */
    int64_t units_remote; /* rank 0: results received */
    int64_t trials_remote;
} g = {.size = 1};

/* Setup outcome of a rank, its first message. */
struct hello {
    int32_t status, pad;
    uint64_t fingerprint;
    char msg[256];
};

struct bye {
    int64_t max_rss_kb, units;
};

/* Result message: head, msg_len bytes of message, trials, target_of (int32), flips. */
struct wire_head {
    int64_t unit;
    int32_t status, msg_len;
    uint64_t n_trials, n_flips;
};

struct wire_flip {
    int64_t trial_id, index;
    int32_t layer, tensor, is_meta, bit;
    double before, after;
};

#define TRIAL_BYTES (sizeof(struct au_store_trial) + sizeof(int32_t))

int au_mpi_init(struct au_diag *d)
{
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK"))
        return AU_OK;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return au_diag_set(d, AU_UNSUPPORTED, "MPI_Init_thread failed");
    g.on = true;
    MPI_Comm_dup(MPI_COMM_WORLD, &g.comm);
    MPI_Comm_rank(g.comm, &g.rank);
    MPI_Comm_size(g.comm, &g.size);
    if (provided < MPI_THREAD_SERIALIZED) /* rank 0 talks from its dispatcher thread */
        return au_diag_set(d, AU_UNSUPPORTED,
                           "MPI: the library gives thread level %d, aurum needs "
                           "MPI_THREAD_SERIALIZED (%d)",
                           provided, MPI_THREAD_SERIALIZED);
    return AU_OK;
}

void au_mpi_finalize(void)
{
    if (!g.on)
        return;
    MPI_Comm_free(&g.comm);
    MPI_Finalize();
    g.on = false;
}

int au_mpi_rank(void)
{
    return g.rank;
}

int au_mpi_size(void)
{
    return g.size;
}

/* Sleep a little, longer each idle round up to max_ns: a blocking MPI call would spin. */
static void nap(long *ns, long max_ns)
{
    *ns = *ns ? (*ns * 2 > max_ns ? max_ns : *ns * 2) : 2000;
    struct timespec ts = {0, *ns};
    nanosleep(&ts, NULL);
}

static void wait_for(int src, int tag, long max_ns, MPI_Status *st)
{
    int flag = 0;
    long ns = 0;
    for (;;) {
        MPI_Iprobe(src, tag, g.comm, &flag, st);
        if (flag)
            return;
        nap(&ns, max_ns);
    }
}

/* ---- result messages ---- */

static size_t packed_size(const struct au_unit_result *ur, size_t msg_len)
{
    return sizeof(struct wire_head) + msg_len + ur->n_trials * TRIAL_BYTES +
           ur->n_flips * sizeof(struct wire_flip);
}

static void pack_into(const struct au_unit_result *ur, size_t msg_len, char *p)
{
    struct wire_head h = {ur->unit, ur->status, (int32_t)msg_len, ur->n_trials, ur->n_flips};
    memcpy(p, &h, sizeof(h));
    p += sizeof(h);
    memcpy(p, ur->msg, msg_len);
    p += msg_len;
    if (ur->n_trials) {
        memcpy(p, ur->trials, ur->n_trials * sizeof(*ur->trials));
        p += ur->n_trials * sizeof(*ur->trials);
    }
    for (size_t i = 0; i < ur->n_trials; i++, p += sizeof(int32_t)) {
        int32_t t = ur->target_of[i];
        memcpy(p, &t, sizeof(t));
    }
    for (size_t i = 0; i < ur->n_flips; i++, p += sizeof(struct wire_flip)) {
        const struct au_store_flip *f = &ur->flips[i];
        struct wire_flip w = {f->trial_id, f->index, f->layer,  f->tensor,
                              f->is_meta,  f->bit,   f->before, f->after};
        memcpy(p, &w, sizeof(w));
    }
}

int au_mpi_pack(const struct au_unit_result *ur, void **buf, size_t *cap, size_t *nbytes)
{
    size_t ml = ur->status ? strnlen(ur->msg, sizeof(ur->msg) - 1) : 0;
    size_t need = packed_size(ur, ml);
    if (need > *cap) {
        void *nb = au_realloc(*buf, need);
        if (!nb)
            return AU_NOMEM;
        *buf = nb;
        *cap = need;
    }
    pack_into(ur, ml, *buf);
    *nbytes = need;
    return AU_OK;
}

static int reserve(struct au_unit_result *ur, size_t n_trials, size_t n_flips)
{
    if (n_trials > ur->cap_trials) {
        struct au_store_trial *t = au_realloc(ur->trials, n_trials * sizeof(*t));
        if (t)
            ur->trials = t;
        int *to = t ? au_realloc(ur->target_of, n_trials * sizeof(*to)) : NULL;
        if (!to)
            return AU_NOMEM;
        ur->target_of = to;
        ur->cap_trials = n_trials;
    }
    if (n_flips > ur->cap_flips) {
        struct au_store_flip *f = au_realloc(ur->flips, n_flips * sizeof(*f));
        if (!f)
            return AU_NOMEM;
        ur->flips = f;
        ur->cap_flips = n_flips;
    }
    return AU_OK;
}

/* Flips: each trial's n_flips rows in trial order, field names from rank 0's layouts. */
static int unpack_flips(const struct au_mpi_runner *rn, const char *p, struct au_unit_result *ur,
                        struct au_diag *d)
{
    size_t k = 0;
    for (size_t i = 0; i < ur->n_trials; i++) {
        const struct au_store_trial *t = &ur->trials[i];
        if (ur->target_of[i] < 0 || ur->target_of[i] >= rn->n_targets)
            return au_diag_set(d, AU_FORMAT, "trial %lld: target %d out of range",
                               (long long)t->trial_id, ur->target_of[i]);
        for (int32_t j = 0; j < t->n_flips; j++, k++) {
            struct wire_flip w;
            if (k >= ur->n_flips)
                return au_diag_set(d, AU_FORMAT, "trial %lld: fewer flips than its n_flips",
                                   (long long)t->trial_id);
            memcpy(&w, p + k * sizeof(w), sizeof(w));
            if (w.trial_id != t->trial_id)
                return au_diag_set(d, AU_FORMAT, "flip %zu belongs to trial %lld, not %lld", k,
                                   (long long)w.trial_id, (long long)t->trial_id);
            const char *name = NULL;
            if (rn->field(rn->ctx, w.layer, w.tensor, w.is_meta, w.bit, &name))
                return au_diag_set(d, AU_FORMAT,
                                   "trial %lld: flip in layer %d tensor %d is "
                                   "outside the model",
                                   (long long)t->trial_id, w.layer, w.tensor);
            ur->flips[k] = (struct au_store_flip){w.trial_id, w.layer, w.tensor, w.is_meta, w.index,
                                                  w.bit,      name,    w.before, w.after};
        }
    }
    if (k != ur->n_flips)
        return au_diag_set(d, AU_FORMAT, "%zu flips for trials that have %zu", ur->n_flips, k);
    return AU_OK;
}

int au_mpi_unpack(const struct au_mpi_runner *rn, const void *buf, size_t nbytes,
                  struct au_unit_result *ur, struct au_diag *d)
{
    struct wire_head h;
    const char *p = buf;
    if (nbytes < sizeof(h))
        return au_diag_set(d, AU_FORMAT, "result message of %zu bytes is shorter than its head",
                           nbytes);
    memcpy(&h, p, sizeof(h));
    size_t rest = nbytes - sizeof(h);
    if (h.msg_len < 0 || h.msg_len >= (int32_t)sizeof(ur->msg) || h.n_trials > rest / TRIAL_BYTES ||
        h.n_flips > rest / sizeof(struct wire_flip))
        return au_diag_set(d, AU_FORMAT, "result message head is out of range");
    ur->unit = h.unit;
    ur->n_trials = (size_t)h.n_trials;
    ur->n_flips = (size_t)h.n_flips;
    if (packed_size(ur, (size_t)h.msg_len) != nbytes)
        return au_diag_set(d, AU_FORMAT, "result message of %zu bytes, its head says %zu", nbytes,
                           packed_size(ur, (size_t)h.msg_len));
    if (reserve(ur, ur->n_trials, ur->n_flips))
        return au_diag_set(d, AU_NOMEM, "out of memory");
    ur->status = h.status;
    memcpy(ur->msg, p + sizeof(h), (size_t)h.msg_len);
    ur->msg[h.msg_len] = '\0';
    p += sizeof(h) + (size_t)h.msg_len;
    if (ur->n_trials)
        memcpy(ur->trials, p, ur->n_trials * sizeof(*ur->trials));
    p += ur->n_trials * sizeof(*ur->trials);
    for (size_t i = 0; i < ur->n_trials; i++, p += sizeof(int32_t)) {
        int32_t t;
        memcpy(&t, p, sizeof(t));
        ur->target_of[i] = t;
    }
    return unpack_flips(rn, p, ur, d);
}

/* ---- rank 0 ---- */

int au_mpi_gather(const struct au_mpi_runner *rn, int status, struct au_diag *d)
{
    int first = AU_OK;
    for (int k = 1; k < g.size; k++) {
        struct hello h;
        MPI_Status st;
        wait_for(k, TAG_HELLO, 1000000, &st);
        MPI_Recv(&h, sizeof(h), MPI_BYTE, k, TAG_HELLO, g.comm, MPI_STATUS_IGNORE);
        h.msg[sizeof(h.msg) - 1] = '\0';
        if (status || first)
            continue;
        if (h.status)
            first = au_diag_set(d, h.status, "rank %d: %s", k,
                                h.msg[0] ? h.msg : au_strerror(h.status));
        else if (rn && h.fingerprint != rn->fingerprint)
            first = au_diag_set(d, AU_INVALID,
                                "rank %d: its plan, data or golden run differs from rank 0's "
                                "(fingerprint %016llx, rank 0 %016llx): run the same aurum "
                                "build on the same files everywhere",
                                k, (unsigned long long)h.fingerprint,
                                (unsigned long long)rn->fingerprint);
    }
    return status ? status : first;
}

/* Files a result from rank src (the oldest unit it has out) into the runner's ring. */
static void receive(const struct au_mpi_runner *rn, const MPI_Status *st, int64_t *queue,
                    int *n_out, void **buf, size_t *cap)
{
    int src = st->MPI_SOURCE, count = 0, r = src - 1;
    MPI_Get_count(st, MPI_BYTE, &count);
    int64_t u = queue[r * AU_MPI_DEPTH];
    memmove(&queue[r * AU_MPI_DEPTH], &queue[r * AU_MPI_DEPTH + 1],
            (AU_MPI_DEPTH - 1) * sizeof(*queue));
    n_out[r]--;
    struct au_unit_result *ur = rn->slot(rn->ctx, u);
    struct au_diag d = {{0}};
    int rc = AU_OK;
    if ((size_t)count > *cap) {
        void *nb = au_realloc(*buf, (size_t)count);
        rc = nb ? AU_OK : au_diag_set(&d, AU_NOMEM, "out of memory for a %d-byte result", count);
        if (nb) {
            *buf = nb;
            *cap = (size_t)count;
        }
    }
    if (rc) /* take the message off the queue anyway: truncated, an error code, not an abort */
        MPI_Comm_set_errhandler(g.comm, MPI_ERRORS_RETURN);
    MPI_Recv(*buf, rc ? 0 : count, MPI_BYTE, src, TAG_RESULT, g.comm, MPI_STATUS_IGNORE);
    if (rc)
        MPI_Comm_set_errhandler(g.comm, MPI_ERRORS_ARE_FATAL);
    g.bytes += count;
    g.units_remote++;
    if (!rc)
        rc = au_mpi_unpack(rn, *buf, (size_t)count, ur, &d);
    if (!rc && ur->unit != u)
        rc = au_diag_set(&d, AU_FORMAT, "result for unit %lld", (long long)ur->unit);
    if (!rc)
        g.trials_remote += (int64_t)ur->n_trials;
    if (rc) {
        ur->status = rc;
        snprintf(ur->msg, sizeof(ur->msg), "rank %d: unit %lld: %.200s", src, (long long)u, d.msg);
    } else if (ur->status) {
        char m[sizeof(ur->msg)];
        snprintf(m, sizeof(m), "rank %d: %.230s", src, ur->msg);
        memcpy(ur->msg, m, sizeof(m));
    }
    ur->unit = u;
    rn->done(rn->ctx, u);
}

/* Gives every rank up to AU_MPI_DEPTH units, least loaded first. False once take says
 * there are none left. */
static bool fill(const struct au_mpi_runner *rn, int64_t *queue, int *n_out, int *out,
                 unsigned char *msg, bool *stopped)
{
    for (int k = 0; k < AU_MPI_DEPTH; k++)
        for (int r = 0; r < g.size - 1; r++) {
            if (n_out[r] != k)
                continue;
            int64_t u;
            int got = rn->take(rn->ctx, &u, stopped);
            if (got <= 0)
                return got == 0;
            memcpy(msg, &u, sizeof(u));
            for (int t = 0; t < rn->n_targets; t++)
                msg[sizeof(u) + (size_t)t] = stopped[t];
            int n = (int)sizeof(u) + rn->n_targets;
            MPI_Send(msg, n, MPI_BYTE, r + 1, TAG_UNIT, g.comm);
            g.bytes += n;
            queue[r * AU_MPI_DEPTH + n_out[r]++] = u;
            (*out)++;
        }
    return true;
}

/* Without buffers the dispatcher fails every unit it takes, which stops the run. */
static void fail_all(const struct au_mpi_runner *rn, bool *stopped)
{
    int64_t u;
    int got;
    while ((got = rn->take(rn->ctx, &u, stopped)) >= 0) {
        if (!got) {
            long ns = 0;
            nap(&ns, 100000);
            continue;
        }
        struct au_unit_result *ur = rn->slot(rn->ctx, u);
        ur->unit = u;
        ur->status = AU_NOMEM;
        snprintf(ur->msg, sizeof(ur->msg), "out of memory in the MPI dispatcher");
        rn->done(rn->ctx, u);
    }
}

void au_mpi_dispatch(const struct au_mpi_runner *rn)
{
    int n = g.size - 1, out = 0;
    int64_t *queue = au_calloc((size_t)n * AU_MPI_DEPTH + 1, sizeof(*queue));
    int *n_out = au_calloc((size_t)n + 1, sizeof(*n_out));
    unsigned char *msg = au_malloc(sizeof(int64_t) + (size_t)rn->n_targets + 1);
    bool *stopped = au_calloc((size_t)rn->n_targets + 1, sizeof(*stopped));
    void *buf = NULL;
    size_t cap = 0;
    bool more = queue && n_out && msg && stopped;
    if (!more && stopped) /* without flags, the local workers do all the units */
        fail_all(rn, stopped);
    long ns = 0;
    while (more || out > 0) {
        if (more)
            more = fill(rn, queue, n_out, &out, msg, stopped);
        if (!more && out == 0)
            break;
        MPI_Status st;
        int flag = 0;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, g.comm, &flag, &st);
        if (!flag) {
            nap(&ns, 200000);
            continue;
        }
        ns = 0;
        receive(rn, &st, queue, n_out, &buf, &cap);
        out--;
    }
    au_free(buf);
    au_free(queue);
    au_free(n_out);
    au_free(msg);
    au_free(stopped);
}

void au_mpi_stop(struct au_mpi_stats *st)
{
    struct au_mpi_stats s = {g.size, g.bytes, g.units_remote, g.trials_remote, 0};
    for (int k = 1; k < g.size; k++)
        MPI_Send(NULL, 0, MPI_BYTE, k, TAG_STOP, g.comm);
    for (int k = 1; k < g.size; k++) {
        struct bye b;
        MPI_Status ms;
        wait_for(k, TAG_BYE, 1000000, &ms);
        MPI_Recv(&b, sizeof(b), MPI_BYTE, k, TAG_BYE, g.comm, MPI_STATUS_IGNORE);
        if (b.max_rss_kb > s.max_rss_kb)
            s.max_rss_kb = b.max_rss_kb;
    }
    if (st)
        *st = s;
}

/* ---- the other ranks ---- */

/* A result that carries only a status (no rows), packed without allocating. */
static void send_status(int64_t u, int status, const char *m)
{
    struct au_unit_result ur = {.unit = u, .status = status};
    snprintf(ur.msg, sizeof(ur.msg), "%s", m);
    char buf[sizeof(struct wire_head) + sizeof(ur.msg)];
    size_t ml = strnlen(ur.msg, sizeof(ur.msg) - 1);
    pack_into(&ur, ml, buf);
    MPI_Send(buf, (int)packed_size(&ur, ml), MPI_BYTE, 0, TAG_RESULT, g.comm);
}

/* Computes one unit message (already received into msg) and sends its rows back. */
static void serve_unit(const struct au_mpi_runner *rn, int status, const unsigned char *msg,
                       int count, bool *stopped, struct au_unit_result *ur, void **buf, size_t *cap)
{
    int64_t u = -1;
    if (count >= (int)sizeof(u))
        memcpy(&u, msg, sizeof(u));
    if (status || !rn || count != (int)sizeof(u) + rn->n_targets) {
        send_status(u, status ? status : AU_FORMAT, "unit message does not fit this rank's plan");
        return;
    }
    for (int t = 0; t < rn->n_targets; t++)
        stopped[t] = msg[sizeof(u) + (size_t)t] != 0;
    struct au_diag d = {{0}};
    ur->n_trials = ur->n_flips = 0;
    ur->status = rn->run(rn->ctx, u, stopped, ur, &d);
    ur->unit = u;
    snprintf(ur->msg, sizeof(ur->msg), "%s", ur->status ? d.msg : "");
    size_t n = 0;
    if (au_mpi_pack(ur, buf, cap, &n) || n > (size_t)INT32_MAX)
        send_status(u, AU_NOMEM, "out of memory packing a result");
    else
        MPI_Send(*buf, (int)n, MPI_BYTE, 0, TAG_RESULT, g.comm);
}

int au_mpi_serve(const struct au_mpi_runner *rn, int status, const struct au_diag *d)
{
    struct hello h = {.status = status ? status
                                : rn   ? AU_OK
                                       : AU_INVALID,
                      .fingerprint = rn ? rn->fingerprint : 0};
    snprintf(h.msg, sizeof(h.msg), "%s", d && h.status ? d->msg : "");
    MPI_Send(&h, sizeof(h), MPI_BYTE, 0, TAG_HELLO, g.comm);
    int nt = rn ? rn->n_targets : 0;
    unsigned char *msg = au_malloc(sizeof(int64_t) + (size_t)nt + 1);
    bool *stopped = au_calloc((size_t)nt + 1, sizeof(*stopped));
    struct au_unit_result ur = {0};
    void *buf = NULL;
    size_t cap = 0;
    int64_t units = 0;
    if (!msg || !stopped)
        status = status ? status : AU_NOMEM;
    for (;;) {
        MPI_Status st;
        int count = 0;
        wait_for(0, MPI_ANY_TAG, 1000000, &st);
        MPI_Get_count(&st, MPI_BYTE, &count);
        if (st.MPI_TAG != TAG_UNIT || !msg || count > (int)sizeof(int64_t) + nt) {
            MPI_Recv(NULL, 0, MPI_BYTE, 0, st.MPI_TAG, g.comm, MPI_STATUS_IGNORE);
            if (st.MPI_TAG == TAG_STOP)
                break;
            send_status(-1, AU_FORMAT, "unexpected message from rank 0");
            continue;
        }
        MPI_Recv(msg, count, MPI_BYTE, 0, TAG_UNIT, g.comm, MPI_STATUS_IGNORE);
        serve_unit(rn, status, msg, count, stopped, &ur, &buf, &cap);
        units++;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct bye b = {ru.ru_maxrss, units};
    MPI_Send(&b, sizeof(b), MPI_BYTE, 0, TAG_BYE, g.comm);
    au_free(msg);
    au_free(stopped);
    au_free(buf);
    au_free(ur.trials);
    au_free(ur.target_of);
    au_free(ur.flips);
    return status;
}
