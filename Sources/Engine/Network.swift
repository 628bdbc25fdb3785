import CKernels
import COpenBLAS

// The CNN of S2CRNet on OpenBLAS. Activations are laid out C x N x H x W (channel-major with the
// batch inside), so the fg and bg thumbnails go through every convolution as one matrix product:
// out[outC, N*H*W] = weight[outC, inC*k*k] x columns[inC*k*k, N*H*W].

/// Buffers sized once for the largest layer: a forward pass allocates nothing. Used by one call at a
/// time (the model lends them out from a pool).
final class Scratch: @unchecked Sendable {
    var a: [Float]
    var b: [Float]
    var squeeze: [Float]
    var columns: [Float]
    /// The network's input (batch x 3 x side x side), the features of the thumbnails of a frame
    /// (2 x 512) and, for a cascade only, a thumbnail plane set.
    var input: [Float] = []
    var features: [Float] = []
    var thumbnail: [Float] = []
    /// A block of rows of the first convolution's output, pooled before the next block (`forwardPooled`).
    var convBlock: [Float] = []
    /// The next Fire's squeezed input, and a block of a Fire's output on its way to it (`Fire.expand`).
    var squeeze2: [Float] = []
    var fireBlock: [Float] = []
    init(activation: Int, squeeze: Int, columns: Int) {
        a = [Float](repeating: 0, count: activation)
        b = [Float](repeating: 0, count: activation)
        self.squeeze = [Float](repeating: 0, count: squeeze)
        self.columns = [Float](repeating: 0, count: columns)
    }
}

struct Shape {
    var channels: Int
    var batch: Int
    var height: Int
    var width: Int
    var count: Int { channels * batch * height * width }
    var plane: Int { height * width }
}

struct Conv2d {
    let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int
    let weight: [Float]   // outC x (inC * k * k), PyTorch's layout flattened
    let bias: [Float]

    init(_ file: SafetensorsFile, _ name: String, inChannels: Int, outChannels: Int, kernel: Int,
         stride: Int = 1, padding: Int = 0) throws {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        weight = try file.weights("\(name).weight", shape: [outChannels, inChannels, kernel, kernel])
        bias = try file.weights("\(name).bias", shape: [outChannels])
    }

    /// A convolution with the given weights (outC x inC x k x k, flattened) and bias.
    init(weight: [Float], bias: [Float], inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        precondition(weight.count == outChannels * inChannels * kernel * kernel && bias.count == outChannels)
        (self.inChannels, self.outChannels, self.kernel, self.stride, self.padding) = (inChannels, outChannels, kernel, stride, padding)
        (self.weight, self.bias) = (weight, bias)
    }

    func outputShape(_ s: Shape) -> Shape {
        Shape(channels: outChannels, batch: s.batch,
              height: (s.height + 2 * padding - kernel) / stride + 1, width: (s.width + 2 * padding - kernel) / stride + 1)
    }

    func columnCount(_ s: Shape) -> Int {
        let o = outputShape(s)
        // `forward`'s blocks, or `forwardPooled`'s with the row after each.
        let rows = max(rowsPerBlock(o), min(o.batch * o.height, pooledBlockRows(o) + 1))
        return isPointwise ? 0 : inChannels * kernel * kernel * rows * o.width
    }

