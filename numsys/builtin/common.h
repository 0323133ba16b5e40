/* Helpers shared by the built-in plugins (header-only, static: each plugin is its own
 * shared object and exports nothing but au_numsys_entry). Parameters arrive as a JSON
 * object that the host has already checked against the schema; these getters still
 * apply defaults and range checks so a plugin is safe when called directly. */
#ifndef AU_NUMSYS_BUILTIN_COMMON_H
#define AU_NUMSYS_BUILTIN_COMMON_H

#include "aurum/numsys.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Hot loops are compiled for AVX-512, AVX2 and baseline x86-64 and the widest one the CPU
 * has is picked at load time (GCC's ifunc), so one plugin binary runs everywhere. Use it
 * on a function whose helpers are always_inline, so they are cloned with it. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__)
#define AU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define AU_CLONES
#endif
#define AU_INLINE static inline __attribute__((always_inline))
/* Wide vectors only pass between always_inline helpers, so the ABI note does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

/* Integer parameter `name` in [lo, hi] (default dflt). Returns 0 or -1 with err set. */
static inline int au_p_int(const cJSON *obj, const char *name, long dflt, long lo, long hi,
                           long *out, char *err, size_t err_len)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    if (!it) {
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
        it->valuedouble < (double)lo || it->valuedouble > (double)hi) {
        snprintf(err, err_len, "parameter '%s' must be an integer in [%ld, %ld]", name, lo, hi);
        return -1;
    }
    *out = (long)it->valuedouble;
    return 0;
}

static inline int au_p_real(const cJSON *obj, const char *name, double dflt, double lo, double hi,
                            double *out, char *err, size_t err_len)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    if (!it) {
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsNumber(it) || !(it->valuedouble >= lo && it->valuedouble <= hi)) {
        snprintf(err, err_len, "parameter '%s' must be a number in [%g, %g]", name, lo, hi);
        return -1;
    }
    *out = it->valuedouble;
    return 0;
}

static inline int au_p_bool(const cJSON *obj, const char *name, bool dflt, bool *out, char *err,
                            size_t err_len)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    if (!it) {
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsBool(it)) {
        snprintf(err, err_len, "parameter '%s' must be true or false", name);
        return -1;
    }
    *out = cJSON_IsTrue(it);
    return 0;
}

/* Choice among '|'-separated words; *out = index of the word. */
static inline int au_p_choice(const cJSON *obj, const char *name, const char *choices, int dflt,
                              int *out, char *err, size_t err_len)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    if (!it) {
        *out = dflt;
        return 0;
    }
    if (cJSON_IsString(it)) {
        const char *w = choices;
        for (int idx = 0; *w; idx++) {
            size_t len = strcspn(w, "|");
            if (strlen(it->valuestring) == len && strncmp(w, it->valuestring, len) == 0) {
                *out = idx;
                return 0;
            }
            w += len + (w[len] == '|');
        }
    }
    snprintf(err, err_len, "parameter '%s' must be one of %s", name, choices);
    return -1;
}

/* An AU_PARAM_INT that also accepts words (bfp block: 16 or "tensor"): a number in
 * [lo, hi] sets *out and *word = -1; a word from choices sets *word to its index. */
static inline int au_p_int_or_word(const cJSON *obj, const char *name, const char *choices,
                                   long dflt, long lo, long hi, long *out, int *word, char *err,
                                   size_t err_len)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    *word = -1;
    if (it && cJSON_IsString(it)) {
        if (au_p_choice(obj, name, choices, 0, word, err, err_len) == 0)
            return 0;
        snprintf(err, err_len, "parameter '%s' must be an integer in [%ld, %ld] or one of %s", name,
                 lo, hi, choices);
        return -1;
    }
    return au_p_int(obj, name, dflt, lo, hi, out, err, err_len);
}

/* Reject keys that are not in the schema. */
static inline int au_p_check_keys(const cJSON *obj, const struct au_param *params, uint32_t n,
                                  char *err, size_t err_len)
{
    const cJSON *it;
    if (!obj)
        return 0;
    if (!cJSON_IsObject(obj)) {
        snprintf(err, err_len, "parameters must be a JSON object");
        return -1;
    }
    cJSON_ArrayForEach(it, obj)
    {
        uint32_t i;
        for (i = 0; i < n; i++)
            if (strcmp(params[i].name, it->string) == 0)
                break;
        if (i == n) {
            snprintf(err, err_len, "unknown parameter '%s'", it->string);
            return -1;
        }
    }
    return 0;
}

/* ---- blocks ----
 * The block formats (int, bfp, afp, mx) encode and quantize a run of blocks one block at a
 * time: block_len elements each for AU_BLOCK_ELEMS (the last may be shorter), the whole run
 * otherwise. The per-block functions return how many NaN inputs they zeroed. */
typedef int (*au_block_encode_fn)(const au_numsys_inst *s, const float *x, size_t n,
                                  uint64_t *codes, uint64_t *meta, struct au_pcg32 *rng);
typedef int (*au_block_quantize_fn)(const au_numsys_inst *s, float *x, size_t n,
                                    struct au_pcg32 *rng);

