// Times the engine for `make bench`: the network on one frame's two thumbnails, thumbnail
// preparation, and rendering curves into a 3840x2160 frame. Prints one "name value" line each
// (milliseconds, medians); scripts/bench.sh sets them against the PyTorch reference.
import Engine
import Foundation

/// Milliseconds of `runs` runs of `body` after one to warm up, fastest first.
func timings(_ runs: Int, _ body: () -> Void) -> [Double] {
    body()
    var times: [Double] = []
    for _ in 0..<runs {
        let t = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
    }
    return times.sorted()
}

func median(_ runs: Int, _ body: () -> Void) -> Double { timings(runs, body)[runs / 2] }

let args = CommandLine.arguments
guard args.count >= 2 else {
    FileHandle.standardError.write(Data("usage: engine-bench MODEL.safetensors [runs] [small|network]\n".utf8))
    exit(2)
}
let runs = args.count > 2 ? Int(args[2]) ?? 20 : 20
let model: HarmonizationModel
do { model = try HarmonizationModel(path: args[1]) } catch {
    FileHandle.standardError.write(Data("engine-bench: \(error)\n".utf8))
    exit(1)
}

/// Per-frame engine work on decoded video at `w` x `h` (8-bit 4:2:0, BT.709 limited, an elliptical
/// soft mask over about a third of the frame): thumbnails and render, milliseconds (medians).
func yuvFrame(_ w: Int, _ h: Int, runs: Int, thumbnailRuns: Int? = nil) -> (thumbnails: Double, render: Double) {
    var luma = [UInt8](repeating: 0, count: w * h)
    var chroma = [UInt8](repeating: 0, count: 2 * (w / 2) * (h / 2))
    var mask = [UInt8](repeating: 0, count: w * h)
    for y in 0..<h {
        for x in 0..<w {
            luma[y * w + x] = UInt8(16 + (x + 2 * y) * 219 / (w + 2 * h))
            let dx = Double(x - w / 2) / Double(w / 3), dy = Double(y - h / 2) / Double(h / 3)
            mask[y * w + x] = UInt8(max(0, min(255, (1 - (dx * dx + dy * dy)) * 1024)))
        }
    }
    for i in 0..<chroma.count { chroma[i] = UInt8(64 + (i * 7) % 128) }
    return luma.withUnsafeMutableBufferPointer { l in
        chroma.withUnsafeMutableBufferPointer { c in
            mask.withUnsafeBufferPointer { m in
                let yuv = YUV420View(width: w, height: h, luma: l.baseAddress!, lumaRowBytes: w, cb: c.baseAddress!,
                                     cr: c.baseAddress! + (w / 2) * (h / 2), chromaRowBytes: w / 2,
                                     matrix: YUVMatrix(kr: 0.2126, kb: 0.0722, fullRange: false))
                let view = MaskView(width: w, height: h, rowBytes: w, data: m.baseAddress!)
                let thumbs = model.thumbnails(yuv: yuv, mask: view)!
                let renderer = CurveRenderer(curves: ToneCurves(model.predict(thumbs)[0]), bytesPerSample: 1)
                return (median(thumbnailRuns ?? runs) { _ = model.thumbnails(yuv: yuv, mask: view) },
                        median(runs) { renderer.render(yuv: yuv, mask: view) })
            }
        }
    }
}

// `network`: only the network, fastest and median of `runs` (for comparing two builds).
if args.count > 3 && args[3] == "network" {
    let (w, h) = (640, 360)
    var rgb = [UInt8](repeating: 0, count: w * h * 3), m = [UInt8](repeating: 0, count: w * h)
    for i in 0..<rgb.count { rgb[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
    for y in (h / 4)..<(3 * h / 4) { for x in (w / 4)..<(3 * w / 4) { m[y * w + x] = 255 } }
    let thumbs = rgb.withUnsafeMutableBytes { px in
        m.withUnsafeBufferPointer { mp in
            model.thumbnails(image: ImageView(width: w, height: h, channels: 3, bytesPerSample: 1, rowBytes: w * 3, data: px.baseAddress!),
                             mask: MaskView(width: w, height: h, rowBytes: w, data: mp.baseAddress!))!
        }
    }
    let times = timings(runs) { _ = model.predict(thumbs) }
    print("inference_min_ms \(times[0])")
    print("inference_ms \(times[runs / 2])")
    exit(0)
}

// `small`: only the 640x360 figures (for a profiler: nothing else in the run).
if args.count > 3 && args[3] == "small" {
    let small = yuvFrame(640, 360, runs: runs)
    print("thumbnails_360p_yuv420_ms \(small.thumbnails)")
    print("render_360p_yuv420_ms \(small.render)")
    exit(0)
}

// A 3840x2160 frame with a gradient and an elliptical soft mask over a third of it.
let (w, h) = (3840, 2160)
var pixels = [UInt8](repeating: 0, count: w * h * 3)
var mask = [UInt8](repeating: 0, count: w * h)
for y in 0..<h {
    for x in 0..<w {
        let i = (y * w + x) * 3
        pixels[i] = UInt8(x * 255 / w); pixels[i + 1] = UInt8(y * 255 / h); pixels[i + 2] = UInt8((x + y) % 256)
        let dx = Double(x - w / 2) / Double(w / 3), dy = Double(y - h / 2) / Double(h / 3)
        mask[y * w + x] = UInt8(max(0, min(255, (1 - (dx * dx + dy * dy)) * 1024)))
    }
}

pixels.withUnsafeMutableBytes { px in
    mask.withUnsafeBufferPointer { m in
        let image = ImageView(width: w, height: h, channels: 3, bytesPerSample: 1, rowBytes: w * 3, data: px.baseAddress!)
        let view = MaskView(width: w, height: h, rowBytes: w, data: m.baseAddress!)
        let thumbs = model.thumbnails(image: image, mask: view)!
        let inference = median(runs) { _ = model.predict(thumbs) }
        let prepare = median(max(3, runs / 4)) { _ = model.thumbnails(image: image, mask: view) }
        let curves = ToneCurves(model.predict(thumbs)[0])
        let renderer = CurveRenderer(curves: curves, bytesPerSample: 1)
        let render = median(runs) { renderer.render(image, mask: view) }
        // The same frame as decoded video holds it: 8-bit 4:2:0, BT.709 limited range.
        let renderYUV = yuvFrame(w, h, runs: runs, thumbnailRuns: max(3, runs / 4)).render
        print("inference_ms \(inference)")
        print("thumbnails_4k_ms \(prepare)")
        print("render_4k_ms \(render)")
        print("render_4k_mpix_per_s \(Double(w * h) / render / 1000)")
        print("render_4k_yuv420_ms \(renderYUV)")
        let small = yuvFrame(640, 360, runs: runs * 5)
        print("thumbnails_360p_yuv420_ms \(small.thumbnails)")
        print("render_360p_yuv420_ms \(small.render)")
    }
}
