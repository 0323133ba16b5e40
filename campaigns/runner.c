/* The campaign runner. Setup (models, formats, golden pass, plan, store) runs once;
 * then workers take units (one batch of sample positions each) from a counter and the
 * calling thread commits finished units strictly in order. CI stopping is decided by the
 * committer after each unit, so it too is independent of the number of workers. */
#include "runner.h"

#include "core/alloc.h"
#include "core/dataset.h"
#include "core/metrics.h"
#include "core/onnx.h"
#include "injectors/inject.h"
#include "injectors/poisson.h"
#include "mpi.h"
#include "plan.h"
#include "store.h"
#include "validate.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A saved golden arena: the golden run of data batch j. */
struct gcache {
    int64_t j;
    void *arena;
    uint64_t used;
};

struct worker {
    int64_t batch;
    struct gcache *gc; /* golden runs of other data batches */
    int n_gc, cap_gc;
    int64_t cur_j; /* data batch whose golden run the graph holds, -1 if none */
    uint64_t tick;
    double t_golden, t_arena; /* CPU s of a golden run / of a fresh arena (0: not yet) */
    struct worker *solo;      /* batch-1 twin for trials that need a run of their own */
    struct au_graph *g;
    struct au_emul *e;
    struct au_inject *inj;
    struct au_site *tmp;          /* max_sites */
    struct au_inject_site *sites; /* batch * max_sites */
    struct au_slot_faults *slots; /* batch */
    struct au_flip_record *rec;   /* batch * max_sites */
    float *gold;                  /* golden output of the current unit */
    double *gold_loss;            /* per slot */
    int64_t *gold_top1;           /* per slot and position */
    struct au_diag diag;
    pthread_t thread;
};

struct target_stats {
    int64_t n, n_finite;
    double sum, sumsq, mismatch;
    bool stopped;
};

struct ctx {
    const struct au_campaign *c;
    const struct au_run_opts *o;
    au_numsys_registry *reg;
    struct au_dataset ds;
    struct au_array labels; /* int64 [n * positions] */
    int64_t positions, classes;
    int64_t *analysis; /* sample indices the trials draw from */
    int64_t n_analysis, n_data_batches;
    struct au_range *ranges; /* float32 profile per node, when needed */
    struct worker *w;
    int n_workers, w_cap;
    struct au_plan plan;
    au_store *store;
    int64_t campaign;
    uint8_t *unit_done;
    struct target_stats *stats;
    /* scheduling */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t next_unit, next_commit, window;
    struct au_unit_result *results; /* ring of window entries */
    bool abort;
    atomic_int cur_target; /* the target a worker ran last: the progress line's layer */
    /* MPI (mpi.h): ranks > 1 when distributed; a remote rank has no store */
    int ranks;
    bool remote;
    uint64_t fingerprint;
};

static int emul_spec(const struct au_campaign *c, struct au_emul_spec *s,
                     struct au_emul_rule **rules)
{
    int n = 0;
    for (int r = 0; r < c->formats.n_rules; r++)
        n += c->formats.rules[r].select.n;
    *rules = au_calloc((size_t)n + 1, sizeof(**rules));
    if (!*rules)
        return AU_NOMEM;
    n = 0;
    for (int r = 0; r < c->formats.n_rules; r++)
        for (int k = 0; k < c->formats.rules[r].select.n; k++)
            (*rules)[n++] =
                (struct au_emul_rule){c->formats.rules[r].select.v[k], c->formats.rules[r].weights,
                                      c->formats.rules[r].activations};
    *s = (struct au_emul_spec){c->formats.weights, c->formats.activations, *rules, n, c->seed};
    return AU_OK;
}

static int profile_ranges(struct ctx *x, struct au_graph *g, struct au_diag *d);

static int load_graph(const struct au_campaign *c, int64_t batch, struct au_graph **g,
                      struct au_diag *d)
{
    int rc = au_onnx_load(c->model, g, d);
    return rc ? rc : au_graph_prepare(*g, batch, AU_PREPARE_KEEP, d);
}

/* A worker's formats, injector and scratch on its graph (w->g loaded). The first worker
 * also runs the float32 profile when static scales or the range detector need it. */
static int worker_init(struct ctx *x, struct worker *w, int64_t batch, struct au_diag *d)
{
    const struct au_campaign *c = x->c;
    struct au_emul_spec s;
    struct au_emul_rule *rules = NULL;
    w->batch = batch;
    int rc = w->g ? AU_OK : load_graph(c, batch, &w->g, d);
    if (!rc)
        rc = emul_spec(c, &s, &rules);
    if (!rc)
        rc = au_emul_new(w->g, x->reg, &s, &w->e, d);
    bool need = !rc && (au_emul_needs_absmax(w->e) || c->range_detector);
    if (need && !x->ranges)
        rc = profile_ranges(x, w->g, d);
    if (need && !rc)
        rc = au_emul_set_absmax(w->e, x->ranges, d);
    if (!rc)
        rc = au_emul_apply(w->e, d);
    if (!rc)
        rc = au_inject_new(w->g, w->e, x->reg, c->seed, &w->inj, d);
    if (!rc && c->range_detector)
        rc = au_inject_set_range_detector(w->inj, x->ranges, d);
    if (!rc) { /* naive: a full forward per run, as a tool without the golden cache does */
        au_inject_set_naive(w->inj, x->o->naive);
        au_inject_set_compact(w->inj, x->o->compact);
        rc = au_inject_set_requantize(w->inj, c->metadata_faults == AU_CAMPAIGN_REQUANTIZE, d);
    }
    au_free(rules);
    return rc == AU_NOMEM ? au_diag_set(d, rc, "out of memory") : rc;
}

/* Golden caches: up to one per data batch, within 256 MB per worker. */
static int worker_caches(const struct ctx *x, struct worker *w, struct au_diag *d)
{
    size_t per = au_graph_arena_bytes(w->g) + 64, budget = (size_t)256 << 20;
    int64_t cap = x->n_data_batches - 1;
    if ((int64_t)(budget / per) < cap)
        cap = (int64_t)(budget / per);
    w->cur_j = -1;
    w->cap_gc = cap > 0 ? (int)cap : 0;
    w->gc = au_calloc((size_t)w->cap_gc + 1, sizeof(*w->gc));
    return w->gc ? AU_OK : au_diag_set(d, AU_NOMEM, "out of memory");
}

static int worker_scratch(struct worker *w, size_t max_sites, struct au_diag *d)
{
    size_t b = (size_t)w->batch, nout = (size_t)au_tensor_numel(au_graph_output(w->g, 0));
    w->tmp = au_calloc(max_sites + 1, sizeof(*w->tmp));
    w->sites = au_calloc((b + 1) * max_sites + 1, sizeof(*w->sites)); /* + one spare trial */
    w->slots = au_calloc(b + 1, sizeof(*w->slots));
    w->rec = au_calloc(b * max_sites + 1, sizeof(*w->rec));
    w->gold = au_calloc(nout + 1, sizeof(float));
    w->gold_loss = au_calloc(b + 1, sizeof(double));
    w->gold_top1 = au_calloc(nout + 1, sizeof(int64_t));
    if (!w->tmp || !w->sites || !w->slots || !w->rec || !w->gold || !w->gold_loss || !w->gold_top1)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    return AU_OK;
}

static void worker_fini(struct worker *w)
{
    for (int k = 0; k < w->n_gc; k++)
        au_graph_arena_free(w->gc[k].arena);
    au_free(w->gc);
    if (w->solo) {
        worker_fini(w->solo);
        au_free(w->solo);
    }
    au_inject_free(w->inj);
    au_emul_free(w->e);
    au_graph_free(w->g);
    au_free(w->tmp);
    au_free(w->sites);
    au_free(w->slots);
    au_free(w->rec);
    au_free(w->gold);
    au_free(w->gold_loss);
    au_free(w->gold_top1);
}

/* The data batch of unit u (B consecutive samples of the analysis set, the last batch
 * filled up from the start of the set). A campaign with a fixed number of trials gives
 * each data batch a run of consecutive units (counts differ by at most one), so a worker
 * runs a batch's golden pass once and keeps it in place. A campaign that stops on its
 * confidence intervals cycles through the batches instead, so that wherever it stops its
 * trials are spread over the whole analysis set (golden runs then go to cache arenas). */
static bool contiguous(const struct ctx *x)
{
    return x->c->stop.type != AU_CAMPAIGN_STOP_CI;
}