AU_INLINE int au_encode_blocks(const au_numsys_inst *s, size_t bl, const float *x, size_t n,
                               uint64_t *codes, uint64_t *meta, struct au_pcg32 *rng,
                               au_block_encode_fn one)
{
    int n_nan = 0;
    for (size_t b0 = 0, k = 0; b0 < n; b0 += bl, k++)
        n_nan += one(s, x + b0, n - b0 < bl ? n - b0 : bl, codes + b0, meta + k, rng);
    return n_nan ? AU_NUMSYS_NAN_ZEROED : 0;
}

AU_INLINE int au_quantize_blocks(const au_numsys_inst *s, size_t bl, float *x, size_t n,
                                 struct au_pcg32 *rng, au_block_quantize_fn one)
{
    int n_nan = 0;
    for (size_t b0 = 0; b0 < n; b0 += bl)
        n_nan += one(s, x + b0, n - b0 < bl ? n - b0 : bl, rng);
    return n_nan ? AU_NUMSYS_NAN_ZEROED : 0;
}

/* ---- vectors for the fused quantize paths ----
 * 16 float lanes: one AVX-512 register, two AVX2 or four SSE2 ones, as the clone picked at
 * load time allows (AU_CLONES); blocks of 16 and 32 elements fill whole vectors. */
#define AU_VW 16
typedef float au_vf __attribute__((vector_size(4 * AU_VW)));
typedef int32_t au_vi __attribute__((vector_size(4 * AU_VW)));
typedef uint32_t au_vu __attribute__((vector_size(4 * AU_VW)));
typedef float au_vf8 __attribute__((vector_size(32)));
typedef int32_t au_vi8 __attribute__((vector_size(32)));
typedef float au_vf4 __attribute__((vector_size(16)));
typedef int32_t au_vi4 __attribute__((vector_size(16)));

AU_INLINE au_vf au_vsel(au_vi m, au_vf a, au_vf b)
{
    return (au_vf)(((au_vi)a & m) | ((au_vi)b & ~m));
}

AU_INLINE au_vf au_vsplat(float f)
{
    return (au_vf){0} + f;
}

AU_INLINE au_vi au_vspliti(int32_t v)
{
    return (au_vi){0} + v;
}

/* Loads n floats (all AU_VW if n >= AU_VW), zero-filling the rest: zeros never change a
 * block's range. */
AU_INLINE au_vf au_vload(const float *x, size_t n)
{
    au_vf v = {0};
    if (__builtin_expect(n >= AU_VW, 1))
        memcpy(&v, x, sizeof(v)); /* a constant size: one vector load */
    else
        for (size_t k = 0; k < n; k++)
            v[k] = x[k];
    return v;
}

AU_INLINE void au_vstore(float *x, au_vf v, size_t n)
{
    if (__builtin_expect(n >= AU_VW, 1))
        memcpy(x, &v, sizeof(v));
    else
        for (size_t k = 0; k < n; k++)
            x[k] = v[k];
}

/* Largest lane, by halving (a scalar loop over 16 lanes costs as much as quantizing a
 * block of 32). */
AU_INLINE int32_t au_hmax_i(au_vi v)
{
    au_vi8 a, b;
    au_vi4 c, e;
    memcpy(&a, &v, sizeof(a));
    memcpy(&b, (char *)&v + sizeof(a), sizeof(b));
    au_vi8 m8 = a > b;
    a = (a & m8) | (b & ~m8);
    memcpy(&c, &a, sizeof(c));
    memcpy(&e, (char *)&a + sizeof(c), sizeof(e));
    au_vi4 m4 = c > e;
    c = (c & m4) | (e & ~m4);
    int32_t x = c[0] > c[1] ? c[0] : c[1], y = c[2] > c[3] ? c[2] : c[3];
    return x > y ? x : y;
}

/* Largest lane of a vector of finite floats. */
AU_INLINE float au_hmax_f(au_vf v)
{
    au_vf8 a, b;
    au_vf4 c, e;
    memcpy(&a, &v, sizeof(a));
    memcpy(&b, (char *)&v + sizeof(a), sizeof(b));
    au_vi8 m8 = a > b;
    a = (au_vf8)(((au_vi8)a & m8) | ((au_vi8)b & ~m8));
    memcpy(&c, &a, sizeof(c));
    memcpy(&e, (char *)&a + sizeof(c), sizeof(e));
    au_vi4 m4 = c > e;
    c = (au_vf4)(((au_vi4)c & m4) | ((au_vi4)e & ~m4));
    float x = c[0] > c[1] ? c[0] : c[1], y = c[2] > c[3] ? c[2] : c[3];
    return x > y ? x : y;
}

/* The largest |x| bit pattern of a block: |x| patterns compare as integers in float order
 * and inf/NaN patterns are the largest, so a result >= 0x7F800000 flags inf or NaN. */
AU_INLINE uint32_t au_absmax_bits(const float *x, size_t n)
{
    const au_vi abs = au_vspliti(INT32_MAX);
    au_vi mx = {0};
    for (size_t i = 0; i < n; i += AU_VW) {
        au_vi v = (au_vi)au_vload(x + i, n - i) & abs;
        au_vi gt = v > mx;
        mx = (v & gt) | (mx & ~gt);
    }
    return (uint32_t)au_hmax_i(mx);
}

#endif
