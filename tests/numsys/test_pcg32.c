/* au_pcg32 against the reference pcg-c-basic. pcg32-demo seeds pcg32_srandom_r(&rng,
 * 42u, 54u) and per round prints 6 numbers, 65 coin flips, 33 dice rolls and a 52-card
 * deal, the bounded ones drawn by rejection (pcg32_boundedrand_r). The expected text is
 * the published output (pcg-c test-high/expected/check-pcg32.out, rounds 1 and 2), so
 * every draw of two full rounds is checked, not just the first six numbers.
 */
#include "aurum/numsys.h"
#include "tests/check.h"

#include <string.h>

/* pcg32_boundedrand_r: uniform in [0, bound) without modulo bias. */
static uint32_t bounded(struct au_pcg32 *r, uint32_t bound)
{
    uint32_t threshold = (0u - bound) % bound;
    for (;;) {
        uint32_t v = au_pcg32_next(r);
        if (v >= threshold)
            return v % bound;
    }
}

struct demo_round {
    uint32_t numbers[6];
    const char *coins, *rolls, *cards;
};

static void check_round(struct au_pcg32 *r, const struct demo_round *want)
{
    char buf[105] = {0};
    for (int i = 0; i < 6; i++)
        CHECK_EQ_U64(au_pcg32_next(r), want->numbers[i]);
    for (int i = 0; i < 65; i++)
        buf[i] = bounded(r, 2) ? 'H' : 'T';
    CHECK(strcmp(buf, want->coins) == 0);
    for (int i = 0; i < 33; i++)
        buf[i] = (char)('1' + bounded(r, 6));
    buf[33] = '\0';
    CHECK(strcmp(buf, want->rolls) == 0);
    char cards[52];
    for (int i = 0; i < 52; i++)
        cards[i] = (char)i;
    for (uint32_t i = 52; i > 1; i--) {
        uint32_t chosen = bounded(r, i);
        char c = cards[chosen];
        cards[chosen] = cards[i - 1];
        cards[i - 1] = c;
    }
    for (int i = 0; i < 52; i++) {
        buf[2 * i] = "A23456789TJQK"[cards[i] / 4];
        buf[2 * i + 1] = "hcds"[cards[i] % 4];
    }
    buf[104] = '\0';
    CHECK(strcmp(buf, want->cards) == 0);
}

static void test_pcg32_matches_reference_demo_two_rounds(void)
{
    static const struct demo_round rounds[2] = {
        {{0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e},
         "HHTTTHTHHHTHTTTHHHHHTTTHHHTHTHTHTTHTTTHHHHHHTTTTHHTTTTTHTTTTTTTHT",
         "341122324324335231315141564662633",
         "QdKs6d3s3d4c3hTdKc5cJhKdJdAs4s4hAdThAcJc7sQs2s7hKh2d6cAh4dQh9h6s5s2c9cTs8d9s3c8cJs5d"
         "2h6h7d8s9d5h8hQc7cTc"},
        {{0x74ab93ad, 0x1c1da000, 0x494ff896, 0x34462f2f, 0xd308a3e5, 0x0fa83bab},
         "HHHHHHHHHHTHHHTHTHTHTHTTTTHHTTTHHTHHTHTTHHTTTHHHHHHTHTTHTHTTTTTTT",
         "511332453226432424323632342411544",
         "7d2s7hTd8s3c3dJs2dTc4hQs5c9cTh2cJcQd9dQc7s3s5s6h4dJh4cAc4s5h5dKc8h8dJd9sAd6s6cKd2h3h"
         "KhTsQh9h6dAs7cKsAh8c"},
    };
    struct au_pcg32 r;
    au_pcg32_seed(&r, 42u, 54u);
    check_round(&r, &rounds[0]);
    check_round(&r, &rounds[1]);
}

static void test_pcg32_streams_differ_and_uniform_is_in_unit_interval(void)
{
    struct au_pcg32 a, b;
    au_pcg32_seed(&a, 42u, 1u);
    au_pcg32_seed(&b, 42u, 2u);
    int same = 0;
    double lo = 1, hi = 0, sum = 0;
    for (int i = 0; i < 100000; i++) {
        same += au_pcg32_next(&a) == au_pcg32_next(&b);
        double u = au_pcg32_uniform(&a);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        sum += u;
    }
    CHECK(same < 5);
    CHECK(lo >= 0.0 && hi < 1.0);
    /* mean of 1e5 uniforms has sd sqrt(1/12/1e5) = 0.000913; allow 5 sd */
    CHECK_NEAR(sum / 100000, 0.5, 5 * 0.000913);
}

int main(void)
{
    test_pcg32_matches_reference_demo_two_rounds();
    test_pcg32_streams_differ_and_uniform_is_in_unit_interval();
    return check_report("test_pcg32");
}
