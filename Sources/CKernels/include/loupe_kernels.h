/* Loupe's own C kernels, one function per file, each with a path per instruction set chosen
 * by the caller (LoupeTensor's ISAPath: 2 AVX-512, 1 AVX2, 0 baseline). Every path of a kernel
 * returns bit-identical results: the same operations in the same order, no contraction into
 * FMA (the target is compiled with -ffp-contract=off). */
#ifndef LOUPE_KERNELS_H
#define LOUPE_KERNELS_H

#include <stddef.h>

/* out[r] = the squared Euclidean norm of row r of x (rows x d floats, row r at x + r * stride),
 * in float64: term i = (double)x[i] * (double)x[i] goes to partial sum i mod 8, each partial
 * sum in index order, then the eight sums are added 0 to 7 left to right. */
void loupe_row_squared_norms(const float *x, size_t rows, size_t d, size_t stride, double *out, int isa);

/* The gradient g passed back through a clamp to [lo, hi] (a Relu: lo 0, no cap) whose output is
 * y, under a ReLU rule: 0 standard, g where lo < y < hi; 1 deconvnet, max(g, 0) where y < hi;
 * 2 guided, g where lo < y < hi and g > 0; 3 redirected, g where (y > lo or g > 0) and y < hi.
 * Without `capped` the test y < hi is left out (an input of +inf passes, as through a Relu).
 * Elementwise over n floats; out may be g. */
void loupe_clamp_gradient(const float *g, const float *y, float *out, size_t n, float lo, float hi,
                          int capped, int rule);

/* out[i] = a[i] + b[i] over n floats; out may be a or b. */
void loupe_add_arrays(const float *a, const float *b, float *out, size_t n);

#endif
