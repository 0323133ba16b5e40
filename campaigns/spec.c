/* Campaign file parser. One pass over the cJSON tree fills a struct au_campaign whose
 * defaults are already set; every getter reports its own problem (with the JSON path it
 * is at) and carries on, so one run lists every problem, not just the first. Unknown
 * keys are problems too, with a "did you mean" when a known key is close, because a
 * misspelt optional key would otherwise silently leave its default in force. */
#include "campaigns/spec.h"

#include "core/alloc.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES ((size_t)16 << 20)
#define MAX_COUNT      ((int64_t)1 << 40)

/* ---- the problem list ---- */

int au_problems_add(struct au_problems *p, const char *fmt, ...)
{
    if (!p)
        return AU_FORMAT;
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (char *s = buf; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        char **m = au_realloc(p->msg, cap * sizeof(*m));
        if (!m)
            return AU_NOMEM;
        p->msg = m;
        p->cap = cap;
    }
    if (!(p->msg[p->n] = au_strdup(buf)))
        return AU_NOMEM;
    p->n++;
    return AU_FORMAT;
}

void au_problems_fini(struct au_problems *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        au_free(p->msg[i]);
    au_free(p->msg);
    memset(p, 0, sizeof(*p));
}

/* ---- the reader: where we are, and what went wrong ---- */

struct rd {
    const char *file;
    const char *dir;
    struct au_problems *probs;
    size_t first; /* probs->n when this parse started */
    char path[320];
    size_t plen;
    bool nomem;
};

static void bad(struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(struct rd *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (au_problems_add(r->probs, "%s: %s: %s", r->file, r->path, msg) == AU_NOMEM)
        r->nomem = true;
}

static size_t problems_so_far(const struct rd *r)
{
    return r->probs->n - r->first;
}

static void set_len(struct rd *r, size_t n)
{
    r->plen = n < sizeof(r->path) ? n : sizeof(r->path) - 1;
    r->path[r->plen] = '\0';
}

/* Appends ".key" (or "['odd key']") to the path; returns the length to pop back to. */
static size_t push(struct rd *r, const char *key)
{
    size_t old = r->plen;
    bool plain = *key != '\0';
    for (const char *s = key; *s; s++)
        plain = plain && (isalnum((unsigned char)*s) || *s == '_' || *s == '$');
    int n = snprintf(r->path + old, sizeof(r->path) - old, plain ? ".%s" : "['%s']", key);
    set_len(r, old + (n > 0 ? (size_t)n : 0));
    return old;
}

static size_t push_i(struct rd *r, int i)
{
    size_t old = r->plen;
    int n = snprintf(r->path + old, sizeof(r->path) - old, "[%d]", i);
    set_len(r, old + (n > 0 ? (size_t)n : 0));
    return old;
}

static void pop(struct rd *r, size_t old)
{
    set_len(r, old);
}

static char *dup_str(struct rd *r, const char *s)
{
    char *p = au_strdup(s);
    if (!p)
        r->nomem = true;
    return p;
}

/* ---- describing values in messages ---- */

static void fmt_num(double x, char *buf, size_t len)
{
    snprintf(buf, len, "%.15g", x);
    if (strtod(buf, NULL) != x)
        snprintf(buf, len, "%.17g", x);
}

/* "a string 'x'", "the number 3", "an array", ... */
static void describe(const cJSON *v, char *buf, size_t len)
{
    if (cJSON_IsString(v))
        snprintf(buf, len, "'%.60s'", v->valuestring);
    else if (cJSON_IsNumber(v))
        fmt_num(v->valuedouble, buf, len);
    else if (cJSON_IsBool(v))
        snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v))
        snprintf(buf, len, "null");
    else if (cJSON_IsArray(v))
        snprintf(buf, len, "an array");
    else
        snprintf(buf, len, "an object");
}

static void bad_type(struct rd *r, const cJSON *v, const char *want)
{
    char got[96];
    describe(v, got, sizeof(got));
    bad(r, "must be %s, got %s", want, got);
}

/* ---- keys ---- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64];
    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t sub =
                diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[lb];
}

static bool in_list(const char *key, const char *const *list)
{
    for (; list && *list; list++)
        if (strcmp(key, *list) == 0)
            return true;
    return false;
}

/* A key that is valid only in another mode (process type, timing, stop type). */
struct misplaced {
    const char *key, *hint;
};

static const char *closest(const char *key, const char *const *allowed)
{
    const char *best = NULL;
    size_t bd = 4;
    for (const char *const *a = allowed; *a; a++) {
        size_t dist = edit_distance(key, *a);
        if (dist < bd && dist * 3 <= strlen(*a)) {
            bd = dist;
            best = *a;
        }
    }
    return best;
}

/* Reports keys of obj that are not allowed: misplaced ones with their hint, the rest
 * with a suggestion. Duplicate keys are problems (cJSON keeps the first, so a second
 * one would be silently ignored). */
static void check_keys(struct rd *r, const cJSON *obj, const char *const *allowed,
                       const struct misplaced *mis)
{
    for (const cJSON *k = obj->child; k; k = k->next) {
        size_t old = push(r, k->string);
        const struct misplaced *m = mis;
        while (m && m->key && strcmp(m->key, k->string) != 0)
            m++;
        if (cJSON_GetObjectItemCaseSensitive(obj, k->string) != k) {
            bad(r, "duplicate key");
        } else if (m && m->key) {
            bad(r, "%s", m->hint);
        } else if (!in_list(k->string, allowed)) {
            const char *best = closest(k->string, allowed);
            if (best)
                bad(r, "unknown key (did you mean '%s'?)", best);
            else
                bad(r, "unknown key");
        }
        pop(r, old);
    }
}