    var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }

    /// The output goes by blocks of whole rows, each block's im2col columns (or its part of the input)
    /// about this many floats (512 KB): the columns, the block of the output and OpenBLAS's packed
    /// copies then stay in the core's cache from im2col through the product to the bias and ReLU.
    /// (One product over the whole picture wrote the first layer's 4 MB out to memory, then read it
    /// back for the bias and again for the next layer.)
    static let blockFloats = 1 << 17

    func rowsPerBlock(_ o: Shape) -> Int {
        max(1, min(o.batch * o.height, Self.blockFloats / (inChannels * kernel * kernel * o.width)))
    }

    /// conv + bias + ReLU of `input` (shape `s`) into `output`.
    func forward(_ input: UnsafePointer<Float>, _ s: Shape, into output: UnsafeMutablePointer<Float>,
                 columns: UnsafeMutablePointer<Float>) -> Shape {
        let o = outputShape(s)
        let rows = o.batch * o.height, perBlock = rowsPerBlock(o)
        for r0 in Swift.stride(from: 0, to: rows, by: perBlock) {
            forwardRows(input, s, rows: r0..<min(rows, r0 + perBlock), into: output + r0 * o.width,
                        ldc: o.batch * o.plane, columns: columns)
        }
        return o
    }

    /// conv + bias + ReLU for the output rows `rows` (of all batch x height rows; at most
    /// `rowsPerBlock` of them unless pointwise), written as outChannels rows of rows x width floats,
    /// `ldc` apart.
    /// `relu` false leaves the ReLU out, for a max pool that follows (the max of the values, then
    /// the ReLU, is the max of their ReLUs: a quarter of the values to clamp).
    func forwardRows(_ input: UnsafePointer<Float>, _ s: Shape, rows: Range<Int>, into output: UnsafeMutablePointer<Float>,
                     ldc: Int, columns: UnsafeMutablePointer<Float>, relu: Bool = true) {
        let o = outputShape(s), count = rows.count * o.width
        if isPointwise {
            return pointwise(input + rows.lowerBound * o.width, ldb: o.batch * o.plane, count: count, into: output, ldc: ldc, relu: relu)
        }
        im2col(input, s, o, rows: rows, columns)
        product(columns, ldb: count, k: inChannels * kernel * kernel, count: count, into: output, ldc: ldc, relu: relu)
    }

    /// A 1x1 convolution of `count` positions of `input` (inChannels rows, `ldb` apart) + bias + ReLU.
    func pointwise(_ input: UnsafePointer<Float>, ldb: Int, count: Int, into output: UnsafeMutablePointer<Float>, ldc: Int,
                   relu: Bool = true) {
        precondition(isPointwise)
        product(input, ldb: ldb, k: inChannels, count: count, into: output, ldc: ldc, relu: relu)
    }

    /// output = ReLU(bias + weight x b), b being k rows of `count` floats, `ldb` apart. The bias is
    /// written first and the product added onto it (OpenBLAS then has no C to clear).
    private func product(_ b: UnsafePointer<Float>, ldb: Int, k: Int, count: Int, into output: UnsafeMutablePointer<Float>, ldc: Int,
                         relu: Bool) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { hz_fill_rows(output, count, ldc, Int32(outChannels), $0.baseAddress!) }
            hz_sgemm_accumulate(Int32(outChannels), Int32(count), Int32(k), w.baseAddress, b, Int32(ldb), output, Int32(ldc))
        }
        if relu { hz_relu_rows(output, count, ldc, Int32(outChannels)) }
    }

    private func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// The columns of a k x k convolution for the output rows `rows` (of all batch x height rows):
    /// row (c, ky, kx) holds input channel c shifted by (ky, kx) under each of their positions.
    fileprivate func im2col(_ input: UnsafePointer<Float>, _ s: Shape, _ o: Shape, rows: Range<Int>,
                        _ col: UnsafeMutablePointer<Float>) {
        if stride == 1 && o.height == s.height && o.width == s.width {
            return im2colSameSize(input, s, rows: rows, col)
        }
        let n = rows.count * o.width
        for c in 0..<inChannels {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let row = col + ((c * kernel + ky) * kernel + kx) * n
                    // Output columns whose input column ox * stride - padding + kx is inside the row.
                    let first = min(o.width, max(0, -floorDiv(kx - padding, stride)))
                    let end = max(first, min(o.width, floorDiv(s.width - 1 + padding - kx, stride) + 1))
                    for r in rows {
                        let (b, oy) = r.quotientAndRemainder(dividingBy: o.height)
                        let plane = input + (c * s.batch + b) * s.plane
                        let d = row + (r - rows.lowerBound) * o.width
                        let iy = oy * stride - padding + ky
                        if iy < 0 || iy >= s.height {
                            d.update(repeating: 0, count: o.width)
                            continue
                        }
                        let src = plane + iy * s.width - padding + kx
                        d.update(repeating: 0, count: first)
                        if stride == 1 {
                            (d + first).update(from: src + first, count: end - first)
                        } else {
                            for ox in first..<end { d[ox] = src[ox * stride] }
                        }
                        (d + end).update(repeating: 0, count: o.width - end)
                    }
                }
            }
        }
    }
}

