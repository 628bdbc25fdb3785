#ifndef HARMONIZE_KERNELS_H
#define HARMONIZE_KERNELS_H

#include <stdint.h>

/// Inner loops of the engine that Swift does not vectorise (its float -> int conversions and
/// per-lane min/max compile to a branch per value). Plain C: the compiler vectorises them for the
/// build's baseline CPU. The Swift functions that call them document what they compute.

/// Constants of the 4:2:0 render (see CurveRenderer.render(yuv:mask:box:)): code values -> R'G'B'
/// in 0...255 units (y * ys + yo; (c - 128) * cs), the matrix, and changes back to code values.
typedef struct {
    float ys, yo, cs;
    float rPr, gPb, gPr, bPb;
    float kr, kg, kb;
    float lumaK, cbK, crK;
} hz_render420_constants;

/// Renders `blocks` whole 2x2 blocks of one block row in place: luma rows `luma0` and `luma1` (2 x
/// blocks samples each), their mask rows, and the row's `blocks` cb and cr samples. `change` is the
/// curve's change per 8-bit level, t[v] - v, for R, G and B (3 x 256 floats).
void hz_render420_block_row(const float *change, const hz_render420_constants *k,
                            uint8_t *luma0, uint8_t *luma1, const uint8_t *mask0, const uint8_t *mask1,
                            uint8_t *cb, uint8_t *cr, int blocks);

/// The horizontal pass of the thumbnails' resize (resizeAntialiased in Sources/Engine/Images.swift)
/// for `count` (at most 8) rows at once: row j's pixel x is rows[j * rowStride + x * pixelStride],
/// for x < inputs (the rows need no more than that). Output i of row j is the sum over the taps k,
/// in order, of weights[k * outputs + i] * pixel start[i] + k, written to dst[j * dstStride + i].
/// `scratch` holds inputs x 8 floats (the rows interleaved, so the sums run 8 rows wide).
void hz_resample_rows(const float *rows, long rowStride, int count, long pixelStride, long inputs,
                      const long *start, const float *weights, int taps, int outputs,
                      float *dst, long dstStride, float *scratch);

/// Y', Pb, Pr planes of `count` floats each (plane after plane) to R', G', B' in place, each
/// clamped to [0, 1]: R' = Y' + rPr Pr, G' = Y' - gPb Pb - gPr Pr, B' = Y' + bPb Pb.
void hz_ypbpr_to_rgb_planes(float *planes, long count, float rPr, float gPb, float gPr, float bPb);

/// The network's small loops (Sources/Engine/Network.swift).
/// Row r's `count` values (rows `stride` floats apart) set to bias[r].
void hz_fill_rows(float *rows, long count, long stride, int nrows, const float *bias);
/// Row r's `count` values (rows `stride` floats apart) replaced by max(v, 0).
void hz_relu_rows(float *rows, long count, long stride, int nrows);
/// 3x3 max pool, stride 2, of `planes` planes of height x width (`inPlaneStride` floats apart), in
/// ceil mode (the last window may hang over the bottom or right edge, never start past it), into
/// outHeight x outWidth planes `outPlaneStride` apart. `rowScratch` holds `width` floats.
void hz_max_pool_3x3s2(const float *input, long planes, long inPlaneStride, int height, int width,
                       float *output, long outPlaneStride, int outHeight, int outWidth, float *rowScratch);

/// A piecewise-linear curve of `pieces` pieces on [0, 1] applied to `count` values (clamped to [0, 1]
/// first): y = min(1, (before[k] + (t - k) * weights[k]) * scale) with t = x * pieces and k its piece
/// (CurveParameters.evaluate in Sources/Engine/Curves.swift, with the prefix sums `before` made once).
void hz_apply_pieces(const float *x, float *y, long count, const float *before, const float *weights,
                     float scale, int pieces);

#endif
