// The 4:2:0 thumbnails' last step (HarmonizationModel.thumbnails(yuv:mask:) in
// Sources/Engine/YUV420.swift): resized in Y'PbPr, converted to R'G'B' at 256x256.
#include "kernels.h"

// No fused multiply-adds: the Swift code these loops replace (and sit beside) rounds each product.
#pragma STDC FP_CONTRACT OFF

static inline float clamp01(float v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }

void hz_ypbpr_to_rgb_planes(float *planes, long count, float rPr, float gPb, float gPr, float bPb) {
    float *y = planes, *pb = planes + count, *pr = planes + 2 * count;
    for (long i = 0; i < count; i++) {
        const float l = y[i], b = pb[i], r = pr[i];
        y[i] = clamp01(l + rPr * r);
        pb[i] = clamp01(l - gPb * b - gPr * r);
        pr[i] = clamp01(l + bPb * b);
    }
}
