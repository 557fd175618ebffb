/*
 * Engine spike for issue 17: times ResNet-50's convolution shapes (batch 1) three ways on
 * the same inputs, in one process:
 *
 *   loupe     what Loupe does today (Sources/LoupeTensor/Conv2D.swift): im2col in tiles of
 *             output rows + OpenBLAS cblas_sgemm on one OpenBLAS thread per worker, the work
 *             split across T threads the way conv2d splits it; NCHW in and out, bias fused.
 *   onednn    oneDNN (Debian's libdnnl 2.6) forward convolution, direct algorithm,
 *             forward_inference, with the layouts it prefers (format_tag any) for source,
 *             weights and destination; the reorders from/to plain NCHW are timed apart
 *             (weights are reordered once per model and not timed per call). Also the
 *             backward-data convolution (the input gradient) on its preferred layouts, and
 *             its Winograd forward for the 3x3 stride-1 shapes where it has one.
 *   own       this directory's register-blocked NCHWc direct convolution
 *             (direct_kernel.h) for AVX-512 and AVX2, the best of a few register blockings
 *             per shape (chosen by timing here, as an engine could at plan time).
 *
 * Input: a shapes file, one convolution a line: `IC H W OC K STRIDE PAD COUNT [GROUPS]`
 * (COUNT = how many times the model has it; written by run.py from torchvision). Grouped
 * (depthwise) convolutions are timed with oneDNN only.
 * Output: tab-separated lines `shapeN<TAB>method<TAB>median_ms<TAB>gflops<TAB>min_ms<TAB>cpu_ms<TAB>note`
 * (wall-clock median, GFLOP/s at it, fastest run, median process CPU time),
 * `check` lines (max |error| / max |reference| against the naive kernels) with --check,
 * `peak` lines (isa, threads, median ms, GFLOP/s at the median, at the fastest run and per
 * CPU-second at the median CPU time: one core's rate) with
 * --peak, and `#` lines describing the run and each shape.
 *
 * Options: --shapes FILE --threads T --runs R --warmup W --check --peak
 *          --methods loupe,onednn,own512,own2   --onednn-isa env|all|avx512_core|avx2|sse41
 *          (env, the default: oneDNN's cap comes from ONEDNN_MAX_CPU_ISA if set)
 */
#define _GNU_SOURCE
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include "spike.h"

void openblas_set_num_threads(int);
char *openblas_get_corename(void);

static int threads = 2, runs = 15, warmup = 3, check = 0;