static const cJSON *member(const cJSON *obj, const char *key)
{
    return obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

/* The object at obj.key (NULL if absent, or a problem if not an object). */
static const cJSON *get_obj(struct rd *r, const cJSON *obj, const char *key)
{
    const cJSON *v = member(obj, key);
    if (v && !cJSON_IsObject(v)) {
        size_t old = push(r, key);
        bad_type(r, v, "an object");
        pop(r, old);
        return NULL;
    }
    return v;
}

static void missing(struct rd *r, const char *key)
{
    size_t old = push(r, key);
    bad(r, "missing (required)");
    pop(r, old);
}

/* ---- scalar values (the path already points at v) ---- */

static bool str_val(struct rd *r, const cJSON *v, char **out)
{
    if (!cJSON_IsString(v)) {
        bad_type(r, v, "a string");
        return false;
    }
    if (!*v->valuestring) {
        bad(r, "must not be empty");
        return false;
    }
    au_free(*out);
    *out = dup_str(r, v->valuestring);
    return *out != NULL;
}

static bool int_val(struct rd *r, const cJSON *v, int64_t lo, int64_t hi, int64_t *out)
{
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(x == floor(x) && x >= (double)lo && x <= (double)hi)) {
        char got[96];
        describe(v, got, sizeof(got));
        bad(r, "must be an integer in [%lld, %lld], got %s", (long long)lo, (long long)hi, got);
        return false;
    }
    *out = (int64_t)x;
    return true;
}

#define LO_OPEN 1u /* x > lo, not >= */
#define HI_OPEN 2u /* x < hi, not <= */

static bool real_val(struct rd *r, const cJSON *v, double lo, double hi, unsigned flags,
                     double *out)
{
    if (!cJSON_IsNumber(v)) {
        bad_type(r, v, "a number");
        return false;
    }
    double x = v->valuedouble;
    bool ok = isfinite(x) && ((flags & LO_OPEN) ? x > lo : x >= lo) &&
              ((flags & HI_OPEN) ? x < hi : x <= hi);
    if (!ok) {
        char got[40], l[40], h[40];
        fmt_num(x, got, sizeof(got));
        fmt_num(lo, l, sizeof(l));
        fmt_num(hi, h, sizeof(h));
        if (isinf(hi))
            bad(r, "must be %s %s, got %s", (flags & LO_OPEN) ? ">" : ">=", l, got);
        else
            bad(r, "must be in %c%s, %s%c, got %s", (flags & LO_OPEN) ? '(' : '[', l, h,
                (flags & HI_OPEN) ? ')' : ']', got);
        return false;
    }
    *out = x;
    return true;
}

/* names is NULL-terminated; *out gets the index. */
static bool enum_val(struct rd *r, const cJSON *v, const char *const *names, int *out)
{
    if (cJSON_IsString(v))
        for (int i = 0; names[i]; i++)
            if (strcmp(v->valuestring, names[i]) == 0) {
                *out = i;
                return true;
            }
    char want[256], got[96];
    size_t n = (size_t)snprintf(want, sizeof(want), "one of");
    for (int i = 0; names[i] && n < sizeof(want); i++)
        n += (size_t)snprintf(want + n, sizeof(want) - n, "%s '%s'", i ? "," : "", names[i]);
    describe(v, got, sizeof(got));
    const char *best = cJSON_IsString(v) ? closest(v->valuestring, names) : NULL;
    if (best)
        bad(r, "must be %s, got %s (did you mean '%s'?)", want, got, best);
    else
        bad(r, "must be %s, got %s", want, got);
    return false;
}

/* ---- the same, as members of an object (absent: keep the default) ---- */

static const cJSON *at(struct rd *r, const cJSON *obj, const char *key, bool required, size_t *old)
{
    const cJSON *v = member(obj, key);
    if (!v) {
        if (required)
            missing(r, key);
        return NULL;
    }
    *old = push(r, key);
    return v;
}

static bool get_str(struct rd *r, const cJSON *obj, const char *key, bool required, char **out)
{
    size_t old;
    const cJSON *v = at(r, obj, key, required, &old);
    if (!v)
        return false;
    bool ok = str_val(r, v, out);
    pop(r, old);
    return ok;
}

static void get_int(struct rd *r, const cJSON *obj, const char *key, int64_t lo, int64_t hi,
                    int64_t *out)
{
    size_t old;
    const cJSON *v = at(r, obj, key, false, &old);
    if (v) {
        int_val(r, v, lo, hi, out);
        pop(r, old);
    }
}

static void get_real(struct rd *r, const cJSON *obj, const char *key, bool required, double lo,
                     double hi, unsigned flags, double *out)
{
    size_t old;
    const cJSON *v = at(r, obj, key, required, &old);
    if (v) {
        real_val(r, v, lo, hi, flags, out);
        pop(r, old);
    }
}

static void get_bool(struct rd *r, const cJSON *obj, const char *key, bool *out)
{
    size_t old;
    const cJSON *v = at(r, obj, key, false, &old);
    if (!v)
        return;
    if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    else
        bad_type(r, v, "true or false");
    pop(r, old);
}

static bool get_enum(struct rd *r, const cJSON *obj, const char *key, const char *const *names,
                     int *out)
{
    size_t old;
    const cJSON *v = at(r, obj, key, false, &old);
    if (!v)
        return false;
    bool ok = enum_val(r, v, names, out);
    pop(r, old);
    return ok;
}

/* A path in the file, joined to the campaign file's directory unless absolute. */
static void get_path(struct rd *r, const cJSON *obj, const char *key, bool required, char **out)
{
    char *s = NULL;
    if (get_str(r, obj, key, required, &s)) {
        au_free(*out);
        if (s[0] == '/' || strcmp(r->dir, ".") == 0) {
            *out = s;
            return;
        }
        size_t n = strlen(r->dir) + strlen(s) + 2;
        if ((*out = au_malloc(n)))
            snprintf(*out, n, "%s/%s", r->dir, s);
        else
            r->nomem = true;
    }
    au_free(s);
}