static int64_t batch_of(const struct ctx *x, int64_t unit)
{
    int64_t d = x->n_data_batches, u = x->plan.n_units;
    return contiguous(x) && u > 0 ? unit * d / u : unit % d;
}

/* Sample at position p = unit * batch + slot of the trial stream. */
static int64_t sample_at(const struct ctx *x, int64_t position)
{
    int64_t b = x->c->batch;
    return x->analysis[(batch_of(x, position / b) * b + position % b) % x->n_analysis];
}

/* Fill the input with the samples at positions [first, first + batch). */

static void load_positions(const struct ctx *x, struct worker *w, int64_t first)
{
    char *dst = au_graph_input_tensor(w->g, 0)->data;
    for (int64_t b = 0; b < w->batch; b++) {
        int64_t s = sample_at(x, first + b);
        memcpy(dst + (size_t)b * x->ds.sample_nbytes,
               (const char *)x->ds.x.t.data + (size_t)s * x->ds.sample_nbytes, x->ds.sample_nbytes);
    }
}

static const int64_t *labels_of(const struct ctx *x, int64_t sample)
{
    return (const int64_t *)x->labels.t.data + sample * x->positions;
}

static size_t row_floats(const struct ctx *x)
{
    return (size_t)(x->positions * x->classes);
}

/* The golden outputs of the last run, per-slot loss and per-position top-1, kept aside
 * for n slots whose samples sit at positions first, first + 1, ... */
static void keep_golden(const struct ctx *x, struct worker *w, int64_t n, int64_t first)
{
    /* the golden view: when a worker's next unit reuses the data batch in place, the graph
     * output still points at the last trial's rows (found by the MPI equality test) */
    struct au_tensor gt;
    const float *out = au_graph_golden(w->g, au_graph_output_value(w->g, 0), &gt)
                           ? gt.data
                           : au_graph_output(w->g, 0)->data;
    memcpy(w->gold, out, (size_t)n * row_floats(x) * sizeof(float));
    for (int64_t b = 0; b < n; b++) {
        int64_t s = sample_at(x, first + b);
        struct au_sample_metrics m;
        const float *row = w->gold + (size_t)b * row_floats(x);
        au_metrics_sample(row, x->positions, x->classes, labels_of(x, s), &m);
        w->gold_loss[b] = m.loss;
        for (int64_t p = 0; p < x->positions; p++)
            w->gold_top1[b * x->positions + p] = au_argmax(row + p * x->classes, x->classes);
    }
}

/* Golden run of a unit: outputs, per-slot loss and per-position top-1 kept aside. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Whether to keep data batch j's golden run (in the graph now) for later units. A fresh
 * cache arena costs the first touch of its pages, which in a VM is worth several golden
 * runs (LeNet-5: about ten), and saves one golden run per later visit; so a new arena is
 * made only if this worker's later units visit j more often than the arena costs, as
 * measured here. Reusing an evicted arena costs nothing, so then one visit suffices. */
static bool worth_keeping(const struct ctx *x, const struct worker *w, int64_t unit)
{
    int64_t spread = (int64_t)x->n_workers * (x->o->shard_n > 0 ? x->o->shard_n : 1);
    double visits = contiguous(x)
                        ? 0 /* its units are behind us */
                        : (double)(x->plan.n_units - 1 - unit) / (double)x->n_data_batches /
                              (double)(spread > 0 ? spread : 1);
    if (w->cap_gc == 0 || visits < 1)
        return false;
    if (w->n_gc == w->cap_gc)
        return true;
    double arena = w->t_arena > 0 ? w->t_arena : 8 * w->t_golden; /* until measured */
    return visits * w->t_golden > arena;
}

/* Makes unit's data batch j current: already there, cached (swap arenas), or to be run,
 * first moving the batch the graph holds into a cache entry if it is worth keeping.
 * Returns 1 if j's golden run must be computed. */
static int golden_switch(const struct ctx *x, struct worker *w, int64_t unit, struct au_diag *d)
{
    int64_t j = batch_of(x, unit);
    struct gcache *e = NULL;
    if (j == w->cur_j)
        return 0;
    for (int k = 0; k < w->n_gc; k++)
        if (w->gc[k].j == j)
            e = &w->gc[k];
    int run = e == NULL;
    if (!e && w->cur_j >= 0 && worth_keeping(x, w, unit)) {
        if (w->n_gc < w->cap_gc) {
            double t0 = thread_cpu_s();
            e = &w->gc[w->n_gc];
            e->arena = au_graph_arena_new(w->g);
            if (!e->arena)
                return au_diag_set(d, AU_NOMEM, "out of memory for golden caches");
            w->t_arena = thread_cpu_s() - t0;
            w->n_gc++;
        } else {
            for (int k = 0; k < w->n_gc; k++) /* evict the least recently used */
                if (!e || w->gc[k].used < e->used)
                    e = &w->gc[k];
        }
    }
    if (!e) { /* not worth a cache entry: recompute in place */
        w->cur_j = j;
        return 1;
    }
    void *old = au_graph_arena_swap(w->g, e->arena);
    e->arena = old;
    e->j = w->cur_j;
    e->used = ++w->tick;
    w->cur_j = j;
    return run;
}

/* Golden run of a unit (of data batch batch_of(unit)), kept in place or cached per worker
 * (golden_switch); outputs, per-slot loss and top-1 kept aside. */
static int unit_golden(struct ctx *x, struct worker *w, int64_t unit, struct au_diag *d)
{
    int64_t B = x->c->batch;
    int run = x->o->naive ? 1 : golden_switch(x, w, unit, d);
    if (run < 0)
        return run;
    if (run) {
        load_positions(x, w, unit * B);
        double t0 = thread_cpu_s();
        int rc = au_inject_golden(w->inj, d);
        if (rc)
            return rc;
        double t = thread_cpu_s() - t0;
        w->t_golden = w->t_golden > 0 ? 0.75 * w->t_golden + 0.25 * t : t;
    }
    keep_golden(x, w, B, unit * B);
    return AU_OK;
}

/* Outcome of slot b of the last run against the unit's golden run. */
static void score_slot(const struct ctx *x, const struct worker *w, int64_t b, int64_t sample,
                       struct au_store_trial *t)
{
    size_t rf = row_floats(x);
    const float *row = (const float *)au_graph_output(w->g, 0)->data + (size_t)b * rf;
    const float *gold = w->gold + (size_t)b * rf;
    t->detected += (int32_t)au_inject_detected(w->inj, (int)b);
    if (memcmp(row, gold, rf * sizeof(float)) == 0) {
        t->loss += w->gold_loss[b];
        t->outcome = t->outcome > AU_STORE_OUTCOME_MASKED ? t->outcome : AU_STORE_OUTCOME_MASKED;
        return;
    }
    struct au_sample_metrics m;
    au_metrics_sample(row, x->positions, x->classes, labels_of(x, sample), &m);
    int64_t changed = 0;
    for (int64_t p = 0; p < x->positions; p++)
        changed +=
            au_argmax(row + p * x->classes, x->classes) != w->gold_top1[b * x->positions + p];
    double mm = (double)changed / (double)x->positions;
    int outcome = !m.finite ? AU_STORE_OUTCOME_NONFINITE
                  : changed ? AU_STORE_OUTCOME_SDC
                            : AU_STORE_OUTCOME_BENIGN;
    t->loss += m.loss;
    t->delta_loss += m.loss - w->gold_loss[b];
    t->mismatch += mm;
    if (outcome > t->outcome)
        t->outcome = outcome;
}

static struct au_store_trial *add_trial(struct au_unit_result *ur, int target)
{
    if (ur->n_trials == ur->cap_trials) {
        size_t cap = ur->cap_trials ? ur->cap_trials * 2 : 256;
        struct au_store_trial *t = au_realloc(ur->trials, cap * sizeof(*t));
        int *to = t ? au_realloc(ur->target_of, cap * sizeof(*to)) : NULL;
        if (t)
            ur->trials = t;
        if (!t || !to)
            return NULL;
        ur->target_of = to;
        ur->cap_trials = cap;
    }
    ur->target_of[ur->n_trials] = target;
    struct au_store_trial *t = &ur->trials[ur->n_trials++];
    memset(t, 0, sizeof(*t));
    return t;
}

