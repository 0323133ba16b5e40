/* Number-format plugin registry: finds, loads and validates plugins.
 *
 * Search order, first found wins (a later plugin with the same name is refused with a
 * warning naming both files, so a campaign's "fp16" always means the same code):
 *   1. the build tree's plugin dir, when the running executable lives in the build tree
 *      (or $AURUM_PLUGIN_BUILD_DIR if set: tests point it at their build);
 *   2. the install dir (<libdir>/aurum/numsys);
 *   3. each dir of $AURUM_PLUGIN_PATH (':'-separated), in order.
 * Within a dir, *.so files load in name order. A refused plugin (missing
 * au_numsys_entry, wrong ABI version, short descriptor, NULL mandatory pointer, bad
 * schema or layout) is skipped with a warning; library code never prints, the CLI
 * prints au_numsys_registry_warning().
 *
 *   au_numsys_registry *reg;
 *   if (au_numsys_registry_new(&reg, &d) < 0) return fail(d.msg);
 *   const struct au_numsys_plugin *p = au_numsys_registry_find(reg, "fp");
 *   au_numsys_registry_free(reg);  // after every au_numsys_fmt made from it
 */
#ifndef AU_NUMSYS_REGISTRY_H
#define AU_NUMSYS_REGISTRY_H

#include "aurum/numsys.h"
#include "core/status.h"

#include <stddef.h>

typedef struct au_numsys_registry au_numsys_registry;

/* One loaded plugin; borrowed from the registry, valid until it is freed. */
struct au_numsys_plugin {
    const struct au_numsys_desc *desc;
    const char *path; /* the .so file, or the origin given to au_numsys_registry_add */
};

/* A registry with every plugin found on the search path. Warnings (refused or
 * duplicate plugins) are kept, not fatal. Fails only with AU_NOMEM. */
int au_numsys_registry_new(au_numsys_registry **out, struct au_diag *d);
/* An empty registry (tests, embedding). Fails only with AU_NOMEM. */
int au_numsys_registry_new_empty(au_numsys_registry **out, struct au_diag *d);
/* Frees the registry and unloads its plugins; NULL is a no-op. */
void au_numsys_registry_free(au_numsys_registry *r);

/* Loads every *.so in dir (name order); refusals and duplicates become warnings.
 * A missing dir is not an error. Fails only with AU_NOMEM. */
int au_numsys_registry_scan_dir(au_numsys_registry *r, const char *dir, struct au_diag *d);
/* Loads one plugin file. AU_PLUGIN with "path: reason (plugin ABI vX, aurum ABI vY)"
 * if refused; AU_INVALID if its name is taken (the message names both files). */
int au_numsys_registry_load(au_numsys_registry *r, const char *path, struct au_diag *d);
/* Adds an in-process descriptor (statically linked formats, tests) after the same
 * checks as a loaded file; origin names it in messages. desc must outlive r. */
int au_numsys_registry_add(au_numsys_registry *r, const struct au_numsys_desc *desc,
                           const char *origin, struct au_diag *d);

/* Plugins in load order; i < count. */
size_t au_numsys_registry_count(const au_numsys_registry *r);
const struct au_numsys_plugin *au_numsys_registry_at(const au_numsys_registry *r, size_t i);
/* The plugin called name, or NULL. */
const struct au_numsys_plugin *au_numsys_registry_find(const au_numsys_registry *r,
                                                       const char *name);
/* The first plugin (load order) with a preset called name, or NULL; *preset gets it. */
const struct au_numsys_plugin *au_numsys_registry_find_preset(const au_numsys_registry *r,
                                                              const char *name,
                                                              const struct au_preset **preset);

/* Warnings, one line each ("path: reason"); borrowed. */
size_t au_numsys_registry_n_warnings(const au_numsys_registry *r);
const char *au_numsys_registry_warning(const au_numsys_registry *r, size_t i);
/* The directories searched by au_numsys_registry_new, in order; borrowed. */
size_t au_numsys_registry_n_dirs(const au_numsys_registry *r);
const char *au_numsys_registry_dir(const au_numsys_registry *r, size_t i);

/* Checks a layout against ABI v1 (widths 1..64 / 0..64, block kind, fields named,
 * inside the width, not overlapping). 0, or AU_PLUGIN with the reason in err. */
int au_numsys_layout_check(const struct au_numsys_layout *l, char *err, size_t err_len);

#endif