/* ---- lists: a single value is accepted where a list is ---- */

static void free_strs(char **v, int n)
{
    for (int i = 0; i < n; i++)
        au_free(v[i]);
    au_free(v);
}

static bool selector_val(struct rd *r, const cJSON *v, char **out)
{
    if (!str_val(r, v, out))
        return false;
    if (strcmp(*out, "op:") == 0) {
        bad(r, "'op:' needs an op type, e.g. 'op:Conv'");
        return false;
    }
    return true;
}

/* Calls each(r, item, i, ctx) for v's items (v itself if not an array), with the path
 * at the item. Returns the number of items, or -1 if v is an empty array. */
typedef void (*item_fn)(struct rd *r, const cJSON *item, int i, void *ctx);
static int each_item(struct rd *r, const cJSON *v, item_fn fn, void *ctx)
{
    if (!cJSON_IsArray(v)) {
        fn(r, v, 0, ctx);
        return 1;
    }
    int n = cJSON_GetArraySize(v), i = 0;
    if (n == 0) {
        bad(r, "must not be empty");
        return -1;
    }
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        size_t old = push_i(r, i);
        fn(r, it, i, ctx);
        pop(r, old);
    }
    return n;
}

static int count_items(const cJSON *v)
{
    return cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 1;
}

struct strs_ctx {
    char **v;
    bool selectors;
};

static void str_item(struct rd *r, const cJSON *item, int i, void *ctx)
{
    struct strs_ctx *s = ctx;
    if (s->selectors)
        selector_val(r, item, &s->v[i]);
    else
        str_val(r, item, &s->v[i]);
}

/* A string or a non-empty list of strings (selectors: also checked as selectors). */
static void get_strs(struct rd *r, const cJSON *obj, const char *key, bool selectors, char ***out,
                     int *n_out)
{
    size_t old;
    const cJSON *v = at(r, obj, key, false, &old);
    if (!v)
        return;
    int n = count_items(v);
    struct strs_ctx s = {au_calloc(n ? (size_t)n : 1, sizeof(char *)), selectors};
    if (!s.v) {
        r->nomem = true;
    } else if (each_item(r, v, str_item, &s) > 0) {
        free_strs(*out, *n_out);
        *out = s.v;
        *n_out = n;
        s.v = NULL;
    }
    if (s.v)
        free_strs(s.v, n);
    pop(r, old);
}

static void get_selectors(struct rd *r, const cJSON *obj, const char *key, bool required,
                          struct au_selectors *out)
{
    if (required && !member(obj, key))
        missing(r, key);
    get_strs(r, obj, key, true, &out->v, &out->n);
}

struct ints_ctx {
    int *v;
    int64_t lo, hi;
};

static void int_item(struct rd *r, const cJSON *item, int i, void *ctx)
{
    struct ints_ctx *s = ctx;
    int64_t x = 0;
    if (int_val(r, item, s->lo, s->hi, &x))
        s->v[i] = (int)x;
}

static void get_ints(struct rd *r, const cJSON *obj, const char *key, int lo, int hi, int **out,
                     int *n_out)
{
    size_t old;
    const cJSON *v = at(r, obj, key, false, &old);
    if (!v)
        return;
    int n = count_items(v);
    struct ints_ctx s = {au_calloc(n ? (size_t)n : 1, sizeof(int)), lo, hi};
    if (!s.v)
        r->nomem = true;
    else if (each_item(r, v, int_item, &s) > 0) {
        au_free(*out);
        *out = s.v;
        *n_out = n;
        s.v = NULL;
    }
    au_free(s.v);
    pop(r, old);
}

struct mask_ctx {
    const char *const *names;
    uint32_t mask;
};

static void mask_item(struct rd *r, const cJSON *item, int i, void *ctx)
{
    struct mask_ctx *s = ctx;
    int k = 0;
    (void)i;
    if (enum_val(r, item, s->names, &k))
        s->mask |= 1u << k;
}

/* A name or non-empty list of names -> bit mask (bit k for names[k]). */
static void get_mask(struct rd *r, const cJSON *obj, const char *key, const char *const *names,
                     uint32_t *out)
{
    size_t old;
    const cJSON *v = at(r, obj, key, false, &old);
    if (!v)
        return;
    struct mask_ctx s = {names, 0};
    size_t before = problems_so_far(r);
    if (each_item(r, v, mask_item, &s) > 0 && problems_so_far(r) == before)
        *out = s.mask;
    pop(r, old);
}

static void free_selectors(struct au_selectors *s)
{
    free_strs(s->v, s->n);
    s->v = NULL;
    s->n = 0;
}

/* ---- names ---- */

static const char *const fault_names[] = {"bit_flip", "stuck_at_0", "stuck_at_1", "random_value",
                                          NULL};
static const char *const process_names[] = {"per_layer", "poisson", NULL};
static const char *const timing_names[] = {"model_wide", "layer_wise", "single_layer", NULL};
static const char *const stop_names[] = {"fixed", "ci", NULL};
static const char *const metric_names[] = {"delta_loss", "mismatch", NULL};
static const char *const meta_names[] = {"reinterpret", "requantize", NULL};
static const char *const tensor_names[] = {"activations", "weights", NULL};
static const char *const bits_names[] = {"data", "metadata", NULL};

const char *au_campaign_fault_name(enum au_campaign_fault f)
{
    return (unsigned)f < 4 ? fault_names[f] : "?";
}

const char *au_campaign_process_name(enum au_campaign_process p)
{
    return (unsigned)p < 2 ? process_names[p] : "?";
}

