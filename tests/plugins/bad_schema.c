/* A parameter whose default is outside its own range: refused with the parameter named. */
#include "hostile.h"

static const struct au_param bad_params[] = {
    {"defect", AU_PARAM_INT, "9", 0, 2, NULL, "default out of range"},
};

static struct au_numsys_desc desc = H8_DESC("bad_schema");

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    desc.params = bad_params;
    return &desc;
}
