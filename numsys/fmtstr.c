/* Format strings -> checked, normalized parameters -> plugin instances.
 * The schema check lives on the host so every plugin reports bad parameters in the
 * same words, and plugins receive only objects that already passed it (they still
 * check, being callable directly). The short form "fp{exponent:4,rounding:stochastic}"
 * is parsed into the same cJSON object a JSON spec gives, so there is one checker.
 */
#include "numsys/fmtstr.h"

#include "core/alloc.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct au_numsys_fmt {
    const struct au_numsys_plugin *plugin;
    au_numsys_inst *inst;
    struct au_numsys_layout layout;
    char *json, *str;
    bool stochastic;
};

/* ---- the short form: name{key:value,...} ---- */

struct cursor {
    const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && isspace((unsigned char)*c->p))
        c->p++;
}

static bool is_word_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_';
}

/* A bare word or a "quoted" string (no escapes needed for names and choices). */
static int read_word(struct cursor *c, char *buf, size_t len)
{
    size_t n = 0;
    if (c->p < c->end && *c->p == '"') {
        const char *q = memchr(c->p + 1, '"', (size_t)(c->end - c->p - 1));
        if (!q || (size_t)(q - c->p - 1) >= len)
            return -1;
        n = (size_t)(q - c->p - 1);
        memcpy(buf, c->p + 1, n);
        c->p = q + 1;
    } else {
        while (c->p < c->end && is_word_char(*c->p) && n + 1 < len)
            buf[n++] = *c->p++;
        if (n == 0 || (c->p < c->end && is_word_char(*c->p)))
            return -1;
    }
    buf[n] = '\0';
    return 0;
}

static cJSON *read_value(struct cursor *c)
{
    char word[128];
    if (c->p < c->end &&
        (*c->p == '-' || *c->p == '+' || *c->p == '.' || isdigit((unsigned char)*c->p))) {
        char num[64], *endp;
        size_t n = strcspn(c->p, ",} \t\n");
        if (n == 0 || n >= sizeof(num) || c->p + n > c->end)
            return NULL;
        memcpy(num, c->p, n);
        num[n] = '\0';
        double v = strtod(num, &endp);
        if (*endp || !isfinite(v))
            return NULL;
        c->p += n;
        return cJSON_CreateNumber(v);
    }
    bool quoted = c->p < c->end && *c->p == '"';
    if (read_word(c, word, sizeof(word)) < 0)
        return NULL;
    if (!quoted && strcmp(word, "true") == 0)
        return cJSON_CreateTrue();
    if (!quoted && strcmp(word, "false") == 0)
        return cJSON_CreateFalse();
    return cJSON_CreateString(word);
}

/* Parses the text between the braces into obj. */
static int parse_body(const char *name, struct cursor *c, cJSON *obj, struct au_diag *d)
{
    char key[64];
    skip_ws(c);
    while (c->p < c->end) {
        const char *at = c->p;
        if (read_word(c, key, sizeof(key)) < 0)
            return au_diag_set(d, AU_FORMAT, "%s: expected a parameter name at '%.20s'", name, at);
        skip_ws(c);
        if (c->p >= c->end || *c->p != ':')
            return au_diag_set(d, AU_FORMAT, "%s: expected ':' after '%s'", name, key);
        c->p++;
        skip_ws(c);
        at = c->p;
        cJSON *v = read_value(c);
        if (!v)
            return au_diag_set(d, AU_FORMAT, "%s: bad value for '%s' at '%.20s'", name, key, at);
        if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
            cJSON_Delete(v);
            return au_diag_set(d, AU_FORMAT, "%s: parameter '%s' given twice", name, key);
        }
        cJSON_AddItemToObject(obj, key, v);
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            skip_ws(c);
            if (c->p >= c->end)
                return au_diag_set(d, AU_FORMAT, "%s: trailing ','", name);
        } else if (c->p < c->end) {
            return au_diag_set(d, AU_FORMAT, "%s: expected ',' or '}' at '%.20s'", name, c->p);
        }
    }
    return AU_OK;
}

