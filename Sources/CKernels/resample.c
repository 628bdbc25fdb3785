// The thumbnails' horizontal filter (resizeAntialiased in Sources/Engine/Images.swift), 8 rows at
// a time. One row's outputs each read a few neighbouring inputs, a gather the compiler cannot
// vectorise; with 8 rows interleaved, each input is 8 contiguous floats, and every tap is one
// vector multiply-add across the rows. Each output's taps are still summed in order.
#include "kernels.h"

// No fused multiply-adds: the Swift code these loops replace (and sit beside) rounds each product.
#pragma STDC FP_CONTRACT OFF

enum { ROWS = 8 };

void hz_resample_rows(const float *rows, long rowStride, int count, long pixelStride, long inputs,
                      const long *start, const float *weights, int taps, int outputs,
                      float *dst, long dstStride, float *scratch) {
    for (int j = 0; j < ROWS; j++) {
        const float *row = rows + j * rowStride;
        if (j >= count)
            for (long x = 0; x < inputs; x++) scratch[x * ROWS + j] = 0;
        else if (pixelStride == 1)
            for (long x = 0; x < inputs; x++) scratch[x * ROWS + j] = row[x];
        else
            for (long x = 0; x < inputs; x++) scratch[x * ROWS + j] = row[x * pixelStride];
    }
    for (int i = 0; i < outputs; i++) {
        float acc[ROWS] = {0};
        const float *s = scratch + start[i] * ROWS;
        for (int k = 0; k < taps; k++) {
            const float w = weights[k * outputs + i];
            for (int j = 0; j < ROWS; j++) acc[j] += w * s[k * ROWS + j];
        }
        for (int j = 0; j < count; j++) dst[j * dstStride + i] = acc[j];
    }
}