#define DNNL_CHECK(call)                                                                  \
    do {                                                                                  \
        dnnl_status_t st_ = (call);                                                       \
        if (st_ != dnnl_success) {                                                        \
            fprintf(stderr, "spike: %s failed with status %d at line %d\n", #call, st_, __LINE__); \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

typedef struct {
    int ic, h, w, oc, k, stride, pad, count;
    int groups; /* 1, or ic for a depthwise convolution (oneDNN only) */
    int oh, ow;
    double flops; /* 2 * MACs */
} shape;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *alloc_floats(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0) {
        fprintf(stderr, "spike: out of memory (%zu floats)\n", n);
        exit(1);
    }
    memset(p, 0, (n ? n : 1) * sizeof(float));
    return p;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float uniform(void) { /* SplitMix64 -> [0, 1) */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((z >> 40) * (1.0 / 16777216.0));
}

typedef void (*work_fn)(void *ctx);

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The fastest of the last time_median's runs, and the median of its process CPU time. On a
 * machine shared with other jobs the wall-clock median carries their load (a thread that
 * loses its core stalls the parallel region); the fastest run shows what the kernel does
 * when it gets the cores, and on one thread the CPU time is what it costs regardless of load
 * (on two it also counts the time a thread spins waiting for the other). */
static double last_min, last_cpu;

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double median_of(double *t, int n) {
    qsort(t, n, sizeof(double), cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Median wall time in milliseconds of `runs` calls after `warmup` untimed ones. */
static double time_median(work_fn f, void *ctx) {
    for (int i = 0; i < warmup; i++) f(ctx);
    double *t = malloc(sizeof(double) * runs), *c = malloc(sizeof(double) * runs);
    for (int i = 0; i < runs; i++) {
        double c0 = cpu_now(), t0 = now();
        f(ctx);
        t[i] = (now() - t0) * 1e3;
        c[i] = (cpu_now() - c0) * 1e3;
    }
    double m = median_of(t, runs);
    last_min = t[0];
    last_cpu = median_of(c, runs);
    free(t);
    free(c);
    return m;
}

/* One result line: shape, method, median ms, GFLOP/s at the median, fastest ms, median CPU
 * ms, note. A method that was not run (a reorder between equal layouts) reports 0. */
static void report(int id, const char *method, double ms, double flops, const char *note) {
    double mn = ms > 0 ? last_min : 0, cpu = ms > 0 ? last_cpu : 0;
    printf("shape%d\t%s\t%.4f\t%.2f\t%.4f\t%.4f\t%s\n", id, method, ms, flops > 0 ? flops / (ms * 1e6) : 0.0, mn,
           cpu, note);
    fflush(stdout);
}

/* ---------------------------------------------------------------- naive references */

/* y[oc][oh][ow] = bias[oc] + sum x[ic][ih][iw] * w[oc][ic - ic0][kh][kw] over the input
 * channels ic0.. of oc's group, double accumulation. */
static void conv_naive(const shape *s, const float *x, const float *w, const float *bias, float *y) {
    const int icg = s->ic / s->groups, ocg = s->oc / s->groups;
#pragma omp parallel for schedule(dynamic)
    for (int oc = 0; oc < s->oc; oc++) {
        double *acc = calloc((size_t)s->oh * s->ow, sizeof(double));
        const int ic0 = oc / ocg * icg;
        for (int ic = ic0; ic < ic0 + icg; ic++)
            for (int kh = 0; kh < s->k; kh++)
                for (int kw = 0; kw < s->k; kw++) {
                    double wv = w[(((size_t)oc * icg + ic - ic0) * s->k + kh) * s->k + kw];
                    for (int oh = 0; oh < s->oh; oh++) {
                        int ih = oh * s->stride - s->pad + kh;
                        if (ih < 0 || ih >= s->h) continue;
                        for (int ow = 0; ow < s->ow; ow++) {
                            int iw = ow * s->stride - s->pad + kw;
                            if (iw < 0 || iw >= s->w) continue;
                            acc[oh * s->ow + ow] += wv * x[((size_t)ic * s->h + ih) * s->w + iw];
                        }
                    }
                }
        for (int i = 0; i < s->oh * s->ow; i++) y[(size_t)oc * s->oh * s->ow + i] = (float)(acc[i] + bias[oc]);
        free(acc);
    }
}

/* dx[ic][ih][iw] = sum over (oc of ic's group, kh, kw) reaching it of dy[oc][oh][ow] * w[oc][ic - ic0][kh][kw]. */
static void conv_backward_data_naive(const shape *s, const float *dy, const float *w, float *dx) {
    const int icg = s->ic / s->groups, ocg = s->oc / s->groups;
#pragma omp parallel for schedule(dynamic)
    for (int ic = 0; ic < s->ic; ic++) {
        double *acc = calloc((size_t)s->h * s->w, sizeof(double));
        const int g = ic / icg, ic0 = g * icg;
        for (int oc = g * ocg; oc < (g + 1) * ocg; oc++)
            for (int kh = 0; kh < s->k; kh++)
                for (int kw = 0; kw < s->k; kw++) {
                    double wv = w[(((size_t)oc * icg + ic - ic0) * s->k + kh) * s->k + kw];
                    for (int oh = 0; oh < s->oh; oh++) {
                        int ih = oh * s->stride - s->pad + kh;
                        if (ih < 0 || ih >= s->h) continue;
                        for (int ow = 0; ow < s->ow; ow++) {
                            int iw = ow * s->stride - s->pad + kw;
                            if (iw < 0 || iw >= s->w) continue;
                            acc[ih * s->w + iw] += wv * dy[((size_t)oc * s->oh + oh) * s->ow + ow];
                        }
                    }
                }
        for (int i = 0; i < s->h * s->w; i++) dx[(size_t)ic * s->h * s->w + i] = (float)acc[i];
        free(acc);
    }
}

/* max |a - ref| / max |ref| */
static double rel_error(const float *a, const float *ref, size_t n) {
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - ref[i]);
        if (d > e || isnan(d)) e = isnan(d) ? INFINITY : d;
        if (fabs(ref[i]) > m) m = fabs(ref[i]);
    }
    return m > 0 ? e / m : e;
}

/* ---------------------------------------------------------------- Loupe today */

/* im2col of output rows [row0, row0 + rows) of `channels` channels (Loupe's im2col2D). */
static void im2col(const shape *s, const float *x, int channels, float *col, int row0, int rows) {
    const int k = s->k, st = s->stride, pad = s->pad, ow_n = s->ow, plane = rows * ow_n;
    for (int r = 0; r < channels * k * k; r++) {
        int c = r / (k * k), kh = (r / k) % k, kw = r % k;
        float *dst = col + (size_t)r * plane;
        const float *src = x + (size_t)c * s->h * s->w;
        for (int oh = 0; oh < rows; oh++) {
            int ih = (row0 + oh) * st - pad + kh;
            float *row = dst + oh * ow_n;
            if (ih < 0 || ih >= s->h) {
                memset(row, 0, sizeof(float) * ow_n);
                continue;
            }
            for (int ow = 0; ow < ow_n; ow++) {
                int iw = ow * st - pad + kw;
                row[ow] = (iw >= 0 && iw < s->w) ? src[ih * s->w + iw] : 0.0f;
            }
        }
    }
}

static void add_bias(float *c, const float *bias, int ch0, int rows, int cols, int ldc) {
    for (int r = 0; r < rows; r++) {
        float *p = c + (size_t)r * ldc, b = bias[ch0 + r];
        for (int j = 0; j < cols; j++) p[j] += b;
    }
}

static void sgemm1(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}

/* Loupe's gemmSplitRows: rows of A and C across the threads (at least 32 rows each). */
static void gemm_split_rows(int m, int n, int k, const float *a, const float *b, float *c, const float *bias) {
    int parts = threads < m / 32 ? threads : (m / 32 > 0 ? m / 32 : 1);
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int p = 0; p < parts; p++) {
        int r0 = p * m / parts, r1 = (p + 1) * m / parts;
        sgemm1(r1 - r0, n, k, a + (size_t)r0 * k, k, b, n, c + (size_t)r0 * n, n);
        add_bias(c + (size_t)r0 * n, bias, r0, r1 - r0, n, n);
    }
}

typedef struct {
    const shape *s;
    const float *x, *w, *bias;
    float *y, *col;
    int tile_rows_max, tiles, workers, single_tile_split;
} loupe_ctx;

static void loupe_setup(loupe_ctx *L) {
    const shape *s = L->s;
    int K = s->ic * s->k * s->k;
    int tile_rows = 1 << 18;
    tile_rows = tile_rows / (K * s->ow) > 1 ? tile_rows / (K * s->ow) : 1;
    int min_rows = (512 + s->ow - 1) / s->ow;
    if (tile_rows < min_rows) tile_rows = min_rows;
    if (tile_rows > s->oh) tile_rows = s->oh;
    int tiles = (s->oh + tile_rows - 1) / tile_rows;
    int workers = tiles >= 2 ? (threads < tiles ? threads : tiles) : 1;
    if (workers > 1) {
        int t = (tiles + workers - 1) / workers * workers;
        tiles = t < s->oh ? t : s->oh;
    }
    L->tiles = tiles;
    L->workers = workers;
    L->tile_rows_max = (s->oh + tiles - 1) / tiles;
    L->single_tile_split = workers == 1 && threads > 1 && s->oc >= 64;
    size_t floats = L->single_tile_split ? (size_t)K * s->oh * s->ow : (size_t)workers * K * L->tile_rows_max * s->ow;
    L->col = alloc_floats(floats);
}

static void loupe_run(void *ctx) {
    loupe_ctx *L = ctx;
    const shape *s = L->s;
    const int K = s->ic * s->k * s->k, M = s->oc, plane = s->oh * s->ow;
    if (s->k == 1 && s->stride == 1 && s->pad == 0) {
        int chunks = threads > 1 && plane >= 1024 ? threads : 1;
        if (chunks == 1 && threads > 1 && M >= 64) {
            gemm_split_rows(M, plane, K, L->w, L->x, L->y, L->bias);
            return;
        }
        int width = (plane + chunks - 1) / chunks;
#pragma omp parallel for num_threads(chunks) schedule(static, 1)
        for (int c = 0; c < chunks; c++) {
            int c0 = c * width, cols = plane - c0 < width ? plane - c0 : width;
            if (cols <= 0) continue;
            sgemm1(M, cols, K, L->w, K, L->x + c0, plane, L->y + c0, plane);
            add_bias(L->y + c0, L->bias, 0, M, cols, plane);
        }
        return;
    }
    if (L->single_tile_split) {
        int parts = threads < s->ic ? threads : s->ic;
#pragma omp parallel for num_threads(parts) schedule(static, 1)
        for (int p = 0; p < parts; p++) {
            int c0 = p * s->ic / parts, c1 = (p + 1) * s->ic / parts;
            im2col(s, L->x + (size_t)c0 * s->h * s->w, c1 - c0, L->col + (size_t)c0 * s->k * s->k * plane, 0, s->oh);
        }
        gemm_split_rows(M, plane, K, L->w, L->col, L->y, L->bias);
        return;
    }
    const size_t tile_floats = (size_t)K * L->tile_rows_max * s->ow;
#pragma omp parallel for num_threads(L->workers) schedule(static, 1)
    for (int wk = 0; wk < L->workers; wk++) {
        float *buf = L->col + wk * tile_floats;
        for (int t = wk; t < L->tiles; t += L->workers) {
            int row = t * s->oh / L->tiles, rows = (t + 1) * s->oh / L->tiles - row;
            im2col(s, L->x, s->ic, buf, row, rows);
            float *c = L->y + (size_t)row * s->ow;
            sgemm1(M, rows * s->ow, K, L->w, K, buf, rows * s->ow, c, plane);
            add_bias(c, L->bias, 0, M, rows * s->ow, plane);
        }
    }
}

/* ---------------------------------------------------------------- oneDNN */

static dnnl_engine_t eng;
static dnnl_stream_t strm;

typedef struct {
    dnnl_primitive_t prim;
    dnnl_exec_arg_t args[4];
    int nargs;
} dnnl_call;

static void dnnl_run(void *ctx) {
    dnnl_call *c = ctx;
    DNNL_CHECK(dnnl_primitive_execute(c->prim, strm, c->nargs, c->args));
    DNNL_CHECK(dnnl_stream_wait(strm));
}

static dnnl_memory_t dnnl_mem(const dnnl_memory_desc_t *md, void *handle) {
    dnnl_memory_t m;
    DNNL_CHECK(dnnl_memory_create(&m, md, eng, handle ? handle : DNNL_MEMORY_ALLOCATE));
    return m;
}

static int same_md(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b) { return dnnl_memory_desc_equal(a, b); }

/* A reorder primitive from `from` to `to` (memories), as a timed call. */
static dnnl_call make_reorder(dnnl_memory_t from, dnnl_memory_t to) {
    const dnnl_memory_desc_t *fm, *tm;
    DNNL_CHECK(dnnl_memory_get_memory_desc(from, &fm));
    DNNL_CHECK(dnnl_memory_get_memory_desc(to, &tm));
    dnnl_primitive_desc_t pd;
    DNNL_CHECK(dnnl_reorder_primitive_desc_create(&pd, fm, eng, tm, eng, NULL));
    dnnl_call c = {0};
    DNNL_CHECK(dnnl_primitive_create(&c.prim, pd));
    DNNL_CHECK(dnnl_primitive_desc_destroy(pd));
    c.args[0] = (dnnl_exec_arg_t){DNNL_ARG_FROM, from};
    c.args[1] = (dnnl_exec_arg_t){DNNL_ARG_TO, to};
    c.nargs = 2;
    return c;
}

static void format_md(const dnnl_memory_desc_t *md, char *out, size_t n) {
    /* the blocking of a memory descriptor, e.g. "blocked 16c" or "plain" */
    /* the dimensions from outermost to innermost (by stride), oneDNN's letters: a = N or O,
     * b = C or I, c = H, d = W; inner blocks after a colon, e.g. "abcd:16b" (nChw16c) */
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int order[DNNL_MAX_NDIMS], nd = md->ndims;
    for (int i = 0; i < nd; i++) order[i] = i;
    for (int i = 0; i < nd; i++)
        for (int j = i + 1; j < nd; j++)
            if (b->strides[order[j]] > b->strides[order[i]]) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    int len = 0;
    for (int i = 0; i < nd && len < (int)n; i++) len += snprintf(out + len, n - len, "%c", "abcdef"[order[i]]);
    for (int i = 0; i < b->inner_nblks && len < (int)n; i++)
        len += snprintf(out + len, n - len, "%s%ld%c", i ? "," : ":", (long)b->inner_blks[i], "abcdef"[b->inner_idxs[i]]);
}

static void bench_onednn(int id, const shape *s, const float *x, const float *w, const float *bias,
                         const float *yref, const float *dxref, const float *dy) {
    /* grouped weights are 5-D: (groups, oc/groups, ic/groups, kh, kw), plain tag goihw */
    const int wnd = s->groups > 1 ? 5 : 4;
    dnnl_dims_t w_dims = {s->oc, s->ic, s->k, s->k};
    if (s->groups > 1) {
        dnnl_dims_t g_dims = {s->groups, s->oc / s->groups, s->ic / s->groups, s->k, s->k};
        memcpy(w_dims, g_dims, sizeof g_dims);
    }
    dnnl_dims_t src_dims = {1, s->ic, s->h, s->w}, b_dims = {s->oc},
                dst_dims = {1, s->oc, s->oh, s->ow};
    dnnl_dims_t strides = {s->stride, s->stride}, pad = {s->pad, s->pad};
    /* padding_r as oneDNN wants it: (oh - 1) * stride + k - h - pad */
    dnnl_dims_t pad_r = {(s->oh - 1) * s->stride + s->k - s->h - s->pad, (s->ow - 1) * s->stride + s->k - s->w - s->pad};
    dnnl_memory_desc_t src_any, w_any, b_md, dst_any, src_plain, w_plain, dst_plain;
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&src_any, 4, src_dims, dnnl_f32, dnnl_format_tag_any));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&w_any, wnd, w_dims, dnnl_f32, dnnl_format_tag_any));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&dst_any, 4, dst_dims, dnnl_f32, dnnl_format_tag_any));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&b_md, 1, b_dims, dnnl_f32, dnnl_a));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&src_plain, 4, src_dims, dnnl_f32, dnnl_nchw));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&w_plain, wnd, w_dims, dnnl_f32, s->groups > 1 ? dnnl_goihw : dnnl_oihw));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&dst_plain, 4, dst_dims, dnnl_f32, dnnl_nchw));

    /* forward inference */
    dnnl_convolution_desc_t cd;
    DNNL_CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src_any,
                                                  &w_any, &b_md, &dst_any, strides, pad, pad_r));
    dnnl_primitive_desc_t pd;
    DNNL_CHECK(dnnl_primitive_desc_create(&pd, &cd, NULL, eng, NULL));
    const char *impl = NULL;
    DNNL_CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *wt_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    char srcf[64], wf[64], dstf[64], note[320];
    format_md(src_md, srcf, sizeof srcf);
    format_md(wt_md, wf, sizeof wf);
    format_md(dst_md, dstf, sizeof dstf);
    snprintf(note, sizeof note, "%s src=%s wei=%s dst=%s", impl, srcf, wf, dstf);

    dnnl_memory_t m_src_plain = dnnl_mem(&src_plain, (void *)x), m_w_plain = dnnl_mem(&w_plain, (void *)w),
                  m_b = dnnl_mem(&b_md, (void *)bias), m_src = dnnl_mem(src_md, NULL), m_w = dnnl_mem(wt_md, NULL),
                  m_dst = dnnl_mem(dst_md, NULL), m_dst_plain = dnnl_mem(&dst_plain, NULL);
    dnnl_call wre = make_reorder(m_w_plain, m_w); /* once per model */
    dnnl_run(&wre);
    dnnl_call sre = make_reorder(m_src_plain, m_src), dre = make_reorder(m_dst, m_dst_plain);
    dnnl_call conv = {0};
    DNNL_CHECK(dnnl_primitive_create(&conv.prim, pd));
    conv.args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, m_src};
    conv.args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, m_w};
    conv.args[2] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, m_b};
    conv.args[3] = (dnnl_exec_arg_t){DNNL_ARG_DST, m_dst};
    conv.nargs = 4;
    dnnl_run(&sre);
    report(id, "onednn_fwd", time_median(dnnl_run, &conv), s->flops, note);
    report(id, "onednn_src_reorder", same_md(src_md, &src_plain) ? 0.0 : time_median(dnnl_run, &sre), 0, srcf);
    report(id, "onednn_dst_reorder", same_md(dst_md, &dst_plain) ? 0.0 : time_median(dnnl_run, &dre), 0, dstf);
    report(id, "onednn_wei_reorder_once", time_median(dnnl_run, &wre), 0, wf);
    if (check) {
        dnnl_run(&conv);
        dnnl_run(&dre);
        void *yp;
        DNNL_CHECK(dnnl_memory_get_data_handle(m_dst_plain, &yp));
        printf("check\tshape%d\tonednn_fwd\t%.3g\n", id, rel_error(yp, yref, (size_t)s->oc * s->oh * s->ow));
    }

    /* Winograd (3x3 stride 1 only; oneDNN 2.6 has f32 Winograd for AVX-512 only): same
     * layouts as it prefers, reorders not timed. Skipped when oneDNN has no implementation. */
    if (s->k == 3 && s->stride == 1 && s->groups == 1) {
        dnnl_convolution_desc_t wd;
        dnnl_primitive_desc_t wpd;
        DNNL_CHECK(dnnl_convolution_forward_desc_init(&wd, dnnl_forward_inference, dnnl_convolution_winograd, &src_any,
                                                      &w_any, &b_md, &dst_any, strides, pad, pad_r));
        if (dnnl_primitive_desc_create(&wpd, &wd, NULL, eng, NULL) == dnnl_success) {
            const char *wimpl = NULL;
            DNNL_CHECK(dnnl_primitive_desc_query(wpd, dnnl_query_impl_info_str, 0, &wimpl));
            dnnl_memory_t ws = dnnl_mem(dnnl_primitive_desc_query_md(wpd, dnnl_query_src_md, 0), NULL),
                          ww = dnnl_mem(dnnl_primitive_desc_query_md(wpd, dnnl_query_weights_md, 0), NULL),
                          wdst = dnnl_mem(dnnl_primitive_desc_query_md(wpd, dnnl_query_dst_md, 0), NULL),
                          wdst_plain = dnnl_mem(&dst_plain, NULL);
            dnnl_call r1 = make_reorder(m_src_plain, ws), r2 = make_reorder(m_w_plain, ww), r3 = make_reorder(wdst, wdst_plain);
            dnnl_run(&r1);
            dnnl_run(&r2);
            dnnl_call wc = {0};
            DNNL_CHECK(dnnl_primitive_create(&wc.prim, wpd));
            wc.args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, ws};
            wc.args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, ww};
            wc.args[2] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, m_b};
            wc.args[3] = (dnnl_exec_arg_t){DNNL_ARG_DST, wdst};
            wc.nargs = 4;
            report(id, "onednn_winograd", time_median(dnnl_run, &wc), s->flops, wimpl);
            if (check) {
                dnnl_run(&wc);
                dnnl_run(&r3);
                void *yp;
                DNNL_CHECK(dnnl_memory_get_data_handle(wdst_plain, &yp));
                printf("check\tshape%d\tonednn_winograd\t%.3g\n", id, rel_error(yp, yref, (size_t)s->oc * s->oh * s->ow));
            }
            dnnl_primitive_t ps[] = {r1.prim, r2.prim, r3.prim, wc.prim};
            for (int i = 0; i < 4; i++) dnnl_primitive_destroy(ps[i]);
            dnnl_memory_t ms[] = {ws, ww, wdst, wdst_plain};
            for (int i = 0; i < 4; i++) dnnl_memory_destroy(ms[i]);
            dnnl_primitive_desc_destroy(wpd);
        } else {
            printf("# shape%d onednn_winograd: no implementation at this ISA\n", id);
        }
    }

    /* backward data: diff_src from diff_dst and the weights */
    dnnl_convolution_desc_t fd, bd;
    DNNL_CHECK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &src_any,
                                                  &w_any, &b_md, &dst_any, strides, pad, pad_r));
    dnnl_primitive_desc_t fpd, bpd;
    DNNL_CHECK(dnnl_primitive_desc_create(&fpd, &fd, NULL, eng, NULL));
    DNNL_CHECK(dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &src_any, &w_any, &dst_any,
                                                        strides, pad, pad_r));
    DNNL_CHECK(dnnl_primitive_desc_create(&bpd, &bd, NULL, eng, fpd));
    const char *bimpl = NULL;
    DNNL_CHECK(dnnl_primitive_desc_query(bpd, dnnl_query_impl_info_str, 0, &bimpl));
    const dnnl_memory_desc_t *dsrc_md = dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0);
    const dnnl_memory_desc_t *bw_md = dnnl_primitive_desc_query_md(bpd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *ddst_md = dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_dst_md, 0);
    format_md(dsrc_md, srcf, sizeof srcf);
    format_md(bw_md, wf, sizeof wf);
    format_md(ddst_md, dstf, sizeof dstf);
    snprintf(note, sizeof note, "%s diff_src=%s wei=%s diff_dst=%s", bimpl, srcf, wf, dstf);
    dnnl_memory_t m_dy_plain = dnnl_mem(&dst_plain, (void *)dy), m_dy = dnnl_mem(ddst_md, NULL),
                  m_bw = dnnl_mem(bw_md, NULL), m_dx = dnnl_mem(dsrc_md, NULL), m_dx_plain = dnnl_mem(&src_plain, NULL);
    dnnl_call bwre = make_reorder(m_w_plain, m_bw), dyre = make_reorder(m_dy_plain, m_dy),
              dxre = make_reorder(m_dx, m_dx_plain);
    dnnl_run(&bwre);
    dnnl_run(&dyre);
    dnnl_call bwd = {0};
    DNNL_CHECK(dnnl_primitive_create(&bwd.prim, bpd));
    bwd.args[0] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, m_dy};
    bwd.args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, m_bw};
    bwd.args[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SRC, m_dx};
    bwd.nargs = 3;
    report(id, "onednn_bwd_data", time_median(dnnl_run, &bwd), s->flops, note);
    if (check) {
        dnnl_run(&bwd);
        dnnl_run(&dxre);
        void *dxp;
        DNNL_CHECK(dnnl_memory_get_data_handle(m_dx_plain, &dxp));
        printf("check\tshape%d\tonednn_bwd_data\t%.3g\n", id, rel_error(dxp, dxref, (size_t)s->ic * s->h * s->w));
    }
    /* Winograd backward-data (3x3 stride 1), where oneDNN has it: timed on its own layouts */
    if (s->k == 3 && s->stride == 1 && s->groups == 1) {
        dnnl_convolution_desc_t wfd, wbd;
        dnnl_primitive_desc_t wfpd, wbpd;
        DNNL_CHECK(dnnl_convolution_forward_desc_init(&wfd, dnnl_forward_training, dnnl_convolution_winograd, &src_any,
                                                      &w_any, &b_md, &dst_any, strides, pad, pad_r));
        DNNL_CHECK(dnnl_convolution_backward_data_desc_init(&wbd, dnnl_convolution_winograd, &src_any, &w_any, &dst_any,
                                                            strides, pad, pad_r));
        if (dnnl_primitive_desc_create(&wfpd, &wfd, NULL, eng, NULL) == dnnl_success &&
            dnnl_primitive_desc_create(&wbpd, &wbd, NULL, eng, wfpd) == dnnl_success) {
            const char *wimpl = NULL;
            DNNL_CHECK(dnnl_primitive_desc_query(wbpd, dnnl_query_impl_info_str, 0, &wimpl));
            dnnl_memory_t a = dnnl_mem(dnnl_primitive_desc_query_md(wbpd, dnnl_query_diff_dst_md, 0), NULL),
                          b = dnnl_mem(dnnl_primitive_desc_query_md(wbpd, dnnl_query_weights_md, 0), NULL),
                          c = dnnl_mem(dnnl_primitive_desc_query_md(wbpd, dnnl_query_diff_src_md, 0), NULL),
                          cp = dnnl_mem(&src_plain, NULL);
            dnnl_call r1 = make_reorder(m_dy_plain, a), r2 = make_reorder(m_w_plain, b), r3 = make_reorder(c, cp);
            dnnl_run(&r1);
            dnnl_run(&r2);
            dnnl_call wb = {0};
            DNNL_CHECK(dnnl_primitive_create(&wb.prim, wbpd));
            wb.args[0] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, a};
            wb.args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, b};
            wb.args[2] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SRC, c};
            wb.nargs = 3;
            report(id, "onednn_winograd_bwd_data", time_median(dnnl_run, &wb), s->flops, wimpl);
            if (check) {
                dnnl_run(&wb);
                dnnl_run(&r3);
                void *p;
                DNNL_CHECK(dnnl_memory_get_data_handle(cp, &p));
                printf("check\tshape%d\tonednn_winograd_bwd_data\t%.3g\n", id, rel_error(p, dxref, (size_t)s->ic * s->h * s->w));
            }
            dnnl_primitive_t ps[] = {r1.prim, r2.prim, r3.prim, wb.prim};
            for (int i = 0; i < 4; i++) dnnl_primitive_destroy(ps[i]);
            dnnl_memory_t ms[] = {a, b, c, cp};
            for (int i = 0; i < 4; i++) dnnl_memory_destroy(ms[i]);
            dnnl_primitive_desc_destroy(wfpd);
            dnnl_primitive_desc_destroy(wbpd);
        } else {
            printf("# shape%d onednn_winograd_bwd_data: no implementation at this ISA\n", id);
        }
    }
    dnnl_primitive_t prims[] = {wre.prim, sre.prim, dre.prim, conv.prim, bwre.prim, dyre.prim, dxre.prim, bwd.prim};
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++) dnnl_primitive_destroy(prims[i]);
    dnnl_memory_t mems[] = {m_src_plain, m_w_plain, m_b, m_src, m_w, m_dst, m_dst_plain, m_dy_plain, m_dy, m_bw, m_dx, m_dx_plain};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++) dnnl_memory_destroy(mems[i]);
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_desc_destroy(fpd);
    dnnl_primitive_desc_destroy(bpd);
}

