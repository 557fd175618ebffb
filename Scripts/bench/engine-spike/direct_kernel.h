/*
 * A register-blocked NCHWc direct convolution (forward, batch 1) and an FMA peak loop,
 * written once and compiled per instruction set: direct_avx512.c includes this file with
 * VL 16 (zmm), direct_avx2.c with VL 8 (ymm). Only those two files get -mavx512f / -mavx2
 * -mfma; spike.c (the driver) is compiled for baseline x86-64 and picks one at run time.
 *
 * Layouts (CB = channels per input block: VL, or the image's 3 channels for the stem):
 *   x: [IC/CB][H + 2 pad][W + 2 pad][CB]     input, already zero-padded (in an engine the
 *                                            producer would write into the padded buffer)
 *   w: [OC/(R*VL)][IC/CB][KH][KW][CB][R][VL] weights, packed once per model for blocking R
 *   y: [OC/VL][OH][OW][VL]                   output (NCHWc with c = VL)
 * The micro-kernel keeps R x P accumulators (R output-channel vectors times P output
 * pixels of one row) in registers across the whole reduction over IC, KH, KW: per input
 * channel and tap it loads R weight vectors, broadcasts P input values and issues R*P FMAs.
 * No cache blocking of the reduction, no prefetching, no tail handling beyond "OW must be a
 * multiple of P and OC of R*VL": enough for ResNet-50's shapes, not a finished kernel.
 */
#include <stddef.h>
#include <immintrin.h>
#include "spike.h"

#ifndef VL
#error "define VL"
#endif
#if VL == 16
typedef __m512 vec;
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VSET1(s) _mm512_set1_ps(s)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VZERO() _mm512_setzero_ps()
#define VMAX(a, b) _mm512_max_ps(a, b)
#define SUFFIX(name) name##_avx512
#elif VL == 8
typedef __m256 vec;
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VSET1(s) _mm256_set1_ps(s)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VZERO() _mm256_setzero_ps()
#define VMAX(a, b) _mm256_max_ps(a, b)
#define SUFFIX(name) name##_avx2
#else
#error "VL must be 16 or 8"
#endif

#define MAXR 4
#define MAXP 14

/* One block: output channels [og*R*VL, (og+1)*R*VL), output row oh, pixels [ow0, ow0+P). */
static inline __attribute__((always_inline)) void block(const direct_conv *c, const float *x, const float *w,
                                                        const float *bias, float *y, int og, int oh, int ow0,
                                                        const int R, const int P) {
    vec acc[MAXR][MAXP];
    for (int j = 0; j < R; j++) {
        vec b = bias ? VLOAD(bias + (og * R + j) * VL) : VZERO();
        for (int p = 0; p < P; p++) acc[j][p] = b;
    }
    const int CB = c->cb, Hp = c->hp, Wp = c->wp, s = c->stride;
    const int icbs = c->ic / CB;
    const float *wg = w + (size_t)og * icbs * c->k * c->k * CB * R * VL;
    for (int icb = 0; icb < icbs; icb++) {
        for (int kh = 0; kh < c->k; kh++) {
            const float *xrow = x + (((size_t)icb * Hp + oh * s + kh) * Wp + ow0 * s) * CB;
            for (int kw = 0; kw < c->k; kw++) {
                const float *xp = xrow + kw * CB;
                for (int ic = 0; ic < CB; ic++) {
                    vec wv[MAXR];
                    for (int j = 0; j < R; j++) wv[j] = VLOAD(wg + j * VL);
                    wg += R * VL;
#pragma GCC unroll 14
                    for (int p = 0; p < P; p++) {
                        vec b = VSET1(xp[p * s * CB + ic]);
#pragma GCC unroll 4
                        for (int j = 0; j < R; j++) acc[j][p] = VFMA(wv[j], b, acc[j][p]);
                    }
                }
            }
        }
    }
    for (int j = 0; j < R; j++) {
        float *yp = y + (((size_t)(og * R + j) * c->oh + oh) * c->ow + ow0) * VL;
        for (int p = 0; p < P; p++) {
            vec v = acc[j][p];
            if (c->relu) v = VMAX(v, VZERO());
            VSTORE(yp + p * VL, v);
        }
    }
}

#define KERNEL(R, P)                                                                              \
    static void kernel_##R##_##P(const direct_conv *c, const float *x, const float *w,            \
                                 const float *bias, float *y) {                                   \
        const int groups = c->oc / (R * VL);                                                      \
        _Pragma("omp parallel for collapse(2) schedule(static)")                                  \
        for (int og = 0; og < groups; og++)                                                       \
            for (int oh = 0; oh < c->oh; oh++)                                                    \
                for (int ow0 = 0; ow0 < c->ow; ow0 += P) block(c, x, w, bias, y, og, oh, ow0, R, P); \
    }

#if VL == 16
KERNEL(2, 14)
KERNEL(4, 7)
KERNEL(2, 7)
KERNEL(1, 14)
static const direct_variant variants[] = {{2, 14, kernel_2_14}, {4, 7, kernel_4_7}, {2, 7, kernel_2_7},
                                          {1, 14, kernel_1_14}};
#else
KERNEL(1, 14)
KERNEL(2, 7)
KERNEL(1, 7)
KERNEL(3, 4)
static const direct_variant variants[] = {{1, 14, kernel_1_14}, {2, 7, kernel_2_7}, {1, 7, kernel_1_7},
                                          {3, 4, kernel_3_4}};
#endif

const direct_variant *SUFFIX(direct_variants)(int *count) {
    *count = (int)(sizeof variants / sizeof variants[0]);
    return variants;
}

/* FMA throughput: `chains` independent accumulators, each FMA depending on its own last. */
double SUFFIX(fma_peak_loop)(long iterations) {
    vec a[24];
    for (int i = 0; i < 24; i++) a[i] = VSET1(1.0f + i * 1e-7f);
    const vec m = VSET1(0.999999f), k = VSET1(1e-7f);
    for (long it = 0; it < iterations; it++) {
#pragma GCC unroll 24
        for (int i = 0; i < (VL == 16 ? 24 : 12); i++) a[i] = VFMA(a[i], m, k);
    }
    vec s = VZERO();
    for (int i = 0; i < 24; i++) s = VMAX(s, a[i]);
    float out[VL];
    VSTORE(out, s);
    return (double)out[0]; /* keeps the loop alive */
}

int SUFFIX(fma_chains)(void) { return VL == 16 ? 24 : 12; }
