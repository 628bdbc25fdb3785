import Engine
import Foundation
import VideoPipe

/// The work of `harmonize` on a frame: predict curves from the frame and its mask (concurrently, on
/// the pipeline's workers), then, in frame order, smooth them over time and render them inside the
/// mask at native resolution (`SmoothingSink`).
struct Harmonizer: Sendable {
    /// Where each frame's mask comes from.
    enum Masks: Sendable {
        case clip                   // each frame's matte: a mask clip's frame (`MaskedSource`) or a still (`StillMaskSource`)
        case alphaChannel           // the input's own alpha
    }

    let model: HarmonizationModel
    let masks: Masks
    let label: SemanticLabel
    let strength: Float

    /// The part of a frame's mask the render needs: the mask's bounding box, widened to even
    /// coordinates (whole 4:2:0 chroma blocks), and the mask values inside it, packed. A frame waits
    /// for its render behind the smoothing window and the next inferred frame (20-odd frames); a mask
    /// of its full size (2 MB at 1080p) would be held all that time for a box that is often a tenth
    /// of it, and the box itself (430 KB for the bench's 1080p silhouette) packs into ~10 KB.
    struct MaskCrop: Sendable {
        let box: Box?               // nil: the mask is empty
        let values: PackedMask?     // box.width x box.height

        init(_ alpha: [UInt8], width: Int, height: Int) {
            let bounds = alpha.withUnsafeBufferPointer {
                maskBounds(MaskView(width: width, height: height, rowBytes: width, data: $0.baseAddress!))
            }
            guard let b = bounds else { box = nil; values = nil; return }
            let even = Box(x0: b.x0 & ~1, y0: b.y0 & ~1, x1: min(width, (b.x1 + 1) & ~1), y1: min(height, (b.y1 + 1) & ~1))
            box = even
            values = alpha.withUnsafeBufferPointer {
                PackedMask(MaskView(width: even.width, height: even.height, rowBytes: width,
                                    data: $0.baseAddress! + even.y0 * width + even.x0))
            }
        }
    }

    /// What a worker finds for a frame, for the in-order stage that smooths and renders.
    struct Prediction: Sendable {
        let mask: MaskCrop
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

    /// The engine's view of a packed frame's box (even x0 and y0).
    private static func view(_ frame: VideoFrame, box b: Box) -> ImageView {
        ImageView(width: b.width, height: b.height, channels: frame.layout.channels,
                  bytesPerSample: frame.layout.bytesPerSample, rowBytes: frame.rowBytes,
                  data: frame.data + b.y0 * frame.rowBytes + b.x0 * frame.layout.bytesPerPixel)
    }

    /// The engine's view of a `yuv420p8` frame (its planes, no copy), or of its `box` (even x0 and
    /// y0, so that the box starts on a chroma sample); nil for packed layouts.
    private static func yuvView(_ frame: VideoFrame, box: Box? = nil) -> YUV420View? {
        guard frame.layout == .yuv420p8, let yuv = frame.yuv else { return nil }
        let b = box ?? Box(x0: 0, y0: 0, x1: frame.width, y1: frame.height)
        precondition(b.x0 & 1 == 0 && b.y0 & 1 == 0, "a 4:2:0 view starts on a chroma sample")
        let (luma, lumaRowBytes) = frame.plane(0), (cb, chromaRowBytes) = frame.plane(1), (cr, _) = frame.plane(2)
        let chroma = (b.y0 / 2) * chromaRowBytes + b.x0 / 2
        return YUV420View(width: b.width, height: b.height, luma: luma + b.y0 * lumaRowBytes + b.x0, lumaRowBytes: lumaRowBytes,
                          cb: cb + chroma, cr: cr + chroma, chromaRowBytes: chromaRowBytes,
                          matrix: YUVMatrix(kr: yuv.kr, kb: yuv.kb, fullRange: yuv.fullRange))
    }

    /// The frame's mask as an 8-bit plane of its size.
    func alpha(of frame: VideoFrame) -> [UInt8] {
        switch masks {
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
    /// The frame's full-size matte is let go: from here on only the prediction's crop of it is needed.
    func predict(_ frame: VideoFrame, infer: Bool = true) -> Prediction {
        let alpha = alpha(of: frame)
        frame.matte = nil
        let crop = MaskCrop(alpha, width: frame.width, height: frame.height)
        guard infer, crop.box != nil else { return Prediction(mask: crop, stages: nil, curves: .identity()) }
        let yuv = Self.yuvView(frame)
        guard let thumbs = Self.withMask(alpha, of: frame, { mask in
            if let yuv { return model.thumbnails(yuv: yuv, mask: mask) }
            return model.thumbnails(image: Self.view(frame), mask: mask)
        }) else {
            return Prediction(mask: crop, stages: nil, curves: .identity())
        }
        let stages = model.predict(thumbs, label: label)
        let curves = ToneCurves(composing: stages)
        return Prediction(mask: crop, stages: stages, curves: strength < 1 ? curves.strength(strength) : curves)
    }

    /// Renders `curves` into the frame inside its mask (in the in-order stage); `buffer` holds the
    /// unpacked mask (one buffer for every frame).
    func render(_ frame: VideoFrame, mask: MaskCrop, curves: ToneCurves, buffer: inout [UInt8]) {
        guard let b = mask.box, let values = mask.values else { return }
        let renderer = CurveRenderer(curves: curves, bytesPerSample: frame.layout.bytesPerSample)
        values.withUnpacked(into: &buffer) { view in
            if let yuv = Self.yuvView(frame, box: b) {
                renderer.render(yuv: yuv, mask: view)
            } else {
                renderer.render(Self.view(frame, box: b), mask: view)
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
