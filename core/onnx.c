/* ONNX loader. protobuf-c parses the file (through au_malloc, so allocation-failure
 * tests reach it too); this file validates what the engine relies on and feeds the
 * graph builder: initializers first, then user inputs, nodes in file order, outputs.
 * Data sizes are checked against the bytes actually present before anything is
 * allocated, so a corrupt dims field cannot make us allocate terabytes. */
#include "onnx.h"

#include "alloc.h"
#include "onnx.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* raw_data and external data are little-endian; we copy them as is. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "add a byte swap for big-endian hosts");

enum { ATTR_UNDEFINED = 0, ATTR_GRAPH = 5, ATTR_GRAPHS = 10, DATA_LOCATION_EXTERNAL = 1 };

struct ctx {
    const char *label;    /* model name for messages */
    const char *base_dir; /* external data root, or NULL */
    struct au_graph *g;
    struct au_diag *d;
    long long opset; /* version of the default domain */
};

/* A decoded tensor before it is handed to the graph (data from au_malloc_aligned). */
struct dense {
    int dtype, n_dims;
    int64_t ne[AU_MAX_DIMS];
    int64_t numel;
    size_t nbytes;
    void *data;
};

/* Names in a corrupt file may hold control bytes; keep the message one printable line. */
static void scrub(struct au_diag *d)
{
    for (char *p = d ? d->msg : NULL; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

__attribute__((format(printf, 3, 4))) static int fail(struct ctx *c, int status, const char *fmt,
                                                      ...)
{
    char tmp[sizeof(c->d->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    au_diag_set(c->d, status, "%s: %s", c->label, tmp);
    scrub(c->d);
    return status;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static bool is_default_domain(const char *domain)
{
    return !domain || !domain[0] || strcmp(domain, "ai.onnx") == 0;
}

/* ONNX names of the data types we refuse, so the message says what the file holds. */
static const char *onnx_dtype_name(int dt)
{
    static const char *const names[] = {
        "undefined",      "float32",    "uint8",          "int8",       "uint16",   "int16",
        "int32",          "int64",      "string",         "bool",       "float16",  "float64",
        "uint32",         "uint64",     "complex64",      "complex128", "bfloat16", "float8e4m3fn",
        "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4",      "int4"};
    if (dt >= 0 && (size_t)dt < sizeof(names) / sizeof(names[0]))
        return names[dt];
    return "unknown";
}

/* ---- protobuf-c allocator: route through au_malloc and remember failures ---- */

struct pb_state {
    bool failed;
};

static void *pb_alloc(void *data, size_t n)
{
    void *p = au_malloc(n);
    if (!p)
        ((struct pb_state *)data)->failed = true;
    return p;
}

static void pb_free(void *data, void *p)
{
    (void)data;
    au_free(p);
}

/* ---- tensors ---- */

static int dense_shape(struct ctx *c, const Onnx__TensorProto *tp, const char *what,
                       struct dense *t)
{
    int dt = tp->has_data_type ? tp->data_type : 0;
    if (!au_dtype_is_valid(dt))
        return fail(c, AU_DTYPE, "%s: unsupported data_type %d (%s)", what, dt,
                    onnx_dtype_name(dt));
    if (tp->n_dims > AU_MAX_DIMS)
        return fail(c, AU_SHAPE, "%s: %zu dims, at most %d supported", what, tp->n_dims,
                    AU_MAX_DIMS);
    t->dtype = dt;
    t->n_dims = (int)tp->n_dims;
    for (int i = 0; i < t->n_dims; i++) {
        t->ne[i] = tp->dims[i];
        if (t->ne[i] < 0)
            return fail(c, AU_SHAPE, "%s: dim %d is negative (%lld)", what, i, (long long)t->ne[i]);
    }
    if (!au_shape_numel_checked(t->n_dims, t->ne, &t->numel) ||
        au_mul_overflow((size_t)t->numel, au_dtype_size(dt), &t->nbytes))
        return fail(c, AU_OVERFLOW, "%s: dims overflow the element count", what);
    return AU_OK;
}

static const char *shape_str(const struct dense *t, char *buf, size_t len)
{
    struct au_tensor tmp;
    au_tensor_set_shape(&tmp, t->dtype, t->n_dims, t->ne);
    return au_tensor_shape_str(&tmp, buf, len);
}

static int dense_alloc(struct ctx *c, const char *what, struct dense *t)
{
    t->data = au_malloc_aligned(t->nbytes);
    if (!t->data)
        return fail(c, AU_NOMEM, "%s: out of memory for %zu bytes", what, t->nbytes);
    return AU_OK;
}

/* int32_data carries int32, int8, uint8 and bool; narrow with a range check. */
static int narrow_int32(struct ctx *c, const Onnx__TensorProto *tp, const char *what,
                        struct dense *t)
{
    for (int64_t i = 0; i < t->numel; i++) {
        int32_t v = tp->int32_data[i];
        switch (t->dtype) {
        case AU_DTYPE_I32:
            ((int32_t *)t->data)[i] = v;
            break;
        case AU_DTYPE_I8:
            if (v < INT8_MIN || v > INT8_MAX)
                return fail(c, AU_RANGE, "%s: int32_data[%lld] = %d does not fit int8", what,
                            (long long)i, (int)v);
            ((int8_t *)t->data)[i] = (int8_t)v;
            break;
        case AU_DTYPE_U8:
            if (v < 0 || v > UINT8_MAX)
                return fail(c, AU_RANGE, "%s: int32_data[%lld] = %d does not fit uint8", what,
                            (long long)i, (int)v);
            ((uint8_t *)t->data)[i] = (uint8_t)v;
            break;
        default: /* bool */
            ((uint8_t *)t->data)[i] = v != 0;
            break;
        }
    }
    return AU_OK;
}

/* The typed repeated field that holds this dtype: its name, count and source array. */
static const void *typed_field(const Onnx__TensorProto *tp, int dtype, const char **field,
                               size_t *have)
{
    switch (dtype) {
    case AU_DTYPE_F32:
        *field = "float_data", *have = tp->n_float_data;
        return tp->float_data;
    case AU_DTYPE_F64:
        *field = "double_data", *have = tp->n_double_data;
        return tp->double_data;
    case AU_DTYPE_I64:
        *field = "int64_data", *have = tp->n_int64_data;
        return tp->int64_data;
    default:
        *field = "int32_data", *have = tp->n_int32_data;
        return tp->int32_data;
    }
}

static int dense_typed(struct ctx *c, const Onnx__TensorProto *tp, const char *what,
                       struct dense *t)
{
    const char *field;
    size_t have;
    const void *src = typed_field(tp, t->dtype, &field, &have);
    char sh[96];
    if (have == 0 && t->numel > 0)
        return fail(c, AU_FORMAT, "%s: no data (no raw_data, %s or external data) for dims %s",
                    what, field, shape_str(t, sh, sizeof(sh)));
    if (have != (uint64_t)t->numel)
        return fail(c, AU_SHAPE, "%s: %s has %zu values, dims %s need %lld", what, field, have,
                    shape_str(t, sh, sizeof(sh)), (long long)t->numel);
    int rc = dense_alloc(c, what, t);
    if (rc)
        return rc;
    if (t->dtype == AU_DTYPE_F32 || t->dtype == AU_DTYPE_F64 || t->dtype == AU_DTYPE_I64) {
        if (t->nbytes) /* src is NULL for an empty field */
            memcpy(t->data, src, t->nbytes);
        return AU_OK;
    }
    return narrow_int32(c, tp, what, t);
}

static int dense_raw(struct ctx *c, const Onnx__TensorProto *tp, const char *what, struct dense *t)
{
    char sh[96];
    if (tp->raw_data.len != t->nbytes)
        return fail(c, AU_SHAPE, "%s: raw_data is %zu bytes, dims %s of %s need %zu", what,
                    tp->raw_data.len, shape_str(t, sh, sizeof(sh)), au_dtype_name(t->dtype),
                    t->nbytes);
    int rc = dense_alloc(c, what, t);
    if (rc)
        return rc;
    if (t->nbytes)
        memcpy(t->data, tp->raw_data.data, t->nbytes);
    if (t->dtype == AU_DTYPE_BOOL) /* the engine relies on 0/1 */
        for (size_t i = 0; i < t->nbytes; i++)
            ((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
    return AU_OK;
}

/* ---- external data ---- */

struct ext_ref {
    const char *location;
    uint64_t offset, length;
    bool has_length;
};

/* Decimal, non-negative, whole string: "4096". */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static int ext_keys(struct ctx *c, const Onnx__TensorProto *tp, const char *what, struct ext_ref *r)
{
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = or_empty(tp->external_data[i]->key);
        const char *v = tp->external_data[i]->value;
        if (strcmp(k, "location") == 0) {
            r->location = v;
        } else if (strcmp(k, "offset") == 0 || strcmp(k, "length") == 0) {
            bool is_off = k[0] == 'o';
            if (!parse_u64(v, is_off ? &r->offset : &r->length))
                return fail(c, AU_FORMAT, "%s: external data %s '%s' is not a byte count", what, k,
                            or_empty(v));
            r->has_length |= !is_off;
        } /* checksum and unknown keys: ignored */
    }
    if (!r->location || !r->location[0])
        return fail(c, AU_FORMAT, "%s: external data has no location", what);
    return AU_OK;
}

/* Resolve location under base_dir; refuse absolute paths and anything whose real path
 * (after '..' and symlinks) leaves the model's directory. */
static int ext_resolve(struct ctx *c, const char *what, const char *loc, char *res)
{
    char base[PATH_MAX], joined[PATH_MAX];
    if (!c->base_dir)
        return fail(c, AU_UNSUPPORTED, "%s: external data '%s' needs a model directory", what, loc);
    if (loc[0] == '/')
        return fail(c, AU_INVALID, "%s: external data path '%s' is absolute", what, loc);
    if (!realpath(c->base_dir, base))
        return fail(c, AU_IO, "%s: model directory '%s': %s", what, c->base_dir, strerror(errno));
    if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", base, loc) >= sizeof(joined))
        return fail(c, AU_INVALID, "%s: external data path '%s' is too long", what, loc);
    if (!realpath(joined, res))
        return fail(c, AU_IO, "%s: external data file '%s': %s", what, loc, strerror(errno));
    size_t n = strlen(base);
    bool inside = strcmp(base, "/") == 0 || (strncmp(res, base, n) == 0 && res[n] == '/');
    if (!inside)
        return fail(c, AU_INVALID,
                    "%s: external data path '%s' resolves outside the model directory", what, loc);
    return AU_OK;
}

static int read_at(int fd, void *dst, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)dst + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

static int ext_read(struct ctx *c, const char *what, const struct ext_ref *r, const char *path,
                    struct dense *t)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    int rc;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = fail(c, AU_IO, "%s: external data file '%s' is not a readable regular file", what,
                  r->location);
        goto out_close;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (r->has_length && r->length != t->nbytes) {
        rc = fail(c, AU_SHAPE, "%s: external data length %llu, dims need %zu bytes", what,
                  (unsigned long long)r->length, t->nbytes);
        goto out_close;
    }
    if (r->offset > size || size - r->offset < t->nbytes) {
        rc = fail(c, AU_RANGE,
                  "%s: external data '%s' offset %llu + %zu bytes exceeds its %llu bytes", what,
                  r->location, (unsigned long long)r->offset, t->nbytes, (unsigned long long)size);
        goto out_close;
    }
    rc = dense_alloc(c, what, t);
    if (rc)
        goto out_close;
    if (read_at(fd, t->data, t->nbytes, r->offset) != 0) {
        au_free_aligned(t->data);
        t->data = NULL;
        rc = fail(c, AU_IO, "%s: reading external data '%s' failed", what, r->location);
    }
out_close:
    if (fd >= 0)
        close(fd);
    return rc;
}

static int dense_external(struct ctx *c, const Onnx__TensorProto *tp, const char *what,
                          struct dense *t)
{
    struct ext_ref r;
    char path[PATH_MAX];
    int rc = ext_keys(c, tp, what, &r);
    if (rc)
        return rc;
    rc = ext_resolve(c, what, r.location, path);
    if (rc)
        return rc;
    return ext_read(c, what, &r, path, t);
}

/* Decode tp into t (t->data owned by the caller on success, NULL on failure). */
static int dense_decode(struct ctx *c, const Onnx__TensorProto *tp, const char *what,
                        struct dense *t)
{
    memset(t, 0, sizeof(*t));
    int rc = dense_shape(c, tp, what, t);
    if (rc)
        return rc;
    int loc = tp->has_data_location ? tp->data_location : 0;
    if (loc == DATA_LOCATION_EXTERNAL)
        rc = dense_external(c, tp, what, t);
    else if (loc != 0)
        rc = fail(c, AU_FORMAT, "%s: unknown data_location %d", what, loc);
    else if (tp->has_raw_data)
        rc = dense_raw(c, tp, what, t);
    else
        rc = dense_typed(c, tp, what, t);
    if (rc) {
        au_free_aligned(t->data);
        t->data = NULL;
    }
    return rc;
}

/* ---- attributes ---- */

/* Mirrors graph.c's release of an attribute, for attributes never handed over. */
static void attr_fini(struct au_attr *a)
{
    au_free(a->name);
    au_free(a->s);
    au_free(a->ints);
    au_free(a->floats);
    for (int i = 0; a->strings && i < a->n; i++)
        au_free(a->strings[i]);
    au_free(a->strings);
    if (a->t) {
        au_free_aligned(a->t->data);
        au_free(a->t);
    }
    memset(a, 0, sizeof(*a));
}

static char *dup_bytes(const ProtobufCBinaryData *b)
{
    char *s = au_malloc(b->len + 1);
    if (s) {
        if (b->len)
            memcpy(s, b->data, b->len);
        s[b->len] = '\0';
    }
    return s;
}

static int attr_tensor(struct ctx *c, const Onnx__AttributeProto *ap, const char *what,
                       struct au_attr *a)
{
    struct dense t;
    if (!ap->t)
        return fail(c, AU_FORMAT, "%s: TENSOR attribute without a tensor", what);
    int rc = dense_decode(c, ap->t, what, &t);
    if (rc)
        return rc;
    a->t = au_malloc(sizeof(*a->t));
    if (!a->t) {
        au_free_aligned(t.data);
        return fail(c, AU_NOMEM, "%s: out of memory", what);
    }
    au_tensor_set_shape(a->t, t.dtype, t.n_dims, t.ne);
    a->t->data = t.data;
    return AU_OK;
}

static int attr_strings(const Onnx__AttributeProto *ap, struct au_attr *a)
{
    a->strings = au_calloc(ap->n_strings, sizeof(*a->strings));
    if (!a->strings)
        return AU_NOMEM;
    for (size_t k = 0; k < ap->n_strings; k++) {
        a->strings[k] = dup_bytes(&ap->strings[k]);
        if (!a->strings[k])
            return AU_NOMEM; /* attr_fini frees the first k (n is already set) */
    }
    return AU_OK;
}

/* Fill a's payload by type; a->name/type/n are set. Returns a status, message unset
 * for AU_NOMEM (the caller words it). */
static int attr_payload(struct ctx *c, const Onnx__AttributeProto *ap, const char *what,
                        struct au_attr *a)
{
    size_t nb;
    switch (a->type) {
    case AU_ATTR_FLOAT:
        a->f = ap->f;
        return AU_OK;
    case AU_ATTR_INT:
        a->i = ap->i;
        return AU_OK;
    case AU_ATTR_STRING:
        a->s = dup_bytes(&ap->s);
        return a->s ? AU_OK : AU_NOMEM;
    case AU_ATTR_TENSOR:
        return attr_tensor(c, ap, what, a);
    case AU_ATTR_FLOATS:
        nb = ap->n_floats * sizeof(float);
        a->floats = au_malloc(nb);
        if (a->floats && nb)
            memcpy(a->floats, ap->floats, nb);
        return a->floats ? AU_OK : AU_NOMEM;
    case AU_ATTR_INTS:
        nb = ap->n_ints * sizeof(int64_t);
        a->ints = au_malloc(nb);
        if (a->ints && nb)
            memcpy(a->ints, ap->ints, nb);
        return a->ints ? AU_OK : AU_NOMEM;
    case AU_ATTR_STRINGS:
        return attr_strings(ap, a);
    case ATTR_GRAPH:
    case ATTR_GRAPHS:
        return fail(c, AU_UNSUPPORTED, "%s: graph attributes (subgraphs) are not supported", what);
    default:
        return fail(c, AU_UNSUPPORTED, "%s: attribute type %d is not supported", what, a->type);
    }
}

static size_t attr_count(const Onnx__AttributeProto *ap, int type)
{
    switch (type) {
    case AU_ATTR_FLOATS:
        return ap->n_floats;
    case AU_ATTR_INTS:
        return ap->n_ints;
    case AU_ATTR_STRINGS:
        return ap->n_strings;
    default:
        return 0;
    }
}

static int attr_convert(struct ctx *c, const char *node, const Onnx__AttributeProto *ap,
                        struct au_attr *a)
{
    char what[192];
    memset(a, 0, sizeof(*a));
    if (!ap->name || !ap->name[0])
        return fail(c, AU_FORMAT, "node '%s': attribute without a name", node);
    snprintf(what, sizeof(what), "node '%s' attribute '%s'", node, ap->name);
    a->type = ap->has_type ? ap->type : ATTR_UNDEFINED;
    if (a->type == ATTR_UNDEFINED)
        return fail(c, AU_FORMAT, "%s: no type", what);
    size_t n = attr_count(ap, a->type);
    if (n > INT_MAX)
        return fail(c, AU_OVERFLOW, "%s: %zu values", what, n);
    a->n = (int)n;
    a->name = au_strdup(ap->name);
    int rc = a->name ? attr_payload(c, ap, what, a) : AU_NOMEM;
    if (rc == AU_NOMEM)
        rc = fail(c, AU_NOMEM, "%s: out of memory", what);
    if (rc)
        attr_fini(a);
    return rc;
}

/* ---- graph ---- */

static int node_attrs(struct ctx *c, const Onnx__NodeProto *np, const char *node,
                      struct au_attr **out)
{
    /* two spare slots: legacy_softmax below may append axis and coerce_2d */
    struct au_attr *attrs = au_calloc(np->n_attribute + 2, sizeof(*attrs));
    if (!attrs)
        return fail(c, AU_NOMEM, "node '%s': out of memory", node);
    for (size_t k = 0; k < np->n_attribute; k++) {
        int rc = attr_convert(c, node, np->attribute[k], &attrs[k]);
        for (size_t j = 0; rc == AU_OK && j < k; j++)
            if (strcmp(attrs[j].name, attrs[k].name) == 0)
                rc = fail(c, AU_FORMAT, "node '%s': attribute '%s' appears twice", node,
                          attrs[k].name);
        if (rc) {
            for (size_t j = 0; j <= k; j++)
                attr_fini(&attrs[j]);
            au_free(attrs);
            return rc;
        }
    }
    *out = attrs;
    return AU_OK;
}

/* Softmax and LogSoftmax before opset 13 flatten the input to 2-D at axis (default 1) and
 * normalise over everything from axis on; the op implements opset 13 and reads this
 * convention from a "coerce_2d" attribute the loader adds. */
static int legacy_softmax(struct ctx *c, const char *op, struct au_attr *attrs, int *n)
{
    if (c->opset >= 13 || (strcmp(op, "Softmax") != 0 && strcmp(op, "LogSoftmax") != 0))
        return AU_OK;
    bool has_axis = false;
    for (int k = 0; k < *n; k++)
        has_axis |= strcmp(attrs[k].name, "axis") == 0;
    const char *names[2] = {"axis", "coerce_2d"};
    for (int k = has_axis ? 1 : 0; k < 2; k++) {
        attrs[*n] = (struct au_attr){.name = au_strdup(names[k]), .type = AU_ATTR_INT, .i = 1};
        if (!attrs[*n].name)
            return fail(c, AU_NOMEM, "out of memory");
        (*n)++;
    }
    return AU_OK;
}

static int add_node(struct ctx *c, const Onnx__NodeProto *np, size_t idx)
{
    char node[128];
    const char *op = or_empty(np->op_type);
    if (np->name && np->name[0])
        snprintf(node, sizeof(node), "%s", np->name);
    else
        snprintf(node, sizeof(node), "<%s #%zu>", op, idx);
    if (!op[0])
        return fail(c, AU_FORMAT, "node '%s': no op_type", node);
    if (!is_default_domain(np->domain))
        return fail(c, AU_UNSUPPORTED, "node '%s' (%s): domain '%s' is not supported", node, op,
                    np->domain);
    if (np->n_input > INT_MAX || np->n_output > INT_MAX || np->n_attribute > INT_MAX)
        return fail(c, AU_OVERFLOW, "node '%s': too many inputs, outputs or attributes", node);
    struct au_attr *attrs = NULL;
    int rc = node_attrs(c, np, node, &attrs);
    if (rc)
        return rc;
    int n_attrs = (int)np->n_attribute;
    rc = legacy_softmax(c, op, attrs, &n_attrs);
    /* add_node takes the attributes even when it fails. */
    if (!rc)
        rc = au_graph_add_node(c->g, or_empty(np->name), op, (int)np->n_input,
                               (const char *const *)np->input, (int)np->n_output,
                               (const char *const *)np->output, attrs, n_attrs, c->d);
    au_free(attrs);
    if (rc < 0) {
        au_diag_prefix(c->d, c->label);
        scrub(c->d);
    }
    return rc < 0 ? rc : AU_OK;
}

static int add_initializers(struct ctx *c, const Onnx__GraphProto *gp)
{
    char what[160];
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        struct dense t;
        if (!tp->name || !tp->name[0])
            return fail(c, AU_FORMAT, "initializer #%zu has no name", i);
        snprintf(what, sizeof(what), "initializer '%s'", tp->name);
        if (au_graph_find_value(c->g, tp->name) >= 0)
            return fail(c, AU_FORMAT, "%s is defined twice", what);
        int rc = dense_decode(c, tp, what, &t);
        if (rc)
            return rc;
        int id = au_graph_add_value(c->g, tp->name);
        if (id < 0) {
            au_free_aligned(t.data);
            return fail(c, id, "%s: %s", what, au_strerror(id));
        }
        rc = au_graph_set_initializer_take(c->g, id, t.dtype, t.n_dims, t.ne, t.data);
        if (rc < 0)
            return fail(c, rc, "%s: %s", what, au_strerror(rc));
    }
    return AU_OK;
}

/* Shape of a graph input: unknown or symbolic dims become -1. */
static int input_type(struct ctx *c, const Onnx__ValueInfoProto *vi, int *dtype, int *n_dims,
                      int64_t *ne)
{
    const Onnx__TypeProto *ty = vi->type;
    if (!ty || ty->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !ty->tensor_type)
        return fail(c, AU_UNSUPPORTED, "input '%s' is not a tensor", vi->name);
    const Onnx__TypeProto__Tensor *tt = ty->tensor_type;
    *dtype = tt->has_elem_type ? tt->elem_type : 0;
    if (!au_dtype_is_valid(*dtype))
        return fail(c, AU_DTYPE, "input '%s': unsupported elem_type %d (%s)", vi->name, *dtype,
                    onnx_dtype_name(*dtype));
    if (!tt->shape)
        return fail(c, AU_UNSUPPORTED, "input '%s' has no shape (unknown rank)", vi->name);
    if (tt->shape->n_dim > AU_MAX_DIMS)
        return fail(c, AU_SHAPE, "input '%s': %zu dims, at most %d supported", vi->name,
                    tt->shape->n_dim, AU_MAX_DIMS);
    *n_dims = (int)tt->shape->n_dim;
    for (int k = 0; k < *n_dims; k++) {
        const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[k];
        bool known = dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        ne[k] = known ? dm->dim_value : -1;
        if (known && ne[k] < 0)
            return fail(c, AU_SHAPE, "input '%s': dim %d is negative (%lld)", vi->name, k,
                        (long long)ne[k]);
    }
    return AU_OK;
}

static int add_inputs(struct ctx *c, const Onnx__GraphProto *gp)
{
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !vi->name[0])
            return fail(c, AU_FORMAT, "input #%zu has no name", i);
        int id = au_graph_find_value(c->g, vi->name);
        if (id >= 0 && (au_graph_value(c->g, id)->flags & AU_VALUE_INITIALIZER))
            continue; /* old exporters list weights as inputs */
        if (id >= 0)
            return fail(c, AU_FORMAT, "input '%s' is listed twice", vi->name);
        int dtype = 0, n_dims = 0;
        int64_t ne[AU_MAX_DIMS];
        int rc = input_type(c, vi, &dtype, &n_dims, ne);
        if (rc)
            return rc;
        rc = au_graph_add_input(c->g, vi->name, dtype, n_dims, ne);
        if (rc < 0)
            return fail(c, rc, "input '%s': %s", vi->name, au_strerror(rc));
    }
    return AU_OK;
}

static int add_outputs(struct ctx *c, const Onnx__GraphProto *gp)
{
    if (gp->n_output == 0)
        return fail(c, AU_FORMAT, "graph has no outputs");
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i]->name;
        if (!name || !name[0])
            return fail(c, AU_FORMAT, "output #%zu has no name", i);
        if (au_graph_find_value(c->g, name) < 0)
            return fail(c, AU_NOTFOUND, "output '%s' is not produced by any node", name);
        int rc = au_graph_mark_output(c->g, name);
        if (rc < 0)
            return fail(c, rc, "output '%s': %s", name, au_strerror(rc));
    }
    return AU_OK;
}

