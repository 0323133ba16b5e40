/* Plugin registry. A plugin is untrusted input: everything in its descriptor is
 * checked before the host calls anything but au_numsys_entry and, for the layout
 * check, create/layout/destroy with default parameters. Refusals during a directory
 * scan become warnings so one broken file never hides the others; the search order
 * and the duplicate rule are documented in registry.h.
 */
#include "numsys/registry.h"

#include "core/alloc.h"
#include "numsys/fmtstr.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef AU_PLUGIN_DIR_BUILD
#define AU_PLUGIN_DIR_BUILD ""
#endif
#ifndef AU_PLUGIN_DIR_INSTALL
#define AU_PLUGIN_DIR_INSTALL ""
#endif
#ifndef AU_BUILD_ROOT
#define AU_BUILD_ROOT ""
#endif

/* The descriptor size ABI v1 guarantees: up to and including quantize. */
#define V1_DESC_SIZE (offsetof(struct au_numsys_desc, quantize) + sizeof(void (*)(void)))

struct slot {
    struct au_numsys_plugin pub;
    void *handle; /* dlopen handle, NULL for in-process descriptors */
    char *real;   /* realpath, to skip a file reached through two search dirs */
};

struct au_numsys_registry {
    struct slot *slots;
    size_t n, cap;
    char **warn, **dirs;
    size_t n_warn, cap_warn, n_dirs, cap_dirs;
};

static int push_str(char ***arr, size_t *n, size_t *cap, const char *s)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        char **na = au_realloc(*arr, nc * sizeof(*na));
        if (!na)
            return AU_NOMEM;
        *arr = na;
        *cap = nc;
    }
    char *c = au_strdup(s);
    if (!c)
        return AU_NOMEM;
    (*arr)[(*n)++] = c;
    return AU_OK;
}

/* Formats a refusal reason into err and returns AU_PLUGIN. */
__attribute__((format(printf, 3, 4))) static int errf(char *err, size_t err_len, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return AU_PLUGIN;
}

static int warn(au_numsys_registry *r, const char *msg)
{
    return push_str(&r->warn, &r->n_warn, &r->cap_warn, msg);
}

int au_numsys_registry_new_empty(au_numsys_registry **out, struct au_diag *d)
{
    *out = au_calloc(1, sizeof(**out));
    return *out ? AU_OK : au_diag_set(d, AU_NOMEM, "plugin registry: out of memory");
}

void au_numsys_registry_free(au_numsys_registry *r)
{
    if (!r)
        return;
    for (size_t i = r->n; i-- > 0;) {
        au_free((char *)r->slots[i].pub.path);
        au_free(r->slots[i].real);
        if (r->slots[i].handle)
            dlclose(r->slots[i].handle);
    }
    for (size_t i = 0; i < r->n_warn; i++)
        au_free(r->warn[i]);
    for (size_t i = 0; i < r->n_dirs; i++)
        au_free(r->dirs[i]);
    au_free(r->slots);
    au_free(r->warn);
    au_free(r->dirs);
    au_free(r);
}