static int add_flips(struct au_unit_result *ur, const struct worker *w, int64_t trial_id,
                     const struct au_inject_site *s, const struct au_flip_record *rec, size_t n)
{
    if (ur->n_flips + n > ur->cap_flips) {
        size_t cap = ur->cap_flips ? ur->cap_flips * 2 : 256;
        while (cap < ur->n_flips + n)
            cap *= 2;
        struct au_store_flip *f = au_realloc(ur->flips, cap * sizeof(*f));
        if (!f)
            return AU_NOMEM;
        ur->flips = f;
        ur->cap_flips = cap;
    }
    for (size_t k = 0; k < n; k++)
        ur->flips[ur->n_flips++] = (struct au_store_flip){
            trial_id,
            s[k].layer,
            s[k].tensor == AU_TENSOR_ACT ? AU_STORE_TENSOR_ACT : AU_STORE_TENSOR_WEIGHT,
            s[k].target == AU_FAULT_META,
            (int64_t)s[k].index,
            (int32_t)s[k].bit,
            au_plan_field(w->inj, s[k].layer, s[k].tensor, s[k].target, s[k].bit),
            rec[k].before,
            rec[k].after};
    return AU_OK;
}

/* Fill the descriptive columns of a trial row from its sites. */
static void describe(struct au_store_trial *t, int64_t trial_id, int layer,
                     const struct au_inject_site *s, size_t n, int64_t sample, int n_samples)
{
    bool act = false, wt = false, data = false, meta = false;
    for (size_t k = 0; k < n; k++) {
        act |= s[k].tensor == AU_TENSOR_ACT;
        wt |= s[k].tensor == AU_TENSOR_WEIGHT;
        meta |= s[k].target == AU_FAULT_META;
        data |= s[k].target != AU_FAULT_META;
    }
    t->trial_id = trial_id;
    t->layer = layer;
    t->tensor = act && wt ? AU_STORE_TENSOR_MIXED
                : wt      ? AU_STORE_TENSOR_WEIGHT
                          : AU_STORE_TENSOR_ACT;
    t->bits = data && meta ? AU_STORE_BITS_MIXED : meta ? AU_STORE_BITS_META : AU_STORE_BITS_DATA;
    t->n_flips = (int32_t)n;
    t->sample = sample;
    t->n_samples = n_samples;
    t->outcome = AU_STORE_OUTCOME_MASKED;
}

static void finish_mean(struct au_store_trial *t)
{
    if (t->n_samples > 1) {
        t->loss /= t->n_samples;
        t->delta_loss /= t->n_samples;
        t->mismatch /= t->n_samples;
    }
}

/* All slots of the unit carry one activation trial of target t each: one resumed run. */
static int unit_act_target(struct ctx *x, struct worker *w, struct au_unit_result *ur, int t,
                           int64_t i0, int64_t n_slots, struct au_diag *d)
{
    const struct au_plan *p = &x->plan;
    size_t n_rec = 0, n;
    int rc;
    for (int64_t b = 0; b < n_slots; b++) {
        struct au_inject_site *s = w->sites + n_rec;
        int64_t id = au_plan_trial_id(p, t, i0 + b);
        rc = au_plan_faults(p, t, id, w->tmp, s, &n, d);
        if (rc)
            return rc;
        w->slots[b] = (struct au_slot_faults){s, (int)n, (uint64_t)id};
        n_rec += n;
    }
    rc = au_inject_run(w->inj, w->slots, (int)n_slots, NULL, 0, w->rec, d);
    n_rec = 0;
    for (int64_t b = 0; !rc && b < n_slots; b++) {
        const struct au_slot_faults *sf = &w->slots[b];
        struct au_store_trial *tr = add_trial(ur, t);
        if (!tr)
            return au_diag_set(d, AU_NOMEM, "out of memory");
        describe(tr, (int64_t)sf->rng_seq, p->targets[t].layer, sf->sites, (size_t)sf->n,
                 sample_at(x, i0 + b), 1);
        score_slot(x, w, b, tr->sample, tr);
        rc = add_flips(ur, w, tr->trial_id, sf->sites, w->rec + n_rec, (size_t)sf->n);
        n_rec += (size_t)sf->n;
    }
    return rc;
}

/* A trial alone on the batch-1 twin: its own golden run, then its faults. */
static int solo_run(struct ctx *x, struct worker *s1, struct au_unit_result *ur,
                    struct au_store_trial *tr, int64_t position, const struct au_inject_site *ws,
                    size_t n_act, size_t n_w, struct au_diag *d)
{
    load_positions(x, s1, position);
    int rc = au_inject_golden(s1->inj, d);
    if (rc)
        return rc;
    keep_golden(x, s1, 1, position);
    s1->slots[0] = (struct au_slot_faults){ws, (int)n_act, (uint64_t)tr->trial_id};
    rc = au_inject_run(s1->inj, s1->slots, 1, ws + n_act, (int)n_w, s1->rec, d);
    if (rc)
        return rc;
    score_slot(x, s1, 0, tr->sample, tr);
    return add_flips(ur, s1, tr->trial_id, ws, s1->rec, n_act + n_w);
}

/* One run per trial: weight faults (whole batch for per_layer campaigns, the trial's own
 * slot otherwise) plus any activation faults of that trial in its slot. */
static int unit_own_run(struct ctx *x, struct worker *w, struct au_unit_result *ur, int t,
                        int64_t id, int64_t b, int layer, const struct au_inject_site *s, size_t n,
                        struct au_diag *d)
{
    int64_t B = x->c->batch;
    bool whole = x->c->process.type == AU_CAMPAIGN_PER_LAYER;
    struct au_store_trial *tr = add_trial(ur, t);
    if (!tr)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    int64_t i = id - au_plan_trial_id(&x->plan, t, 0);
    describe(tr, id, layer, s, n, sample_at(x, whole ? (i / B) * B : i), whole ? (int)B : 1);
    /* activation sites go first in the slot, then the weight sites: records follow */
    size_t n_act = 0;
    struct au_inject_site *ws = w->sites;
    for (size_t k = 0; k < n; k++)
        if (s[k].tensor == AU_TENSOR_ACT)
            ws[n_act++] = s[k];
    size_t n_w = 0;
    for (size_t k = 0; k < n; k++)
        if (s[k].tensor != AU_TENSOR_ACT)
            ws[n_act + n_w++] = s[k];
    if (!n) { /* zero-flip Poisson trial: the golden outcome, nothing to run */
        tr->loss = w->gold_loss[b];
        return AU_OK;
    }
    if (!whole && w->solo)
        return solo_run(x, w->solo, ur, tr, i, ws, n_act, n_w, d);
    for (int64_t k = 0; k < B; k++)
        w->slots[k] = (struct au_slot_faults){NULL, 0, (uint64_t)id};
    w->slots[b] = (struct au_slot_faults){ws, (int)n_act, (uint64_t)id};
    int rc = au_inject_run(w->inj, w->slots, (int)B, ws + n_act, (int)n_w, w->rec, d);
    if (rc)
        return rc;
    for (int64_t k = whole ? 0 : b; k < (whole ? B : b + 1); k++)
        score_slot(x, w, k, sample_at(x, (i / B) * B + k), tr);
    finish_mean(tr);
    return add_flips(ur, w, id, ws, w->rec, n);
}

/* Model-wide Poisson: activation-only trials share one run; a trial with weight faults
 * gets a run of its own; zero-flip trials are recorded without running. */
