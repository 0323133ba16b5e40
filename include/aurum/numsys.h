/* Aurum number-format plugin ABI (self-contained: needs only stddef.h and stdint.h).
 *
 * A plugin is a shared object exporting one symbol, au_numsys_entry, that returns a
 * const descriptor. The host (aurum) creates instances from JSON parameters, asks for
 * the bit layout, and encodes float32 blocks into integer codes plus per-block
 * metadata words, and back. Bit flips are done by the host on the codes.
 *
 *   static const struct au_numsys_desc desc = {
 *       .abi_version = AU_NUMSYS_ABI_VERSION, .struct_size = sizeof(desc),
 *       .name = "myfmt", .summary = "...", .params = params, .n_params = 2,
 *       .create = my_create, .destroy = my_destroy, .layout = my_layout,
 *       .encode = my_encode, .decode = my_decode, .quantize = NULL,
 *   };
 *   AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void) { return &desc; }
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags aurum-numsys) myfmt.c -o myfmt.so
 * Memory allocated by a plugin is freed only by its destroy(). Errors cross the
 * boundary as a status (0 ok, negative error) plus the caller's err buffer.
 */
#ifndef AURUM_NUMSYS_H
#define AURUM_NUMSYS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AU_NUMSYS_ABI_VERSION 1u /* bump on any incompatible change */
#define AU_NUMSYS_EXPORT      __attribute__((visibility("default")))

/* ---- PCG32 (O'Neill, pcg-c-basic): identical streams in host and plugins ---- */
struct au_pcg32 {
    uint64_t state, inc;
};
static inline uint32_t au_pcg32_next(struct au_pcg32 *r)
{
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}
/* pcg32_srandom_r(initstate, initseq). */
static inline void au_pcg32_seed(struct au_pcg32 *r, uint64_t initstate, uint64_t initseq)
{
    r->state = 0u;
    r->inc = (initseq << 1u) | 1u;
    (void)au_pcg32_next(r);
    r->state += initstate;
    (void)au_pcg32_next(r);
}
/* Uniform in [0, 1) with 32 random bits. */
static inline double au_pcg32_uniform(struct au_pcg32 *r)
{
    return (double)au_pcg32_next(r) * (1.0 / 4294967296.0);
}

/* ---- Parameter schema ---- */
#define AU_PARAM_INT    1u /* integer in [min, max]; also the words in choices if non-NULL */
#define AU_PARAM_REAL   2u /* real in [min, max] */
#define AU_PARAM_BOOL   3u
#define AU_PARAM_CHOICE 4u /* one of the '|'-separated words in choices */

/* Every parameter has a default, so "{}" always creates an instance. The host checks
 * user values against this schema and passes create() a JSON object holding every
 * parameter (defaults filled in). An INT with choices (bfp block: 16 or "tensor")
 * arrives as a number or as one of the words (a JSON string). */
struct au_param {
    const char *name;
    uint32_t type;
    const char *dflt; /* default as JSON text: "8", "true", "\"nearest_even\"" */
    double min, max;  /* INT / REAL */
    const char *choices;
    const char *help;
};

/* Static scales: a plugin whose scale comes from the golden profile (int with
 * scale_source static) declares a REAL parameter named AU_NUMSYS_PARAM_ABSMAX (default
 * 0 = not profiled). The host fills it with the layer's profiled absmax when it makes
 * the layer's instance (au_numsys_fmt_with_absmax); a user may also set it. */
#define AU_NUMSYS_PARAM_ABSMAX "absmax"
/* A CHOICE parameter of this name with the value "stochastic" tells the host that the
 * instance draws from the rng (the host then refuses to call it with rng == NULL). */
#define AU_NUMSYS_PARAM_ROUNDING "rounding"

/* A named parameter set: "fp16" = fp{exponent:5,mantissa:10,...}. */
struct au_preset {
    const char *name;
    const char *params_json;
};

/* ---- Layout ---- */
struct au_bitfield {
    const char *name; /* "sign", "exponent", "mantissa", "shared_exponent", ... */
    uint8_t lsb, width;
};

