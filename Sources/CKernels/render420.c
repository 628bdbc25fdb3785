// The 4:2:0 render's inner loop (CurveRenderer.render(yuv:mask:box:) in Sources/Engine/YUV420.swift
// says what it computes). A chunk of blocks goes through in passes, so that all but the table
// lookups are loops over contiguous arrays the compiler vectorises: convert and clamp, look up,
// blend and convert back, then one chroma sample per block from its four pixels' changes.
#include "kernels.h"

// No fused multiply-adds: the Swift code these loops replace (and sit beside) rounds each product.
#pragma STDC FP_CONTRACT OFF

enum { CHUNK = 32, PIXELS = 4 * CHUNK };

static inline float clamp255(float v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }

void hz_render420_block_row(const float *change, const hz_render420_constants *k,
                            uint8_t *luma0, uint8_t *luma1, const uint8_t *mask0, const uint8_t *mask1,
                            uint8_t *cb, uint8_t *cr, int blocks) {
    for (int b0 = 0; b0 < blocks; b0 += CHUNK) {
        const int n = blocks - b0 < CHUNK ? blocks - b0 : CHUNK, w = 2 * n;
        uint8_t *luma[2] = {luma0 + 2 * b0, luma1 + 2 * b0};
        const uint8_t *mask[2] = {mask0 + 2 * b0, mask1 + 2 * b0};
        // A chunk the mask does not touch is not written at all.
        unsigned any = 0;
        for (int x = 0; x < w; x++) any |= mask[0][x] | mask[1][x];
        if (!any) continue;

        // Each pixel's R'G'B' (a luma term plus its block's chroma term), clamped and rounded.
        float cR[CHUNK], cG[CHUNK], cB[CHUNK];
        for (int i = 0; i < n; i++) {
            const float pb = ((float)cb[b0 + i] - 128) * k->cs, pr = ((float)cr[b0 + i] - 128) * k->cs;
            cR[i] = k->rPr * pr;
            cG[i] = -(k->gPb * pb) - k->gPr * pr;
            cB[i] = k->bPb * pb;
        }
        float yv[PIXELS], raw[3][PIXELS], c[3][PIXELS], a[PIXELS];
        int32_t level[3][PIXELS];
        for (int r = 0; r < 2; r++) {
            for (int x = 0; x < w; x++) {
                const int p = r * w + x;
                yv[p] = (float)luma[r][x];
                a[p] = (float)mask[r][x] * (1.0f / 255);
                const float l = yv[p] * k->ys + k->yo;
                raw[0][p] = l + cR[x >> 1];
                raw[1][p] = l + cG[x >> 1];
                raw[2][p] = l + cB[x >> 1];
            }
        }
        for (int ch = 0; ch < 3; ch++) {
            for (int p = 0; p < 2 * w; p++) {
                c[ch][p] = clamp255(raw[ch][p]);
                level[ch][p] = (int32_t)(c[ch][p] + 0.5f);
            }
        }
        // The curve's change at the rounded levels: the one pass that gathers.
        float t[3][PIXELS];
        for (int ch = 0; ch < 3; ch++) {
            const float *table = change + 256 * ch;
            for (int p = 0; p < 2 * w; p++) t[ch][p] = table[level[ch][p]];
        }
        // Blended by the mask (0 where it is 0: that luma is rewritten unchanged), luma per pixel.
        float eB[PIXELS], eR[PIXELS];
        for (int r = 0; r < 2; r++) {
            for (int x = 0; x < w; x++) {
                const int p = r * w + x;
                const float dR = (t[0][p] + c[0][p] - raw[0][p]) * a[p];
                const float dG = (t[1][p] + c[1][p] - raw[1][p]) * a[p];
                const float dB = (t[2][p] + c[2][p] - raw[2][p]) * a[p];
                const float dL = k->kr * dR + k->kg * dG + k->kb * dB;
                luma[r][x] = (uint8_t)(int32_t)clamp255(yv[p] + dL * k->lumaK + 0.5f);
                eB[p] = dB - dL;
                eR[p] = dR - dL;
            }
        }
        // Each chroma sample by the mean change over its block.
        for (int i = 0; i < n; i++) {
            const int x = 2 * i;
            const float sB = ((eB[x] + eB[x + 1]) + eB[w + x]) + eB[w + x + 1];
            const float sR = ((eR[x] + eR[x + 1]) + eR[w + x]) + eR[w + x + 1];
            cb[b0 + i] = (uint8_t)(int32_t)clamp255((float)cb[b0 + i] + (sB * k->cbK) / 4 + 0.5f);
            cr[b0 + i] = (uint8_t)(int32_t)clamp255((float)cr[b0 + i] + (sR * k->crK) / 4 + 0.5f);
        }
    }
}
