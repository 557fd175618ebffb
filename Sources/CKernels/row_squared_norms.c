#include "loupe_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* The definition: eight partial sums, lane i mod 8, in index order; then 0 + 1 + ... + 7. */
static double finish(const double lanes[8]) {
    double s = lanes[0];
    for (int l = 1; l < 8; l++) s += lanes[l];
    return s;
}

static void tail(const float *x, size_t from, size_t d, double lanes[8]) {
    for (size_t i = from; i < d; i++) lanes[i & 7] += (double)x[i] * (double)x[i];
}

static void baseline(const float *x, size_t rows, size_t d, size_t stride, double *out) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * stride;
        double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        size_t i = 0;
        for (; i + 8 <= d; i += 8)
            for (int l = 0; l < 8; l++) lanes[l] += (double)row[i + l] * (double)row[i + l];
        tail(row, i, d, lanes);
        out[r] = finish(lanes);
    }
}

#if defined(__x86_64__)
/* Four rows at a time, so that four independent chains of additions hide their latency. */
__attribute__((target("avx512f")))
static void avx512(const float *x, size_t rows, size_t d, size_t stride, double *out) {
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const float *p0 = x + r * stride, *p1 = p0 + stride, *p2 = p1 + stride, *p3 = p2 + stride;
        __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        size_t i = 0;
        for (; i + 8 <= d; i += 8) {
            __m512d v0 = _mm512_cvtps_pd(_mm256_loadu_ps(p0 + i));
            __m512d v1 = _mm512_cvtps_pd(_mm256_loadu_ps(p1 + i));
            __m512d v2 = _mm512_cvtps_pd(_mm256_loadu_ps(p2 + i));
            __m512d v3 = _mm512_cvtps_pd(_mm256_loadu_ps(p3 + i));
            a0 = _mm512_add_pd(a0, _mm512_mul_pd(v0, v0));
            a1 = _mm512_add_pd(a1, _mm512_mul_pd(v1, v1));
            a2 = _mm512_add_pd(a2, _mm512_mul_pd(v2, v2));
            a3 = _mm512_add_pd(a3, _mm512_mul_pd(v3, v3));
        }
        double lanes[4][8];
        _mm512_storeu_pd(lanes[0], a0);
        _mm512_storeu_pd(lanes[1], a1);
        _mm512_storeu_pd(lanes[2], a2);
        _mm512_storeu_pd(lanes[3], a3);
        const float *p[4] = {p0, p1, p2, p3};
        for (int k = 0; k < 4; k++) {
            tail(p[k], i, d, lanes[k]);
            out[r + k] = finish(lanes[k]);
        }
    }
    baseline(x + r * stride, rows - r, d, stride, out + r);
}

/* Lanes 0-3 and 4-7 of each row in two registers; two rows at a time. */
__attribute__((target("avx2")))
static void avx2(const float *x, size_t rows, size_t d, size_t stride, double *out) {
    size_t r = 0;
    for (; r + 2 <= rows; r += 2) {
        const float *p0 = x + r * stride, *p1 = p0 + stride;
        __m256d a0 = _mm256_setzero_pd(), b0 = a0, a1 = a0, b1 = a0;
        size_t i = 0;
        for (; i + 8 <= d; i += 8) {
            __m256d v0 = _mm256_cvtps_pd(_mm_loadu_ps(p0 + i)), w0 = _mm256_cvtps_pd(_mm_loadu_ps(p0 + i + 4));
            __m256d v1 = _mm256_cvtps_pd(_mm_loadu_ps(p1 + i)), w1 = _mm256_cvtps_pd(_mm_loadu_ps(p1 + i + 4));
            a0 = _mm256_add_pd(a0, _mm256_mul_pd(v0, v0));
            b0 = _mm256_add_pd(b0, _mm256_mul_pd(w0, w0));
            a1 = _mm256_add_pd(a1, _mm256_mul_pd(v1, v1));
            b1 = _mm256_add_pd(b1, _mm256_mul_pd(w1, w1));
        }
        double lanes[2][8];
        _mm256_storeu_pd(lanes[0], a0);
        _mm256_storeu_pd(lanes[0] + 4, b0);
        _mm256_storeu_pd(lanes[1], a1);
        _mm256_storeu_pd(lanes[1] + 4, b1);
        tail(p0, i, d, lanes[0]);
        tail(p1, i, d, lanes[1]);
        out[r] = finish(lanes[0]);
        out[r + 1] = finish(lanes[1]);
    }
    baseline(x + r * stride, rows - r, d, stride, out + r);
}
#endif

void loupe_row_squared_norms(const float *x, size_t rows, size_t d, size_t stride, double *out, int isa) {
#if defined(__x86_64__)
    if (isa >= 2) { avx512(x, rows, d, stride, out); return; }
    if (isa == 1) { avx2(x, rows, d, stride, out); return; }
#endif
    (void)isa;
    baseline(x, rows, d, stride, out);
}