#define AU_BLOCK_NONE    0u /* no metadata */
#define AU_BLOCK_TENSOR  1u /* one block per tensor (per sample for activations) */
#define AU_BLOCK_CHANNEL 2u /* one block per channel (axis 1 activations, axis 0 weights) */
#define AU_BLOCK_ELEMS   3u /* consecutive runs of block_len elements along the last axis */

struct au_numsys_layout {
    uint32_t elem_bits;  /* bits per element code, 1..64 */
    uint32_t meta_bits;  /* metadata bits per block, 0..64; 0 = none */
    uint32_t block_kind; /* AU_BLOCK_* */
    uint32_t block_len;  /* elements per block for AU_BLOCK_ELEMS */
    uint32_t n_elem_fields, n_meta_fields;
    const struct au_bitfield *elem_fields, *meta_fields;
    uint32_t flags; /* AU_LAYOUT_* guarantees; 0 claims none (the host zeroes it first) */
};
/* Guarantees the host enforces on plugin output (it rejects a NaN/inf decode). */
#define AU_LAYOUT_NO_NAN 1u /* no code decodes to NaN: NaN input encodes to 0 */
#define AU_LAYOUT_NO_INF 2u /* no code decodes to +-inf */

typedef struct au_numsys_inst au_numsys_inst; /* opaque, defined by the plugin */

struct au_numsys_desc {
    uint32_t abi_version; /* = AU_NUMSYS_ABI_VERSION */
    uint32_t struct_size; /* = sizeof(struct au_numsys_desc) */
    const char *name, *summary;
    const struct au_param *params;
    uint32_t n_params;
    const struct au_preset *presets;
    uint32_t n_presets;
    /* params_json: a JSON object (may be "{}" or NULL for defaults). */
    int (*create)(const char *params_json, au_numsys_inst **out, char *err, size_t err_len);
    void (*destroy)(au_numsys_inst *inst);
    void (*layout)(const au_numsys_inst *inst, struct au_numsys_layout *out);
    /* x holds n elements forming consecutive blocks (block_len for AU_BLOCK_ELEMS, the
     * last one possibly shorter; the whole n otherwise); meta gets one word per block.
     * rng may be NULL unless the instance rounds stochastically. encode and quantize
     * return 0, a negative error, or AU_NUMSYS_NAN_ZEROED. All calls on a const
     * instance must be thread-safe. Codes fit in elem_bits, metadata in meta_bits. */
    int (*encode)(const au_numsys_inst *inst, const float *x, size_t n, uint64_t *codes,
                  uint64_t *meta, struct au_pcg32 *rng);
    int (*decode)(const au_numsys_inst *inst, const uint64_t *codes, const uint64_t *meta, size_t n,
                  float *y);
    /* Optional (NULL = encode + decode): x <- decode(encode(x)), same blocks. */
    int (*quantize)(const au_numsys_inst *inst, float *x, size_t n, struct au_pcg32 *rng);
    /* ABI v1 ends here. Append only: never reorder, never remove. Members below are read
     * only when struct_size covers them, so plugins built before them keep working. */

    /* Optional (NULL = the host encodes the whole block): x[0..n) is ONE block; *code gets
     * the code encode would give element i and *meta the block's metadata word (untouched
     * if the format has none). A fault in one element then costs the block's metadata, not
     * its every code. Returns as encode (AU_NUMSYS_NAN_ZEROED if x[i] is a NaN zeroed). */
    int (*encode_at)(const au_numsys_inst *inst, const float *x, size_t n, size_t i, uint64_t *code,
                     uint64_t *meta, struct au_pcg32 *rng);
};

/* Positive (not an error) result of encode/quantize: some NaN input had no NaN code in
 * the format and was encoded as 0 (number-formats.md, "Overflow"). */
#define AU_NUMSYS_NAN_ZEROED 1

typedef const struct au_numsys_desc *(*au_numsys_entry_fn)(void);
AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void);

#ifdef __cplusplus
}
#endif
#endif