/* ---- schema check ---- */

static void num_str(double v, char *buf, size_t len)
{
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%g", v);
}

static bool in_choices(const char *choices, const char *s)
{
    size_t sl = strlen(s);
    for (const char *w = choices; w && *w;) {
        size_t len = strcspn(w, "|");
        if (len == sl && strncmp(w, s, len) == 0)
            return true;
        w += len + (w[len] == '|');
    }
    return false;
}

static int value_error(const char *fmt_name, const struct au_param *p, const cJSON *v,
                       struct au_diag *d)
{
    char lo[32], hi[32], got[48] = "nothing", want[160];
    char *txt = cJSON_PrintUnformatted(v);
    if (txt) {
        snprintf(got, sizeof(got), "%s", txt);
        cJSON_free(txt);
    }
    num_str(p->min, lo, sizeof(lo));
    num_str(p->max, hi, sizeof(hi));
    if (p->type == AU_PARAM_INT)
        snprintf(want, sizeof(want), "an integer in [%s, %s]%s%s", lo, hi,
                 p->choices ? " or one of " : "", p->choices ? p->choices : "");
    else if (p->type == AU_PARAM_REAL)
        snprintf(want, sizeof(want), "a number in [%s, %s]", lo, hi);
    else if (p->type == AU_PARAM_BOOL)
        snprintf(want, sizeof(want), "true or false");
    else
        snprintf(want, sizeof(want), "one of %s", p->choices);
    return au_diag_set(d, cJSON_IsNumber(v) ? AU_RANGE : AU_INVALID,
                       "%s: parameter '%s' must be %s, got %s", fmt_name, p->name, want, got);
}

static int check_value(const char *fmt_name, const struct au_param *p, const cJSON *v,
                       struct au_diag *d)
{
    bool ok = false;
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    switch (p->type) {
    case AU_PARAM_INT:
        ok = (cJSON_IsNumber(v) && x == floor(x) && x >= p->min && x <= p->max) ||
             (cJSON_IsString(v) && p->choices && in_choices(p->choices, v->valuestring));
        break;
    case AU_PARAM_REAL:
        ok = cJSON_IsNumber(v) && x >= p->min && x <= p->max;
        break;
    case AU_PARAM_BOOL:
        ok = cJSON_IsBool(v);
        break;
    default:
        ok = cJSON_IsString(v) && in_choices(p->choices, v->valuestring);
        break;
    }
    return ok ? AU_OK : value_error(fmt_name, p, v, d);
}

static int unknown_param(const struct au_numsys_desc *ds, const char *key, struct au_diag *d)
{
    char known[160] = "";
    size_t used = 0;
    for (uint32_t i = 0; i < ds->n_params && used < sizeof(known); i++)
        used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
                                 ds->params[i].name);
    return au_diag_set(d, AU_INVALID, "%s: unknown parameter '%s' (parameters: %s)", ds->name, key,
                       ds->n_params ? known : "none");
}

