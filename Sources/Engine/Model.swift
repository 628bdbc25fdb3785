import COpenBLAS
import Foundation
import NIOConcurrencyHelpers

/// The semantic variant's foreground classes (one-hot index as in the reference; 3 is reserved).
public enum SemanticLabel: Int, Sendable, CaseIterable {
    case person = 0, animal = 1, food = 2, other = 4
}

/// The four inputs of the network, each side x side in [0, 1], channel-major.
public struct Thumbnails: Sendable {
    public var side: Int
    public var foreground: [Float]       // 3 planes: the foreground box resized
    public var foregroundMask: [Float]   // 1 plane
    public var background: [Float]       // 3 planes: the whole frame resized
    public var backgroundMask: [Float]   // 1 plane
}

/// S2CRNet loaded from a safetensors file written by training/export.py: predicts the colour
/// curves that harmonise a frame's masked foreground with its background. Safe to call from
/// several threads at once (each call borrows its own buffers).
public final class HarmonizationModel: @unchecked Sendable {
    public let path: String
    public let variant: String           // plain | cascaded | semantic
    public let pieces: Int
    public let side: Int
    public let boxPadding: Float
    let mean: [Float], std: [Float]
    let backbone: Backbone
    let heads: [Head]
    /// Format 2: the largest end value y(1) a curve can have (nil for format 1, where y(1) = 1).
    public let endMax: Float?
    /// Format 3: every piece's slope is bent below `bound` above `knee` (nil before format 3).
    public let slopeBound: (bound: Float, knee: Float)?
    let labelEmbedding: Linear?
    private let pool = NIOLockedValueBox<[Scratch]>([])

    public static let formatName = "harmonize-s2crnet"
    /// 2: curves with a predicted end value (head.end_b/end_f, metadata end_max); 3: the pieces'
    /// slopes bounded by construction (metadata slope_bound, slope_knee; same tensors). 1 and 2 are
    /// still read.
    public static let formatVersion = 3

    /// One CRM head: piece weights from fc_b(bg) + fc_f(fg), and in format 2 end values from
    /// end_b(bg) + end_f(fg).
    struct Head {
        let background: Linear, foreground: Linear
        let ends: (background: Linear, foreground: Linear)?
    }

    /// The threads each of the network's matrix products may use (OpenBLAS's own pool, process
    /// wide). A pipeline's workers each run one frame's network already, so there a product runs on
    /// its worker's thread (1): OpenBLAS's threads beside the workers only spin and yield for the
    /// cores (7-14 % of a run's CPU went to `sched_yield`, issue 14). One frame alone (a still) can
    /// use every core. An OPENBLAS_NUM_THREADS in the environment is the user's choice and wins.
    public static func setMatrixThreads(_ count: Int) {
        if let env = ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"], !env.isEmpty { return }
        guard hz_blas_load() == 0 else { return }     // the model's init reports why
        hz_blas_set_threads(Int32(max(1, count)))
    }

    /// The OpenBLAS kernels in use ("SkylakeX", "Haswell", ...; "not loaded" before the first
    /// model), and whether the engine chose them for this CPU (COpenBLAS: OpenBLAS 0.3.21's own pick
    /// falls back to generic SSE3 kernels on CPUs newer than it) rather than OpenBLAS itself or the
    /// user's OPENBLAS_CORETYPE.
    public static var matrixKernels: (name: String, chosenHere: Bool) {
        (String(cString: hz_blas_corename()), hz_blas_kernels_chosen() != nil)
    }

    /// What the CPU's vector units allow: 2 for AVX-512, 1 for AVX2 with FMA, 0 otherwise.
    public static var cpuVectorLevel: Int { Int(hz_cpu_vector_level()) }

