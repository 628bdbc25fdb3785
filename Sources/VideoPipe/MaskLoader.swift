import Foundation

/// A still mask as an 8-bit alpha plane of a given size: grey images are the alpha itself, RGB ones
/// give their luma (BT.601 weights). A mask of another size is scaled (bicubic) with a note.
public struct StillMask: Sendable {
    public let width: Int
    public let height: Int
    public let alpha: [UInt8]
    public let note: String?

    public init(path: String, width: Int, height: Int) throws {
        let probe = try MediaReader(path: path, copyStreams: false)
        let reader = probe.info.width == width && probe.info.height == height ? probe
            : try MediaReader(path: path, copyStreams: false, fit: (width, height, .rgb8))
        note = reader === probe ? nil : "\(path): mask is \(probe.info.width)x\(probe.info.height), scaled to \(width)x\(height)"
        var first: VideoFrame?
        while let item = try reader.next() {
            if case .frame(let f) = item { first = f; break }
        }
        guard let frame = first else { throw PipeError(path, "no picture could be decoded from the mask") }
        var alpha = [UInt8](repeating: 0, count: width * height)
        let step = frame.layout.channels
        for y in 0..<height {
            if frame.layout.isDeep {
                let row = frame.row16(y)
                for x in 0..<width {
                    let r = UInt32(row[x * step]), g = UInt32(row[x * step + 1]), b = UInt32(row[x * step + 2])
                    alpha[y * width + x] = UInt8((77 * r + 150 * g + 29 * b + 128) >> 16)
                }
            } else {
                let row = frame.row8(y)
                for x in 0..<width {
                    let r = UInt32(row[x * step]), g = UInt32(row[x * step + 1]), b = UInt32(row[x * step + 2])
                    alpha[y * width + x] = UInt8((77 * r + 150 * g + 29 * b + 128) >> 8)
                }
            }
        }
        self.width = width
        self.height = height
        self.alpha = alpha
    }
}
