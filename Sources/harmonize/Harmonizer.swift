import Engine
import Foundation
import VideoPipe

/// The per-frame work of `harmonize`: predict curves from the frame and its mask, render them
/// inside the mask at native resolution. Called concurrently by the pipeline's workers.
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
    let export: CurveExport?

    func process(_ frame: VideoFrame) {
        let image = ImageView(width: frame.width, height: frame.height, channels: frame.layout.channels,
                              bytesPerSample: frame.layout.bytesPerSample, rowBytes: frame.rowBytes, data: frame.data)
        let alpha: [UInt8]
        switch masks {
        case .still(let m): alpha = m.alpha
        case .clip: alpha = frame.matte ?? []
        case .alphaChannel: alpha = alphaPlane(of: frame, useAlpha: true)
        }
        guard alpha.count == frame.width * frame.height else { return }
        alpha.withUnsafeBufferPointer { a in
            let view = MaskView(width: frame.width, height: frame.height, rowBytes: frame.width, data: a.baseAddress!)
            guard let stages = model.predict(image: image, mask: view, label: label) else {
                export?.record(frame.index, .init(stages: [], applied: .identity()))
                return
            }
            let curves = stages.reduce(ToneCurves.identity()) { $0.then($1) }
            let applied = strength < 1 ? curves.strength(strength) : curves
            CurveRenderer(curves: applied, bytesPerSample: image.bytesPerSample).render(image, mask: view)
            export?.record(frame.index, .init(stages: stages, applied: applied))
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
