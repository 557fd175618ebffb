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

#endif
