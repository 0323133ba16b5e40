/* The "garbage" plugin as a shared object: loads cleanly with defect 0, so the registry
 * accepts it; every defect is a run-time lie the host's output checks must catch. */
#include "garbage.h"

static const struct au_numsys_desc desc = GARBAGE_DESC("garbage");

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    (void)garbage_quantize; /* used by the in-memory variant only */
    return &desc;
}