static int unit_model_wide(struct ctx *x, struct worker *w, struct au_unit_result *ur, int64_t i0,
                           int64_t n_slots, struct au_diag *d)
{
    const struct au_plan *p = &x->plan;
    size_t per = p->max_sites, n;
    bool shared = false;
    int rc;
    for (int64_t b = 0; b < n_slots; b++) {
        struct au_inject_site *s = w->sites + (size_t)b * per;
        rc = au_plan_faults(p, 0, i0 + b, w->tmp, s, &n, d);
        if (rc)
            return rc;
        bool weights = false;
        for (size_t k = 0; k < n; k++)
            weights |= s[k].tensor != AU_TENSOR_ACT;
        w->slots[b] =
            (struct au_slot_faults){s, weights ? -(int)n - 1 : (int)n, (uint64_t)(i0 + b)};
        shared |= n > 0 && !weights;
    }
    /* slots with weight faults are marked by a negative count until their own run */
    struct au_slot_faults *own = au_calloc((size_t)n_slots + 1, sizeof(*own));
    if (!own)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    for (int64_t b = 0; b < n_slots; b++) {
        own[b] = w->slots[b];
        if (w->slots[b].n < 0)
            w->slots[b].n = 0;
    }
    rc = shared ? au_inject_run(w->inj, w->slots, (int)n_slots, NULL, 0, w->rec, d) : 0;
    size_t n_rec = 0;
    for (int64_t b = 0; !rc && b < n_slots; b++) {
        if (own[b].n < 0)
            continue;
        struct au_store_trial *tr = add_trial(ur, 0);
        if (!tr) {
            rc = au_diag_set(d, AU_NOMEM, "out of memory");
            break;
        }
        describe(tr, i0 + b, -1, own[b].sites, (size_t)own[b].n, sample_at(x, i0 + b), 1);
        if (own[b].n == 0) {
            tr->loss = w->gold_loss[b];
            continue;
        }
        score_slot(x, w, b, tr->sample, tr);
        rc = add_flips(ur, w, i0 + b, own[b].sites, w->rec + n_rec, (size_t)own[b].n);
        n_rec += (size_t)own[b].n;
    }
    /* own runs reuse w->sites from the start: copy each trial's sites out first */
    for (int64_t b = 0; !rc && b < n_slots; b++) {
        if (own[b].n >= 0)
            continue;
        size_t cnt = (size_t)(-own[b].n - 1);
        rc = au_plan_faults(p, 0, i0 + b, w->tmp, w->sites + (size_t)n_slots * per, &n, d);
        if (!rc)
            rc = unit_own_run(x, w, ur, 0, i0 + b, b, -1, w->sites + (size_t)n_slots * per, cnt, d);
    }
    au_free(own);
    return rc;
}

static int unit_weight_target(struct ctx *x, struct worker *w, struct au_unit_result *ur, int t,
                              int64_t i0, int64_t n_slots, struct au_diag *d)
{
    const struct au_plan *p = &x->plan;
    struct au_inject_site *s = w->sites + (size_t)x->c->batch * p->max_sites;
    size_t n;
    for (int64_t b = 0; b < n_slots; b++) {
        int64_t id = au_plan_trial_id(p, t, i0 + b);
        int rc = au_plan_faults(p, t, id, w->tmp, s, &n, d);
        if (!rc)
            rc = unit_own_run(x, w, ur, t, id, b, p->targets[t].layer, s, n, d);
        if (rc)
            return rc;
    }
    return AU_OK;
}

static int run_unit(struct ctx *x, struct worker *w, int64_t unit, const bool *stopped,
                    struct au_unit_result *ur, struct au_diag *d)
{
    const struct au_plan *p = &x->plan;
    int64_t B = x->c->batch, i0 = unit * B;
    int64_t n_slots = p->trials - i0 < B ? p->trials - i0 : B;
    ur->n_trials = ur->n_flips = 0;
    int rc = unit_golden(x, w, unit, d);
    if (rc || !p->per_target)
        return rc ? rc : unit_model_wide(x, w, ur, i0, n_slots, d);
    for (int t = 0; !rc && t < p->n_targets; t++) {
        if (stopped[t])
            continue;
        atomic_store_explicit(&x->cur_target, t, memory_order_relaxed);
        if (p->targets[t].tensor == AU_TENSOR_ACT)
            rc = unit_act_target(x, w, ur, t, i0, n_slots, d);
        else
            rc = unit_weight_target(x, w, ur, t, i0, n_slots, d);
    }
    return rc;
}

/* ---- setup ---- */

/* Float32 profile (static scales, range detector) on a graph without formats. */
static int profile_ranges(struct ctx *x, struct au_graph *g, struct au_diag *d)
{
    struct au_ranges rs;
    int64_t B = x->c->batch;
    int rc = au_ranges_init(&rs, g, d);
    for (int64_t s = 0; !rc && s < x->ds.n; s += B) {
        rs.n_valid = x->ds.n - s < B ? x->ds.n - s : B;
        rc = au_dataset_copy_batch(&x->ds, s, rs.n_valid, au_graph_input_tensor(g, 0)->data, B, d);
        if (!rc)
            rc = au_graph_run(g, d);
    }
    if (!rc) {
        x->ranges = au_calloc((size_t)au_graph_n_nodes(g) + 1, sizeof(*x->ranges));
        if (x->ranges)
            memcpy(x->ranges, rs.r, (size_t)au_graph_n_nodes(g) * sizeof(*x->ranges));
        else
            rc = au_diag_set(d, AU_NOMEM, "out of memory");
    }
    au_ranges_fini(&rs);
    return rc;
}

/* Data set, labels and the output geometry, from a graph prepared at the batch size. */
static int load_data(struct ctx *x, struct au_graph *g, struct au_diag *d)
{
    const struct au_campaign *c = x->c;
    if (au_graph_n_inputs(g) != 1)
        return au_diag_set(d, AU_UNSUPPORTED, "%s: %d model inputs; campaigns need one", c->model,
                           au_graph_n_inputs(g));
    const struct au_tensor *out = au_graph_output(g, 0);
    if (out->dtype != AU_DTYPE_F32 || out->n_dims < 2 || out->ne[0] != c->batch)
        return au_diag_set(d, AU_UNSUPPORTED, "%s: output 0 is not float logits [batch, ...]",
                           c->model);
    x->classes = out->ne[out->n_dims - 1];
    x->positions = au_tensor_numel(out) / c->batch / x->classes;
    struct au_dataset_input in;
    struct au_dataset_opts o = {.limit = c->data.samples, .n_norm = c->data.n_norm};
    memcpy(o.mean, c->data.mean, sizeof(o.mean));
    memcpy(o.std, c->data.std, sizeof(o.std));
    int v = au_graph_input_value(g, 0);
    au_dataset_input_from_tensor(&in, au_graph_value(g, v)->name, au_graph_tensor(g, v));
    int rc = au_dataset_load(&x->ds, c->data.inputs, &in, &o, d);
    struct au_array raw = {{0}};
    if (!rc)
        rc = au_dataset_read_array(c->data.labels, x->ds.n, &raw, d);
    if (rc)
        return rc;
    int64_t need = x->ds.n * x->positions, ne[1] = {need};
    if (raw.t.n_dims < 1 || raw.t.ne[0] < x->ds.n || au_tensor_numel(&raw.t) != need ||
        !(raw.t.dtype == AU_DTYPE_I64 || raw.t.dtype == AU_DTYPE_I32 || raw.t.dtype == AU_DTYPE_U8))
        rc = au_diag_set(d, AU_SHAPE, "%s: labels do not fit %lld samples x %lld positions",
                         c->data.labels, (long long)x->ds.n, (long long)x->positions);
    if (!rc)
        rc = au_array_alloc(&x->labels, AU_DTYPE_I64, 1, ne, d);
    for (int64_t k = 0; !rc && k < need; k++) {
        int64_t y = au_tensor_get_i64(&raw.t, k);
        if (y < 0 || y >= x->classes)
            rc = au_diag_set(d, AU_RANGE, "%s: label %lld of sample %lld is outside [0, %lld)",
                             c->data.labels, (long long)y, (long long)(k / x->positions),
                             (long long)x->classes);
        else
            ((int64_t *)x->labels.t.data)[k] = y;
    }
    au_array_fini(&raw);
    return rc;
}

/* Golden pass over the data with formats: golden rows for the store and the analysis set
 * (all samples, or those classified correctly with a unique top class). */
static int golden_pass(struct ctx *x, struct worker *w, struct au_store_golden **rows,
                       struct au_diag *d)
{
    int64_t B = x->c->batch, n = x->ds.n;
    *rows = au_calloc((size_t)n + 1, sizeof(**rows));
    x->analysis = au_calloc((size_t)n + 1, sizeof(*x->analysis));
    if (!*rows || !x->analysis)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    for (int64_t s = 0; s < n; s += B) {
        int64_t cnt = n - s < B ? n - s : B;
        int rc = au_dataset_copy_batch(&x->ds, s, cnt, au_graph_input_tensor(w->g, 0)->data, B, d);
        if (!rc)
            rc = au_inject_golden(w->inj, d);
        if (rc)
            return rc;
        const float *out = au_graph_output(w->g, 0)->data;
        for (int64_t k = 0; k < cnt; k++) {
            struct au_sample_metrics m;
            const int64_t *y = labels_of(x, s + k);
            au_metrics_sample(out + (size_t)k * row_floats(x), x->positions, x->classes, y, &m);
            (*rows)[s + k] = (struct au_store_golden){
                s + k, x->positions == 1 ? y[0] : -1, m.loss, m.top1, m.top1_conf, m.top2_diff};
            bool keep =
                !x->c->data.only_correct || (m.finite && m.accuracy == 1.0 && m.top2_diff > 0);
            if (keep)
                x->analysis[x->n_analysis++] = s + k;
        }
    }
    x->n_data_batches = (x->n_analysis + B - 1) / B;
    if (x->n_analysis == 0)
        return au_diag_set(d, AU_INVALID,
                           "%s: no sample is classified correctly by the golden "
                           "run, so only_correct leaves nothing to inject into",
                           x->c->data.inputs);
    return AU_OK;
}