extension Conv2d {
    /// Rows of output a block of `forwardPooled` pools (even: each pooled row starts on an even row),
    /// sized like `forward`'s blocks but also by the block of output itself.
    func pooledBlockRows(_ o: Shape) -> Int {
        let rows = min(rowsPerBlock(o), Self.blockFloats / (outChannels * o.width))
        return max(2, rows & ~1)
    }

    /// Floats of the block buffer `forwardPooled` needs.
    func pooledBlockCount(_ s: Shape) -> Int {
        let o = outputShape(s)
        return outChannels * (min(o.height, pooledBlockRows(o) + 1)) * o.width
    }

    /// conv + bias + ReLU, then the 3x3 stride-2 max pool (`maxPool`), a block of rows at a time:
    /// the convolution's whole output (4 MB for the first layer on a 256x256 thumbnail) is never
    /// written out, only `block` (`pooledBlockCount` floats), which stays in the cache. Each block
    /// also computes the row after it (its last windows reach it; the next block computes it again).
    func forwardPooled(_ input: UnsafePointer<Float>, _ s: Shape, into output: UnsafeMutablePointer<Float>,
                       columns: UnsafeMutablePointer<Float>, block: UnsafeMutablePointer<Float>) -> Shape {
        let o = outputShape(s), p = maxPoolShape(o)
        let perBlock = pooledBlockRows(o)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: o.width) { row in
            for b in 0..<o.batch {
                for r0 in Swift.stride(from: 0, to: o.height, by: perBlock) {
                    let r1 = min(o.height, r0 + perBlock), end = min(o.height, r1 + 1)
                    let count = (end - r0) * o.width
                    // Output rows r0..<end of image b, as channels x rows x width in `block`.
                    forwardRows(input, s, rows: (b * o.height + r0)..<(b * o.height + end), into: block, ldc: count, columns: columns,
                                relu: false)
                    // Pooled rows r0 / 2 ..< r1 / 2 (to the last at the bottom): their windows lie in
                    // the block (the last one's clipped to the output's last row).
                    let p0 = r0 / 2, p1 = r1 == o.height ? p.height : r1 / 2
                    guard p1 > p0 else { continue }
                    let pooled = output + b * p.plane + p0 * p.width
                    hz_max_pool_3x3s2(block, outChannels, count, Int32(end - r0), Int32(o.width), pooled, o.batch * p.plane,
                                      Int32(p1 - p0), Int32(p.width), row.baseAddress!)
                    hz_relu_rows(pooled, (p1 - p0) * p.width, o.batch * p.plane, Int32(outChannels))
                }
            }
        }
        return p
    }
}