/* user (may be NULL) -> a new object with every schema parameter, in schema order. */
static int normalize_obj(const struct au_numsys_desc *ds, const cJSON *user, cJSON **out,
                         struct au_diag *d)
{
    const cJSON *it;
    if (user && !cJSON_IsObject(user))
        return au_diag_set(d, AU_FORMAT, "%s: parameters must be a JSON object", ds->name);
    cJSON_ArrayForEach(it, user)
    {
        uint32_t i = 0;
        while (i < ds->n_params && strcmp(ds->params[i].name, it->string) != 0)
            i++;
        if (i == ds->n_params)
            return unknown_param(ds, it->string, d);
        int rc = check_value(ds->name, &ds->params[i], it, d);
        if (rc < 0)
            return rc;
    }
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", ds->name);
    for (uint32_t i = 0; i < ds->n_params; i++) {
        const struct au_param *p = &ds->params[i];
        const cJSON *u = user ? cJSON_GetObjectItemCaseSensitive(user, p->name) : NULL;
        cJSON *v = u ? cJSON_Duplicate(u, 1) : cJSON_Parse(p->dflt);
        int rc = AU_OK;
        if (!v)
            rc = au_diag_set(d, AU_FORMAT, "%s: parameter '%s' has an invalid default '%s'",
                             ds->name, p->name, p->dflt);
        else if (!u)
            rc = check_value(ds->name, p, v, d);
        if (rc < 0 || !cJSON_AddItemToObject(obj, p->name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(obj);
            return rc < 0 ? rc : au_diag_set(d, AU_NOMEM, "%s: out of memory", ds->name);
        }
    }
    *out = obj;
    return AU_OK;
}

static int print_obj(const cJSON *obj, char **out, struct au_diag *d)
{
    char *txt = cJSON_PrintUnformatted(obj);
    *out = txt ? au_strdup(txt) : NULL;
    cJSON_free(txt);
    return *out ? AU_OK : au_diag_set(d, AU_NOMEM, "out of memory");
}

int au_numsys_params_normalize(const struct au_numsys_desc *desc, const char *params_json,
                               char **normalized, struct au_diag *d)
{
    cJSON *user = NULL, *obj = NULL;
    *normalized = NULL;
    if (params_json) {
        user = cJSON_Parse(params_json);
        if (!user)
            return au_diag_set(d, AU_FORMAT, "%s: parameters are not valid JSON: '%.40s'",
                               desc->name, params_json);
    }
    int rc = normalize_obj(desc, user, &obj, d);
    if (rc == AU_OK)
        rc = print_obj(obj, normalized, d);
    cJSON_Delete(user);
    cJSON_Delete(obj);
    return rc;
}

/* ---- spec -> plugin + parameter object ---- */

static int unknown_format(const au_numsys_registry *r, const char *name, struct au_diag *d)
{
    char known[160] = "";
    size_t used = 0, n = au_numsys_registry_count(r);
    for (size_t i = 0; i < n && used < sizeof(known); i++)
        used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
                                 au_numsys_registry_at(r, i)->desc->name);
    return au_diag_set(d, AU_NOTFOUND,
                       "unknown number format '%s' (plugins: %s; 'aurum formats' lists presets)",
                       name, n ? known : "none found");
}

/* name -> plugin and base parameters (a preset's, or none). */
static int resolve(const au_numsys_registry *r, const char *name,
                   const struct au_numsys_plugin **plugin, cJSON **base, struct au_diag *d)
{
    const struct au_preset *ps = NULL;
    *base = NULL;
    *plugin = au_numsys_registry_find(r, name);
    if (*plugin)
        return AU_OK;
    *plugin = au_numsys_registry_find_preset(r, name, &ps);
    if (!*plugin)
        return unknown_format(r, name, d);
    *base = cJSON_Parse(ps->params_json); /* checked when the plugin was loaded */
    return *base ? AU_OK : au_diag_set(d, AU_NOMEM, "%s: out of memory", name);
}

/* Moves every item of over into base (over wins). */
static void merge(cJSON *base, cJSON *over)
{
    cJSON *it;
    while ((it = over->child) != NULL) {
        cJSON_DetachItemViaPointer(over, it);
        cJSON_DeleteItemFromObjectCaseSensitive(base, it->string);
        cJSON_AddItemToObject(base, it->string, it);
    }
}

static int parse_short(const au_numsys_registry *r, const char *spec,
                       const struct au_numsys_plugin **plugin, cJSON **params, struct au_diag *d)
{
    char name[64];
    struct cursor c = {spec, spec + strlen(spec)};
    while (c.end > c.p && isspace((unsigned char)c.end[-1]))
        c.end--;
    if (*c.p == '"' || read_word(&c, name, sizeof(name)) < 0)
        return au_diag_set(d, AU_FORMAT, "format '%.40s': expected a name like fp16 or fp{...}",
                           spec);
    skip_ws(&c);
    cJSON *over = cJSON_CreateObject();
    if (!over)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    int rc = AU_OK;
    if (c.p < c.end) {
        if (*c.p != '{' || c.end[-1] != '}')
            rc = au_diag_set(d, AU_FORMAT, "format '%.40s': parameters go in {...} after the name",
                             spec);
        c.p++;
        c.end--;
        if (rc == AU_OK)
            rc = parse_body(name, &c, over, d);
    }
    if (rc == AU_OK)
        rc = resolve(r, name, plugin, params, d);
    if (rc == AU_OK && !*params)
        *params = over;
    else if (rc == AU_OK)
        merge(*params, over);
    if (rc < 0 || *params != over)
        cJSON_Delete(over);
    return rc;
}

