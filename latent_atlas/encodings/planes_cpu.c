/* Bilinear sampling of feature planes on the CPU: forward gather and backward scatter-add, channels last.
 *
 * What F.grid_sample(planes [P, C, H, W], grid [P, n, 1, 2], mode="bilinear", align_corners=True) computes, for
 * padding "zeros" (border = 0) or "border" (border = 1), without the gradient for the grid. The planes come
 * channels last ([P, H, W, C], one texel's channels adjacent), so each point's four taps are four contiguous
 * runs of C floats. Forward threads split the points; backward threads split the channels (each thread owns its
 * channels of every texel: no atomics, a deterministic sum). grid[p, i] = (u, v) in [-1, 1]: u along the width.
 * Below: the same taps fused over the three planes of a tri-plane (sum or product) and over TensoRF's VM modes.
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
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

/* ---- fused tri-planes: the three planes of a point sampled and reduced (sum or product) in one pass ----------
 * planes [B, 3, R, R, C] (channels last), points [B, n, 3] in [-1, 1] -> out [B, n, C]. Plane p reads the point's
 * axes (0, 1), (0, 2), (1, 2) as (width, height), border padding (what planes.sample_planes does). product = 0:
 * the sum of the three planes' features, 1: their product. */
#define MAX_BLOCK 64 /* channels handled per pass (stack buffers) */
static const int PLANE_U[3] = {0, 0, 1}, PLANE_V[3] = {1, 2, 2};

static inline void triplane_taps(const float *point, int64_t side, Taps *taps) {
    for (int p = 0; p < 3; p++) {
        const float uv[2] = {point[PLANE_U[p]], point[PLANE_V[p]]};
        taps[p] = taps_at(uv, side, side, 1);
    }
}

/* the channels [c0, c1) of plane p's bilinear feature: into f[0 .. c1 - c0) */
static inline void tap_features(const float *plane, const Taps *t, int64_t channels, int64_t c0, int64_t c1, float *f) {
    for (int64_t c = c0; c < c1; c++) f[c - c0] = 0.0f;
    for (int k = 0; k < 4; k++) {
        if (t->texel[k] < 0) continue;
        const float *row = plane + t->texel[k] * channels;
        const float w = t->weight[k];
        for (int64_t c = c0; c < c1; c++) f[c - c0] += w * row[c];
    }
}

void triplane_forward(const float *planes, const float *points, int64_t batch, int64_t channels, int64_t side, int64_t n, int product,
                      float *out, int n_threads) {
    const int64_t plane_size = side * side * channels;
    for (int64_t b = 0; b < batch; b++) {
        const float *scene = planes + b * 3 * plane_size;
#pragma omp parallel for schedule(static) num_threads(n_threads)
        for (int64_t i = 0; i < n; i++) {
            Taps taps[3];
            float f[3][MAX_BLOCK];
            triplane_taps(points + (b * n + i) * 3, side, taps);
            float *o = out + (b * n + i) * channels;
            for (int64_t c0 = 0; c0 < channels; c0 += MAX_BLOCK) {
                const int64_t c1 = c0 + MAX_BLOCK < channels ? c0 + MAX_BLOCK : channels;
                for (int p = 0; p < 3; p++) tap_features(scene + p * plane_size, &taps[p], channels, c0, c1, f[p]);
                for (int64_t c = c0; c < c1; c++)
                    o[c] = product ? f[0][c - c0] * f[1][c - c0] * f[2][c - c0] : f[0][c - c0] + f[1][c - c0] + f[2][c - c0];
            }
        }
    }
}

/* one point's gradient for the three planes of its scene (all channels, in passes of MAX_BLOCK) */
static inline void triplane_point_backward(const float *scene, const float *point, const float *go, int64_t channels, int64_t side,
                                           int product, float *grad_scene) {
    const int64_t plane_size = side * side * channels;
    Taps taps[3];
    float f[3][MAX_BLOCK], g[MAX_BLOCK];
    triplane_taps(point, side, taps);
    for (int64_t c0 = 0; c0 < channels; c0 += MAX_BLOCK) {
        const int64_t c1 = c0 + MAX_BLOCK < channels ? c0 + MAX_BLOCK : channels;
        if (product)
            for (int p = 0; p < 3; p++) tap_features(scene + p * plane_size, &taps[p], channels, c0, c1, f[p]);
        for (int p = 0; p < 3; p++) {
            const int q = (p + 1) % 3, r = (p + 2) % 3;
            for (int64_t c = c0; c < c1; c++) g[c - c0] = product ? go[c] * f[q][c - c0] * f[r][c - c0] : go[c];
            float *plane = grad_scene + p * plane_size;
            for (int k = 0; k < 4; k++) {
                if (taps[p].texel[k] < 0) continue;
                float *row = plane + taps[p].texel[k] * channels;
                const float w = taps[p].weight[k];
                for (int64_t c = c0; c < c1; c++) row[c] += w * g[c - c0];
            }
        }
    }
}

