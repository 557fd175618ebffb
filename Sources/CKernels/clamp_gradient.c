#include "loupe_kernels.h"

/* Selections only (no arithmetic but the zero test), so the compiler's vectorised loops give
 * the same bits as scalar code on every instruction set. One loop per rule and per cap, so
 * that no branch runs per element. */
void loupe_clamp_gradient(const float *g, const float *y, float *out, size_t n, float lo, float hi,
                          int capped, int rule) {
    if (capped) {
        switch (rule) {
        case 0: for (size_t i = 0; i < n; i++) out[i] = (y[i] > lo && y[i] < hi) ? g[i] : 0.0f; break;
        case 1: for (size_t i = 0; i < n; i++) out[i] = (y[i] < hi && g[i] > 0.0f) ? g[i] : 0.0f; break;
        case 2: for (size_t i = 0; i < n; i++) out[i] = (y[i] > lo && y[i] < hi && g[i] > 0.0f) ? g[i] : 0.0f; break;
        default: for (size_t i = 0; i < n; i++) out[i] = ((y[i] > lo || g[i] > 0.0f) && y[i] < hi) ? g[i] : 0.0f; break;
        }
    } else {
        switch (rule) {
        case 0: for (size_t i = 0; i < n; i++) out[i] = y[i] > lo ? g[i] : 0.0f; break;
        case 1: for (size_t i = 0; i < n; i++) out[i] = g[i] > 0.0f ? g[i] : 0.0f; break;
        case 2: for (size_t i = 0; i < n; i++) out[i] = (y[i] > lo && g[i] > 0.0f) ? g[i] : 0.0f; break;
        default: for (size_t i = 0; i < n; i++) out[i] = (y[i] > lo || g[i] > 0.0f) ? g[i] : 0.0f; break;
        }
    }
}