static int store_layers(struct ctx *x, struct au_diag *d)
{
    const struct worker *w = &x->w[0];
    int n = au_emul_n_layers(w->e);
    struct au_store_layer *rows = au_calloc((size_t)n + 1, sizeof(*rows));
    if (!rows)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    for (int li = 0; li < n; li++) {
        const struct au_emul_layer *L = au_emul_layer(w->e, li);
        const struct au_node *nd = au_graph_node(w->g, L->node);
        const struct au_numsys_layout *la = au_inject_layout(w->inj, li, AU_TENSOR_ACT);
        const struct au_numsys_layout *lw = au_inject_layout(w->inj, li, AU_TENSOR_WEIGHT);
        rows[li] =
            (struct au_store_layer){li,
                                    au_node_label(nd),
                                    nd->op_type,
                                    (int64_t)(nd->macs / (uint64_t)x->c->batch),
                                    (int64_t)au_inject_n_elems(w->inj, li, AU_TENSOR_ACT),
                                    (int64_t)au_inject_n_elems(w->inj, li, AU_TENSOR_WEIGHT),
                                    L->afmt ? au_numsys_fmt_str(L->afmt) : NULL,
                                    L->wfmt ? au_numsys_fmt_str(L->wfmt) : NULL,
                                    (int32_t)la->elem_bits,
                                    lw ? (int32_t)lw->elem_bits : 0,
                                    (int32_t)la->meta_bits,
                                    lw ? (int32_t)lw->meta_bits : 0,
                                    (int64_t)au_inject_n_blocks(w->inj, li, AU_TENSOR_ACT),
                                    (int64_t)au_inject_n_blocks(w->inj, li, AU_TENSOR_WEIGHT)};
    }
    int rc = au_store_layers_add(x->store, x->campaign, rows, (size_t)n, d);
    au_free(rows);
    return rc;
}

/* ---- stopping ---- */

static int n_stat_targets(const struct ctx *x)
{
    return x->plan.per_target ? x->plan.n_targets : 1;
}

static void stats_add(struct target_stats *st, const struct au_store_trial *t)
{
    st->n++;
    st->mismatch += t->mismatch;
    if (t->outcome == AU_STORE_OUTCOME_NONFINITE || !isfinite(t->delta_loss))
        return;
    st->n_finite++;
    st->sum += t->delta_loss;
    st->sumsq += t->delta_loss * t->delta_loss;
}

/* Half-width of the chosen interval; INFINITY until there are enough trials. */
static double half_width(const struct ctx *x, const struct target_stats *st)
{
    const struct au_campaign *c = x->c;
    if (st->n < c->stop.min_trials || st->n_finite < 2)
        return INFINITY;
    if (c->stop.metric == AU_CAMPAIGN_MISMATCH) {
        double lo, hi;
        au_store_wilson(st->mismatch, (double)st->n, c->stop.confidence, &lo, &hi);
        return (hi - lo) / 2;
    }
    double n = (double)st->n_finite, mean = st->sum / n;
    double var = (st->sumsq - n * mean * mean) / (n - 1);
    return au_store_t(c->stop.confidence, n - 1) * sqrt(var > 0 ? var : 0) / sqrt(n);
}

static void check_stop(struct ctx *x, int t)
{
    if (x->c->stop.type == AU_CAMPAIGN_STOP_CI && !x->stats[t].stopped &&
        half_width(x, &x->stats[t]) <= x->c->stop.half_width)
        x->stats[t].stopped = true;
}

static bool all_stopped(const struct ctx *x)
{
    for (int t = 0; t < n_stat_targets(x); t++)
        if (!x->stats[t].stopped)
            return false;
    return true;
}

/* On resume, the statistics of the committed prefix decide which targets had stopped. */
static int stats_from_store(struct ctx *x, struct au_diag *d)
{
    static const char *cols[4] = {"count(*)", "sum(mismatch)",
                                  "sum(CASE WHEN outcome != 'nonfinite' THEN 1 END)",
                                  "sum(CASE WHEN outcome != 'nonfinite' THEN delta_loss END)"};
    for (int t = 0; t < n_stat_targets(x); t++) {
        int64_t lo = au_plan_trial_id(&x->plan, t, 0), hi = lo + x->plan.trials;
        double v[5] = {0};
        char sql[512];
        for (int k = 0; k < 5; k++) {
            snprintf(sql, sizeof(sql),
                     "SELECT coalesce(%s, 0) FROM trials WHERE campaign = %lld AND trial >= %lld "
                     "AND trial < %lld",
                     k < 4 ? cols[k]
                           : "sum(CASE WHEN outcome != 'nonfinite' THEN delta_loss*delta_loss END)",
                     (long long)x->campaign, (long long)lo, (long long)hi);
            int rc = au_store_query_double(x->store, sql, &v[k], d);
            if (rc)
                return rc;
        }
        x->stats[t] = (struct target_stats){(int64_t)v[0], (int64_t)v[2], v[3], v[4], v[1], false};
        if (x->stats[t].n > 0)
            check_stop(x, t);
    }
    return AU_OK;
}

/* ---- workers and the in-order committer ---- */

struct wargs {
    struct ctx *x;
    struct worker *w;
    bool *ready; /* per ring slot */
};

/* Under the lock: the next unit and the stop flags (stopped may be NULL). 1 taken, 0 the
 * window is full (only if !wait), -1 nothing left to take. */
static int take_unit(struct ctx *x, bool wait, int64_t *u, bool *stopped)
{
    while (wait && !x->abort && x->next_unit < x->plan.n_units &&
           x->next_unit >= x->next_commit + x->window)
        pthread_cond_wait(&x->cv, &x->mu);
    if (x->abort || x->next_unit >= x->plan.n_units || all_stopped(x))
        return -1;
    if (x->next_unit >= x->next_commit + x->window)
        return 0;
    *u = x->next_unit++;
    for (int t = 0; stopped && t < n_stat_targets(x); t++)
        stopped[t] = x->stats[t].stopped;
    return 1;
}