extension Conv2d {
    /// im2col of a stride-1 convolution whose output has the input's size (the 3x3, padding 1 of
    /// the Fire modules): row (c, ky, kx) is then the input plane shifted by (ky - padding) rows and
    /// (kx - padding) columns, one contiguous copy per plane's part, with zeros where the window
    /// leaves the picture (the rows above or below, and the columns that wrapped around from the
    /// next row). Copying row by row (63, 31 or 15 floats) made the calls cost as much as the copies.
    fileprivate func im2colSameSize(_ input: UnsafePointer<Float>, _ s: Shape, rows: Range<Int>,
                                    _ col: UnsafeMutablePointer<Float>) {
        let plane = s.plane, w = s.width, n = rows.count * w
        for c in 0..<inChannels {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let row = col + ((c * kernel + ky) * kernel + kx) * n
                    let dy = ky - padding, dx = kx - padding, shift = dy * w + dx
                    var r = rows.lowerBound
                    while r < rows.upperBound {
                        // The block's rows y0..<y1 of batch b's plane: positions pa..<pb of the plane.
                        let (b, y0) = r.quotientAndRemainder(dividingBy: s.height)
                        let y1 = min(s.height, y0 + rows.upperBound - r)
                        let pa = y0 * w, pb = y1 * w
                        let src = input + (c * s.batch + b) * plane
                        let dst = row + (r - rows.lowerBound) * w      // holds positions pa..<pb
                        // Position p reads p + shift, inside the plane for p in lo..<hi.
                        let lo = min(pb, max(pa, -shift)), hi = max(lo, min(pb, plane - shift))
                        dst.update(repeating: 0, count: lo - pa)
                        (dst + (lo - pa)).update(from: src + lo + shift, count: hi - lo)
                        (dst + (hi - pa)).update(repeating: 0, count: pb - hi)
                        // Columns whose window leaves the row (they read the row before or after).
                        if dx != 0 {
                            let cols = dx < 0 ? 0..<min(w, -dx) : max(0, w - dx)..<w
                            for y in 0..<(y1 - y0) { for x in cols { dst[y * w + x] = 0 } }
                        }
                        r += y1 - y0
                    }
                }
            }
        }
    }
}

/// SqueezeNet's Fire module: squeeze 1x1, then expand 1x1 and 3x3 written side by side (the concat).
struct Fire {
    let squeeze: Conv2d, expand1: Conv2d, expand3: Conv2d

    init(_ file: SafetensorsFile, _ name: String, inChannels: Int, squeeze s: Int, expand e: Int) throws {
        squeeze = try Conv2d(file, "\(name).squeeze", inChannels: inChannels, outChannels: s, kernel: 1)
        expand1 = try Conv2d(file, "\(name).expand1x1", inChannels: s, outChannels: e, kernel: 1)
        expand3 = try Conv2d(file, "\(name).expand3x3", inChannels: s, outChannels: e, kernel: 3, padding: 1)
    }

    init(squeeze: Conv2d, expand1: Conv2d, expand3: Conv2d) {
        (self.squeeze, self.expand1, self.expand3) = (squeeze, expand1, expand3)
    }

    var outChannels: Int { expand1.outChannels + expand3.outChannels }

    /// The expand convolutions of the squeezed input `q`, written side by side (the concat).
    func expand(_ squeezed: UnsafePointer<Float>, _ q: Shape, into output: UnsafeMutablePointer<Float>,
                columns: UnsafeMutablePointer<Float>) -> Shape {
        let o1 = expand1.forward(squeezed, q, into: output, columns: columns)
        _ = expand3.forward(squeezed, q, into: output + o1.count, columns: columns)
        return Shape(channels: outChannels, batch: q.batch, height: q.height, width: q.width)
    }

    /// Rows of output a block of `expand(_:_:feeding:...)` holds.
    func fusedBlockRows(_ q: Shape) -> Int {
        max(1, min(expand3.rowsPerBlock(q), Conv2d.blockFloats / (outChannels * q.width)))
    }

    /// Floats of the block `expand(_:_:feeding:...)` needs.
    func fusedBlockCount(_ q: Shape) -> Int { outChannels * min(q.batch * q.height, fusedBlockRows(q)) * q.width }

    /// The expand convolutions, their output passed straight on to `next` (the following Fire's
    /// squeeze, a 1x1 convolution that needs only the same positions) a block of rows at a time:
    /// writes next's output into `nextSqueezed` and returns its shape. The Fire's own output (2 MB
    /// for the first one) is never written out, only `block` (`fusedBlockCount` floats, in the cache).
    func expand(_ squeezed: UnsafePointer<Float>, _ q: Shape, feeding next: Conv2d,
                into nextSqueezed: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>,
                block: UnsafeMutablePointer<Float>) -> Shape {
        precondition(next.isPointwise && next.inChannels == outChannels)
        let rows = q.batch * q.height, perBlock = fusedBlockRows(q), n = q.batch * q.plane
        for r0 in Swift.stride(from: 0, to: rows, by: perBlock) {
            let r = r0..<min(rows, r0 + perBlock), count = r.count * q.width
            expand1.forwardRows(squeezed, q, rows: r, into: block, ldc: count, columns: columns)
            expand3.forwardRows(squeezed, q, rows: r, into: block + expand1.outChannels * count, ldc: count, columns: columns)
            next.pointwise(block, ldb: count, count: count, into: nextSqueezed + r0 * q.width, ldc: n)
        }
        return Shape(channels: next.outChannels, batch: q.batch, height: q.height, width: q.width)
    }
}