/* ---------------------------------------------------------------- own NCHWc kernels */

typedef struct {
    const shape *s;
    direct_conv c;
    const float *x; /* NCHW */
    float *xc, *yc, *y;  /* padded NCHWc input, NCHWc output, NCHW output */
    int vl;
} own_ctx;

/* NCHW -> zero-padded [IC/CB][Hp][Wp][CB] (the pad border stays zero). */
static void own_reorder_in(void *ctx) {
    own_ctx *o = ctx;
    const shape *s = o->s;
    const int cb = o->c.cb, hp = o->c.hp, wp = o->c.wp, p = s->pad;
#pragma omp parallel for collapse(2)
    for (int icb = 0; icb < s->ic / cb; icb++)
        for (int ih = 0; ih < s->h; ih++)
            for (int iw = 0; iw < s->w; iw++)
                for (int c = 0; c < cb; c++)
                    o->xc[(((size_t)icb * hp + ih + p) * wp + iw + p) * cb + c] =
                        o->x[((size_t)(icb * cb + c) * s->h + ih) * s->w + iw];
}

/* [OC/VL][OH][OW][VL] -> NCHW */
static void own_reorder_out(void *ctx) {
    own_ctx *o = ctx;
    const shape *s = o->s;
    const int vl = o->vl, plane = s->oh * s->ow;
#pragma omp parallel for
    for (int ob = 0; ob < s->oc / vl; ob++)
        for (int i = 0; i < plane; i++)
            for (int v = 0; v < vl; v++) o->y[((size_t)ob * vl + v) * plane + i] = o->yc[((size_t)ob * plane + i) * vl + v];
}

