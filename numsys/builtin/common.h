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
#include <stdio.h>
#include <string.h>

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

#endif
