/* Fuzz target: campaign JSON text -> au_campaign_parse. Every problem must be one
 * line, and a failed parse must report at least one. The path is fixed and never
 * opened: parsing needs no model, so no file is touched. */
#include "campaigns/spec.h"
#include "fuzz.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct au_campaign *c = (struct au_campaign *)data; /* must become NULL on failure */
    struct au_problems probs = {0};
    struct au_diag d = {{0}};
    int rc = au_campaign_parse((const char *)data, size, "/nonexistent/fuzz.json", &c, &probs, &d);
    fuzz_check_diag(rc, &d);
    for (size_t i = 0; i < probs.n; i++)
        if (!probs.msg[i] || !probs.msg[i][0] || strchr(probs.msg[i], '\n'))
            abort();
    if (rc < 0) {
        if (c || (rc == AU_FORMAT && probs.n == 0))
            abort();
    } else {
        if (!c || !c->json || probs.n != 0)
            abort();
        au_campaign_free(c);
    }
    au_problems_fini(&probs);
    return 0;
}
