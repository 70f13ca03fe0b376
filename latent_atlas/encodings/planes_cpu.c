/* Bilinear sampling of feature planes on the CPU: forward gather and backward scatter-add, channels last.
 *
 * What F.grid_sample(planes [P, C, H, W], grid [P, n, 1, 2], mode="bilinear", align_corners=True) computes, for
 * padding "zeros" (border = 0) or "border" (border = 1), without the gradient for the grid. The planes come
 * channels last ([P, H, W, C], one texel's channels adjacent), so each point's four taps are four contiguous
 * runs of C floats. Forward threads split the points; backward threads split the channels (each thread owns its
 * channels of every texel: no atomics, a deterministic sum). grid[p, i] = (u, v) in [-1, 1]: u along the width.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    int64_t texel[4]; /* (y0, x0), (y0, x1), (y1, x0), (y1, x1) as y * W + x; -1 outside the plane */
    float weight[4];
} Taps;

static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

static inline Taps taps_at(const float *uv, int64_t height, int64_t width, int border) {
    float x = (uv[0] + 1.0f) * 0.5f * (float)(width - 1);
    float y = (uv[1] + 1.0f) * 0.5f * (float)(height - 1);
    if (border) {
        x = clampf(x, 0.0f, (float)(width - 1));
        y = clampf(y, 0.0f, (float)(height - 1));
    }
    float fx0 = floorf(x), fy0 = floorf(y);
    int64_t x0 = (int64_t)fx0, y0 = (int64_t)fy0;
    float ax = x - fx0, ay = y - fy0;
    Taps t;
    const int64_t xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
    const float ws[4] = {(1.0f - ax) * (1.0f - ay), ax * (1.0f - ay), (1.0f - ax) * ay, ax * ay};
    for (int k = 0; k < 4; k++) {
        int inside = xs[k] >= 0 && xs[k] < width && ys[k] >= 0 && ys[k] < height && ws[k] != 0.0f;
        t.texel[k] = inside ? ys[k] * width + xs[k] : -1;
        t.weight[k] = ws[k];
    }
    return t;
}

/* planes [P, H, W, C], grid [P, n, 2] -> out [P, n, C] */
void planes_forward(const float *planes, const float *grid, int64_t n_planes, int64_t channels, int64_t height, int64_t width, int64_t n,
                    int border, float *out, int n_threads) {
    for (int64_t p = 0; p < n_planes; p++) {
        const float *plane = planes + p * height * width * channels;
#pragma omp parallel for schedule(static) num_threads(n_threads)
        for (int64_t i = 0; i < n; i++) {
            Taps t = taps_at(grid + (p * n + i) * 2, height, width, border);
            float *o = out + (p * n + i) * channels;
            for (int64_t c = 0; c < channels; c++) o[c] = 0.0f;
            for (int k = 0; k < 4; k++) {
                if (t.texel[k] < 0) continue;
                const float *row = plane + t.texel[k] * channels;
                const float w = t.weight[k];
                for (int64_t c = 0; c < channels; c++) o[c] += w * row[c];
            }
        }
    }
}

/* grad_out [P, n, C], grid [P, n, 2] -> grad_planes [P, H, W, C] (overwritten) */
void planes_backward(const float *grad_out, const float *grid, int64_t n_planes, int64_t channels, int64_t height, int64_t width, int64_t n,
                     int border, float *grad_planes, int n_threads) {
    memset(grad_planes, 0, sizeof(float) * (size_t)(n_planes * height * width * channels));
    int blocks = n_threads < channels ? n_threads : (int)channels;
#pragma omp parallel for schedule(static, 1) num_threads(blocks)
    for (int b = 0; b < blocks; b++) {
        const int64_t c0 = channels * b / blocks, c1 = channels * (b + 1) / blocks;
        for (int64_t p = 0; p < n_planes; p++) {
            float *plane = grad_planes + p * height * width * channels;
            for (int64_t i = 0; i < n; i++) {
                Taps t = taps_at(grid + (p * n + i) * 2, height, width, border);
                const float *g = grad_out + (p * n + i) * channels;
                for (int k = 0; k < 4; k++) {
                    if (t.texel[k] < 0) continue;
                    float *row = plane + t.texel[k] * channels;
                    const float w = t.weight[k];
                    for (int64_t c = c0; c < c1; c++) row[c] += w * g[c];
                }
            }
        }
    }
}
