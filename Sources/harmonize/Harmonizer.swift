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

    /// The engine's view of a pipeline frame (same pixels, no copy).
    private static func view(_ frame: VideoFrame) -> ImageView {
        ImageView(width: frame.width, height: frame.height, channels: frame.layout.channels,
                  bytesPerSample: frame.layout.bytesPerSample, rowBytes: frame.rowBytes, data: frame.data)
    }

    /// The frame's mask as an 8-bit plane of its size.
    func alpha(of frame: VideoFrame) -> [UInt8] {
        switch masks {
        case .still(let m): m.alpha
        case .clip: frame.matte ?? [UInt8](repeating: 0, count: frame.width * frame.height)
        case .alphaChannel: alphaPlane(of: frame, useAlpha: true)
        }
    }

    /// A cheap sparse summary of the frame and its mask, for cut detection and key-frame choice.
    func sketch(_ frame: VideoFrame) -> FrameSketch {
        let image = Self.view(frame)
        let plane: [UInt8]? = switch masks {
        case .still(let m): m.alpha
        case .clip: frame.matte ?? [UInt8](repeating: 0, count: frame.width * frame.height)
        case .alphaChannel: nil       // sampled straight from the frame's alpha channel
        }
        guard let plane else { return FrameSketch(image: image, mask: nil) }
        return plane.withUnsafeBufferPointer {
            FrameSketch(image: image, mask: MaskView(width: frame.width, height: frame.height, rowBytes: frame.width, data: $0.baseAddress!))
        }
    }

    /// Runs the network on a frame when `infer` (on a worker thread); the pixels are not changed here.
    func predict(_ frame: VideoFrame, infer: Bool = true) -> Prediction {
        let alpha = alpha(of: frame)
        guard infer else { return Prediction(alpha: alpha, stages: nil, curves: .identity()) }
        let image = Self.view(frame)
        return alpha.withUnsafeBufferPointer { a in
            let view = MaskView(width: frame.width, height: frame.height, rowBytes: frame.width, data: a.baseAddress!)
            guard let thumbs = model.thumbnails(image: image, mask: view) else {
                return Prediction(alpha: alpha, stages: nil, curves: .identity())
            }
            let stages = model.predict(thumbs, label: label)
            let curves = ToneCurves(composing: stages)
            return Prediction(alpha: alpha, stages: stages, curves: strength < 1 ? curves.strength(strength) : curves)
        }
    }

    /// Renders `curves` into the frame inside its mask (in the in-order stage).
    func render(_ frame: VideoFrame, alpha: [UInt8], curves: ToneCurves) {
        let image = Self.view(frame)
        alpha.withUnsafeBufferPointer { a in
            let view = MaskView(width: frame.width, height: frame.height, rowBytes: frame.width, data: a.baseAddress!)
            CurveRenderer(curves: curves, bytesPerSample: image.bytesPerSample).render(image, mask: view)
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