static bool is_ident(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

int au_numsys_layout_check(const struct au_numsys_layout *l, char *err, size_t err_len)
{
    if (l->elem_bits < 1 || l->elem_bits > 64)
        return errf(err, err_len, "elem_bits %u not in 1..64", l->elem_bits);
    if (l->meta_bits > 64)
        return errf(err, err_len, "meta_bits %u not in 0..64", l->meta_bits);
    if (l->block_kind > AU_BLOCK_ELEMS)
        return errf(err, err_len, "block_kind %u unknown", l->block_kind);
    if ((l->block_kind == AU_BLOCK_NONE) != (l->meta_bits == 0))
        return errf(err, err_len, "meta_bits %u with block_kind %u: metadata needs a block",
                    l->meta_bits, l->block_kind);
    if (l->block_kind == AU_BLOCK_ELEMS && l->block_len == 0)
        return errf(err, err_len, "block_len 0 with per-element blocks");
    for (int side = 0; side < 2; side++) {
        uint32_t n = side ? l->n_meta_fields : l->n_elem_fields;
        uint32_t bits = side ? l->meta_bits : l->elem_bits;
        const struct au_bitfield *f = side ? l->meta_fields : l->elem_fields;
        const char *what = side ? "metadata" : "element";
        uint64_t used = 0;
        if (n > 64 || (n && !f))
            return errf(err, err_len, "%u %s fields but no field array", n, what);
        for (uint32_t i = 0; i < n; i++) {
            unsigned lsb = f[i].lsb, w = f[i].width;
            if (!f[i].name || !*f[i].name)
                return errf(err, err_len, "%s field %u has no name", what, i);
            if (w == 0 || lsb + w > bits)
                return errf(err, err_len, "%s field '%s' (bits %u..%u) outside the %u-bit word",
                            what, f[i].name, lsb, lsb + w - 1, bits);
            uint64_t mask = (w == 64 ? ~0ULL : ((1ULL << w) - 1)) << lsb;
            if (used & mask)
                return errf(err, err_len, "%s field '%s' overlaps another field", what, f[i].name);
            used |= mask;
        }
    }
    return AU_OK;
}

static const char *type_name(uint32_t t)
{
    return t == AU_PARAM_INT    ? "integer"
           : t == AU_PARAM_REAL ? "real"
           : t == AU_PARAM_BOOL ? "bool"
                                : "choice";
}

/* The parameter schema itself: names, types, ranges, then every default and preset
 * through the same normalizer users go through. */
static int check_schema(const struct au_numsys_desc *ds, char *err, size_t err_len)
{
    if (ds->n_params > 256 || (ds->n_params && !ds->params))
        return errf(err, err_len, "n_params %u but no parameter array", ds->n_params);
    for (uint32_t i = 0; i < ds->n_params; i++) {
        const struct au_param *p = &ds->params[i];
        if (!is_ident(p->name))
            return errf(err, err_len, "parameter %u has an invalid name", i);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(ds->params[j].name, p->name) == 0)
                return errf(err, err_len, "parameter '%s' declared twice", p->name);
        if (p->type < AU_PARAM_INT || p->type > AU_PARAM_CHOICE)
            return errf(err, err_len, "parameter '%s' has unknown type %u", p->name, p->type);
        if (p->type == AU_PARAM_CHOICE && (!p->choices || !*p->choices))
            return errf(err, err_len, "choice parameter '%s' lists no choices", p->name);
        if ((p->type == AU_PARAM_INT || p->type == AU_PARAM_REAL) && !(p->min <= p->max))
            return errf(err, err_len, "%s parameter '%s' has min > max", type_name(p->type),
                        p->name);
        if (!p->dflt)
            return errf(err, err_len, "parameter '%s' has no default", p->name);
    }
    struct au_diag pd;
    char *norm = NULL;
    int rc = au_numsys_params_normalize(ds, NULL, &norm, &pd);
    if (rc < 0)
        return rc == AU_NOMEM ? rc : errf(err, err_len, "defaults: %s", pd.msg);
    au_free(norm);
    if (ds->n_presets > 4096 || (ds->n_presets && !ds->presets))
        return errf(err, err_len, "n_presets %u but no preset array", ds->n_presets);
    for (uint32_t i = 0; i < ds->n_presets; i++) {
        const struct au_preset *ps = &ds->presets[i];
        if (!is_ident(ps->name) || !ps->params_json)
            return errf(err, err_len, "preset %u has an invalid name or no parameters", i);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(ds->presets[j].name, ps->name) == 0)
                return errf(err, err_len, "preset '%s' declared twice", ps->name);
        rc = au_numsys_params_normalize(ds, ps->params_json, &norm, &pd);
        if (rc < 0)
            return rc == AU_NOMEM ? rc : errf(err, err_len, "preset '%s': %s", ps->name, pd.msg);
        au_free(norm);
    }
    return 0;
}

/* Creates a default instance and checks its layout, so a plugin whose layout is out of
 * range is refused at load time rather than in the middle of a campaign. */
