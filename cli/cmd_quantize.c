/* aurum quantize FORMAT in.npy out.npy: a float32 tensor through a number format
 * (decode(encode(x))), optionally keeping the codes and block metadata as .npy files
 * for inspection or for flipping bits by hand. A static-scale format gets the input's
 * own absmax as its profile. The output is written via tmp + rename (au_npy_write).
 */
#include "cmd.h"
#include "common.h"
#include "core/alloc.h"
#include "core/npy.h"
#include "numsys/numsys_host.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct qopts {
    const char *spec, *in, *out, *codes, *meta;
    uint32_t role;
    int64_t seed;
};

static int parse(int argc, char **argv, struct qopts *o)
{
    const char *pos[3] = {NULL, NULL, NULL};
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--codes") == 0 || strcmp(a, "--meta") == 0 || strcmp(a, "--role") == 0 ||
            strcmp(a, "--seed") == 0) {
            if (!(v = cli_optarg(argc, argv, &i)))
                return 2;
            if (strcmp(a, "--codes") == 0)
                o->codes = v;
            else if (strcmp(a, "--meta") == 0)
                o->meta = v;
            else if (strcmp(a, "--seed") == 0 && !cli_parse_i64(a, v, 0, INT64_MAX, &o->seed))
                return 2;
            else if (strcmp(a, "--role") == 0 && strcmp(v, "act") && strcmp(v, "weight")) {
                cli_error("--role: expected act or weight, got '%s'", v);
                return 2;
            } else if (strcmp(a, "--role") == 0)
                o->role = strcmp(v, "weight") == 0 ? AU_NUMSYS_ROLE_WEIGHT : AU_NUMSYS_ROLE_ACT;
        } else if (a[0] == '-' && a[1] == '-') {
            cli_error("quantize: unknown option '%s'", a);
            return 2;
        } else if (n_pos < 3) {
            pos[n_pos++] = a;
        } else {
            cli_error("quantize: unexpected argument '%s'", a);
            return 2;
        }
    }
    if (n_pos != 3) {
        cli_error("usage: aurum quantize FORMAT in.npy out.npy [--codes c.npy] [--meta m.npy] "
                  "[--role act|weight] [--seed N]");
        return 2;
    }
    o->spec = pos[0];
    o->in = pos[1];
    o->out = pos[2];
    return 0;
}

/* Codes/metadata as the smallest NumPy integer type that holds bits (int64 holds 64-bit
 * words as their bit pattern). */
static int write_words(const char *path, const uint64_t *w, size_t n, uint32_t bits, int n_dims,
                       const int64_t *ne, struct au_diag *d)
{
    int dtype = bits <= 8 ? AU_DTYPE_U8 : bits <= 31 ? AU_DTYPE_I32 : AU_DTYPE_I64;
    struct au_array a = {{0}};
    int rc = au_array_alloc(&a, dtype, n_dims, ne, d);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (dtype == AU_DTYPE_U8)
            ((uint8_t *)a.t.data)[i] = (uint8_t)w[i];
        else if (dtype == AU_DTYPE_I32)
            ((int32_t *)a.t.data)[i] = (int32_t)w[i];
        else
            memcpy((int64_t *)a.t.data + i, &w[i], 8);
    }
    if (rc == 0)
        rc = au_npy_write(path, &a.t, d);
    au_array_fini(&a);
    return rc;
}

/* The format for this input: static-scale formats are profiled on the input itself. */
static int open_format(const au_numsys_registry *r, const char *spec, const struct au_array *in,
                       au_numsys_fmt **out, struct au_diag *d)
{
    au_numsys_fmt *f = NULL;
    int rc = au_numsys_fmt_new(r, spec, &f, d);
    if (rc < 0 || !au_numsys_fmt_takes_absmax(f) || strstr(spec, AU_NUMSYS_PARAM_ABSMAX)) {
        *out = f;
        return rc;
    }
    double absmax = 0;
    const float *x = in->t.data;
    for (int64_t i = 0; i < au_tensor_numel(&in->t); i++)
        absmax = isfinite(x[i]) && fabs(x[i]) > absmax ? fabs(x[i]) : absmax;
    rc = au_numsys_fmt_with_absmax(f, absmax, out, d);
    au_numsys_fmt_free(f);
    return rc;
}

