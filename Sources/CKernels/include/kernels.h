#ifndef HARMONIZE_KERNELS_H
#define HARMONIZE_KERNELS_H

#include <stdint.h>

/// Inner loops of the engine that Swift does not vectorise (its float -> int conversions and
/// per-lane min/max compile to a branch per value). Plain C: the compiler vectorises them for the
/// build's baseline CPU. Each is called by one Swift function, which documents what it computes.

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

#endif
