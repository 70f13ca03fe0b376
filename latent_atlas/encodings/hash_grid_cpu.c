/* Multiresolution hash grid interpolation on the CPU: forward gather and backward scatter-add.
 *
 * The same lookup as latent_atlas/encodings/hash_grid.py's hash_corner_indices (its reference), in float32 and
 * uint32 index arithmetic, with OpenMP threads: the forward over points (level by level), the backward over
 * levels (each level owns its own table rows, so threads never write the same row: no atomics, a deterministic sum).
 *
 * Layout: x [n, 3] in [0, 1]^3, table [L * T, F] (level l's rows start at l * T), out / grad_out [n, L * F].
 * Levels l < n_dense are indexed densely (x + y * side + z * side^2, side = res + 1), the others hashed
 * ((x * 1) ^ (y * 2654435761) ^ (z * 805459861)) & (T - 1).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

static inline void corners(const float *p, int res, int dense, uint32_t table_size, uint32_t index[8], float weight[8]) {
    uint32_t base[3];
    float frac[3];
    for (int a = 0; a < 3; a++) {
        float v = p[a] < 0.0f ? 0.0f : (p[a] > 1.0f ? 1.0f : p[a]);
        float scaled = v * (float)res;
        int b = (int)floorf(scaled);
        if (b > res - 1) b = res - 1;
        base[a] = (uint32_t)b;
        frac[a] = scaled - (float)b;
    }
    uint32_t side = (uint32_t)res + 1u;
    for (int c = 0; c < 8; c++) {
        uint32_t cx = base[0] + (uint32_t)(c >> 2 & 1), cy = base[1] + (uint32_t)(c >> 1 & 1), cz = base[2] + (uint32_t)(c & 1);
        float wx = (c >> 2 & 1) ? frac[0] : 1.0f - frac[0];
        float wy = (c >> 1 & 1) ? frac[1] : 1.0f - frac[1];
        float wz = (c & 1) ? frac[2] : 1.0f - frac[2];
        weight[c] = wx * wy * wz;
        if (dense) {
            index[c] = cx + cy * side + cz * side * side;
        } else {
            index[c] = (cx ^ (cy * 2654435761u) ^ (cz * 805459861u)) & (table_size - 1u);
        }
    }
}

void hash_grid_forward(const float *x, const float *table, const int32_t *resolutions, int64_t n, int n_levels, int n_dense,
                       int64_t table_size, int features, float *out, int n_threads) {
    /* Levels outer, points inner: a level's rows (1 MiB at 2^17 x 2 floats) stay in a core's L2 while its points
       read them; points outer walked every level's table per point (1.2-1.5x slower, BENCHMARKS.md session 18). */
#pragma omp parallel num_threads(n_threads)
    for (int l = 0; l < n_levels; l++) {
        const float *level = table + (int64_t)l * table_size * features;
#pragma omp for schedule(static) nowait
        for (int64_t i = 0; i < n; i++) {
            uint32_t index[8];
            float weight[8];
            corners(x + 3 * i, resolutions[l], l < n_dense, (uint32_t)table_size, index, weight);
            float *o = out + (i * n_levels + l) * features;
            for (int f = 0; f < features; f++) o[f] = 0.0f;
            for (int c = 0; c < 8; c++) {
                const float *row = level + (int64_t)index[c] * features;
                for (int f = 0; f < features; f++) o[f] += weight[c] * row[f];
            }
        }
    }
}

void hash_grid_backward(const float *x, const float *grad_out, const int32_t *resolutions, int64_t n, int n_levels, int n_dense,
                        int64_t table_size, int features, float *grad_table, int n_threads) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
    for (int l = 0; l < n_levels; l++) {
        uint32_t index[8];
        float weight[8];
        float *level = grad_table + (int64_t)l * table_size * features;
        memset(level, 0, sizeof(float) * (size_t)(table_size * features));
        for (int64_t i = 0; i < n; i++) {
            corners(x + 3 * i, resolutions[l], l < n_dense, (uint32_t)table_size, index, weight);
            const float *g = grad_out + (i * n_levels + l) * features;
            for (int c = 0; c < 8; c++) {
                float *row = level + (int64_t)index[c] * features;
                for (int f = 0; f < features; f++) row[f] += weight[c] * g[f];
            }
        }
    }
}