/* Per-thread gradient copies: threads split the points, each adding into its own copy of the gradient (the first
 * thread into the output itself), summed afterwards in thread order: no atomics, a deterministic sum for a given
 * thread count. (Splitting the channels instead made threads write the same 64-byte rows at 8-16 channels.) */
#define PRIVATE_LIMIT ((int64_t)1 << 24) /* floats of per-thread copies beyond which threads run one at a time */

/* zeroed copies for threads 1..threads-1 of a gradient of `total` floats; lowers *threads to 1 when too large */
static float *private_copies(int64_t total, int *threads) {
    if (*threads > 1 && total * (*threads - 1) > PRIVATE_LIMIT) *threads = 1;
    float *copies = *threads > 1 ? (float *)calloc((size_t)(total * (*threads - 1)), sizeof(float)) : NULL;
    if (copies == NULL) *threads = 1;
    return copies;
}

/* inside a parallel region of `threads`: out[j] += the copies' [j] for j in [0, size) at `offset` within each copy */
static void sum_copies(float *out, const float *copies, int64_t total, int64_t offset, int64_t size, int threads) {
#pragma omp for schedule(static)
    for (int64_t j = 0; j < size; j++)
        for (int u = 1; u < threads; u++) out[j] += copies[(int64_t)(u - 1) * total + offset + j];
}

/* grad_out [B, n, C] -> grad_planes [B, 3, R, R, C] (overwritten); planes are read for the product's factors */
void triplane_backward(const float *grad_out, const float *planes, const float *points, int64_t batch, int64_t channels, int64_t side,
                       int64_t n, int product, float *grad_planes, int n_threads) {
    const int64_t plane_size = side * side * channels, total = batch * 3 * plane_size;
    memset(grad_planes, 0, sizeof(float) * (size_t)total);
    int threads = n_threads;
    float *copies = private_copies(total, &threads);
#pragma omp parallel num_threads(threads)
    {
        const int t = threads > 1 ? omp_get_thread_num() : 0;
        float *mine = t == 0 ? grad_planes : copies + (int64_t)(t - 1) * total;
        for (int64_t b = 0; b < batch; b++) {
            const int64_t begin = n * t / threads, end = n * (t + 1) / threads;
            for (int64_t i = begin; i < end; i++)
                triplane_point_backward(planes + b * 3 * plane_size, points + (b * n + i) * 3, grad_out + (b * n + i) * channels, channels,
                                        side, product, mine + b * 3 * plane_size);
        }
#pragma omp barrier
        sum_copies(grad_planes, copies, total, 0, total, threads);
    }
    free(copies);
}

/* ---- fused TensoRF vector-matrix features: plane_m(u, v) * line_m(w) for the three modes in one pass ----------
 * planes [3, N, N, R] (channels last), lines [3, N, R], points [n, 3] in [-1, 1] -> out [n, 3R] (mode-major:
 * out[i, m * R + r]), zeros padding as F.grid_sample's. Mode m reads axes (0, 1), (0, 2), (1, 2) for its plane
 * (width, height) and axis 2, 1, 0 for its line. */
static const int LINE_AXIS[3] = {2, 1, 0};

static inline void vm_taps(const float *point, int64_t side, Taps *plane_taps, Taps *line_taps) {
    for (int m = 0; m < 3; m++) {
        const float uv[2] = {point[PLANE_U[m]], point[PLANE_V[m]]};
        const float w[2] = {-1.0f, point[LINE_AXIS[m]]}; /* a line is a plane of width 1: u is irrelevant */
        plane_taps[m] = taps_at(uv, side, side, 0);
        line_taps[m] = taps_at(w, side, 1, 0);
    }
}

void vm_forward(const float *planes, const float *lines, const float *points, int64_t rank, int64_t side, int64_t n, float *out,
                int n_threads) {
    const int64_t plane_size = side * side * rank, line_size = side * rank;
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (int64_t i = 0; i < n; i++) {
        Taps pt[3], lt[3];
        float fp[MAX_BLOCK], fl[MAX_BLOCK];
        vm_taps(points + i * 3, side, pt, lt);
        for (int m = 0; m < 3; m++) {
            float *o = out + (i * 3 + m) * rank;
            for (int64_t c0 = 0; c0 < rank; c0 += MAX_BLOCK) {
                const int64_t c1 = c0 + MAX_BLOCK < rank ? c0 + MAX_BLOCK : rank;
                tap_features(planes + m * plane_size, &pt[m], rank, c0, c1, fp);
                tap_features(lines + m * line_size, &lt[m], rank, c0, c1, fl);
                for (int64_t c = c0; c < c1; c++) o[c] = fp[c - c0] * fl[c - c0];
            }
        }
    }
}