extension Fire {
    /// Rows of output a block of `expandPooled` holds: odd, so that a block's first row, carried over
    /// from the block before, is an even one (where a pooling window starts).
    func pooledBlockRows(_ q: Shape) -> Int {
        let rows = min(expand3.rowsPerBlock(q), Conv2d.blockFloats / (outChannels * q.width))
        return max(3, (rows - 1) | 1)
    }

    /// Floats of the block `expandPooled` needs, and of its 3x3 convolution's columns (the first
    /// block computes all its rows).
    func pooledBlockCount(_ q: Shape) -> Int { outChannels * min(q.height, pooledBlockRows(q)) * q.width }
    func pooledColumnCount(_ q: Shape) -> Int {
        max(expand3.columnCount(q), expand3.inChannels * 9 * min(q.height, pooledBlockRows(q)) * q.width)
    }

    /// The expand convolutions (the concat), then the 3x3 stride-2 max pool (`maxPool`) and the
    /// ReLU, a block of rows at a time: the Fire's output (2 MB for the second Fire) is never written
    /// out, only `block` (`pooledBlockCount` floats), which stays in the cache. A pooling window
    /// spans rows 2p..2p+2, so each block starts with the last row of the block before (copied, not
    /// computed again) and adds an even number of rows.
    func expandPooled(_ squeezed: UnsafePointer<Float>, _ q: Shape, into output: UnsafeMutablePointer<Float>,
                      columns: UnsafeMutablePointer<Float>, block: UnsafeMutablePointer<Float>) -> Shape {
        let o = Shape(channels: outChannels, batch: q.batch, height: q.height, width: q.width), p = maxPoolShape(o)
        let w = q.width, capacity = min(q.height, pooledBlockRows(q)), ldc = capacity * w
        withUnsafeTemporaryAllocation(of: Float.self, capacity: w) { row in
            for b in 0..<q.batch {
                var lo = 0, next = 0, pooledDone = 0           // the block holds rows lo..<next
                while next < q.height {
                    if next > 0 {
                        for c in 0..<outChannels { (block + c * ldc).update(from: block + c * ldc + (next - 1 - lo) * w, count: w) }
                        lo = next - 1
                    }
                    let hi = min(q.height, lo + capacity), rows = (b * q.height + next)..<(b * q.height + hi)
                    let at = block + (next - lo) * w
                    expand1.forwardRows(squeezed, q, rows: rows, into: at, ldc: ldc, columns: columns, relu: false)
                    expand3.forwardRows(squeezed, q, rows: rows, into: at + expand1.outChannels * ldc, ldc: ldc, columns: columns,
                                        relu: false)
                    next = hi
                    // Pooled rows whose windows end inside the block (to the last at the bottom).
                    let end = hi == q.height ? p.height : (hi - 1) / 2
                    guard end > pooledDone else { continue }
                    let pooled = output + b * p.plane + pooledDone * p.width
                    hz_max_pool_3x3s2(block, outChannels, ldc, Int32(hi - lo), Int32(w), pooled, o.batch * p.plane,
                                      Int32(end - pooledDone), Int32(p.width), row.baseAddress!)
                    hz_relu_rows(pooled, (end - pooledDone) * p.width, o.batch * p.plane, Int32(outChannels))
                    pooledDone = end
                }
            }
        }
        return p
    }
}