const char *au_campaign_timing_name(enum au_campaign_timing t)
{
    return (unsigned)t < 3 ? timing_names[t] : "?";
}

/* ---- data ---- */

struct floats_ctx {
    float *v;
    bool positive;
};

static void float_item(struct rd *r, const cJSON *item, int i, void *ctx)
{
    struct floats_ctx *s = ctx;
    double x = 0;
    if (real_val(r, item, s->positive ? 0 : -INFINITY, INFINITY, s->positive ? LO_OPEN : 0, &x))
        s->v[i] = (float)x;
}

/* normalize: {"mean": m, "std": s}, each a number or a list of 1..16 (one per channel). */
static void parse_normalize(struct rd *r, const cJSON *o, struct au_campaign *c)
{
    static const char *const keys[] = {"mean", "std", NULL};
    check_keys(r, o, keys, NULL);
    const cJSON *m = member(o, "mean"), *s = member(o, "std");
    if (!m)
        missing(r, "mean");
    if (!s)
        missing(r, "std");
    if (!m || !s)
        return;
    int n = count_items(m);
    size_t old = push(r, "std");
    if (count_items(s) != n)
        bad(r, "has %d entries but mean has %d", count_items(s), n);
    else if (n > AU_CAMPAIGN_MAX_NORM)
        bad(r, "at most %d channels, got %d", AU_CAMPAIGN_MAX_NORM, n);
    pop(r, old);
    if (count_items(s) != n || n > AU_CAMPAIGN_MAX_NORM)
        return;
    struct floats_ctx fm = {c->data.mean, false}, fs = {c->data.std, true};
    old = push(r, "mean");
    each_item(r, m, float_item, &fm);
    pop(r, old);
    old = push(r, "std");
    each_item(r, s, float_item, &fs);
    pop(r, old);
    c->data.n_norm = n;
}

static void parse_data(struct rd *r, const cJSON *o, struct au_campaign *c)
{
    static const char *const keys[] = {"inputs",       "labels",    "samples",
                                       "only_correct", "normalize", NULL};
    check_keys(r, o, keys, NULL);
    get_path(r, o, "inputs", true, &c->data.inputs);
    get_path(r, o, "labels", true, &c->data.labels);
    get_int(r, o, "samples", 1, MAX_COUNT, &c->data.samples);
    get_bool(r, o, "only_correct", &c->data.only_correct);
    const cJSON *n = get_obj(r, o, "normalize");
    if (n) {
        size_t old = push(r, "normalize");
        parse_normalize(r, n, c);
        pop(r, old);
    }
}

/* ---- formats ---- */

/* A format string ("fp16", "bfp{mantissa:7}") or object {"format":"bfp",...}, kept as
 * text for au_numsys_fmt_new, which checks it against the plugin (validate.c). */
static void format_val(struct rd *r, const cJSON *v, char **out)
{
    if (cJSON_IsString(v)) {
        str_val(r, v, out);
        return;
    }
    if (!cJSON_IsObject(v)) {
        bad_type(r, v, "a format string or object");
        return;
    }
    const cJSON *f = member(v, "format");
    size_t old = push(r, "format");
    if (!f)
        bad(r, "missing (required: the format's name)");
    else if (!cJSON_IsString(f) || !*f->valuestring)
        bad_type(r, f, "a format name");
    pop(r, old);
    char *s = cJSON_PrintUnformatted(v);
    au_free(*out);
    *out = s ? dup_str(r, s) : NULL;
    r->nomem = r->nomem || !s;
    cJSON_free(s);
}

static void get_format(struct rd *r, const cJSON *obj, const char *key, char **out)
{
    size_t old;
    const cJSON *v = at(r, obj, key, false, &old);
    if (v) {
        format_val(r, v, out);
        pop(r, old);
    }
}

static void format_rule(struct rd *r, const cJSON *item, int i, void *ctx)
{
    static const char *const keys[] = {"select", "weights", "activations", NULL};
    struct au_campaign_format_rule *rule = (struct au_campaign_format_rule *)ctx + i;
    if (!cJSON_IsObject(item)) {
        bad_type(r, item, "an object {\"select\": ..., \"weights\"/\"activations\": ...}");
        return;
    }
    check_keys(r, item, keys, NULL);
    get_selectors(r, item, "select", true, &rule->select);
    get_format(r, item, "weights", &rule->weights);
    get_format(r, item, "activations", &rule->activations);
    if (!member(item, "weights") && !member(item, "activations"))
        bad(r, "sets neither 'weights' nor 'activations'");
}

static void parse_formats(struct rd *r, const cJSON *o, struct au_campaign *c)
{
    static const char *const keys[] = {"weights", "activations", "layers", NULL};
    check_keys(r, o, keys, NULL);
    get_format(r, o, "weights", &c->formats.weights);
    get_format(r, o, "activations", &c->formats.activations);
    size_t old;
    const cJSON *v = at(r, o, "layers", false, &old);
    if (!v)
        return;
    if (!cJSON_IsArray(v)) {
        bad_type(r, v, "an array of rules");
    } else if (cJSON_GetArraySize(v) > 0) {
        int n = cJSON_GetArraySize(v);
        c->formats.rules = au_calloc((size_t)n, sizeof(*c->formats.rules));
        if (!c->formats.rules)
            r->nomem = true;
        else
            c->formats.n_rules = n, each_item(r, v, format_rule, c->formats.rules);
    }
    pop(r, old);
}

/* ---- targets, fault ---- */