static int check_opsets(struct ctx *c, const Onnx__ModelProto *mp)
{
    bool have_default = false;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *os = mp->opset_import[i];
        if (!is_default_domain(os->domain))
            continue; /* nodes in other domains are refused one by one */
        long long v = os->has_version ? (long long)os->version : -1;
        if (v < AU_ONNX_OPSET_MIN || v > AU_ONNX_OPSET_MAX)
            return fail(c, AU_UNSUPPORTED,
                        "opset %lld of domain 'ai.onnx' is not supported (%d..%d)", v,
                        AU_ONNX_OPSET_MIN, AU_ONNX_OPSET_MAX);
        have_default = true;
        c->opset = v;
    }
    if (!have_default)
        return fail(c, AU_UNSUPPORTED, "no opset_import for the default domain 'ai.onnx'");
    return AU_OK;
}

static int build(struct ctx *c, const Onnx__ModelProto *mp)
{
    const Onnx__GraphProto *gp = mp->graph;
    if (!gp)
        return fail(c, AU_FORMAT, "model has no graph");
    if (gp->n_sparse_initializer > 0)
        return fail(c, AU_UNSUPPORTED, "sparse initializer '%s' is not supported",
                    gp->sparse_initializer[0]->values
                        ? or_empty(gp->sparse_initializer[0]->values->name)
                        : "");
    int rc = check_opsets(c, mp);
    if (!rc)
        rc = add_initializers(c, gp);
    if (!rc)
        rc = add_inputs(c, gp);
    for (size_t i = 0; !rc && i < gp->n_node; i++)
        rc = add_node(c, gp->node[i], i);
    if (!rc)
        rc = add_outputs(c, gp);
    return rc;
}

