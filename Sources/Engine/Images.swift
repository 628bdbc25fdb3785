import CKernels
/// A picture in memory the engine reads or writes: packed RGB or RGBA, 8 or 16 bits per sample
/// (16-bit little-endian, full scale 65535), rows `rowBytes` apart. The engine never owns it.
public struct ImageView: @unchecked Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int          // 3 or 4 (alpha is carried, never changed)
    public let bytesPerSample: Int    // 1 or 2
    public let rowBytes: Int
    public let data: UnsafeMutableRawPointer

    public init(width: Int, height: Int, channels: Int, bytesPerSample: Int, rowBytes: Int, data: UnsafeMutableRawPointer) {
        precondition(channels == 3 || channels == 4, "3 or 4 channels")
        precondition(bytesPerSample == 1 || bytesPerSample == 2, "8 or 16 bits per sample")
        precondition(rowBytes >= width * channels * bytesPerSample)
        self.width = width
        self.height = height
        self.channels = channels
        self.bytesPerSample = bytesPerSample
        self.rowBytes = rowBytes
        self.data = data
    }

    /// Sample `c` of pixel (x, y) in [0, 1].
    @inline(__always)
    func sample(_ x: Int, _ y: Int, _ c: Int) -> Float {
        let p = data + y * rowBytes
        if bytesPerSample == 1 { return Float(p.load(fromByteOffset: x * channels + c, as: UInt8.self)) * (1 / 255) }
        return Float(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * (x * channels + c), as: UInt16.self))) * (1 / 65535)
    }
}

/// A soft mask (alpha matte): 0 keeps the input, 255 takes the harmonised colour, between blends.
public struct MaskView: @unchecked Sendable {
    public let width: Int
    public let height: Int
    public let rowBytes: Int
    public let data: UnsafePointer<UInt8>

    public init(width: Int, height: Int, rowBytes: Int, data: UnsafePointer<UInt8>) {
        precondition(rowBytes >= width)
        self.width = width
        self.height = height
        self.rowBytes = rowBytes
        self.data = data
    }
}

/// A pixel rectangle, end-exclusive.
public struct Box: Sendable, Equatable {
    public var x0: Int, y0: Int, x1: Int, y1: Int
    public init(x0: Int, y0: Int, x1: Int, y1: Int) { self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1 }
    public var width: Int { x1 - x0 }
    public var height: Int { y1 - y0 }
}

/// The bounding box of the mask values >= `threshold` (1: everything the mask touches); nil if none.
public func maskBounds(_ mask: MaskView, threshold: UInt8 = 1) -> Box? {
    var x0 = Int.max, y0 = Int.max, x1 = -1, y1 = -1
    let width = mask.width
    let t = SIMD16<UInt8>(repeating: threshold)
    for y in 0..<mask.height {
        let row = mask.data + y * mask.rowBytes
        // From the left to the first value at or above the threshold, 16 at a time; an empty row
        // (most rows of a small mask) is one pass of vector compares.
        var first = 0
        while first + 16 <= width,
              !any(UnsafeRawPointer(row + first).loadUnaligned(as: SIMD16<UInt8>.self) .>= t) { first += 16 }
        while first < width && row[first] < threshold { first += 1 }
        guard first < width else { continue }
        // From the right back to the last one (it exists: `first` is one).
        var last = width - 1
        while last - 16 >= first,
              !any(UnsafeRawPointer(row + last - 15).loadUnaligned(as: SIMD16<UInt8>.self) .>= t) { last -= 16 }
        while row[last] < threshold { last -= 1 }
        x0 = min(x0, first); x1 = max(x1, last + 1)
        y0 = min(y0, y); y1 = y + 1
    }
    return x1 < 0 ? nil : Box(x0: x0, y0: y0, x1: x1, y1: y1)
}

/// The foreground box, defined with the reference model (`foreground_box`): the bounds of the mask
/// values >= 128 (>= 0.5), or of any nonzero value when none reach it, grown by `padding` of their
/// size per side and clipped to the frame; nil for an empty mask. Rounding is half-to-even, as
/// Python's round().
public func foregroundBox(_ mask: MaskView, padding: Float) -> Box? {
    guard let b = maskBounds(mask, threshold: 128) ?? maskBounds(mask, threshold: 1) else { return nil }
    let py = Int((Float(b.height) * padding).rounded(.toNearestOrEven))
    let px = Int((Float(b.width) * padding).rounded(.toNearestOrEven))
    return Box(x0: max(0, b.x0 - px), y0: max(0, b.y0 - py), x1: min(mask.width, b.x1 + px), y1: min(mask.height, b.y1 + py))
}

/// Resampling weights of PyTorch's antialiased bilinear resize (`interpolate(..., antialias=True)`,
/// align_corners false): a triangle filter widened by the scale factor when shrinking. Output i
/// takes inputs start[i] ..< start[i] + taps; tap k's weight for every output is in one row,
/// `weights[k * output + i]`, zero past the output's own filter (so one loop over the taps runs
/// across all outputs: independent sums, not one serial chain of adds per output).
struct ResampleAxis {
    let output: Int
    let taps: Int
    let start: [Int]
    let weights: [Float]

