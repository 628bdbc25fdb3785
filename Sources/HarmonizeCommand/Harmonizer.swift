import Engine
import Foundation
import VideoPipe

/// The work of `harmonize` on a frame: predict curves from the frame and its mask (concurrently, on
/// the pipeline's workers), then, in frame order, smooth them over time and render them inside the
/// mask at native resolution (`SmoothingSink`).
struct Harmonizer: Sendable {
    /// Where each frame's mask comes from.
    enum Masks: Sendable {
        case still(StillMask)       // one image for every frame
        case clip                   // a mask clip, attached to each frame by `MaskedSource`
        case alphaChannel           // the input's own alpha
    }

    let model: HarmonizationModel
    let masks: Masks
    let label: SemanticLabel
    let strength: Float

    /// What a worker finds for a frame, for the in-order stage that smooths and renders.
    struct Prediction: Sendable {
        let alpha: [UInt8]
        /// The network's curve stages; nil when it did not run (an empty mask, or a frame between
        /// inferred ones).
        let stages: [CurveParameters]?
        let curves: ToneCurves
    }

    /// The engine's view of a pipeline frame of a packed layout (same pixels, no copy).
    private static func view(_ frame: VideoFrame) -> ImageView {
        ImageView(width: frame.width, height: frame.height, channels: frame.layout.channels,
                  bytesPerSample: frame.layout.bytesPerSample, rowBytes: frame.rowBytes, data: frame.data)
    }

    /// The engine's view of a `yuv420p8` frame (its planes, no copy); nil for packed layouts.
    private static func yuvView(_ frame: VideoFrame) -> YUV420View? {
        guard frame.layout == .yuv420p8, let yuv = frame.yuv else { return nil }
        let (luma, lumaRowBytes) = frame.plane(0), (cb, chromaRowBytes) = frame.plane(1), (cr, _) = frame.plane(2)
        return YUV420View(width: frame.width, height: frame.height, luma: luma, lumaRowBytes: lumaRowBytes,
                          cb: cb, cr: cr, chromaRowBytes: chromaRowBytes,
                          matrix: YUVMatrix(kr: yuv.kr, kb: yuv.kb, fullRange: yuv.fullRange))
    }

    /// The frame's mask as an 8-bit plane of its size.
    func alpha(of frame: VideoFrame) -> [UInt8] {
        switch masks {
        case .still(let m): m.alpha
        case .clip: frame.matte ?? [UInt8](repeating: 0, count: frame.width * frame.height)
        case .alphaChannel: alphaPlane(of: frame, useAlpha: true)
        }
    }

    /// `body` with the engine's view of a frame-sized alpha plane (no copy).
    private static func withMask<R>(_ alpha: [UInt8], of frame: VideoFrame, _ body: (MaskView) -> R) -> R {
        alpha.withUnsafeBufferPointer {
            body(MaskView(width: frame.width, height: frame.height, rowBytes: frame.width, data: $0.baseAddress!))
        }
    }

    /// A cheap sparse summary of the frame and its mask, for cut detection and key-frame choice.
    func sketch(_ frame: VideoFrame) -> FrameSketch {
        if let yuv = Self.yuvView(frame) {
            return Self.withMask(alpha(of: frame), of: frame) { FrameSketch(yuv: yuv, mask: $0) }
        }
        let image = Self.view(frame)
        // An alpha channel is sampled straight from the frame, without extracting a plane.
        if case .alphaChannel = masks { return FrameSketch(image: image, mask: nil) }
        return Self.withMask(alpha(of: frame), of: frame) { FrameSketch(image: image, mask: $0) }
    }

    /// Runs the network on a frame when `infer` (on a worker thread); the pixels are not changed here.
    func predict(_ frame: VideoFrame, infer: Bool = true) -> Prediction {
        let alpha = alpha(of: frame)
        guard infer else { return Prediction(alpha: alpha, stages: nil, curves: .identity()) }
        let yuv = Self.yuvView(frame)
        guard let thumbs = Self.withMask(alpha, of: frame, { mask in
            if let yuv { return model.thumbnails(yuv: yuv, mask: mask) }
            return model.thumbnails(image: Self.view(frame), mask: mask)
        }) else {
            return Prediction(alpha: alpha, stages: nil, curves: .identity())
        }
        let stages = model.predict(thumbs, label: label)
        let curves = ToneCurves(composing: stages)
        return Prediction(alpha: alpha, stages: stages, curves: strength < 1 ? curves.strength(strength) : curves)
    }

    /// Renders `curves` into the frame inside its mask (in the in-order stage).
    func render(_ frame: VideoFrame, alpha: [UInt8], curves: ToneCurves) {
        let renderer = CurveRenderer(curves: curves, bytesPerSample: frame.layout.bytesPerSample)
        Self.withMask(alpha, of: frame) { mask in
            if let yuv = Self.yuvView(frame) {
                renderer.render(yuv: yuv, mask: mask)
            } else {
                renderer.render(Self.view(frame), mask: mask)
            }
        }
    }

    /// The shipped weights: $HARMONIZE_MODEL, else models/harmonize.safetensors or
    /// share/harmonize/harmonize.safetensors above the executable (build tree or install prefix).
    static func defaultModelPath() -> String? {
        if let env = ProcessInfo.processInfo.environment["HARMONIZE_MODEL"], !env.isEmpty { return env }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            for candidate in ["models/harmonize.safetensors", "share/harmonize/harmonize.safetensors"] {
                let path = dir.appendingPathComponent(candidate).path
                if FileManager.default.fileExists(atPath: path) { return path }
            }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }
}