static int check_default_layout(const struct au_numsys_desc *ds, char *err, size_t err_len)
{
    struct au_diag pd;
    char *norm = NULL, perr[200] = "";
    au_numsys_inst *inst = NULL;
    int rc = au_numsys_params_normalize(ds, NULL, &norm, &pd);
    if (rc < 0)
        return rc == AU_NOMEM ? rc : errf(err, err_len, "%s", pd.msg);
    rc = ds->create(norm, &inst, perr, sizeof(perr));
    au_free(norm);
    if (rc < 0 || !inst)
        return errf(err, err_len, "create with default parameters failed: %s",
                    perr[0] ? perr : "no reason given");
    struct au_numsys_layout l;
    memset(&l, 0, sizeof(l));
    ds->layout(inst, &l);
    rc = au_numsys_layout_check(&l, perr, sizeof(perr));
    ds->destroy(inst);
    if (rc < 0)
        return errf(err, err_len, "invalid layout: %s", perr);
    return 0;
}

/* Everything about a descriptor; the reason goes to err without the versions, which
 * refused() appends so every refusal names both. */
static int check_desc(const struct au_numsys_desc *ds, char *err, size_t err_len)
{
    if (!ds)
        return errf(err, err_len, "au_numsys_entry returned NULL");
    if (ds->abi_version != AU_NUMSYS_ABI_VERSION)
        return errf(err, err_len, "unsupported plugin ABI version");
    if (ds->struct_size < V1_DESC_SIZE)
        return errf(err, err_len, "descriptor struct_size %u is smaller than ABI v1's %zu",
                    ds->struct_size, (size_t)V1_DESC_SIZE);
    if (!is_ident(ds->name))
        return errf(err, err_len, "plugin name missing or not [A-Za-z0-9_]+");
    const char *null_fn = !ds->create    ? "create"
                          : !ds->destroy ? "destroy"
                          : !ds->layout  ? "layout"
                          : !ds->encode  ? "encode"
                          : !ds->decode  ? "decode"
                                         : NULL;
    if (null_fn)
        return errf(err, err_len, "'%s': %s is NULL but mandatory", ds->name, null_fn);
    char sub[200];
    int rc = check_schema(ds, sub, sizeof(sub));
    if (rc == AU_OK)
        rc = check_default_layout(ds, sub, sizeof(sub));
    if (rc < 0)
        return rc == AU_NOMEM ? rc : errf(err, err_len, "'%s': %s", ds->name, sub);
    return AU_OK;
}

static int refused(struct au_diag *d, const char *origin, const struct au_numsys_desc *ds,
                   const char *reason)
{
    if (!ds)
        return au_diag_set(d, AU_PLUGIN, "%s: %s (aurum ABI v%u)", origin, reason,
                           AU_NUMSYS_ABI_VERSION);
    return au_diag_set(d, AU_PLUGIN, "%s: %s (plugin ABI v%u, aurum ABI v%u)", origin, reason,
                       ds->abi_version, AU_NUMSYS_ABI_VERSION);
}

/* Presets are looked up across plugins, first loaded first: say when one is shadowed. */
static int warn_preset_clashes(au_numsys_registry *r, const struct au_numsys_desc *ds,
                               const char *origin)
{
    for (uint32_t j = 0; j < ds->n_presets; j++) {
        const struct au_preset *other = NULL;
        const struct au_numsys_plugin *p =
            au_numsys_registry_find_preset(r, ds->presets[j].name, &other);
        if (!p)
            p = au_numsys_registry_find(r, ds->presets[j].name);
        if (!p)
            continue;
        char msg[PATH_MAX + 200];
        snprintf(msg, sizeof(msg), "%s: preset '%s' of '%s' is shadowed by '%s' from %s", origin,
                 ds->presets[j].name, ds->name, p->desc->name, p->path);
        if (warn(r, msg) < 0)
            return AU_NOMEM;
    }
    return AU_OK;
}

