// Loops of the network around its matrix products (Sources/Engine/Network.swift): the bias before
// each product (which adds onto it) and the ReLU after, and the max pool. Plain loops over
// contiguous rows, which the compiler vectorises (Swift's max() per value does not).
#include "kernels.h"

// No fused multiply-adds: the Swift code these loops replace (and sit beside) rounds each product.
#pragma STDC FP_CONTRACT OFF

void hz_fill_rows(float *rows, long count, long stride, int nrows, const float *bias) {
    for (int r = 0; r < nrows; r++) {
        float *row = rows + r * stride;
        const float b = bias[r];
        for (long i = 0; i < count; i++) row[i] = b;
    }
}

void hz_relu_rows(float *rows, long count, long stride, int nrows) {
    for (int r = 0; r < nrows; r++) {
        float *row = rows + r * stride;
        for (long i = 0; i < count; i++) row[i] = row[i] > 0 ? row[i] : 0;
    }
}

static inline float max2(float a, float b) { return a > b ? a : b; }

void hz_max_pool_3x3s2(const float *input, long planes, long inPlaneStride, int height, int width,
                       float *output, long outPlaneStride, int outHeight, int outWidth, float *v) {
    // Windows that end inside the row; the rest (at most one) hangs over the right edge.
    int inside = width >= 3 ? (width - 3) / 2 + 1 : 0;
    if (inside > outWidth) inside = outWidth;
    for (long p = 0; p < planes; p++) {
        const float *src = input + p * inPlaneStride;
        float *dst = output + p * outPlaneStride;
        for (int oy = 0; oy < outHeight; oy++) {
            const int y0 = 2 * oy;
            const float *a = src + y0 * width;
            const float *b = src + (y0 + 1 < height ? y0 + 1 : height - 1) * width;
            const float *c = src + (y0 + 2 < height ? y0 + 2 : height - 1) * width;
            for (int x = 0; x < width; x++) v[x] = max2(max2(a[x], b[x]), c[x]);
            float *d = dst + oy * outWidth;
            for (int ox = 0; ox < inside; ox++) d[ox] = max2(max2(v[2 * ox], v[2 * ox + 1]), v[2 * ox + 2]);
            for (int ox = inside; ox < outWidth; ox++) {
                const int x0 = 2 * ox;
                float m = v[x0];
                if (x0 + 1 < width) m = max2(m, v[x0 + 1]);
                if (x0 + 2 < width) m = max2(m, v[x0 + 2]);
                d[ox] = m;
            }
        }
    }
}