/* w[oc][ic][kh][kw] -> [OC/(R*VL)][IC/CB][KH][KW][CB][R][VL] */
static float *pack_weights(const shape *s, const float *w, int vl, int r, int cb) {
    float *p = alloc_floats((size_t)s->oc * s->ic * s->k * s->k);
    size_t i = 0;
    for (int og = 0; og < s->oc / (r * vl); og++)
        for (int icb = 0; icb < s->ic / cb; icb++)
            for (int kh = 0; kh < s->k; kh++)
                for (int kw = 0; kw < s->k; kw++)
                    for (int ci = 0; ci < cb; ci++)
                        for (int j = 0; j < r; j++)
                            for (int v = 0; v < vl; v++)
                                p[i++] = w[((((size_t)(og * r + j) * vl + v) * s->ic + icb * cb + ci) * s->k + kh) * s->k + kw];
    return p;
}

typedef struct {
    own_ctx *o;
    direct_fn fn;
    const float *wp, *bias;
} own_call;

static void own_run(void *ctx) {
    own_call *c = ctx;
    c->fn(&c->o->c, c->o->xc, c->wp, c->bias, c->o->yc);
}

static void bench_own(int id, const shape *s, const float *x, const float *w, const float *bias, const float *yref,
                      int vl, const char *name) {
    int count;
    const direct_variant *vars = vl == 16 ? direct_variants_avx512(&count) : direct_variants_avx2(&count);
    own_ctx o = {.s = s, .x = x, .vl = vl};
    o.c = (direct_conv){.ic = s->ic, .oc = s->oc, .k = s->k, .stride = s->stride, .pad = s->pad,
                        .cb = s->ic < vl ? s->ic : vl, .hp = s->h + 2 * s->pad, .wp = s->w + 2 * s->pad,
                        .oh = s->oh, .ow = s->ow, .relu = 0};
    if (s->ic % o.c.cb || s->oc % vl) {
        printf("# shape%d %s: channels not a multiple of %d, skipped\n", id, name, vl);
        return;
    }
    /* the input rows a stride-s kernel reads: at most (oh-1)*s + k of the padded height */
    o.xc = alloc_floats((size_t)s->ic * o.c.hp * o.c.wp);
    o.yc = alloc_floats((size_t)s->oc * s->oh * s->ow);
    o.y = alloc_floats((size_t)s->oc * s->oh * s->ow);
    own_reorder_in(&o);
    double best = INFINITY;
    int best_i = -1;
    char tried[256] = "";
    for (int i = 0; i < count; i++) {
        if (s->oc % (vars[i].r * vl) || s->ow % vars[i].p) continue;
        float *wp = pack_weights(s, w, vl, vars[i].r, o.c.cb);
        own_call call = {&o, vars[i].run, wp, bias};
        double ms = time_median(own_run, &call);
        size_t len = strlen(tried);
        snprintf(tried + len, sizeof tried - len, "%s%dx%d:%.3f", len ? "," : "", vars[i].r, vars[i].p, ms);
        if (ms < best) best = ms, best_i = i;
        if (check) {
            own_run(&call);
            own_reorder_out(&o);
            printf("check\tshape%d\t%s_%dx%d\t%.3g\n", id, name, vars[i].r, vars[i].p,
                   rel_error(o.y, yref, (size_t)s->oc * s->oh * s->ow));
        }
        free(wp);
    }
    if (best_i < 0) {
        printf("# shape%d %s: no register blocking fits\n", id, name);
    } else {
        char note[320];
        snprintf(note, sizeof note, "best %dx%d of %s (ms)", vars[best_i].r, vars[best_i].p, tried);
        report(id, name, best, s->flops, note);
        char m[64];
        snprintf(m, sizeof m, "%s_reorder_in", name);
        report(id, m, time_median(own_reorder_in, &o), 0, "NCHW -> padded NCHWc");
        snprintf(m, sizeof m, "%s_reorder_out", name);
        report(id, m, time_median(own_reorder_out, &o), 0, "NCHWc -> NCHW");
    }
    free(o.xc);
    free(o.yc);
    free(o.y);
}