/* Unit u's slot is filled: hand it to the committer (a failure stops the others). */
static void unit_ready(struct wargs *a, int64_t u)
{
    struct ctx *x = a->x;
    pthread_mutex_lock(&x->mu);
    a->ready[u % x->window] = true;
    if (x->results[u % x->window].status)
        x->abort = true;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

static void *worker_main(void *arg)
{
    struct wargs *a = arg;
    struct ctx *x = a->x;
    int nt = n_stat_targets(x);
    bool *stopped = au_calloc((size_t)nt + 1, sizeof(bool));
    for (;;) {
        int64_t u = 0;
        pthread_mutex_lock(&x->mu);
        int got = take_unit(x, true, &u, stopped);
        pthread_mutex_unlock(&x->mu);
        if (got < 0)
            break;
        if (x->unit_done[u])
            continue;
        struct au_unit_result *ur = &x->results[u % x->window];
        a->w->diag.msg[0] = '\0';
        ur->status = stopped ? run_unit(x, a->w, u, stopped, ur, &a->w->diag) : AU_NOMEM;
        ur->unit = u;
        snprintf(ur->msg, sizeof(ur->msg), "%s",
                 ur->status == AU_NOMEM && !stopped ? "out of memory" : a->w->diag.msg);
        unit_ready(a, u);
    }
    au_free(stopped);
    return NULL;
}

/* Drop rows of targets that stopped before this unit (a worker may have run them). */
static void filter_stopped(struct ctx *x, struct au_unit_result *ur)
{
    size_t keep = 0, fk = 0, fi = 0;
    for (size_t i = 0; i < ur->n_trials; i++) {
        bool drop = x->stats[ur->target_of[i]].stopped;
        size_t nf = 0;
        while (fi + nf < ur->n_flips && ur->flips[fi + nf].trial_id == ur->trials[i].trial_id)
            nf++;
        if (!drop) {
            memmove(&ur->flips[fk], &ur->flips[fi], nf * sizeof(*ur->flips));
            fk += nf;
            ur->target_of[keep] = ur->target_of[i];
            ur->trials[keep++] = ur->trials[i];
        }
        fi += nf;
    }
    ur->n_trials = keep;
    ur->n_flips = fk;
}

/* Under the lock: workers read the stopped flags. */
static void commit_stats(struct ctx *x, const struct au_unit_result *ur)
{
    for (size_t i = 0; i < ur->n_trials; i++)
        stats_add(&x->stats[ur->target_of[i]], &ur->trials[i]);
    for (int t = 0; t < n_stat_targets(x); t++)
        check_stop(x, t);
}

/* Committed rows wait here until a transaction is worth its cost: a COMMIT writes the
 * WAL frames of every page it touched, which cost as much as the rows of a 128-trial
 * unit. A crash loses at most AU_COMMIT_SECONDS of work, which a rerun redoes. */
#define AU_COMMIT_TRIALS  4096
#define AU_COMMIT_SECONDS 0.25

struct pending {
    struct au_store_trial *trials;
    struct au_store_flip *flips;
    size_t n_trials, cap_trials, n_flips, cap_flips;
    int64_t units;
    double since;
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return AU_OK;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return AU_NOMEM;
    *p = q;
    *cap = c;
    return AU_OK;
}

static int pending_add(struct pending *p, const struct au_unit_result *ur, double now)
{
    if (grow((void **)&p->trials, &p->cap_trials, p->n_trials + ur->n_trials, sizeof(*p->trials)) ||
        grow((void **)&p->flips, &p->cap_flips, p->n_flips + ur->n_flips, sizeof(*p->flips)))
        return AU_NOMEM;
    memcpy(p->trials + p->n_trials, ur->trials, ur->n_trials * sizeof(*p->trials));
    memcpy(p->flips + p->n_flips, ur->flips, ur->n_flips * sizeof(*p->flips));
    if (!p->units)
        p->since = now;
    p->n_trials += ur->n_trials;
    p->n_flips += ur->n_flips;
    p->units++;
    return AU_OK;
}

/* Outside the lock (the store write is the slow part). */
static int pending_flush(struct ctx *x, struct pending *p, struct au_run_result *r,
                         struct au_diag *d)
{
    if (!p->units)
        return AU_OK;
    int rc =
        au_store_trials_add(x->store, x->campaign, p->trials, p->n_trials, p->flips, p->n_flips, d);
    if (rc)
        return rc;
    r->trials_run += (int64_t)p->n_trials;
    r->flips += (int64_t)p->n_flips;
    r->units_done += p->units;
    p->n_trials = p->n_flips = 0;
    p->units = 0;
    return AU_OK;
}

static bool pending_due(const struct ctx *x, const struct pending *p, const struct au_run_result *r,
                        double now)
{
    /* the first unit alone, then batches as large as what is already in: a fresh
     * campaign shows rows at once and a tight disk still takes its first units */
    int64_t stop = x->o->stop_after_units, grown = r->trials_run;
    size_t cap = grown < AU_COMMIT_TRIALS ? (size_t)grown : AU_COMMIT_TRIALS;
    return p->n_trials >= cap || now - p->since >= AU_COMMIT_SECONDS ||
           (stop && r->units_done + p->units >= stop);
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static void progress(const struct ctx *x, const struct au_run_result *r, double t0, bool final)
{
    static double last;
    double t = now_s(), el = t - t0;
    FILE *f = x->o->log ? x->o->log : stderr;
    if (x->o->progress == AU_PROGRESS_NONE ||
        (!final && x->o->progress == AU_PROGRESS_LINES && t - last < 5.0))
        return;
    last = t;
    int64_t left = r->units_total - r->units_done;
    double rate = el > 0 ? (double)r->trials_run / el : 0;
    double eta = r->units_done ? el / (double)r->units_done * (double)left : 0;
    int width = 30, fill = r->units_total ? (int)(width * r->units_done / r->units_total) : width;
    int cur = atomic_load_explicit(&x->cur_target, memory_order_relaxed);
    const char *layer = final                                           ? "done"
                        : x->plan.per_target && cur < x->plan.n_targets ? x->plan.targets[cur].name
                                                                        : "all layers";
    if (x->o->progress == AU_PROGRESS_BAR) /* the layer last: it varies in length */
        fprintf(f,
                "\r[%.*s%*s] %lld/%lld units  %lld trials  %.0f trials/s  ETA %02d:%02d  "
                "%-.40s\033[K%s",
                fill, "##############################", width - fill, "", (long long)r->units_done,
                (long long)r->units_total, (long long)r->trials_run, rate, (int)(eta / 60),
                (int)eta % 60, layer, final ? "\n" : "");
    else
        fprintf(f, "aurum: %lld/%lld units, %lld trials, %.0f trials/s, ETA %ds, %s\n",
                (long long)r->units_done, (long long)r->units_total, (long long)r->trials_run, rate,
                (int)eta, layer);
    fflush(f);
}

static void wait_200ms(struct ctx *x)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&x->cv, &x->mu, &ts);
}

/* Store the pending rows (called with the lock held; drops it around the write). */
static int flush_locked(struct ctx *x, struct pending *p, struct au_run_result *r, double t0,
                        struct au_diag *d)
{
    pthread_mutex_unlock(&x->mu);
    double tc = now_s();
    int rc = pending_flush(x, p, r, d);
    r->commit_seconds += now_s() - tc;
    progress(x, r, t0, false);
    pthread_mutex_lock(&x->mu);
    return rc;
}

/* Commits units in order until done, interrupted or failed; then joins the workers.
 * Rows and stopping statistics are taken unit by unit, in unit order; the store write is
 * batched (struct pending) and always flushed before returning, error or not. */
static int commit_loop(struct ctx *x, bool *ready, struct au_run_result *r, struct au_diag *d)
{
    int rc = AU_OK;
    struct pending p = {0};
    double t0 = now_s(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    pthread_mutex_lock(&x->mu);
    while (x->next_commit < x->plan.n_units && !all_stopped(x)) {
        int64_t u = x->next_commit;
        if (x->unit_done[u]) {
            x->next_commit++;
            pthread_cond_broadcast(&x->cv);
            continue;
        }
        if (x->o->interrupt && *x->o->interrupt)
            x->abort = true;
        if (!ready[u % x->window]) {
            if (x->abort && x->next_unit <= u)
                break; /* nobody is computing it */
            if (p.units && now_s() - p.since >= AU_COMMIT_SECONDS &&
                (rc = flush_locked(x, &p, r, t0, d)) != AU_OK)
                break;
            progress(x, r, t0, false); /* a slow unit: the layer and ETA still move */
            wait_200ms(x);
            continue;
        }
        struct au_unit_result *ur = &x->results[u % x->window];
        ready[u % x->window] = false;
        if (ur->status) {
            rc = au_diag_set(d, ur->status, "%s", ur->msg);
            break;
        }
        filter_stopped(x, ur);
        if ((rc = pending_add(&p, ur, now_s())) != AU_OK) {
            rc = au_diag_set(d, rc, "out of memory");
            break;
        }
        x->unit_done[u] = 1;
        commit_stats(x, ur);
        x->next_commit++;
        pthread_cond_broadcast(&x->cv);
        if (pending_due(x, &p, r, now_s()) && (rc = flush_locked(x, &p, r, t0, d)) != AU_OK)
            break;
        if (x->o->stop_after_units && r->units_done >= x->o->stop_after_units)
            x->abort = true;
    }
    x->abort = true;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    /* What is done is committed even when the run failed: only the failure's unit is lost. */
    struct au_diag d2 = {0};
    int frc = pending_flush(x, &p, r, rc ? &d2 : d);
    if (!rc)
        rc = frc;
    free(p.trials);
    free(p.flips);
    r->seconds = now_s() - t0;
    r->cpu_seconds = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    progress(x, r, t0, true);
    return rc;
}

/* ---- the run ---- */

static int mkdir_parents(const char *path, struct au_diag *d)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (access(buf, F_OK) != 0 && mkdir(buf, 0777) != 0)
            return au_diag_set(d, AU_IO, "%s: cannot create directory %s", path, buf);
        *p = '/';
    }
    return AU_OK;
}

static int open_store(struct ctx *x, const char *db, struct au_run_result *r, struct au_diag *d)
{
    char hash[65];
    int rc = mkdir_parents(db, d);
    if (!rc)
        rc = au_store_open(db, AU_STORE_CREATE, &x->store, d);
    if (!rc)
        rc = au_store_hash_file(x->c->model, hash, d);
    struct au_store_campaign_info info = {
        x->c->name, x->c->json, hash,
        AU_VERSION, x->c->seed, x->c->stop.confidence > 0 ? x->c->stop.confidence : 0.99};
    if (!rc)
        rc = au_store_campaign_begin(x->store, &info, &x->campaign, &r->resumed, d);
    return rc;
}