static void parse_targets(struct rd *r, const cJSON *o, struct au_campaign *c)
{
    static const char *const keys[] = {
        "layers", "tensors", "bits", "fields", "bit_positions", "meta_bit_positions", NULL};
    check_keys(r, o, keys, NULL);
    get_selectors(r, o, "layers", false, &c->targets.layers);
    get_mask(r, o, "tensors", tensor_names, &c->targets.tensors);
    get_mask(r, o, "bits", bits_names, &c->targets.bits);
    get_strs(r, o, "fields", false, &c->targets.fields, &c->targets.n_fields);
    get_ints(r, o, "bit_positions", 0, 63, &c->targets.bit_positions, &c->targets.n_bit_positions);
    get_ints(r, o, "meta_bit_positions", 0, 63, &c->targets.meta_bit_positions,
             &c->targets.n_meta_bit_positions);
}

static void parse_fault(struct rd *r, const cJSON *o, struct au_campaign *c)
{
    static const char *const keys[] = {"model", NULL};
    check_keys(r, o, keys, NULL);
    int k = 0;
    if (get_enum(r, o, "model", fault_names, &k))
        c->fault = (enum au_campaign_fault)k;
}

/* ---- process ---- */

static void rate_item(struct rd *r, const cJSON *item, int i, void *ctx)
{
    static const char *const keys[] = {"bits", "field", "tensors", "layers", "rate", NULL};
    struct au_campaign_rate *e = (struct au_campaign_rate *)ctx + i;
    if (!cJSON_IsObject(item)) {
        bad_type(r, item,
                 "an object {\"bits\"/\"field\"/\"tensors\"/\"layers\": ..., \"rate\": x}");
        return;
    }
    check_keys(r, item, keys, NULL);
    int k = 0;
    if (get_enum(r, item, "bits", bits_names, &k))
        e->bits = 1u << k;
    get_str(r, item, "field", false, &e->field);
    get_mask(r, item, "tensors", tensor_names, &e->tensors);
    get_selectors(r, item, "layers", false, &e->layers);
    get_real(r, item, "rate", true, 0, INFINITY, 0, &e->rate);
    if (!member(item, "bits") && !member(item, "field") && !member(item, "tensors") &&
        !member(item, "layers"))
        bad(r, "selects nothing: give 'bits', 'field', 'tensors' or 'layers'");
}

static void time_item(struct rd *r, const cJSON *item, int i, void *ctx)
{
    static const char *const keys[] = {"select", "time", NULL};
    struct au_campaign_time *e = (struct au_campaign_time *)ctx + i;
    if (!cJSON_IsObject(item)) {
        bad_type(r, item, "an object {\"select\": ..., \"time\": t}");
        return;
    }
    check_keys(r, item, keys, NULL);
    get_selectors(r, item, "select", true, &e->select);
    get_real(r, item, "time", true, 0, INFINITY, 0, &e->time);
}

/* An array of objects parsed by fn into a calloc'd array of n elements of size sz. */
static void get_array(struct rd *r, const cJSON *o, const char *key, size_t sz, item_fn fn,
                      void **out, int *n_out)
{
    size_t old;
    const cJSON *v = at(r, o, key, false, &old);
    if (!v)
        return;
    if (!cJSON_IsArray(v)) {
        bad_type(r, v, "an array");
    } else if (cJSON_GetArraySize(v) == 0) {
        bad(r, "must not be empty");
    } else {
        int n = cJSON_GetArraySize(v);
        if (!(*out = au_calloc((size_t)n, sz)))
            r->nomem = true;
        else
            *n_out = n, each_item(r, v, fn, *out);
    }
    pop(r, old);
}

static const struct misplaced per_layer_mis[] = {{"rate", "only with type 'poisson'"},
                                                 {"rates", "only with type 'poisson'"},
                                                 {"timing", "only with type 'poisson'"},
                                                 {"time", "only with type 'poisson'"},
                                                 {"time_per_mac", "only with type 'poisson'"},
                                                 {"times", "only with type 'poisson'"},
                                                 {"condition_on_fault", "only with type 'poisson'"},
                                                 {NULL, NULL}};
static const struct misplaced whole_time_mis[] = {
    {"flips", "only with type 'per_layer' (Poisson draws the number of flips)"},
    {"time_per_mac", "only with timing 'layer_wise'"},
    {"times", "only with timing 'layer_wise'"},
    {NULL, NULL}};
static const struct misplaced layer_wise_mis[] = {
    {"flips", "only with type 'per_layer' (Poisson draws the number of flips)"},
    {"time", "not used with timing 'layer_wise': give 'time_per_mac' and/or 'times'"},
    {NULL, NULL}};

static void parse_poisson(struct rd *r, const cJSON *o, struct au_campaign *c)
{
    static const char *const keys[] = {"type",
                                       "trials",
                                       "rate",
                                       "rates",
                                       "timing",
                                       "time",
                                       "time_per_mac",
                                       "times",
                                       "condition_on_fault",
                                       NULL};
    int k = 0;
    if (get_enum(r, o, "timing", timing_names, &k))
        c->process.timing = (enum au_campaign_timing)k;
    bool lw = c->process.timing == AU_CAMPAIGN_LAYER_WISE;
    check_keys(r, o, keys, lw ? layer_wise_mis : whole_time_mis);
    get_real(r, o, "rate", true, 0, INFINITY, LO_OPEN, &c->process.rate);
    get_array(r, o, "rates", sizeof(struct au_campaign_rate), rate_item, (void **)&c->process.rates,
              &c->process.n_rates);
    get_bool(r, o, "condition_on_fault", &c->process.condition_on_fault);
    if (!lw) {
        get_real(r, o, "time", false, 0, INFINITY, LO_OPEN, &c->process.time);
        return;
    }
    get_real(r, o, "time_per_mac", false, 0, INFINITY, LO_OPEN, &c->process.time_per_mac);
    get_array(r, o, "times", sizeof(struct au_campaign_time), time_item, (void **)&c->process.times,
              &c->process.n_times);
    if (!member(o, "time_per_mac") && !member(o, "times"))
        bad(r, "timing 'layer_wise' needs 'time_per_mac' (T = time_per_mac x MACs) and/or "
               "'times' (per layer)");
}