/// 3x3 max pool, stride 2, ceil mode (windows may hang over the bottom/right edge), as torchvision.
func maxPoolShape(_ s: Shape) -> Shape {
    func out(_ n: Int) -> Int {
        var o = (n - 3 + 1) / 2 + 1          // ceil((n - 3) / 2) + 1
        if (o - 1) * 2 >= n { o -= 1 }        // the last window must start inside the input
        return o
    }
    return Shape(channels: s.channels, batch: s.batch, height: out(s.height), width: out(s.width))
}

/// Separable: for each output row, the max of its 3 input rows (contiguous, vectorised), then of each
/// 3-wide window of that, stride 2; the same values as the 3x3 window (max is exact). Windows inside
/// the row take no bounds checks, which lets the compiler vectorise the stride-2 loads too; the last
/// one may hang over the edge (ceil mode). In C (CKernels' hz_max_pool_3x3s2): Swift's max() per
/// value compiled to compares and branches.
func maxPool(_ input: UnsafePointer<Float>, _ s: Shape, into output: UnsafeMutablePointer<Float>) -> Shape {
    let o = maxPoolShape(s)
    withUnsafeTemporaryAllocation(of: Float.self, capacity: s.width) { row in
        hz_max_pool_3x3s2(input, s.channels * s.batch, s.plane, Int32(s.height), Int32(s.width), output,
                          o.plane, Int32(o.height), Int32(o.width), row.baseAddress!)
    }
    return o
}

/// SqueezeNet 1.1 features[:12] and a global average pool: thumbnails -> 512 features each.
struct Backbone {
    let conv: Conv2d
    let fires: [Fire]
    /// Max pools come after features.0 (conv), .4 and .7 (fires 1 and 3 in `fires`, 0-based).
    static let poolAfterFire: Set<Int> = [1, 3]

    /// Whether Fire i hands its output straight to Fire i + 1 (no pool between them).
    static func fusesWithNext(_ i: Int, _ count: Int) -> Bool { i + 1 < count && !poolAfterFire.contains(i) }
    static let features = 512

    init(_ file: SafetensorsFile) throws {
        conv = try Conv2d(file, "features.0", inChannels: 3, outChannels: 64, kernel: 3, stride: 2)
        let spec: [(Int, Int, Int, Int)] = [(3, 64, 16, 64), (4, 128, 16, 64), (6, 128, 32, 128), (7, 256, 32, 128),
                                            (9, 256, 48, 192), (10, 384, 48, 192), (11, 384, 64, 256)]
        fires = try spec.map { try Fire(file, "features.\($0.0)", inChannels: $0.1, squeeze: $0.2, expand: $0.3) }
    }

    /// Buffer sizes for a batch of `batch` thumbnails of `side` x `side`, with room for the features
    /// of `images` thumbnails, and a thumbnail plane set when `thumbnail`.
    func scratch(batch: Int, side: Int, images: Int, thumbnail: Bool = false) -> Scratch {
        var s = Shape(channels: 3, batch: batch, height: side, width: side)
        var activation = s.count, squeeze = 0, columns = conv.columnCount(s)
        let block = conv.pooledBlockCount(s)
        s = maxPoolShape(conv.outputShape(s))
        activation = max(activation, s.count)
        var fireBlock = 0
        for (i, f) in fires.enumerated() {
            let q = f.squeeze.outputShape(s)
            squeeze = max(squeeze, q.count)
            columns = max(columns, f.expand3.columnCount(q), f.pooledColumnCount(q))
            s = Shape(channels: f.outChannels, batch: batch, height: q.height, width: q.width)
            if Self.fusesWithNext(i, fires.count) {
                fireBlock = max(fireBlock, f.fusedBlockCount(q))
            } else if Self.poolAfterFire.contains(i) {
                fireBlock = max(fireBlock, f.pooledBlockCount(q))
                s = maxPoolShape(s)
                activation = max(activation, s.count)
            } else {
                activation = max(activation, s.count)
            }
        }
        let scratch = Scratch(activation: activation, squeeze: squeeze, columns: columns)
        scratch.convBlock = [Float](repeating: 0, count: block)
        scratch.squeeze2 = [Float](repeating: 0, count: squeeze)
        scratch.fireBlock = [Float](repeating: 0, count: max(1, fireBlock))
        scratch.input = [Float](repeating: 0, count: batch * 3 * side * side)
        scratch.features = [Float](repeating: 0, count: max(batch, images) * Self.features)
        if thumbnail { scratch.thumbnail = [Float](repeating: 0, count: 3 * side * side) }
        return scratch
    }