/* Units already committed (resume): a unit is committed as a whole, so one trial of it
 * tells. */
static int find_done_units(struct ctx *x, struct au_run_result *r, struct au_diag *d)
{
    int64_t B = x->c->batch;
    int64_t bytes = (x->plan.trials + 7) / 8;
    uint8_t *bm = au_calloc((size_t)bytes + 1, 1);
    if (!bm)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    int rc = AU_OK;
    for (int t = 0; !rc && t < (x->plan.per_target ? x->plan.n_targets : 1); t++) {
        int64_t lo = au_plan_trial_id(&x->plan, t, 0), n_done = 0;
        memset(bm, 0, (size_t)bytes);
        rc = au_store_trials_committed(x->store, x->campaign, lo, lo + x->plan.trials, bm, &n_done,
                                       d);
        for (int64_t u = 0; !rc && n_done && u < x->plan.n_units; u++)
            if (bm[(u * B) / 8] & (1u << ((u * B) % 8)))
                x->unit_done[u] = 1;
    }
    for (int64_t u = 0; u < x->plan.n_units; u++)
        r->units_done += x->unit_done[u];
    /* another shard's units count as done here, and not at all in this shard's totals */
    for (int64_t u = 0; x->o->shard_n > 0 && u < x->plan.n_units; u++)
        if (u % x->o->shard_n != x->o->shard_k) {
            r->units_done -= x->unit_done[u];
            r->units_total--;
            x->unit_done[u] = 1;
        }
    au_free(bm);
    return rc;
}

/* Poisson campaigns record E[N] and P(N >= 1) per target, for the estimators. */
static int store_poisson(struct ctx *x, struct au_diag *d)
{
    const struct au_plan *p = &x->plan;
    int n = p->per_target ? p->n_targets : 1, rc = AU_OK;
    struct au_store_poisson *rows = au_calloc((size_t)n + 1, sizeof(*rows));
    if (!rows)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    for (int t = 0; !rc && t < n; t++) {
        double mu;
        rc = au_plan_mu(p, t, &mu, d);
        bool act = p->targets[t].tensor == AU_TENSOR_ACT;
        rows[t] = (struct au_store_poisson){
            p->per_target ? p->targets[t].layer : -1,
            p->per_target ? (act ? AU_STORE_TENSOR_ACT : AU_STORE_TENSOR_WEIGHT) : -1, mu,
            au_poisson_p_at_least_one(mu), x->c->process.condition_on_fault};
    }
    if (!rc)
        rc = au_store_poisson_add(x->store, x->campaign, rows, (size_t)n, d);
    au_free(rows);
    return rc;
}

/* The checks of `aurum validate` that need the model and the plugins, so a mistake is
 * one clear line before anything runs. */
static int check_campaign(struct ctx *x, const struct au_graph *g, struct au_diag *d)
{
    struct au_problems probs = {0};
    int rc = au_campaign_check(x->c, g, x->reg, &probs, d);
    if (rc && probs.n)
        au_diag_set(d, rc, "%s%s", probs.msg[0],
                    probs.n > 1 ? " (and more: run 'aurum validate' on the campaign)" : "");
    au_problems_fini(&probs);
    return rc;
}

/* Poisson trials with weight faults run alone: on a batch-1 twin of the worker's graph,
 * not on a whole batch of which only one slot counts. */
static bool needs_solo(const struct ctx *x)
{
    if (x->c->process.type != AU_CAMPAIGN_POISSON)
        return false;
    for (int t = 0; t < x->plan.n_targets; t++)
        if (x->plan.targets[t].tensor == AU_TENSOR_WEIGHT)
            return true;
    return false;
}