static int run(const struct qopts *o, const au_numsys_registry *r, struct au_array *in,
               struct au_diag *d)
{
    au_numsys_fmt *f = NULL;
    struct au_numsys_blocks b;
    struct au_pcg32 rng;
    uint64_t *codes = NULL, *meta = NULL;
    struct au_array y = {{0}};
    au_pcg32_seed(&rng, (uint64_t)o->seed, 0u);
    int rc = open_format(r, o->spec, in, &f, d);
    if (rc == 0)
        rc = au_numsys_blocks_init(&b, au_numsys_fmt_layout(f), in->t.n_dims, in->t.ne, o->role, d);
    if (rc == 0)
        rc = au_array_alloc(&y, AU_DTYPE_F32, in->t.n_dims, in->t.ne, d);
    if (rc == 0) {
        codes = au_malloc((b.numel ? b.numel : 1) * sizeof(*codes));
        meta = au_malloc((b.n_blocks ? b.n_blocks : 1) * sizeof(*meta));
        rc = codes && meta ? 0 : au_diag_set(d, AU_NOMEM, "out of memory");
    }
    if (rc == 0)
        rc = au_numsys_encode_tensor(f, &b, in->t.data, codes, meta, &rng, d);
    int nan_zeroed = rc == AU_NUMSYS_NAN_ZEROED;
    if (rc >= 0)
        rc = au_numsys_decode_tensor(f, &b, codes, meta, y.t.data, d);
    if (rc == 0)
        rc = au_npy_write(o->out, &y.t, d);
    if (rc == 0 && o->codes)
        rc = write_words(o->codes, codes, b.numel, au_numsys_fmt_layout(f)->elem_bits, in->t.n_dims,
                         in->t.ne, d);
    int64_t ne_meta[1] = {(int64_t)b.n_blocks};
    if (rc == 0 && o->meta)
        rc = write_words(o->meta, meta, b.n_blocks, au_numsys_fmt_layout(f)->meta_bits, 1, ne_meta,
                         d);
    if (rc == 0) {
        double max_err = 0, sum_err = 0;
        const float *x = in->t.data, *q = y.t.data;
        for (size_t i = 0; i < b.numel; i++) {
            double e = fabs((double)q[i] - (double)x[i]);
            max_err = e > max_err || isnan(e) ? e : max_err;
            sum_err += isfinite(e) ? e : 0;
        }
        if (nan_zeroed)
            fprintf(stderr, "aurum: warning: %s: NaN inputs became 0 (%s has no NaN)\n", o->in,
                    o->spec);
        printf("%s -> %s: %zu values in %s (%u bits, %zu blocks), max |error| %.6g, mean |error| "
               "%.6g\n",
               o->in, o->out, b.numel, au_numsys_fmt_str(f), au_numsys_fmt_layout(f)->elem_bits,
               b.n_blocks, max_err, b.numel ? sum_err / (double)b.numel : 0.0);
    }
    au_free(codes);
    au_free(meta);
    au_array_fini(&y);
    au_numsys_fmt_free(f);
    return rc;
}

int au_cmd_quantize(int argc, char **argv)
{
    struct qopts o = {0};
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: aurum quantize FORMAT in.npy out.npy [--codes c.npy] [--meta m.npy]\n"
               "                       [--role act|weight] [--seed N]\n"
               "Writes decode(encode(in)) as float32. --codes/--meta keep the element codes\n"
               "(shape of in) and the block metadata words (one per block). --role picks the\n"
               "block rule's axis (default act: axis 0 is the batch). --seed seeds stochastic\n"
               "rounding. Static-scale formats take the input's absmax as their profile.\n");
        return 0;
    }
    int prc = parse(argc, argv, &o);
    if (prc)
        return prc;
    struct au_diag d = {{0}};
    struct au_array in = {{0}};
    au_numsys_registry *r = NULL;
    int rc = au_npy_read(o.in, &in, &d);
    if (rc == 0 && in.t.dtype != AU_DTYPE_F32)
        rc = au_diag_set(&d, AU_DTYPE, "%s: dtype %s, quantize needs float32", o.in,
                         au_dtype_name(in.t.dtype));
    if (rc == 0)
        rc = au_numsys_registry_new(&r, &d);
    if (rc == 0) {
        for (size_t i = 0; i < au_numsys_registry_n_warnings(r); i++)
            fprintf(stderr, "aurum: warning: %s\n", au_numsys_registry_warning(r, i));
        rc = run(&o, r, &in, &d);
    }
    if (rc < 0)
        cli_error("%s", d.msg[0] ? d.msg : au_strerror(rc));
    au_numsys_registry_free(r);
    au_array_fini(&in);
    return rc < 0 ? 1 : 0;
}