    /// `input`: batch x 3 x side x side (N C H W, as thumbnails are made). Writes batch x 512.
    func forward(_ input: UnsafePointer<Float>, batch: Int, side: Int, scratch: Scratch,
                 into features: UnsafeMutablePointer<Float>) {
        let s0 = Shape(channels: 3, batch: batch, height: side, width: side)
        scratch.a.withUnsafeMutableBufferPointer { a in
        scratch.b.withUnsafeMutableBufferPointer { b in
        scratch.squeeze.withUnsafeMutableBufferPointer { q in
        scratch.squeeze2.withUnsafeMutableBufferPointer { q2 in
        scratch.fireBlock.withUnsafeMutableBufferPointer { fb in
        scratch.columns.withUnsafeMutableBufferPointer { col in
            var (cur, other) = (a.baseAddress!, b.baseAddress!)
            // N C H W -> C N H W
            for n in 0..<batch { for c in 0..<3 {
                (cur + (c * batch + n) * s0.plane).update(from: input + (n * 3 + c) * s0.plane, count: s0.plane)
            } }
            var s = scratch.convBlock.withUnsafeMutableBufferPointer { block in
                conv.forwardPooled(cur, s0, into: other, columns: col.baseAddress!, block: block.baseAddress!)
            }
            swap(&cur, &other)
            // A Fire followed by another (no pool between) hands its output to the next one's squeeze
            // block by block; `squeezed` then holds the next Fire's squeezed input already.
            var (sq, nextSq) = (q.baseAddress!, q2.baseAddress!)
            var squeezed: Shape?
            for (i, f) in fires.enumerated() {
                let qs = squeezed ?? f.squeeze.forward(cur, s, into: sq, columns: col.baseAddress!)
                if Self.fusesWithNext(i, fires.count) {
                    squeezed = f.expand(sq, qs, feeding: fires[i + 1].squeeze, into: nextSq, columns: col.baseAddress!,
                                        block: fb.baseAddress!)
                    swap(&sq, &nextSq)
                    continue
                }
                squeezed = nil
                // A Fire before a pool hands its output to the pool block by block.
                s = Self.poolAfterFire.contains(i) ? f.expandPooled(sq, qs, into: other, columns: col.baseAddress!, block: fb.baseAddress!)
                    : f.expand(sq, qs, into: other, columns: col.baseAddress!)
                swap(&cur, &other)
            }
            // Global average pool, C N H W -> N x C.
            let scale = 1 / Float(s.plane)
            for c in 0..<s.channels {
                for n in 0..<batch {
                    let p = cur + (c * batch + n) * s.plane
                    var sum: Float = 0
                    for i in 0..<s.plane { sum += p[i] }
                    features[n * s.channels + c] = sum * scale
                }
            }
        }}}}}}
    }
}

/// A fully connected layer y = W x + b.
struct Linear {
    let inFeatures: Int, outFeatures: Int
    let weight: [Float], bias: [Float]

    init(_ file: SafetensorsFile, _ name: String, inFeatures: Int, outFeatures: Int) throws {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = try file.weights("\(name).weight", shape: [outFeatures, inFeatures])
        bias = try file.weights("\(name).bias", shape: [outFeatures])
    }

    /// y += W x + b (accumulates, so two layers can sum into one output).
    func accumulate(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        for i in 0..<outFeatures { y[i] += bias[i] }
        weight.withUnsafeBufferPointer { w in
            hz_sgemv_accumulate(Int32(outFeatures), Int32(inFeatures), w.baseAddress, x, y)
        }
    }
}