static int append(au_numsys_registry *r, const struct au_numsys_desc *ds, const char *origin,
                  void *handle, const char *real, struct au_diag *d)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->slots[i].pub.desc->name, ds->name) == 0)
            return au_diag_set(d, AU_INVALID, "%s: format '%s' already loaded from %s; ignored",
                               origin, ds->name, r->slots[i].pub.path);
    if (warn_preset_clashes(r, ds, origin) < 0)
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", origin);
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 8;
        struct slot *ns = au_realloc(r->slots, nc * sizeof(*ns));
        if (!ns)
            return au_diag_set(d, AU_NOMEM, "%s: out of memory", origin);
        r->slots = ns;
        r->cap = nc;
    }
    struct slot *s = &r->slots[r->n];
    s->pub.desc = ds;
    s->pub.path = au_strdup(origin);
    s->real = real ? au_strdup(real) : NULL;
    s->handle = handle;
    if (!s->pub.path || (real && !s->real)) {
        au_free((char *)s->pub.path);
        au_free(s->real);
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", origin);
    }
    r->n++;
    return AU_OK;
}

int au_numsys_registry_add(au_numsys_registry *r, const struct au_numsys_desc *desc,
                           const char *origin, struct au_diag *d)
{
    char err[256];
    int rc = check_desc(desc, err, sizeof(err));
    if (rc == AU_NOMEM)
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", origin);
    if (rc < 0)
        return refused(d, origin, desc, err);
    return append(r, desc, origin, NULL, NULL, d);
}

int au_numsys_registry_load(au_numsys_registry *r, const char *path, struct au_diag *d)
{
    char real[PATH_MAX], err[256];
    if (!realpath(path, real))
        return au_diag_set(d, AU_IO, "%s: cannot resolve path", path);
    for (size_t i = 0; i < r->n; i++)
        if (r->slots[i].real && strcmp(r->slots[i].real, real) == 0)
            return AU_OK; /* the same file reached through two search dirs */
    void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return au_diag_set(d, AU_PLUGIN, "%s: cannot load: %s", path, e ? e : "unknown error");
    }
    /* dlsym returns void *; POSIX guarantees the conversion to a function pointer. */
    void *sym = dlsym(h, "au_numsys_entry");
    au_numsys_entry_fn entry;
    memcpy(&entry, &sym, sizeof(entry));
    const struct au_numsys_desc *ds = sym ? entry() : NULL;
    int rc = sym ? check_desc(ds, err, sizeof(err)) : AU_PLUGIN;
    if (!sym)
        rc = refused(d, path, NULL, "no au_numsys_entry symbol: not an aurum number-format plugin");
    else if (rc == AU_NOMEM)
        rc = au_diag_set(d, AU_NOMEM, "%s: out of memory", path);
    else if (rc < 0)
        rc = refused(d, path, ds, err);
    else if ((rc = append(r, ds, path, h, real, d)) == AU_OK)
        return AU_OK;
    dlclose(h);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_so(const char *dir, char ***names, size_t *n, size_t *cap)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return AU_OK;
    struct dirent *de;
    int rc = AU_OK;
    while (rc == AU_OK && (de = readdir(dp)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len > 3 && strcmp(de->d_name + len - 3, ".so") == 0)
            rc = push_str(names, n, cap, de->d_name);
    }
    closedir(dp);
    if (*n > 1)
        qsort(*names, *n, sizeof(**names), cmp_str);
    return rc;
}

int au_numsys_registry_scan_dir(au_numsys_registry *r, const char *dir, struct au_diag *d)
{
    char **names = NULL, path[PATH_MAX + 256];
    size_t n = 0, cap = 0;
    int rc = list_so(dir, &names, &n, &cap);
    for (size_t i = 0; i < n && rc != AU_NOMEM; i++) {
        struct au_diag ld;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        rc = au_numsys_registry_load(r, path, &ld);
        if (rc < 0 && rc != AU_NOMEM)
            rc = warn(r, ld.msg);
    }
    for (size_t i = 0; i < n; i++)
        au_free(names[i]);
    au_free(names);
    return rc == AU_NOMEM ? au_diag_set(d, AU_NOMEM, "%s: out of memory", dir) : AU_OK;
}

/* True when this process runs an executable from the build tree, where the build-tree
 * plugins are the ones that match it; an installed aurum ignores a stale build dir. */
