/* Fuzz target: format strings -> au_numsys_fmt_new over a registry of the built-in
 * plugins (loaded once from the build's plugin dir). A format that parses must print a
 * canonical string that parses back to the same string: the round trip the store uses. */
#include "fuzz.h"
#include "fuzz_common.h"
#include "numsys/fmtstr.h"
#include "numsys/registry.h"

#include <stdio.h>

#ifndef AU_FUZZ_PLUGIN_DIR
#define AU_FUZZ_PLUGIN_DIR "."
#endif

static au_numsys_registry *reg;

static void free_reg(void)
{
    au_numsys_registry_free(reg);
}

static const au_numsys_registry *registry(void)
{
    if (!reg) {
        struct au_diag d;
        const char *dir = getenv("AURUM_PLUGIN_BUILD_DIR");
        dir = dir ? dir : AU_FUZZ_PLUGIN_DIR;
        if (au_numsys_registry_new_empty(&reg, &d) < 0 ||
            au_numsys_registry_scan_dir(reg, dir, &d) < 0 || !au_numsys_registry_find(reg, "fp")) {
            /* Without plugins every input is "unknown format": useless fuzzing. */
            fprintf(stderr, "fuzz_fmtstr: no built-in plugins (au_fp.so) in %s\n", dir);
            abort();
        }
        atexit(free_reg);
    }
    return reg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const au_numsys_registry *r = registry();
    if (size > 4096)
        return 0; /* format strings are short; longer inputs only slow the search */
    char *spec = malloc(size + 1);
    if (!spec)
        return 0;
    memcpy(spec, data, size);
    spec[size] = '\0';       /* the API takes a C string: stop at an embedded NUL as C would */
    au_numsys_fmt *f = NULL; /* fmtstr.h does not promise to clear *out on failure */
    struct au_diag d = {{0}};
    int rc = au_numsys_fmt_new(r, spec, &f, &d);
    fuzz_check_diag(rc, &d);
    if (rc == 0) {
        au_numsys_fmt *back = NULL;
        const char *canon = au_numsys_fmt_str(f);
        if (!canon || au_numsys_fmt_new(r, canon, &back, &d) < 0 ||
            strcmp(canon, au_numsys_fmt_str(back)) != 0)
            abort();
        au_numsys_fmt_free(back);
        au_numsys_fmt_free(f);
    }
    free(spec);
    return 0;
}
