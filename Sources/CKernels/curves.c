// A curve applied to the foreground thumbnail between the two stages of a cascade
// (HarmonizationModel.predict in Sources/Engine/Model.swift): the per-value float -> piece index
// conversion is the part Swift leaves scalar.
#include "kernels.h"

// No fused multiply-adds: the Swift code these loops replace (and sit beside) rounds each product.
#pragma STDC FP_CONTRACT OFF

void hz_apply_pieces(const float *x, float *y, long count, const float *before, const float *weights,
                     float scale, int pieces) {
    for (long i = 0; i < count; i++) {
        const float v = x[i] < 0 ? 0 : (x[i] > 1 ? 1 : x[i]);
        const float t = v * (float)pieces;
        int k = (int)t;
        if (k > pieces - 1) k = pieces - 1;
        const float out = (before[k] + (t - (float)k) * weights[k]) * scale;
        y[i] = out < 1 ? out : 1;
    }
}