    init(input: Int, output: Int) {
        let scale = Double(input) / Double(output)
        let support = scale >= 1 ? scale : 1.0
        let invscale = scale >= 1 ? 1 / scale : 1.0
        func range(_ i: Int) -> (lo: Int, hi: Int, center: Double) {
            let center = scale * (Double(i) + 0.5)
            let lo = max(Int(center - support + 0.5), 0)
            return (lo, max(lo, min(Int(center + support + 0.5), input)), center)
        }
        let ranges = (0..<output).map(range)
        let taps = ranges.map { $0.hi - $0.lo }.max() ?? 0
        var weights = [Float](repeating: 0, count: taps * output)
        for (i, (lo, hi, center)) in ranges.enumerated() {
            let w = (lo..<hi).map { j in max(0, 1 - abs((Double(j) - center + 0.5) * invscale)) }
            let total = w.reduce(0, +)
            for (k, v) in w.enumerated() { weights[k * output + i] = Float(total > 0 ? v / total : v) }
        }
        self.output = output
        self.taps = taps
        self.start = ranges.map(\.lo)
        self.weights = weights
    }
}

/// Resizes `box` of an interleaved picture (`stride` samples a pixel, of which the first
/// `channels` are resized) to `channels` planes of side x side, separably. Vertical pass first:
/// `addRow(y, weight, dst)` adds `weight` times row y of the box, as [0, 1] samples, into `dst`
/// (box width x stride floats), once for each output row whose filter covers row y; then that
/// row is filtered horizontally. Output: channels x side x side.
///
/// Vertical first because at a reduction (a 4K frame to 256) it leaves only `side` rows for the
/// wide horizontal filter, and its work is whole rows of contiguous multiply-adds straight from the
/// 8-bit samples, which the compiler vectorises (a 4K frame's thumbnails: 54 ms horizontal first, 22 ms).
///
/// `planar`: the row buffers hold `stride` planes of box width instead (channel c of pixel x at
/// c * width + x), for sources whose channels are easier to add plane by plane (4:2:0).
func resizeAntialiased(box: Box, axes: (x: ResampleAxis, y: ResampleAxis), channels: Int, stride: Int, side: Int,
                       into out: inout [Float], planar: Bool = false,
                       addRow: (Int, Float, UnsafeMutablePointer<Float>) -> Void) {
    let (ax, ay) = axes
    precondition(ax.output == side && ay.output == side && out.count >= channels * side * side, "resampling weights for another size")
    let rowLength = stride * box.width
    let (pixelStride, channelStride) = planar ? (1, box.width) : (stride, 1)
    // Eight output rows at a time: each one's input rows summed into a buffer of its own, then the
    // eight filtered across together (CKernels' hz_resample_rows). (All `side` rows at once held 6 MB
    // at 1080p in every worker.) Each buffer has `taps` pixels of slack: an output near the right
    // edge reads past its last input, with weight 0.
    let group = 8, rowStride = rowLength + ax.taps * stride, inputs = box.width + ax.taps
    var rows = [Float](repeating: 0, count: group * rowStride)
    var scratch = [Float](repeating: 0, count: group * inputs)
    rows.withUnsafeMutableBufferPointer { rows in
    scratch.withUnsafeMutableBufferPointer { scratch in
    out.withUnsafeMutableBufferPointer { out in
    ax.start.withUnsafeBufferPointer { xStart in
    ax.weights.withUnsafeBufferPointer { xWeights in
        for j0 in Swift.stride(from: 0, to: side, by: group) {
            let count = min(group, side - j0)
            for g in 0..<count {
                let r = rows.baseAddress! + g * rowStride, j = j0 + g
                r.update(repeating: 0, count: rowLength)
                for k in 0..<ay.taps {
                    let weight = ay.weights[k * side + j]
                    if weight != 0 { addRow(box.y0 + ay.start[j] + k, weight, r) }
                }
            }
            for c in 0..<channels {
                hz_resample_rows(rows.baseAddress! + c * channelStride, rowStride, Int32(count), pixelStride, inputs,
                                 xStart.baseAddress!, xWeights.baseAddress!, Int32(ax.taps), Int32(side),
                                 out.baseAddress! + (c * side + j0) * side, side, scratch.baseAddress!)
            }
        }
    }}}}}
}

extension ImageView {
    /// Adds `weight` times the samples of row `y`, columns [x0, x1), in [0, 1], into `dst`
    /// (interleaved as stored: (x1 - x0) x channels floats).
    func addRow(_ y: Int, x0: Int, x1: Int, weight: Float, into dst: UnsafeMutablePointer<Float>) {
        let n = (x1 - x0) * channels
        let p = data + y * rowBytes
        if bytesPerSample == 1 {
            let row = p.assumingMemoryBound(to: UInt8.self) + x0 * channels
            let k = weight * (1 / 255)
            for i in 0..<n { dst[i] += k * Float(row[i]) }
        } else {
            let k = weight * (1 / 65535)
            for i in 0..<n {
                dst[i] += k * Float(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * (x0 * channels + i), as: UInt16.self)))
            }
        }
    }
}

extension MaskView {
    /// Adds `weight` times row `y`, columns [x0, x1), in [0, 1], into `dst`.
    func addRow(_ y: Int, x0: Int, x1: Int, weight: Float, into dst: UnsafeMutablePointer<Float>) {
        let row = data + y * rowBytes + x0
        let k = weight * (1 / 255)
        for i in 0..<(x1 - x0) { dst[i] += k * Float(row[i]) }
    }
}
