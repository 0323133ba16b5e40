/* The instance of the test plugins: one integer parameter "defect" (0 = behave) that
 * selects the one way the plugin misbehaves. Shared by hostile.h and garbage.h; read with
 * strstr so the plugins need no JSON library. */
#ifndef AU_TEST_DEFECT_H
#define AU_TEST_DEFECT_H

#include "aurum/numsys.h"

#include <stdlib.h>
#include <string.h>

struct au_numsys_inst {
    int defect;
};

static int defect_create(const char *params_json, au_numsys_inst **out, char *err, size_t err_len)
{
    (void)err;
    (void)err_len;
    struct au_numsys_inst *in = calloc(1, sizeof(*in));
    if (!in)
        return -1;
    const char *p = params_json ? strstr(params_json, "\"defect\":") : NULL;
    in->defect = p ? p[9] - '0' : 0;
    *out = in;
    return 0;
}

static void defect_destroy(au_numsys_inst *in)
{
    free(in);
}

#endif