int au_onnx_load_buffer(const void *buf, size_t len, const char *base_dir, const char *label,
                        struct au_graph **out, struct au_diag *d)
{
    struct ctx c = {label ? label : "<buffer>", base_dir, NULL, d, 13};
    if (!out)
        return fail(&c, AU_INVALID, "no output graph pointer");
    *out = NULL;
    if (!buf && len)
        return fail(&c, AU_INVALID, "NULL buffer");
    struct pb_state st = {false};
    ProtobufCAllocator pa = {pb_alloc, pb_free, &st};
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&pa, len, buf);
    if (!mp) {
        if (st.failed)
            return fail(&c, AU_NOMEM, "out of memory while parsing");
        return fail(&c, AU_FORMAT,
                    "not an ONNX model (protobuf parse failed: corrupt or "
                    "truncated)");
    }
    int rc = AU_NOMEM;
    c.g = au_graph_new();
    if (!c.g)
        fail(&c, rc, "out of memory");
    else
        rc = build(&c, mp);
    if (!rc) {
        au_graph_set_source(c.g, c.label);
        if (!au_graph_source(c.g) || strcmp(au_graph_source(c.g), c.label) != 0)
            rc = fail(&c, AU_NOMEM, "out of memory");
    }
    onnx__model_proto__free_unpacked(mp, &pa);
    if (rc) {
        au_graph_free(c.g);
        return rc;
    }
    *out = c.g;
    return AU_OK;
}

