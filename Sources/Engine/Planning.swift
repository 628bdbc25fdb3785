/// Per-frame decisions that need frame order and must be cheap: is this frame a scene cut, and
/// must the network run on it (`--infer-every`)? Both come from a `FrameSketch`, a sparse sample
/// of the full frame and its mask that costs well under a millisecond even at 4K (plus one pass
/// over the mask's bytes when the samples find no mask), so they can be made in frame order (the
/// pipeline's in-order step on its workers) without holding up the frames behind.

/// A sparse summary of a frame: a colour histogram of its background (for cut detection) and a
/// coarse grid of colour and mask coverage (for deciding when the curves must be re-inferred).
public struct FrameSketch: Sendable {
    /// 512-bin colour histogram of the background samples (mask < 0.5), summing to 1. Each channel
    /// is first divided by twice its mean, so exposure and white-balance drift within a shot moves
    /// little mass between bins while a change of content (a cut) moves most of it.
    public let histogram: [Float]
    /// Mean colour of each grid cell, 3 values per cell in [0, 1].
    public let colour: [Float]
    /// Mean mask coverage of each grid cell in [0, 1].
    public let coverage: [Float]
    /// Each cell's share of the samples: the last row of cells is often a strip (54 sample rows on a
    /// 16:9 frame are 24 + 24 + 6), which must count for its area, not as a whole row.
    public let cellWeights: [Float]
    /// Whether the mask covers anything at all. Exact, not sampled: a mask thinner than the samples'
    /// spacing (40 px at 4K) still counts, so the planner infers where it appears.
    public let hasMask: Bool

    /// Cells across the grid (4: 4 x 3 on a 16:9 frame), and samples per cell side (96 samples
    /// across). The cells are coarse on purpose. The network sees the frame's statistics (its features
    /// are averaged over the picture), which a pan or a moving object barely moves, while a cell's
    /// mean moves with every edge that crosses it: with 16 cells across, a camera pan of 2-3 px a
    /// frame ran the network on every 4th frame of a 640x360 clip. A change of the same sign over an
    /// area (exposure, white balance, a light, the mask growing) moves the mean of coarse cells as
    /// much as that of fine ones, so those still trigger at the same thresholds. On `make eval-video`
    /// (moving masks, pans, handheld shots) 4 cells, each weighted by its area, ran the network on 57
    /// of 340 frames instead of 103, fMSE 1306.7 vs 1300.2 (every frame: 1300.6), TE 3.05 vs 3.04.
    public static let cells = 4
    static let samplesPerCell = 24

    /// - mask: the frame's mask; nil takes the image's own alpha channel.
    public init(image: ImageView, mask: MaskView?) {
        self.init(width: image.width, height: image.height, mask: mask, imageAlpha: image.channels == 4 ? image : nil) { x, y in
            SIMD3(image.sample(x, y, 0), image.sample(x, y, 1), image.sample(x, y, 2))
        }
    }

    /// The sketch of a picture whose pixel (x, y) is `rgb(x, y)` in [0, 1]; the alpha comes from
    /// `mask`, else from `imageAlpha`'s fourth channel, else there is none.
    init(width: Int, height: Int, mask: MaskView?, imageAlpha: ImageView?, rgb rgbAt: (Int, Int) -> SIMD3<Float>) {
        let n = Self.cells * Self.samplesPerCell
        let gw = n, gh = max(Self.samplesPerCell, min(n * 2, (n * height + width / 2) / max(1, width)))
        let cellsY = (gh + Self.samplesPerCell - 1) / Self.samplesPerCell
        var rgb = [Float](repeating: 0, count: 3 * gw * gh)
        var alpha = [Float](repeating: 0, count: gw * gh)
        for j in 0..<gh {
            let y = min(height - 1, (2 * j + 1) * height / (2 * gh))
            for i in 0..<gw {
                let x = min(width - 1, (2 * i + 1) * width / (2 * gw))
                let k = j * gw + i
                let p = rgbAt(x, y)
                for c in 0..<3 { rgb[3 * k + c] = p[c] }
                if let mask {
                    alpha[k] = Float(mask.data[y * mask.rowBytes + x]) * (1 / 255)
                } else {
                    alpha[k] = imageAlpha?.sample(x, y, 3) ?? 0
                }
            }
        }
        // Histogram of the background samples (all samples when the mask covers everything).
        var background = (0..<(gw * gh)).filter { alpha[$0] < 0.5 }
        if background.isEmpty { background = Array(0..<(gw * gh)) }
        var gain: [Float] = [1, 1, 1]
        for c in 0..<3 {
            let sum = background.reduce(Float(0)) { $0 + rgb[3 * $1 + c] }
            gain[c] = sum > 0 ? Float(background.count) / (2 * sum) : 1
        }
        var bins = [Float](repeating: 0, count: 512)
        func level(_ k: Int, _ c: Int) -> Int { min(7, max(0, Int(rgb[3 * k + c] * gain[c] * 8))) }
        for k in background { bins[(level(k, 0) * 8 + level(k, 1)) * 8 + level(k, 2)] += 1 }
        let scale = 1 / Float(background.count)
        histogram = bins.map { $0 * scale }
        // Cell means.
        var colour = [Float](repeating: 0, count: 3 * Self.cells * cellsY)
        var coverage = [Float](repeating: 0, count: Self.cells * cellsY)
        var counts = [Float](repeating: 0, count: Self.cells * cellsY)
        for j in 0..<gh {
            for i in 0..<gw {
                let k = j * gw + i, cell = (j / Self.samplesPerCell) * Self.cells + i / Self.samplesPerCell
                for c in 0..<3 { colour[3 * cell + c] += rgb[3 * k + c] }
                coverage[cell] += alpha[k]
                counts[cell] += 1
            }
        }
        for cell in 0..<counts.count where counts[cell] > 0 {
            for c in 0..<3 { colour[3 * cell + c] /= counts[cell] }
            coverage[cell] /= counts[cell]
        }
        self.colour = colour
        self.coverage = coverage
        let samples = Float(gw * gh)
        cellWeights = counts.map { $0 / samples }
        hasMask = alpha.contains { $0 > 0 } || Self.anyCoverage(image: imageAlpha, mask: mask)
    }