static int parse_json(const au_numsys_registry *r, const char *spec,
                      const struct au_numsys_plugin **plugin, cJSON **params, struct au_diag *d)
{
    cJSON *obj = cJSON_Parse(spec);
    if (!obj || !cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return au_diag_set(d, AU_FORMAT, "format %.40s: not a valid JSON object", spec);
    }
    cJSON *name = cJSON_DetachItemFromObjectCaseSensitive(obj, "format");
    int rc = AU_OK;
    if (!cJSON_IsString(name))
        rc = au_diag_set(d, AU_FORMAT, "format %.40s: needs a string member \"format\"", spec);
    else
        rc = resolve(r, name->valuestring, plugin, params, d);
    if (rc == AU_OK && *params)
        merge(*params, obj);
    else if (rc == AU_OK) {
        *params = obj;
        obj = NULL;
    }
    cJSON_Delete(name);
    cJSON_Delete(obj);
    return rc;
}

/* ---- instances ---- */

static bool is_bare_word(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!is_word_char(*s))
            return false;
    return true;
}

/* name{key:value,...}: words stay bare so the text parses back to the same object. */
static int canonical(const char *name, const cJSON *obj, char **out, struct au_diag *d)
{
    size_t cap = 64 + strlen(name), used;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        cap += strlen(it->string) + 48 + (cJSON_IsString(it) ? strlen(it->valuestring) : 0);
    }
    char *s = au_malloc(cap);
    if (!s)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    used = (size_t)snprintf(s, cap, "%s{", name);
    cJSON_ArrayForEach(it, obj)
    {
        char *num = cJSON_IsString(it) ? NULL : cJSON_PrintUnformatted(it);
        const char *q = cJSON_IsString(it) && !is_bare_word(it->valuestring) ? "\"" : "";
        used += (size_t)snprintf(s + used, cap - used, "%s%s:%s%s%s", it == obj->child ? "" : ",",
                                 it->string, q, num ? num : it->valuestring, q);
        cJSON_free(num);
    }
    snprintf(s + used, cap - used, "}");
    *out = s;
    return AU_OK;
}

void au_numsys_fmt_free(au_numsys_fmt *f)
{
    if (!f)
        return;
    if (f->inst)
        f->plugin->desc->destroy(f->inst);
    au_free(f->json);
    au_free(f->str);
    au_free(f);
}