static bool running_from_build_tree(void)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    size_t root_len = strlen(AU_BUILD_ROOT);
    if (len <= 0 || root_len == 0)
        return false;
    exe[len] = '\0';
    return strncmp(exe, AU_BUILD_ROOT, root_len) == 0 && exe[root_len] == '/';
}

static int add_dir(au_numsys_registry *r, const char *dir, struct au_diag *d)
{
    if (push_str(&r->dirs, &r->n_dirs, &r->cap_dirs, dir) < 0)
        return au_diag_set(d, AU_NOMEM, "plugin registry: out of memory");
    return au_numsys_registry_scan_dir(r, dir, d);
}

static int add_path_list(au_numsys_registry *r, const char *list, struct au_diag *d)
{
    char dir[PATH_MAX];
    while (*list) {
        size_t len = strcspn(list, ":");
        if (len > 0 && len < sizeof(dir)) {
            memcpy(dir, list, len);
            dir[len] = '\0';
            DIR *dp = opendir(dir);
            int rc = AU_OK;
            char msg[PATH_MAX + 64];
            if (dp) {
                closedir(dp);
                rc = add_dir(r, dir, d);
            } else {
                snprintf(msg, sizeof(msg), "AURUM_PLUGIN_PATH: '%s' is not a readable directory",
                         dir);
                rc = warn(r, msg) < 0 ? au_diag_set(d, AU_NOMEM, "out of memory") : AU_OK;
            }
            if (rc < 0)
                return rc;
        }
        list += len + (list[len] == ':');
    }
    return AU_OK;
}

int au_numsys_registry_new(au_numsys_registry **out, struct au_diag *d)
{
    au_numsys_registry *r;
    int rc = au_numsys_registry_new_empty(&r, d);
    if (rc < 0)
        return rc;
    const char *build = getenv("AURUM_PLUGIN_BUILD_DIR");
    if (build && *build)
        rc = add_dir(r, build, d);
    else if (running_from_build_tree())
        rc = add_dir(r, AU_PLUGIN_DIR_BUILD, d);
    if (rc == AU_OK && strlen(AU_PLUGIN_DIR_INSTALL) > 0)
        rc = add_dir(r, AU_PLUGIN_DIR_INSTALL, d);
    const char *user = getenv("AURUM_PLUGIN_PATH");
    if (rc == AU_OK && user)
        rc = add_path_list(r, user, d);
    if (rc < 0) {
        au_numsys_registry_free(r);
        return rc;
    }
    *out = r;
    return AU_OK;
}

size_t au_numsys_registry_count(const au_numsys_registry *r)
{
    return r->n;
}

const struct au_numsys_plugin *au_numsys_registry_at(const au_numsys_registry *r, size_t i)
{
    return i < r->n ? &r->slots[i].pub : NULL;
}

const struct au_numsys_plugin *au_numsys_registry_find(const au_numsys_registry *r,
                                                       const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->slots[i].pub.desc->name, name) == 0)
            return &r->slots[i].pub;
    return NULL;
}

const struct au_numsys_plugin *au_numsys_registry_find_preset(const au_numsys_registry *r,
                                                              const char *name,
                                                              const struct au_preset **preset)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct au_numsys_desc *ds = r->slots[i].pub.desc;
        for (uint32_t j = 0; j < ds->n_presets; j++)
            if (strcmp(ds->presets[j].name, name) == 0) {
                *preset = &ds->presets[j];
                return &r->slots[i].pub;
            }
    }
    return NULL;
}

size_t au_numsys_registry_n_warnings(const au_numsys_registry *r)
{
    return r->n_warn;
}

const char *au_numsys_registry_warning(const au_numsys_registry *r, size_t i)
{
    return i < r->n_warn ? r->warn[i] : NULL;
}

size_t au_numsys_registry_n_dirs(const au_numsys_registry *r)
{
    return r->n_dirs;
}

const char *au_numsys_registry_dir(const au_numsys_registry *r, size_t i)
{
    return i < r->n_dirs ? r->dirs[i] : NULL;
}