static void parse_process(struct rd *r, const cJSON *o, struct au_campaign *c)
{
    static const char *const keys[] = {"type", "trials", "flips", NULL};
    int k = 0;
    if (get_enum(r, o, "type", process_names, &k))
        c->process.type = (enum au_campaign_process)k;
    else if (member(o, "type"))
        return; /* the other keys depend on the type: one problem is enough */
    get_int(r, o, "trials", 1, MAX_COUNT, &c->process.trials);
    if (c->process.type == AU_CAMPAIGN_POISSON) {
        parse_poisson(r, o, c);
        return;
    }
    check_keys(r, o, keys, per_layer_mis);
    get_int(r, o, "flips", 1, 1 << 20, &c->process.flips);
}

/* ---- stop, seed ---- */

static void parse_stop(struct rd *r, const cJSON *o, struct au_campaign *c)
{
    static const char *const keys[] = {"type",       "metric",     "confidence", "half_width",
                                       "min_trials", "max_trials", NULL};
    static const struct misplaced fixed_mis[] = {
        {"metric", "only with type 'ci'"},     {"confidence", "only with type 'ci'"},
        {"half_width", "only with type 'ci'"}, {"min_trials", "only with type 'ci'"},
        {"max_trials", "only with type 'ci'"}, {NULL, NULL}};
    int k = 0;
    if (get_enum(r, o, "type", stop_names, &k))
        c->stop.type = (enum au_campaign_stop)k;
    else if (member(o, "type"))
        return;
    bool ci = c->stop.type == AU_CAMPAIGN_STOP_CI;
    check_keys(r, o, keys, ci ? NULL : fixed_mis);
    if (!ci)
        return;
    if (get_enum(r, o, "metric", metric_names, &k))
        c->stop.metric = (enum au_campaign_metric)k;
    get_real(r, o, "confidence", false, 0, 1, LO_OPEN | HI_OPEN, &c->stop.confidence);
    get_real(r, o, "half_width", true, 0, INFINITY, LO_OPEN, &c->stop.half_width);
    get_int(r, o, "min_trials", 2, MAX_COUNT, &c->stop.min_trials);
    get_int(r, o, "max_trials", 1, MAX_COUNT, &c->stop.max_trials);
}

/* A number up to 2^53 (exact in a double), or a string for the full uint64 range. */
static void parse_seed(struct rd *r, const cJSON *v, struct au_campaign *c)
{
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        char *end;
        errno = 0;
        unsigned long long x = strtoull(s, &end, 0);
        if (!isdigit((unsigned char)*s) || *end || errno)
            bad(r, "must be an unsigned 64-bit integer (decimal or 0x hex), got '%.40s'", s);
        else
            c->seed = x;
        return;
    }
    int64_t x;
    if (cJSON_IsNumber(v) && v->valuedouble > 9007199254740992.0)
        bad(r, "above 2^53 a seed must be a string (\"%.0f\" is not exact)", v->valuedouble);
    else if (int_val(r, v, 0, (int64_t)1 << 53, &x))
        c->seed = (uint64_t)x;
}

/* ---- the whole file ---- */