/* Normalizes params for plugin and creates the instance. */
static int fmt_create(const struct au_numsys_plugin *pl, const cJSON *params, au_numsys_fmt **out,
                      struct au_diag *d)
{
    const struct au_numsys_desc *ds = pl->desc;
    cJSON *norm = NULL;
    char perr[256] = "";
    au_numsys_fmt *f = au_calloc(1, sizeof(*f));
    if (!f)
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", ds->name);
    f->plugin = pl;
    int rc = normalize_obj(ds, params, &norm, d);
    if (rc == AU_OK)
        rc = print_obj(norm, &f->json, d);
    if (rc == AU_OK)
        rc = canonical(ds->name, norm, &f->str, d);
    const cJSON *rnd =
        norm ? cJSON_GetObjectItemCaseSensitive(norm, AU_NUMSYS_PARAM_ROUNDING) : NULL;
    f->stochastic = cJSON_IsString(rnd) && strcmp(rnd->valuestring, "stochastic") == 0;
    cJSON_Delete(norm);
    if (rc == AU_OK && (ds->create(f->json, &f->inst, perr, sizeof(perr)) < 0 || !f->inst)) {
        perr[sizeof(perr) - 1] = '\0';
        f->inst = NULL;
        size_t nl = strlen(ds->name); /* plugins may name themselves already */
        const char *msg =
            strncmp(perr, ds->name, nl) == 0 && perr[nl] == ':' ? perr + nl + 1 : perr;
        while (*msg == ' ')
            msg++;
        rc = au_diag_set(d, AU_PLUGIN, "%s: %s", ds->name, msg[0] ? msg : "create failed");
    }
    if (rc == AU_OK) {
        ds->layout(f->inst, &f->layout);
        if (au_numsys_layout_check(&f->layout, perr, sizeof(perr)) < 0)
            rc = au_diag_set(d, AU_PLUGIN, "%s: plugin %s gave an invalid layout: %s", ds->name,
                             pl->path, perr);
    }
    if (rc < 0) {
        au_numsys_fmt_free(f);
        return rc;
    }
    *out = f;
    return AU_OK;
}

int au_numsys_fmt_new(const au_numsys_registry *r, const char *spec, au_numsys_fmt **out,
                      struct au_diag *d)
{
    *out = NULL; /* callers may free it whatever the outcome */
    const struct au_numsys_plugin *pl = NULL;
    cJSON *params = NULL;
    const char *s = spec;
    while (isspace((unsigned char)*s))
        s++;
    int rc = *s == '{' ? parse_json(r, s, &pl, &params, d) : parse_short(r, s, &pl, &params, d);
    if (rc == AU_OK)
        rc = fmt_create(pl, params, out, d);
    cJSON_Delete(params);
    return rc;
}

int au_numsys_fmt_with_absmax(const au_numsys_fmt *f, double absmax, au_numsys_fmt **out,
                              struct au_diag *d)
{
    *out = NULL;
    const char *name = f->plugin->desc->name;
    if (!au_numsys_fmt_takes_absmax(f))
        return au_diag_set(d, AU_INVALID, "%s: has no '%s' parameter for a profiled scale", name,
                           AU_NUMSYS_PARAM_ABSMAX);
    if (!(absmax >= 0) || !isfinite(absmax))
        return au_diag_set(d, AU_RANGE, "%s: profiled absmax %g is not a finite value >= 0", name,
                           absmax);
    cJSON *params = cJSON_Parse(f->json);
    if (!params)
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", name);
    cJSON_DeleteItemFromObjectCaseSensitive(params, AU_NUMSYS_PARAM_ABSMAX);
    int rc = cJSON_AddNumberToObject(params, AU_NUMSYS_PARAM_ABSMAX, absmax)
                 ? fmt_create(f->plugin, params, out, d)
                 : au_diag_set(d, AU_NOMEM, "%s: out of memory", name);
    cJSON_Delete(params);
    return rc;
}

const struct au_numsys_plugin *au_numsys_fmt_plugin(const au_numsys_fmt *f)
{
    return f->plugin;
}

const au_numsys_inst *au_numsys_fmt_inst(const au_numsys_fmt *f)
{
    return f->inst;
}

const struct au_numsys_layout *au_numsys_fmt_layout(const au_numsys_fmt *f)
{
    return &f->layout;
}

const char *au_numsys_fmt_json(const au_numsys_fmt *f)
{
    return f->json;
}

const char *au_numsys_fmt_str(const au_numsys_fmt *f)
{
    return f->str;
}

bool au_numsys_fmt_takes_absmax(const au_numsys_fmt *f)
{
    const struct au_numsys_desc *ds = f->plugin->desc;
    for (uint32_t i = 0; i < ds->n_params; i++)
        if (strcmp(ds->params[i].name, AU_NUMSYS_PARAM_ABSMAX) == 0 &&
            ds->params[i].type == AU_PARAM_REAL)
            return true;
    return false;
}

bool au_numsys_fmt_is_stochastic(const au_numsys_fmt *f)
{
    return f->stochastic;
}