/* ---------------------------------------------------------------- peak */

typedef struct {
    double (*loop)(long);
    long iters;
    int nthreads;
} peak_ctx;

static void peak_run(void *ctx) {
    peak_ctx *p = ctx;
    volatile double sink = 0;
#pragma omp parallel num_threads(p->nthreads)
    {
        double r = p->loop(p->iters);
#pragma omp atomic
        sink += r;
    }
    (void)sink;
}

static void bench_peak(const char *name, double (*loop)(long), int chains, int vl) {
    for (int t = 1; t <= 2; t++) {
        peak_ctx p = {loop, 20000000, t};
        double ms = time_median(peak_run, &p);
        double flops = (double)p.iters * chains * vl * 2.0 * t;
        printf("peak\t%s\t%d\t%.4f\t%.2f\t%.2f\t%.2f\n", name, t, ms, flops / (ms * 1e6), flops / (last_min * 1e6),
               flops / (last_cpu * 1e6));
    }
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
    const char *shapes_path = NULL, *methods = "loupe,onednn,own512,own2", *isa = "env";
    int peak = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--shapes") && i + 1 < argc) shapes_path = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--methods") && i + 1 < argc) methods = argv[++i];
        else if (!strcmp(argv[i], "--onednn-isa") && i + 1 < argc) isa = argv[++i];
        else if (!strcmp(argv[i], "--check")) check = 1;
        else if (!strcmp(argv[i], "--peak")) peak = 1;
        else {
            fprintf(stderr, "spike: unknown or incomplete option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (threads < 1 || runs < 1 || warmup < 0) {
        fprintf(stderr, "spike: --threads and --runs must be at least 1, --warmup at least 0\n");
        return 2;
    }
    omp_set_num_threads(threads);
    openblas_set_num_threads(1); /* Loupe keeps OpenBLAS on one thread and splits work itself */
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    printf("# threads %d runs %d warmup %d openblas_core %s onednn_max_isa %s cpu_avx512 %d cpu_avx2 %d\n", threads, runs,
           warmup, openblas_get_corename(), isa, has512, has2);

    if (peak) {
        if (has512) bench_peak("avx512", fma_peak_loop_avx512, fma_chains_avx512(), 16);
        if (has2) bench_peak("avx2", fma_peak_loop_avx2, fma_chains_avx2(), 8);
    }
    if (!shapes_path) return 0;

    if (strstr(methods, "onednn")) {
        /* "env" (the default) leaves the cap to ONEDNN_MAX_CPU_ISA; a value here calls
         * dnnl_set_max_cpu_isa, which takes precedence over that variable */
        dnnl_cpu_isa_t max = dnnl_cpu_isa_all;
        if (!strcmp(isa, "avx512_core")) max = dnnl_cpu_isa_avx512_core;
        else if (!strcmp(isa, "avx2")) max = dnnl_cpu_isa_avx2;
        else if (!strcmp(isa, "sse41")) max = dnnl_cpu_isa_sse41;
        else if (strcmp(isa, "all") && strcmp(isa, "env")) {
            fprintf(stderr, "spike: --onednn-isa must be env, all, avx512_core, avx2 or sse41, not '%s'\n", isa);
            return 2;
        }
        if (strcmp(isa, "env")) DNNL_CHECK(dnnl_set_max_cpu_isa(max));
        DNNL_CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
        DNNL_CHECK(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
        const dnnl_version_t *v = dnnl_version();
        printf("# onednn %d.%d.%d effective_isa 0x%x\n", v->major, v->minor, v->patch, (unsigned)dnnl_get_effective_cpu_isa());
    }

    FILE *f = fopen(shapes_path, "r");
    if (!f) {
        fprintf(stderr, "spike: cannot open shapes file '%s'\n", shapes_path);
        return 1;
    }
    shape s;
    int id = 0;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        s.groups = 1;
        int n = sscanf(line, "%d %d %d %d %d %d %d %d %d", &s.ic, &s.h, &s.w, &s.oc, &s.k, &s.stride, &s.pad, &s.count,
                       &s.groups);
        if (n < 8) continue;
        if (s.groups < 1 || s.ic % s.groups || s.oc % s.groups) {
            fprintf(stderr, "spike: groups %d do not divide ic %d and oc %d\n", s.groups, s.ic, s.oc);
            return 1;
        }
        s.oh = (s.h + 2 * s.pad - s.k) / s.stride + 1;
        s.ow = (s.w + 2 * s.pad - s.k) / s.stride + 1;
        s.flops = 2.0 * s.ic / s.groups * s.oc * s.k * s.k * s.oh * s.ow;
        printf("# shape%d ic %d h %d w %d oc %d k %d stride %d pad %d count %d groups %d oh %d ow %d mflop %.2f\n", id,
               s.ic, s.h, s.w, s.oc, s.k, s.stride, s.pad, s.count, s.groups, s.oh, s.ow, s.flops / 1e6);
        size_t nx = (size_t)s.ic * s.h * s.w, nw = (size_t)s.oc * (s.ic / s.groups) * s.k * s.k,
               ny = (size_t)s.oc * s.oh * s.ow;
        float *x = alloc_floats(nx), *w = alloc_floats(nw), *bias = alloc_floats(s.oc), *y = alloc_floats(ny),
              *dy = alloc_floats(ny), *yref = NULL, *dxref = NULL;
        float scale = 1.0f / sqrtf((float)(s.ic / s.groups * s.k * s.k));
        for (size_t i = 0; i < nx; i++) x[i] = uniform();
        for (size_t i = 0; i < nw; i++) w[i] = (2 * uniform() - 1) * scale;
        for (int i = 0; i < s.oc; i++) bias[i] = 2 * uniform() - 1;
        for (size_t i = 0; i < ny; i++) dy[i] = 2 * uniform() - 1;
        if (check) {
            yref = alloc_floats(ny);
            dxref = alloc_floats(nx);
            conv_naive(&s, x, w, bias, yref);
            conv_backward_data_naive(&s, dy, w, dxref);
        }
        if (strstr(methods, "loupe") && s.groups == 1) {
            loupe_ctx L = {.s = &s, .x = x, .w = w, .bias = bias, .y = y};
            loupe_setup(&L);
            char note[64];
            snprintf(note, sizeof note, "tiles %d workers %d", L.tiles, L.workers);
            report(id, "loupe", time_median(loupe_run, &L), s.flops, note);
            if (check) {
                loupe_run(&L);
                printf("check\tshape%d\tloupe\t%.3g\n", id, rel_error(y, yref, ny));
            }
            free(L.col);
        }
        if (strstr(methods, "onednn")) bench_onednn(id, &s, x, w, bias, yref, dxref, dy);
        if (strstr(methods, "own512") && has512 && s.groups == 1) bench_own(id, &s, x, w, bias, yref, 16, "own512");
        if (strstr(methods, "own2") && has2 && s.groups == 1) bench_own(id, &s, x, w, bias, yref, 8, "own2");
        free(x), free(w), free(bias), free(y), free(dy), free(yref), free(dxref);
        id++;
    }
    fclose(f);
    return 0;
}