/* Whole file into an au_malloc buffer. */
static int read_file(struct ctx *c, const char *path, void **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(c, AU_IO, "cannot open: %s", strerror(errno));
    struct stat st;
    int rc = AU_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = fail(c, AU_IO, "not a regular file");
    else if ((uint64_t)st.st_size > AU_ONNX_MAX_FILE_BYTES)
        rc = fail(c, AU_UNSUPPORTED, "file is %lld bytes, over protobuf's 2 GiB limit",
                  (long long)st.st_size);
    else if (!(*buf = au_malloc((size_t)st.st_size)))
        rc = fail(c, AU_NOMEM, "out of memory reading %lld bytes", (long long)st.st_size);
    else if (read_at(fd, *buf, (size_t)st.st_size, 0) != 0) {
        au_free(*buf);
        *buf = NULL;
        rc = fail(c, AU_IO, "read failed (file changed or unreadable)");
    }
    *len = rc ? 0 : (size_t)st.st_size;
    close(fd);
    return rc;
}

int au_onnx_load(const char *path, struct au_graph **out, struct au_diag *d)
{
    struct ctx c = {path ? path : "<null>", NULL, NULL, d, 13};
    if (!out || !path)
        return fail(&c, AU_INVALID, "no path or output graph pointer");
    *out = NULL;
    void *buf = NULL;
    size_t len = 0;
    int rc = read_file(&c, path, &buf, &len);
    if (rc)
        return rc;
    char *dir = au_strdup(path);
    if (!dir) {
        au_free(buf);
        return fail(&c, AU_NOMEM, "out of memory");
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir] = '\0'; /* "/m.onnx" -> "/", "a/m.onnx" -> "a" */
    rc = au_onnx_load_buffer(buf, len, slash ? dir : ".", path, out, d);
    au_free(dir);
    au_free(buf);
    return rc;
}
