/// An 8-bit mask kept run-length packed: a frame waits 20-odd frames behind the next inferred one
/// and the smoothing window before its render, and its mask waits with it. A matte is mostly runs
/// of 0 and 255 with soft values only at its edges, so a 1080p silhouette's box (~430 KB) packs into
/// ~10 KB; a noisy matte grows by at most 1/128.
///
/// Encoding, over the bytes of all rows in turn: a header byte h < 128 is a literal of h + 1 bytes
/// that follow; 128 or 129 is a run of 0 or of 255 whose length follows as a LEB128 varint.
public struct PackedMask: Sendable {
    public let width: Int
    public let height: Int
    public let bytes: [UInt8]

    /// Runs shorter than this go into the literals (a run token costs 2-4 bytes).
    static let minRun = 4

    /// Packs rows of `width` bytes, `rowBytes` apart.
    public init(_ mask: MaskView) {
        width = mask.width
        height = mask.height
        var out: [UInt8] = []
        var literal: [UInt8] = []
        func flushLiteral() {
            var i = 0
            while i < literal.count {
                let n = min(128, literal.count - i)
                out.append(UInt8(n - 1))
                out.append(contentsOf: literal[i..<(i + n)])
                i += n
            }
            literal.removeAll(keepingCapacity: true)
        }
        func appendRun(_ value: UInt8, _ length: Int) {
            out.append(value == 0 ? 128 : 129)
            var n = length
            while n >= 128 {
                out.append(UInt8(n & 127) | 128)
                n >>= 7
            }
            out.append(UInt8(n))
        }
        func close(_ r: (value: UInt8, length: Int)) {
            if r.length >= Self.minRun {
                flushLiteral()
                appendRun(r.value, r.length)
            } else {
                literal.append(contentsOf: repeatElement(r.value, count: r.length))
            }
        }
        // Runs may continue from one row into the next: the rows are one sequence.
        var run: (value: UInt8, length: Int)? = nil
        for y in 0..<mask.height {
            let row = mask.data + y * mask.rowBytes
            var x = 0
            while x < mask.width {
                let v = row[x]
                if v == 0 || v == 255 {
                    var end = x + 1
                    while end < mask.width && row[end] == v { end += 1 }
                    if let r = run, r.value == v {
                        run = (v, r.length + end - x)
                    } else {
                        if let r = run { close(r) }
                        run = (v, end - x)
                    }
                    x = end
                } else {
                    if let r = run { close(r) }
                    run = nil
                    literal.append(v)
                    x += 1
                }
            }
        }
        if let r = run { close(r) }
        flushLiteral()
        bytes = out
    }

    /// Unpacks into `buffer` (resized to width x height) and calls `body` with the mask's view.
    public func withUnpacked<R>(into buffer: inout [UInt8], _ body: (MaskView) -> R) -> R {
        let count = width * height
        if buffer.count < max(1, count) { buffer = [UInt8](repeating: 0, count: max(1, count)) }
        return buffer.withUnsafeMutableBufferPointer { dst in
            bytes.withUnsafeBufferPointer { src in
                var i = 0, o = 0
                while i < src.count {
                    let h = src[i]
                    i += 1
                    if h < 128 {
                        let n = Int(h) + 1
                        (dst.baseAddress! + o).update(from: src.baseAddress! + i, count: n)
                        i += n
                        o += n
                    } else {
                        var n = 0, shift = 0
                        while src[i] & 128 != 0 {
                            n |= Int(src[i] & 127) << shift
                            shift += 7
                            i += 1
                        }
                        n |= Int(src[i]) << shift
                        i += 1
                        (dst.baseAddress! + o).update(repeating: h == 128 ? 0 : 255, count: n)
                        o += n
                    }
                }
                precondition(o == count, "a packed mask of \(o) bytes for \(width)x\(height)")
            }
            return body(MaskView(width: width, height: height, rowBytes: width, data: UnsafePointer(dst.baseAddress!)))
        }
    }
}