/* one point's gradient for channels [begin, end) of the planes [3, N, N, R] and lines [3, N, R] of the three modes */
static inline void vm_point_backward(const float *planes, const float *lines, const float *point, const float *go, int64_t rank,
                                     int64_t side, int64_t begin, int64_t end, float *grad_planes, float *grad_lines) {
    const int64_t plane_size = side * side * rank, line_size = side * rank;
    Taps pt[3], lt[3];
    float fp[MAX_BLOCK], fl[MAX_BLOCK];
    vm_taps(point, side, pt, lt);
    for (int m = 0; m < 3; m++) {
        const float *g = go + m * rank;
        float *gp = grad_planes + m * plane_size, *gl = grad_lines + m * line_size;
        for (int64_t c0 = begin; c0 < end; c0 += MAX_BLOCK) {
            const int64_t c1 = c0 + MAX_BLOCK < end ? c0 + MAX_BLOCK : end;
            tap_features(planes + m * plane_size, &pt[m], rank, c0, c1, fp);
            tap_features(lines + m * line_size, &lt[m], rank, c0, c1, fl);
            for (int k = 0; k < 4; k++) {
                if (pt[m].texel[k] >= 0) {
                    float *row = gp + pt[m].texel[k] * rank;
                    const float w = pt[m].weight[k];
                    for (int64_t c = c0; c < c1; c++) row[c] += w * g[c] * fl[c - c0];
                }
                if (lt[m].texel[k] >= 0) {
                    float *row = gl + lt[m].texel[k] * rank;
                    const float w = lt[m].weight[k];
                    for (int64_t c = c0; c < c1; c++) row[c] += w * g[c] * fp[c - c0];
                }
            }
        }
    }
}

/* grad_out [n, 3R] -> grad_planes [3, N, N, R], grad_lines [3, N, R] (both overwritten). Threads split the points
 * into per-thread copies (planes then lines in each), as triplane_backward, unless the copies outweigh the points'
 * work or pass PRIVATE_LIMIT (large grids, few points, many threads: then threads split the channels in blocks of
 * 16, whole 64-byte rows apart). */
void vm_backward(const float *grad_out, const float *planes, const float *lines, const float *points, int64_t rank, int64_t side, int64_t n,
                 float *grad_planes, float *grad_lines, int n_threads) {
    const int64_t planes_total = 3 * side * side * rank, lines_total = 3 * side * rank, total = planes_total + lines_total;
    memset(grad_planes, 0, sizeof(float) * (size_t)planes_total);
    memset(grad_lines, 0, sizeof(float) * (size_t)lines_total);
    const int64_t copies_size = total * (n_threads - 1);
    if (n_threads > 1 && (copies_size > 4 * n * rank || copies_size > PRIVATE_LIMIT)) {
        const int64_t n_blocks = (rank + 15) / 16;
#pragma omp parallel for schedule(static, 1) num_threads(n_threads)
        for (int64_t blk = 0; blk < n_blocks; blk++) {
            const int64_t c0 = blk * 16, c1 = c0 + 16 < rank ? c0 + 16 : rank;
            for (int64_t i = 0; i < n; i++)
                vm_point_backward(planes, lines, points + i * 3, grad_out + i * 3 * rank, rank, side, c0, c1, grad_planes, grad_lines);
        }
        return;
    }
    int threads = n_threads;
    float *copies = private_copies(total, &threads);
#pragma omp parallel num_threads(threads)
    {
        const int t = threads > 1 ? omp_get_thread_num() : 0;
        float *gp = t == 0 ? grad_planes : copies + (int64_t)(t - 1) * total;
        float *gl = t == 0 ? grad_lines : gp + planes_total;
        const int64_t begin = n * t / threads, end = n * (t + 1) / threads;
        for (int64_t i = begin; i < end; i++)
            vm_point_backward(planes, lines, points + i * 3, grad_out + i * 3 * rank, rank, side, 0, rank, gp, gl);
#pragma omp barrier
        sum_copies(grad_planes, copies, total, 0, planes_total, threads);
        sum_copies(grad_lines, copies, total, planes_total, lines_total, threads);
    }
    free(copies);
}
