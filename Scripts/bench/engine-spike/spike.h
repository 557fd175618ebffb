/* Shared declarations of the engine spike (see spike.c). */
#ifndef SPIKE_H
#define SPIKE_H

/* One forward convolution for the NCHWc direct kernels (batch 1, square kernel and stride). */
typedef struct {
    int ic, oc, k, stride, pad;
    int cb;       /* input channels per block: VL, or ic when ic < VL (the stem) */
    int hp, wp;   /* padded input height and width */
    int oh, ow;
    int relu;
} direct_conv;

typedef void (*direct_fn)(const direct_conv *c, const float *x, const float *w, const float *bias, float *y);

/* A register blocking: r output-channel vectors by p output pixels. */
typedef struct {
    int r, p;
    direct_fn run;
} direct_variant;

const direct_variant *direct_variants_avx512(int *count);
const direct_variant *direct_variants_avx2(int *count);
double fma_peak_loop_avx512(long iterations);
double fma_peak_loop_avx2(long iterations);
int fma_chains_avx512(void);
int fma_chains_avx2(void);

#endif