static int setup_store(struct ctx *x, const struct au_store_golden *golden, struct au_run_result *r,
                       struct au_diag *d)
{
    int rc = open_store(x, x->o->database ? x->o->database : x->c->database, r, d);
    if (!rc)
        rc = store_layers(x, d);
    if (!rc)
        rc = au_store_golden_add(x->store, x->campaign, golden, (size_t)x->ds.n, d);
    if (!rc && x->c->process.type == AU_CAMPAIGN_POISSON)
        rc = store_poisson(x, d);
    return rc;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* What all MPI ranks must agree on before trading units: the campaign text, the plan, the
 * analysis set, the golden run bit for bit (same BLAS paths) and the row layouts (same
 * build). */
static uint64_t fingerprint(const struct ctx *x, const struct au_store_golden *golden)
{
    int64_t v[] = {x->plan.n_units,
                   x->plan.trials,
                   x->plan.n_targets,
                   (int64_t)x->plan.max_sites,
                   x->n_analysis,
                   x->n_data_batches,
                   x->positions,
                   x->classes,
                   (int64_t)sizeof(struct au_store_trial),
                   (int64_t)sizeof(struct au_store_flip)};
    uint64_t h = fnv1a(0xcbf29ce484222325ULL, v, sizeof(v));
    if (x->c->json)
        h = fnv1a(h, x->c->json, strlen(x->c->json));
    h = fnv1a(h, x->analysis, (size_t)x->n_analysis * sizeof(*x->analysis));
    return fnv1a(h, golden, (size_t)x->ds.n * sizeof(*golden));
}

static int setup(struct ctx *x, int jobs, struct au_run_result *r, struct au_diag *d)
{
    if (x->o->shard_n > 0 && x->c->stop.type == AU_CAMPAIGN_STOP_CI)
        return au_diag_set(d, AU_UNSUPPORTED,
                           "%s: a campaign that stops on its confidence intervals cannot be "
                           "split into shards (each shard would stop on its own data)",
                           x->c->path);
    if (x->o->shard_n > 0 && (x->o->shard_k < 0 || x->o->shard_k >= x->o->shard_n))
        return au_diag_set(d, AU_INVALID, "shard %d/%d: K must be in [0, N)", x->o->shard_k,
                           x->o->shard_n);
    struct au_store_golden *golden = NULL;
    struct worker *w0 = &x->w[0];
    int rc = au_numsys_registry_new(&x->reg, d) < 0 ? AU_PLUGIN : AU_OK;
    if (!rc)
        rc = load_graph(x->c, x->c->batch, &w0->g, d);
    if (!rc)
        rc = check_campaign(x, w0->g, d);
    if (!rc)
        rc = load_data(x, w0->g, d);
    if (!rc)
        rc = worker_init(x, w0, x->c->batch, d);
    if (!rc)
        rc = golden_pass(x, w0, &golden, d);
    if (!rc)
        rc = au_plan_init(&x->plan, x->c, w0->g, w0->e, w0->inj, d);
    if (!rc)
        rc = worker_scratch(w0, x->plan.max_sites, d);
    if (!rc)
        rc = worker_caches(x, w0, d);
    x->n_workers = 1;
    if (!rc && jobs > x->plan.n_units)
        jobs = (int)(x->plan.n_units > 0 ? x->plan.n_units : 1);
    for (; !rc && x->n_workers < jobs; x->n_workers++) {
        rc = worker_init(x, &x->w[x->n_workers], x->c->batch, d);
        if (!rc)
            rc = worker_scratch(&x->w[x->n_workers], x->plan.max_sites, d);
        if (!rc)
            rc = worker_caches(x, &x->w[x->n_workers], d);
    }
    for (int i = 0; !rc && needs_solo(x) && i < x->n_workers; i++) {
        struct worker *s1 = au_calloc(1, sizeof(*s1));
        x->w[i].solo = s1;
        rc = s1 ? worker_init(x, s1, 1, d) : au_diag_set(d, AU_NOMEM, "out of memory");
        if (!rc)
            rc = worker_scratch(s1, x->plan.max_sites, d);
    }
    if (!rc)
        x->fingerprint = fingerprint(x, golden);
    if (!rc && !x->remote) /* MPI: only rank 0 opens the database */
        rc = setup_store(x, golden, r, d);
    au_free(golden);
    if (rc)
        return rc;
    /* every worker, local or remote, may hold a unit and its successor */
    x->window = 2 * ((int64_t)x->n_workers + AU_MPI_DEPTH * (int64_t)(x->ranks - 1));
    x->stats = au_calloc((size_t)n_stat_targets(x) + 1, sizeof(*x->stats));
    x->unit_done = au_calloc((size_t)x->plan.n_units + 1, 1);
    x->results = au_calloc((size_t)x->window, sizeof(*x->results));
    if (!x->stats || !x->unit_done || !x->results)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    r->units_total = x->plan.n_units;
    if (x->remote)
        return AU_OK;
    rc = find_done_units(x, r, d);
    if (!rc && r->resumed)
        rc = stats_from_store(x, d);
    return rc;
}

static void teardown(struct ctx *x)
{
    for (int i = 0; x->w && i < x->w_cap; i++)
        worker_fini(&x->w[i]);
    for (int64_t k = 0; x->results && k < x->window; k++) {
        au_free(x->results[k].trials);
        au_free(x->results[k].target_of);
        au_free(x->results[k].flips);
    }
    au_free(x->results);
    au_free(x->w);
    au_plan_fini(&x->plan);
    au_store_close(x->store);
    au_numsys_registry_free(x->reg);
    au_dataset_fini(&x->ds);
    au_array_fini(&x->labels);
    au_free(x->analysis);
    au_free(x->ranges);
    au_free(x->stats);
    au_free(x->unit_done);
}

/* ---- MPI: the runner as mpi.c sees it (ctx is a struct wargs without a worker) ---- */

static int mpi_take(void *arg, int64_t *u, bool *stopped)
{
    struct ctx *x = ((struct wargs *)arg)->x;
    int got;
    pthread_mutex_lock(&x->mu);
    while ((got = take_unit(x, false, u, stopped)) > 0 && x->unit_done[*u])
        ; /* committed before (resume) or another shard's */
    pthread_mutex_unlock(&x->mu);
    return got;
}

static struct au_unit_result *mpi_slot(void *arg, int64_t u)
{
    struct ctx *x = ((struct wargs *)arg)->x;
    return &x->results[u % x->window];
}

static void mpi_done(void *arg, int64_t u)
{
    unit_ready(arg, u);
}

/* Layouts are read-only once set up, so the dispatcher may read worker 0's. */
static int mpi_field(void *arg, int layer, int tensor, int is_meta, int bit, const char **name)
{
    const struct worker *w = &((struct wargs *)arg)->x->w[0];
    uint32_t tt = tensor == AU_STORE_TENSOR_ACT ? AU_TENSOR_ACT : AU_TENSOR_WEIGHT;
    if (layer < 0 || layer >= au_emul_n_layers(w->e) || bit < 0 || bit > 63 ||
        (tensor != AU_STORE_TENSOR_ACT && tensor != AU_STORE_TENSOR_WEIGHT) ||
        !au_inject_layout(w->inj, layer, tt))
        return AU_RANGE;
    *name =
        au_plan_field(w->inj, layer, tt, is_meta ? AU_FAULT_META : AU_FAULT_ELEM, (uint32_t)bit);
    return AU_OK;
}

static int mpi_run(void *arg, int64_t u, const bool *stopped, struct au_unit_result *ur,
                   struct au_diag *d)
{
    struct ctx *x = ((struct wargs *)arg)->x;
    if (u < 0 || u >= x->plan.n_units)
        return au_diag_set(d, AU_FORMAT, "unit %lld is outside the plan's %lld units", (long long)u,
                           (long long)x->plan.n_units);
    return run_unit(x, &x->w[0], u, stopped, ur, d);
}

static struct au_mpi_runner mpi_runner(struct wargs *a)
{
    return (struct au_mpi_runner){
        a,      n_stat_targets(a->x), a->x->fingerprint, mpi_take, mpi_slot, mpi_done, mpi_field,
        mpi_run};
}

static void *dispatch_main(void *arg)
{
    au_mpi_dispatch(arg);
    return NULL;
}

static int run_workers(struct ctx *x, struct au_run_result *r, struct au_diag *d)
{
    bool *ready = au_calloc((size_t)x->window + 1, sizeof(bool));
    struct wargs *args = au_calloc((size_t)x->n_workers + 1, sizeof(*args));
    int started = 0, rc = AU_OK;
    if (!ready || !args) {
        rc = au_diag_set(d, AU_NOMEM, "out of memory");
        goto out;
    }
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    for (; started < x->n_workers; started++) {
        args[started] = (struct wargs){x, &x->w[started], ready};
        if (pthread_create(&x->w[started].thread, NULL, worker_main, &args[started]) != 0)
            break;
    }
    /* MPI rank 0: one more thread stands in for all the other ranks' workers */
    args[x->n_workers] = (struct wargs){x, NULL, ready};
    struct au_mpi_runner rn = mpi_runner(&args[x->n_workers]);
    pthread_t disp;
    bool dispatching =
        started > 0 && x->ranks > 1 && pthread_create(&disp, NULL, dispatch_main, &rn) == 0;
    if (started == 0)
        rc = au_diag_set(d, AU_NOMEM, "cannot start worker threads");
    else
        rc = commit_loop(x, ready, r, d);
    for (int i = 0; i < started; i++)
        pthread_join(x->w[i].thread, NULL);
    if (dispatching)
        pthread_join(disp, NULL);
    pthread_cond_destroy(&x->cv);
    pthread_mutex_destroy(&x->mu);
out:
    au_free(ready);
    au_free(args);
    return rc;
}

/* MPI: rank 0 checks every rank's setup, runs its workers and the dispatcher, then stops
 * the others; the other ranks serve units. rc is this rank's setup status. */
static int run_mpi(struct ctx *x, int rc, struct au_run_result *r, struct au_diag *d)
{
    struct wargs a = {x, NULL, NULL};
    struct au_mpi_runner rn = mpi_runner(&a);
    if (x->remote)
        return au_mpi_serve(rc ? NULL : &rn, rc, d);
    rc = au_mpi_gather(rc ? NULL : &rn, rc, d);
    if (!rc)
        rc = run_workers(x, r, d);
    struct au_mpi_stats st = {0};
    au_mpi_stop(&st);
    r->mpi_bytes = st.bytes;
    r->mpi_units_remote = st.units_remote;
    r->mpi_trials_remote = st.trials_remote;
    r->mpi_max_rss_kb = st.max_rss_kb;
    return rc;
}

int au_campaign_run(const struct au_campaign *c, const struct au_run_opts *o,
                    struct au_run_result *r, struct au_diag *d)
{
    struct ctx x = {.c = c, .o = o, .ranks = au_mpi_size(), .remote = au_mpi_rank() > 0};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int jobs = o->jobs > 0 ? o->jobs : (int)(cores > 0 ? cores : 1);
    if (x.ranks > 1) /* one rank per core is the MPI way; rank 0 may ask for more */
        jobs = x.remote || o->jobs <= 0 ? 1 : o->jobs;
    memset(r, 0, sizeof(*r));
    r->ranks = x.ranks;
    snprintf(r->database, sizeof(r->database), "%s", o->database ? o->database : c->database);
    au_set_threads(1); /* parallelism is across workers; one BLAS thread each */
    x.w = au_calloc((size_t)jobs + 1, sizeof(*x.w));
    x.w_cap = jobs;
    int rc = x.w ? setup(&x, jobs, r, d) : au_diag_set(d, AU_NOMEM, "out of memory");
    if (x.ranks > 1)
        rc = run_mpi(&x, rc, r, d);
    else if (!rc)
        rc = run_workers(&x, r, d);
    if (x.store && x.campaign) {
        bool stopped = x.stats && all_stopped(&x);
        r->complete = !rc && (r->units_done == r->units_total || stopped);
        r->interrupted = !rc && !r->complete;
        snprintf(r->stop_reason, sizeof(r->stop_reason), "%s",
                 rc            ? "error"
                 : stopped     ? "confidence intervals reached the target half-width"
                 : r->complete ? "all trials done"
                               : "interrupted");
        int state = rc ? AU_STORE_FAILED : r->complete ? AU_STORE_DONE : AU_STORE_INTERRUPTED;
        struct au_diag d2;
        int rc2 = au_store_campaign_end(x.store, x.campaign, state, r->stop_reason, rc ? &d2 : d);
        double total = 0;
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM trials WHERE campaign = %lld",
                 (long long)x.campaign);
        if (!rc2 && au_store_query_double(x.store, sql, &total, &d2) == 0)
            r->trials_total = (int64_t)total;
        if (!rc && rc2)
            rc = rc2;
    }
    teardown(&x);
    if (!rc && r->interrupted)
        return AU_INTERRUPTED;
    return rc;
}