    public init(path: String) throws {
        guard hz_blas_load() == 0 else { throw EngineError(path, String(cString: hz_blas_error())) }
        let file = try SafetensorsFile(path: path)
        self.path = path
        let m = file.metadata
        guard m["format"] == Self.formatName else {
            throw EngineError(path, "not a harmonize model (metadata format is \(m["format"] ?? "missing"))")
        }
        guard let version = m["version"].flatMap(Int.init), version <= Self.formatVersion else {
            throw EngineError(path, "model format version \(m["version"] ?? "missing") is newer than this engine reads (\(Self.formatVersion))")
        }
        func number(_ key: String) throws -> Double {
            guard let v = m[key].flatMap(Double.init) else { throw EngineError(path, "metadata \(key) missing or not a number") }
            return v
        }
        func triple(_ key: String) throws -> [Float] {
            guard let data = m[key]?.data(using: .utf8), let list = try? JSONSerialization.jsonObject(with: data) as? [NSNumber],
                  list.count == 3 else { throw EngineError(path, "metadata \(key) is not a list of 3 numbers") }
            return list.map { $0.floatValue }
        }
        variant = m["variant"] ?? ""
        guard ["plain", "cascaded", "semantic"].contains(variant) else { throw EngineError(path, "unknown model variant \(variant)") }
        pieces = Int(try number("pieces"))
        side = Int(try number("thumbnail"))
        boxPadding = Float(try number("box_padding"))
        guard (2...1024).contains(pieces), (32...1024).contains(side), (0...1).contains(boxPadding) else {
            throw EngineError(path, "metadata out of range (pieces \(pieces), thumbnail \(side), box_padding \(boxPadding))")
        }
        mean = try triple("mean")
        std = try triple("std")
        guard std.allSatisfy({ $0 > 0 }) else { throw EngineError(path, "metadata std must be positive") }
        backbone = try Backbone(file)
        var fgFeatures = Backbone.features
        if variant == "semantic" {
            let dim = Int(try number("label_dim"))
            labelEmbedding = try Linear(file, "label_embedding", inFeatures: 5, outFeatures: dim)
            fgFeatures += dim
        } else {
            labelEmbedding = nil
        }
        if version >= 2 {
            let e = Float(try number("end_max"))
            guard (1...4).contains(e) else { throw EngineError(path, "metadata end_max \(e) out of range (1 to 4)") }
            endMax = e
        } else {
            endMax = nil
        }
        if version >= 3 {
            let bound = Float(try number("slope_bound")), knee = Float(try number("slope_knee"))
            guard knee >= 1, bound > knee, bound <= 64 else {
                throw EngineError(path, "metadata slope_bound \(bound) / slope_knee \(knee) out of range (1 <= knee < bound <= 64)")
            }
            slopeBound = (bound, knee)
        } else {
            slopeBound = nil
        }
        let names = variant == "cascaded" ? ["head", "head2"] : ["head"]
        let outputs = 3 * pieces, fgInputs = fgFeatures, freeEnd = version >= 2
        heads = try names.map {
            Head(background: try Linear(file, "\($0).fc_b", inFeatures: Backbone.features, outFeatures: outputs),
                 foreground: try Linear(file, "\($0).fc_f", inFeatures: fgInputs, outFeatures: outputs),
                 ends: freeEnd ? (try Linear(file, "\($0).end_b", inFeatures: Backbone.features, outFeatures: 3),
                                  try Linear(file, "\($0).end_f", inFeatures: fgInputs, outFeatures: 3)) : nil)
        }
    }

    /// The thumbnails of a frame (nil when the mask is empty: nothing to harmonise).
    public func thumbnails(image: ImageView, mask: MaskView) -> Thumbnails? {
        precondition(image.width == mask.width && image.height == mask.height, "mask and image sizes differ")
        return thumbnails(width: image.width, height: image.height, mask: mask, stride: image.channels) {
            image.addRow($0, x0: $1, x1: $2, weight: $3, into: $4)
        }
    }

    /// The thumbnails of a picture whose rows `addRow(y, x0, x1, weight, dst)` adds into `dst` as
    /// `stride` floats a pixel (or, `planar`, as `stride` planes of x1 - x0), of which the first 3
    /// are resized.
    func thumbnails(width: Int, height: Int, mask: MaskView, stride: Int, planar: Bool = false,
                    addRow: (Int, Int, Int, Float, UnsafeMutablePointer<Float>) -> Void) -> Thumbnails? {
        guard let box = foregroundBox(mask, padding: boxPadding) else { return nil }
        let whole = Box(x0: 0, y0: 0, x1: width, y1: height)
        var t = Thumbnails(side: side, foreground: .init(repeating: 0, count: 3 * side * side),
                           foregroundMask: .init(repeating: 0, count: side * side),
                           background: .init(repeating: 0, count: 3 * side * side),
                           backgroundMask: .init(repeating: 0, count: side * side))
        for (b, img, msk) in [(box, \Thumbnails.foreground, \Thumbnails.foregroundMask),
                              (whole, \Thumbnails.background, \Thumbnails.backgroundMask)] {
            // The picture and its mask share the weights.
            let axes = (x: ResampleAxis(input: b.width, output: side), y: ResampleAxis(input: b.height, output: side))
            resizeAntialiased(box: b, axes: axes, channels: 3, stride: stride, side: side, into: &t[keyPath: img], planar: planar) {
                addRow($0, b.x0, b.x1, $1, $2)
            }
            resizeAntialiased(box: b, axes: axes, channels: 1, stride: 1, side: side, into: &t[keyPath: msk]) {
                mask.addRow($0, x0: b.x0, x1: b.x1, weight: $1, into: $2)
            }
        }
        return t
    }

    /// Curve parameters of each stage for a frame (one, or two for a cascade); nil for an empty mask.
    public func predict(image: ImageView, mask: MaskView, label: SemanticLabel = .other) -> [CurveParameters]? {
        thumbnails(image: image, mask: mask).map { predict($0, label: label) }
    }

    /// The single set of curves to render (a cascade's stages composed); nil for an empty mask.
    public func curves(image: ImageView, mask: MaskView, label: SemanticLabel = .other, size: Int = 256) -> ToneCurves? {
        predict(image: image, mask: mask, label: label).map { ToneCurves(composing: $0, size: size) }
    }