static void bad_at(struct rd *r, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void bad_at(struct rd *r, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (au_problems_add(r->probs, "%s: %s: %s", r->file, path, msg) == AU_NOMEM)
        r->nomem = true;
}

static void check_name(struct rd *r, const char *name)
{
    size_t n = strlen(name), i = 0;
    while (i < n && (isalnum((unsigned char)name[i]) || strchr("._-", name[i])))
        i++;
    if (i < n || n > 128 || name[0] == '.')
        bad_at(r, "$.name",
               "must be 1-128 letters, digits, '.', '_' or '-' (not starting "
               "with '.'): it names the default database file");
}

typedef void (*section_fn)(struct rd *r, const cJSON *o, struct au_campaign *c);

static void section(struct rd *r, const cJSON *root, const char *key, section_fn fn,
                    struct au_campaign *c, bool required)
{
    const cJSON *o = get_obj(r, root, key);
    if (!o && required && !member(root, key))
        missing(r, key);
    if (!o)
        return;
    size_t old = push(r, key);
    fn(r, o, c);
    pop(r, old);
}

static void parse_top(struct rd *r, const cJSON *root, struct au_campaign *c)
{
    static const char *const keys[] = {"$schema", "name",    "description",    "model",
                                       "data",    "batch",   "formats",        "targets",
                                       "fault",   "process", "range_detector", "metadata_faults",
                                       "stop",    "seed",    "database",       NULL};
    char *schema = NULL;
    check_keys(r, root, keys, NULL);
    get_str(r, root, "$schema", false, &schema);
    au_free(schema);
    if (get_str(r, root, "name", false, &c->name))
        check_name(r, c->name);
    get_str(r, root, "description", false, &c->description);
    get_path(r, root, "model", true, &c->model);
    section(r, root, "data", parse_data, c, true);
    get_int(r, root, "batch", 1, 65536, &c->batch);
    section(r, root, "formats", parse_formats, c, false);
    section(r, root, "targets", parse_targets, c, false);
    section(r, root, "fault", parse_fault, c, false);
    section(r, root, "process", parse_process, c, false);
    get_bool(r, root, "range_detector", &c->range_detector);
    int k = 0;
    if (get_enum(r, root, "metadata_faults", meta_names, &k)) {
        c->metadata_faults = (enum au_campaign_meta)k;
        c->metadata_faults_given = true;
    }
    section(r, root, "stop", parse_stop, c, false);
    size_t old;
    const cJSON *v = at(r, root, "seed", false, &old);
    if (v) {
        parse_seed(r, v, c);
        pop(r, old);
    }
    get_path(r, root, "database", false, &c->database);
}

/* Checks between sections; each problem names the key that has to change. */
static void cross_check(struct rd *r, const cJSON *root, const struct au_campaign *c)
{
    const cJSON *proc = member(root, "process");
    if (c->stop.type == AU_CAMPAIGN_STOP_CI) {
        if (cJSON_IsObject(proc) && member(proc, "trials"))
            bad_at(r, "$.process.trials",
                   "not used when $.stop.type is 'ci' (the cap is "
                   "$.stop.max_trials)");
        if (c->stop.min_trials > c->stop.max_trials)
            bad_at(r, "$.stop.min_trials", "must be <= max_trials (%lld), got %lld",
                   (long long)c->stop.max_trials, (long long)c->stop.min_trials);
        if (c->stop.metric == AU_CAMPAIGN_MISMATCH && c->stop.half_width > 0.5)
            bad_at(r, "$.stop.half_width",
                   "a mismatch rate's interval half-width must be <= "
                   "0.5, got %g",
                   c->stop.half_width);
    }
    uint32_t bits = c->targets.bits, tensors = c->targets.tensors;
    if (c->metadata_faults == AU_CAMPAIGN_REQUANTIZE && !(bits & AU_CAMPAIGN_META))
        bad_at(r, "$.metadata_faults",
               "'requantize' applies to metadata faults, but "
               "$.targets.bits has no 'metadata'");
    if (c->targets.n_bit_positions && !(bits & AU_CAMPAIGN_DATA))
        bad_at(r, "$.targets.bit_positions",
               "element bit positions, but $.targets.bits has no "
               "'data'");
    if (c->targets.n_meta_bit_positions && !(bits & AU_CAMPAIGN_META))
        bad_at(r, "$.targets.meta_bit_positions",
               "metadata bit positions, but $.targets.bits "
               "has no 'metadata'");
    for (int i = 0; i < c->process.n_rates; i++) {
        const struct au_campaign_rate *e = &c->process.rates[i];
        char p[64];
        if (e->bits && !(e->bits & bits)) {
            snprintf(p, sizeof(p), "$.process.rates[%d].bits", i);
            bad_at(r, p, "'%s' is not targeted ($.targets.bits)",
                   bits_names[e->bits == AU_CAMPAIGN_META]);
        }
        if (e->tensors & ~tensors) {
            snprintf(p, sizeof(p), "$.process.rates[%d].tensors", i);
            bad_at(r, p, "'%s' is not targeted ($.targets.tensors)",
                   tensor_names[(e->tensors & ~tensors) == AU_CAMPAIGN_WEIGHTS]);
        }
    }
}

static void set_defaults(struct au_campaign *c)
{
    c->batch = 64;
    c->targets.tensors = AU_CAMPAIGN_ACT;
    c->targets.bits = AU_CAMPAIGN_DATA;
    c->fault = AU_CAMPAIGN_BIT_FLIP;
    c->process.type = AU_CAMPAIGN_PER_LAYER;
    c->process.flips = 1;
    c->process.trials = 1000;
    c->process.timing = AU_CAMPAIGN_MODEL_WIDE;
    c->process.time = 1.0;
    c->metadata_faults = AU_CAMPAIGN_REINTERPRET;
    c->stop.type = AU_CAMPAIGN_STOP_FIXED;
    c->stop.metric = AU_CAMPAIGN_DELTA_LOSS;
    c->stop.confidence = 0.99;
    c->stop.min_trials = 30;
    c->stop.max_trials = 100000;
}

/* path, dir and the default name (file name without .json) and target layers ("*"). */
static int set_names(struct au_campaign *c, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t nb = strlen(base);
    if (nb > 5 && strcmp(base + nb - 5, ".json") == 0)
        nb -= 5;
    c->path = au_strdup(path);
    c->dir = slash ? au_malloc((size_t)(slash - path) + 2) : au_strdup(".");
    c->name = au_malloc(nb + 1);
    c->targets.layers.v = au_calloc(1, sizeof(char *));
    if (!c->path || !c->dir || !c->name || !c->targets.layers.v)
        return AU_NOMEM;
    if (slash) {
        size_t nd = slash == path ? 1 : (size_t)(slash - path);
        memcpy(c->dir, path, nd);
        c->dir[nd] = '\0';
    }
    memcpy(c->name, base, nb);
    c->name[nb] = '\0';
    c->targets.layers.n = 1;
    return (c->targets.layers.v[0] = au_strdup("*")) ? AU_OK : AU_NOMEM;
}

/* After a successful parse: the database default and "float32" = no emulation. */
static int finish(struct au_campaign *c)
{
    char **g[] = {&c->formats.weights, &c->formats.activations};
    for (int i = 0; i < 2; i++)
        if (*g[i] && strcmp(*g[i], "float32") == 0) {
            au_free(*g[i]);
            *g[i] = NULL;
        }
    if (c->database)
        return AU_OK;
    size_t n = strlen(c->dir) + strlen(c->name) + 5;
    if (!(c->database = au_malloc(n)))
        return AU_NOMEM;
    if (strcmp(c->dir, ".") == 0)
        snprintf(c->database, n, "%s.db", c->name);
    else
        snprintf(c->database, n, "%s/%s.db", c->dir, c->name);
    return AU_OK;
}

void au_campaign_free(struct au_campaign *c)
{
    if (!c)
        return;
    char *strs[] = {c->path,
                    c->dir,
                    c->json,
                    c->name,
                    c->description,
                    c->model,
                    c->database,
                    c->data.inputs,
                    c->data.labels,
                    c->formats.weights,
                    c->formats.activations};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        au_free(strs[i]);
    for (int i = 0; i < c->formats.n_rules; i++) {
        free_selectors(&c->formats.rules[i].select);
        au_free(c->formats.rules[i].weights);
        au_free(c->formats.rules[i].activations);
    }
    au_free(c->formats.rules);
    free_selectors(&c->targets.layers);
    free_strs(c->targets.fields, c->targets.n_fields);
    au_free(c->targets.bit_positions);
    au_free(c->targets.meta_bit_positions);
    for (int i = 0; i < c->process.n_rates; i++) {
        au_free(c->process.rates[i].field);
        free_selectors(&c->process.rates[i].layers);
    }
    au_free(c->process.rates);
    for (int i = 0; i < c->process.n_times; i++)
        free_selectors(&c->process.times[i].select);
    au_free(c->process.times);
    au_free(c);
}

/* "file:3:14: JSON syntax error near '...'" for cJSON's error position. */
static void syntax_error(struct rd *r, const char *text, size_t len, const char *at)
{
    size_t off = at && at >= text && at <= text + len ? (size_t)(at - text) : 0;
    int line = 1, col = 1;
    for (size_t i = 0; i < off; i++, col++)
        if (text[i] == '\n')
            line++, col = 0;
    char near[24] = "";
    size_t k = 0;
    for (size_t i = off; i < len && k < 16 && text[i] != '\n'; i++)
        near[k++] = isprint((unsigned char)text[i]) ? text[i] : '?';
    near[k] = '\0';
    if (au_problems_add(r->probs, "%s:%d:%d: JSON syntax error%s%s%s", r->file, line, col,
                        k ? " near '" : " at the end of the file", near, k ? "'" : "") == AU_NOMEM)
        r->nomem = true;
}

static void parse_root(struct rd *r, const char *text, size_t len, struct au_campaign *c)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        syntax_error(r, text, len, end);
        return;
    }
    while (end && end < text + len && isspace((unsigned char)*end))
        end++;
    if (end && end < text + len) {
        syntax_error(r, text, len, end);
    } else if (!cJSON_IsObject(root)) {
        bad_type(r, root, "an object");
    } else {
        parse_top(r, root, c);
        cross_check(r, root, c);
        char *s = cJSON_PrintUnformatted(root);
        c->json = s ? dup_str(r, s) : NULL;
        r->nomem = r->nomem || !s;
        cJSON_free(s);
    }
    cJSON_Delete(root);
}

