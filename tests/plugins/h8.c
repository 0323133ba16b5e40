/* A correct plugin (the control): loads cleanly; its "defect" parameter makes encode
 * write codes wider than the layout or decode produce NaN, for the host's re-checks. */
#include "hostile.h"

static const struct au_numsys_desc desc = H8_DESC("h8");

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    return &desc;
}
