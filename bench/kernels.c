/* Kernel micro-benchmark: au_kern_conv2d and au_kern_maxpool2d on the layer shapes of the
 * bundled LeNet-5, ResNet and MobileNet (and a ResNet-18 style 3x3/2 pool), one thread.
 * Prints the best of R runs per shape, so a loaded machine still gives usable numbers;
 * under callgrind, pick one shape by name: `kernels =lenet.conv1 1`.
 * Usage: kernels [name-substring | =name] [runs] */
#include "alloc.h"
#include "exec.h"
#include "kern.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct shape {
    const char *name;
    bool is_pool;
    int64_t n, c_in, c_out, group, hw, k, s, pad;
};

static const struct shape SHAPES[] = {
    {"lenet.conv1", false, 128, 1, 6, 1, 28, 5, 1, 2},
    {"lenet.conv2", false, 128, 6, 16, 1, 14, 5, 1, 0},
    {"lenet.pool1", true, 128, 6, 6, 1, 28, 2, 2, 0},
    {"lenet.pool2", true, 128, 16, 16, 1, 10, 2, 2, 0},
    {"resnet.stem", false, 64, 1, 16, 1, 28, 3, 1, 1},
    {"resnet.l0", false, 64, 16, 16, 1, 28, 3, 1, 1},
    {"resnet.l1a", false, 64, 16, 32, 1, 28, 3, 2, 1},
    {"resnet.l1b", false, 64, 32, 32, 1, 14, 3, 1, 1},
    {"resnet.l1sc", false, 64, 16, 32, 1, 28, 1, 2, 0},
    {"resnet.l2a", false, 64, 32, 64, 1, 14, 3, 2, 1},
    {"resnet.l2b", false, 64, 64, 64, 1, 7, 3, 1, 1},
    {"mobilenet.stem", false, 64, 1, 16, 1, 28, 3, 2, 1},
    {"mobilenet.dw14", false, 64, 16, 16, 16, 14, 3, 1, 1},
    {"mobilenet.dw14s2", false, 64, 32, 32, 32, 14, 3, 2, 1},
    {"mobilenet.dw7", false, 64, 64, 64, 64, 7, 3, 1, 1},
    {"mobilenet.dw7s2", false, 64, 64, 64, 64, 7, 3, 2, 1},
    {"mobilenet.dw4", false, 64, 128, 128, 128, 4, 3, 1, 1},
    {"mobilenet.pw7", false, 64, 64, 64, 1, 7, 1, 1, 0},
    {"r18.pool3s2", true, 16, 64, 64, 1, 56, 3, 2, 1},
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static float *random_floats(int64_t n)
{
    float *p = au_malloc_aligned((size_t)(n ? n : 1) * sizeof(float));
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (int64_t i = 0; p && i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        p[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
    return p;
}

static struct au_win2d win_of(const struct shape *s)
{
    int64_t o = (s->hw + 2 * s->pad - s->k) / s->s + 1;
    return (struct au_win2d){.h = s->hw,
                             .w = s->hw,
                             .oh = o,
                             .ow = o,
                             .kh = s->k,
                             .kw = s->k,
                             .sh = s->s,
                             .sw = s->s,
                             .dh = 1,
                             .dw = 1,
                             .pt = s->pad,
                             .pl = s->pad,
                             .pb = s->pad,
                             .pr = s->pad};
}

/* Best time of runs calls, in ms; -1 if out of memory. */
static double run_shape(const struct shape *s, int runs)
{
    struct au_conv2d p = {win_of(s), s->n, s->c_in, s->c_out, s->group};
    const struct au_win2d *g = &p.g;
    size_t scratch = s->is_pool ? au_kern_pool_scratch(g) : au_kern_conv2d_scratch(&p);
    float *x = random_floats(s->n * s->c_in * g->h * g->w);
    float *w = random_floats(s->c_out * s->c_in / s->group * g->kh * g->kw);
    float *b = random_floats(s->c_out);
    float *y = au_malloc_aligned((size_t)(s->n * s->c_out * g->oh * g->ow) * sizeof(float));
    void *sc = au_malloc_aligned(scratch ? scratch : 1);
    double best = -1;
    for (int r = 0; x && w && b && y && sc && r < runs; r++) {
        double t0 = now_ms();
        if (s->is_pool)
            au_kern_maxpool2d(g, s->n * s->c_in, x, y, sc);
        else
            au_kern_conv2d(&p, x, w, b, y, sc);
        double t = now_ms() - t0;
        best = best < 0 || t < best ? t : best;
    }
    au_free_aligned(x);
    au_free_aligned(w);
    au_free_aligned(b);
    au_free_aligned(y);
    au_free_aligned(sc);
    return best;
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : "";
    int runs = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 20;
    au_set_threads(1);
    for (size_t i = 0; i < sizeof(SHAPES) / sizeof(SHAPES[0]); i++) {
        const struct shape *s = &SHAPES[i];
        if (filter[0] == '=' ? strcmp(s->name, filter + 1) != 0 : !strstr(s->name, filter))
            continue;
        double ms = run_shape(s, runs < 1 ? 1 : runs);
        printf("%-18s %9.3f ms\n", s->name, ms);
    }
    return 0;
}