    /// Whether any pixel of the mask (nil: of the image's alpha) is nonzero: the full-resolution
    /// check behind `hasMask`, run only when no sample found the mask (an 8 MB scan at 4K).
    static func anyCoverage(image: ImageView?, mask: MaskView?) -> Bool {
        if let mask {
            for y in 0..<mask.height {
                let row = mask.data + y * mask.rowBytes
                var any: UInt8 = 0
                for x in 0..<mask.width { any |= row[x] }           // no early exit: vectorises
                if any != 0 { return true }
            }
            return false
        }
        guard let image, image.channels == 4 else { return false }
        for y in 0..<image.height {
            for x in 0..<image.width where image.sample(x, y, 3) > 0 { return true }
        }
        return false
    }

    /// Mean absolute change of the cell colours and of the mask coverage since `other`, each cell
    /// weighted by its area.
    public func change(since other: FrameSketch) -> (colour: Float, mask: Float) {
        guard other.colour.count == colour.count else { return (1, 1) }
        var dc: Float = 0, dm: Float = 0
        for cell in 0..<coverage.count {
            var d: Float = 0
            for c in 0..<3 { d += abs(colour[3 * cell + c] - other.colour[3 * cell + c]) }
            dc += cellWeights[cell] * d / 3
            dm += cellWeights[cell] * abs(coverage[cell] - other.coverage[cell])
        }
        return (dc, dm)
    }
}

/// Which frames the network runs on (`--infer-every`). Both policies keep to a grid of frame
/// numbers counted from the clip's start, so that a pass over a part of the clip (after a few
/// frames of warm-up) picks the same frames as a pass over all of it.
public enum InferencePolicy: Sendable, Equatable {
    /// The first frame of each block of n frames (1: every frame), and always the first frame after
    /// a cut or where the mask appears or vanishes.
    case every(Int)
    /// As often as the picture asks for: when the background or the mask has changed enough since
    /// the last inferred frame, at every cut, and at least once in each block of `maxGap` frames.
    case auto(maxGap: Int, colourChange: Float, maskChange: Float)

    public static let automatic = InferencePolicy.auto(maxGap: 12, colourChange: 0.04, maskChange: 0.02)

    /// The most frames from one inferred frame to the next within a shot.
    public var maxGap: Int {
        switch self {
        case .every(let n): n
        case .auto(let maxGap, _, _): maxGap
        }
    }
}

/// Decides, in frame order, whether each frame starts a new shot and whether to run the network on
/// it. Frames in between inferred ones get curves interpolated between their neighbours; a cut
/// always forces inference, so interpolation never spans two shots.
public final class KeyFramePlanner {
    public struct Decision: Sendable, Equatable {
        public let infer: Bool
        public let cut: Bool
        public init(infer: Bool, cut: Bool) {
            self.infer = infer
            self.cut = cut
        }
    }

    public let policy: InferencePolicy
    private let detector: SceneCutDetector
    private var key: (sketch: FrameSketch, block: Int)?

    public init(policy: InferencePolicy, detector: SceneCutDetector = SceneCutDetector()) {
        self.policy = policy
        self.detector = detector
    }

    /// Frames after which a planner started partway through a clip decides as one that saw the clip
    /// from its start: the cut detector's history fills, then the next block starts both afresh.
    public var convergenceFrames: Int { detector.history + 1 + policy.maxGap }

    /// - number: the frame's number from the clip's start (`StreamInfo.frameNumber`).
    public func decide(_ sketch: FrameSketch, frame number: Int) -> Decision {
        let cut = detector.isCut(sketch.histogram)
        let gap = max(1, policy.maxGap)
        let block = number >= 0 ? number / gap : -((-number + gap - 1) / gap)
        var infer: Bool
        if let key, !cut, sketch.hasMask == key.sketch.hasMask {
            infer = block != key.block
            if case .auto(_, let colourChange, let maskChange) = policy, !infer {
                let change = sketch.change(since: key.sketch)
                infer = change.colour > colourChange || change.mask > maskChange
            }
        } else {
            infer = true                    // a new shot, or the mask appears or vanishes
        }
        if infer { key = (sketch, block) }
        return Decision(infer: infer, cut: cut)
    }
}