static int parse(const char *text, size_t len, const char *path, bool partial,
                 struct au_campaign **out, struct au_problems *probs, struct au_diag *d)
{
    struct au_problems local = {0};
    *out = NULL;
    if (!path)
        path = "campaign.json";
    struct au_campaign *c = au_calloc(1, sizeof(*c));
    if (!c || set_names(c, path) < 0) {
        au_campaign_free(c);
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", path);
    }
    set_defaults(c);
    struct rd r = {.file = path, .dir = c->dir, .probs = probs ? probs : &local, .path = "$"};
    r.first = r.probs->n;
    r.plen = 1;
    parse_root(&r, text, len, c);
    if (!r.nomem && (partial || !problems_so_far(&r)) && finish(c) < 0)
        r.nomem = true;
    int rc = r.nomem ? AU_NOMEM : problems_so_far(&r) ? AU_FORMAT : AU_OK;
    if (rc == AU_NOMEM)
        au_diag_set(d, rc, "%s: out of memory", path);
    else if (rc)
        au_diag_set(d, rc, "%s", r.probs->msg[r.first]);
    au_problems_fini(&local);
    if (rc && !(partial && rc == AU_FORMAT))
        au_campaign_free(c);
    else
        *out = c;
    return rc;
}

int au_campaign_parse(const char *text, size_t len, const char *path, struct au_campaign **out,
                      struct au_problems *probs, struct au_diag *d)
{
    return parse(text, len, path, false, out, probs, d);
}

static int read_file(const char *path, char **buf, size_t *len, struct au_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return au_diag_set(d, AU_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *b = au_malloc(cap);
    int rc = b ? AU_OK : au_diag_set(d, AU_NOMEM, "%s: out of memory", path);
    while (!rc) {
        n += fread(b + n, 1, cap - n, f);
        if (ferror(f))
            rc = au_diag_set(d, AU_IO, "%s: read error: %s", path, strerror(errno));
        else if (n < cap)
            break;
        else if (cap >= MAX_FILE_BYTES)
            rc = au_diag_set(d, AU_FORMAT, "%s: larger than %zu MiB: not a campaign file", path,
                             MAX_FILE_BYTES >> 20);
        else {
            char *nb = au_realloc(b, cap * 2);
            rc = nb ? AU_OK : au_diag_set(d, AU_NOMEM, "%s: out of memory", path);
            b = nb ? nb : b;
            cap *= 2;
        }
    }
    fclose(f);
    if (rc)
        au_free(b);
    *buf = rc ? NULL : b;
    *len = n;
    return rc;
}

static int load(const char *path, bool partial, struct au_campaign **out, struct au_problems *probs,
                struct au_diag *d)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = read_file(path, &text, &len, d);
    if (rc) {
        if (probs && au_problems_add(probs, "%s", d ? d->msg : path) == AU_NOMEM)
            return AU_NOMEM;
        return rc;
    }
    rc = parse(text, len, path, partial, out, probs, d);
    au_free(text);
    return rc;
}

int au_campaign_load(const char *path, struct au_campaign **out, struct au_problems *probs,
                     struct au_diag *d)
{
    return load(path, false, out, probs, d);
}

int au_campaign_load_partial(const char *path, struct au_campaign **out, struct au_problems *probs,
                             struct au_diag *d)
{
    return load(path, true, out, probs, d);
}