    /// The network on prepared thumbnails.
    public func predict(_ t: Thumbnails, label: SemanticLabel = .other) -> [CurveParameters] {
        // The backbone runs on the two thumbnails one after the other: the buffers of a batch of one
        // are half the size at the same speed (a 127x127 map is GEMM enough); ~5 MB a worker since
        // the layers go by blocks and the input holds one thumbnail at a time (23 MB for a batch of 2).
        // The loops below read the thumbnails through pointers: they must be this model's size.
        precondition(t.side == side && t.foreground.count == 3 * side * side && t.background.count == 3 * side * side
                     && t.foregroundMask.count == side * side && t.backgroundMask.count == side * side,
                     "thumbnails of another size than the model's \(side)x\(side)")
        let scratch = pool.withLockedValue { $0.popLast() }
            ?? backbone.scratch(batch: 1, side: side, images: 2, thumbnail: heads.count > 1)
        defer { pool.withLockedValue { $0.append(scratch) } }
        let plane = side * side
        let F = Backbone.features
        // norm(fg) * m, then norm(bg) * (1 - m), each through the backbone in the one input buffer;
        // all buffers come from the scratch.
        for (n, (image, mask)) in [(t.foreground, t.foregroundMask), (t.background, t.backgroundMask)].enumerated() {
            masked(image, mask, inverted: n == 1, into: &scratch.input, at: 0)
            scratch.input.withUnsafeBufferPointer { x in
                scratch.features.withUnsafeMutableBufferPointer { f in
                    backbone.forward(x.baseAddress!, batch: 1, side: side, scratch: scratch, into: f.baseAddress! + n * F)
                }
            }
        }
        var stages = [head(0, fg: scratch.features[0..<F], bg: scratch.features[F..<(2 * F)], label: label)]
        if heads.count > 1 {
            // Stage 2 sees the foreground after stage 1's curves (features of the fg only, batch 1).
            let p1 = stages[0]
            t.foreground.withUnsafeBufferPointer { fg in
                scratch.thumbnail.withUnsafeMutableBufferPointer { out in
                    for c in 0..<3 { p1.evaluate(channel: c, fg.baseAddress! + c * plane, into: out.baseAddress! + c * plane, count: plane) }
                }
            }
            let curved = scratch.thumbnail
            masked(curved, t.foregroundMask, inverted: false, into: &scratch.input, at: 0)
            scratch.input.withUnsafeBufferPointer { x in
                scratch.features.withUnsafeMutableBufferPointer { f in
                    backbone.forward(x.baseAddress!, batch: 1, side: side, scratch: scratch, into: f.baseAddress!)
                }
            }
            // The bg features sit at [F, 2F) still: the batch-1 pass wrote only [0, F).
            stages.append(head(1, fg: scratch.features[0..<F], bg: scratch.features[F..<(2 * F)], label: label))
        }
        return stages
    }

    private func masked(_ image: [Float], _ mask: [Float], inverted: Bool, into out: inout [Float], at offset: Int) {
        let plane = side * side
        image.withUnsafeBufferPointer { image in
        mask.withUnsafeBufferPointer { mask in
        out.withUnsafeMutableBufferPointer { out in
            for c in 0..<3 {
                let m = mean[c], s = 1 / std[c]
                let src = image.baseAddress! + c * plane, dst = out.baseAddress! + offset + c * plane
                if inverted {
                    for i in 0..<plane { dst[i] = (src[i] - m) * s * (1 - mask[i]) }
                } else {
                    for i in 0..<plane { dst[i] = (src[i] - m) * s * mask[i] }
                }
            }
        }}}
    }

    private func head(_ index: Int, fg: ArraySlice<Float>, bg: ArraySlice<Float>, label: SemanticLabel) -> CurveParameters {
        var fgInput = Array(fg)
        if let labelEmbedding {
            var onehot = [Float](repeating: 0, count: 5)
            onehot[label.rawValue] = 1
            var embedded = [Float](repeating: 0, count: labelEmbedding.outFeatures)
            labelEmbedding.accumulate(onehot, into: &embedded)
            fgInput += embedded
        }
        var raw = [Float](repeating: 0, count: 3 * pieces)
        let bgInput = Array(bg)
        heads[index].background.accumulate(bgInput, into: &raw)
        heads[index].foreground.accumulate(fgInput, into: &raw)
        // Positive weights, as the reference: exp of the clamped raw output.
        let weights = raw.map { Float(exp(Double(min(max($0, -8), 8)))) }
        guard let ends = heads[index].ends, let endMax else { return CurveParameters(pieces: pieces, weights: weights) }
        // End values, as the reference: end_max * sigmoid(raw + log 4), which is 1 at zero.
        var endRaw = [Float](repeating: 0, count: 3)
        ends.background.accumulate(bgInput, into: &endRaw)
        ends.foreground.accumulate(fgInput, into: &endRaw)
        let curves = CurveParameters(pieces: pieces, weights: weights,
                                     ends: endRaw.map { endMax / (1 + Float(exp(-Double($0) - log(4.0)))) })
        guard let slopeBound else { return curves }
        return curves.boundingSlopes(below: slopeBound.bound, knee: slopeBound.knee)
    }
}
