import ArgumentParser
import Engine
import Foundation
import VideoPipe

public struct Harmonize: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "harmonize",
        abstract: "Match a composited foreground to its background's colour and light, in images and video.",
        discussion: """
        INPUT and OUTPUT may each be a video file, an image, a folder of images, a printf \
        pattern (shot_%04d.png) or - for standard input/output. Timestamps, aspect ratio, \
        colour tags, rotation and audio are kept.

        Examples:
          Harmonize a composite with its mask:
            harmonize composite.png -m mask.png -o out.png
          A clip with a still mask:
            harmonize clip.mp4 -m mask.png -o out.mp4
          A clip with its mask clip, running the network on every frame (the default picks them):
            harmonize shot.mp4 -m matte.mp4 -o out.mp4 --infer-every 1
          Layers: a foreground with alpha over a background still or clip:
            harmonize --fg actor.mov --bg plate.mp4 -o out.mp4
          A png sequence with alpha, and a LUT per shot for a grading tool:
            harmonize frames/%04d.png -o out/%04d.png --lut-out luts/
          Decode and re-encode a clip (checks the I/O path):
            harmonize clip.mov -o out.mp4 --passthrough
          Folder in, folder out, same file names:
            harmonize frames/ -o out/ --passthrough
          In a pipe:
            ffmpeg -i in.mkv -f nut - | harmonize - -m matte.mp4 -o - | ffplay -
          Many jobs, two at a time (see harmonize batch --help):
            harmonize batch shots.tsv --jobs 2
          A part of a clip, and one clip split over machines (harmonize plan --help, join --help):
            harmonize clip.mp4 -m matte.mp4 --start 60 --duration 30 -o part.mp4
            harmonize plan clip.mp4 --segments 8 -o out.mp4 --format shell -- -m matte.mp4
        """)

    @Argument(help: "Video file, image, folder, printf pattern, or - for stdin (or give --fg and --bg).")
    var input: String?

    @Option(help: "Layers mode: the foreground (with alpha, or with --fg-matte), composited over --bg and harmonized.")
    var fg: String?

    @Option(help: "Layers mode: the background, a still or a clip; it sets the output size.")
    var bg: String?

    @Option(name: .customLong("fg-matte"), help: "Layers mode: the foreground's matte, when it has no alpha channel.")
    var fgMatte: String?

    @Option(name: .shortAndLong, help: "Video file, image, folder, printf pattern, or - for stdout.")
    var output: String?

    @Option(name: .shortAndLong, help: "Mask: an image, clip, folder or pattern (frame by frame); grey = soft alpha, RGB uses luma. Default: the input's alpha channel.")
    var mask: String?

    @Option(help: "Model weights (default: $HARMONIZE_MODEL, else the shipped model).")
    var model: String?

    @Option(help: "Foreground class for semantic models: person, animal, food, other.")
    var label: String = "other"

    @Option(help: "0 keeps the input, 1 applies the predicted curves fully.")
    var strength: Float = 1

    @Option(help: "Temporal smoothing of the curves, in seconds of window on each side (0: every frame on its own; at most 5). Frames in the window are held in memory.")
    var smoothing: Double = 0.25

    @Option(name: .customLong("max-slope"), help: "Guard against amplified grain: cap the applied curves' slope at this many output levels per input level (0: off). The summary says how often it acted.")
    var maxSlope: Float = 4

    @Option(name: .customLong("infer-every"), help: ArgumentHelp("Run the network on every N-th frame, or 'auto' (where the background or mask has changed enough, and at least every 12th frame; the default); curves in between are interpolated. 1 runs it on every frame.", valueName: "N|auto"))
    var inferEvery: String = "auto"

    @Option(name: .customLong("scene-threshold"), help: "Scene cut sensitivity: how many times the recent frame-to-frame change a cut must be (lower finds more cuts).")
    var sceneThreshold: Float = 4

    @Option(help: ArgumentHelp("Process only the frames from this time on (seconds, or [hh:]mm:ss.ms from the clip's start), frame-accurately; frames before it are read for smoothing but not written. Parts cut at the same times join seamlessly (harmonize plan, harmonize join).", valueName: "T"))
    var start: String?

    @Option(help: ArgumentHelp("With or without --start: process only this long (seconds or [hh:]mm:ss.ms); frames after it are read for smoothing but not written.", valueName: "D"))
    var duration: String?

    @Flag(name: .customLong("side-by-side"), help: "Write input | output next to each other (twice the width), for review.")
    var sideBySide = false

    @Option(name: .customLong("curves-out"), help: "Write the curves of every frame as JSON lines (pts, parameters, applied 3x256 LUT).")
    var curvesOut: String?

    @Option(name: .customLong("lut-out"), help: "Write the applied curve as a 1D .cube LUT (a clip: the mean of its first shot); DIR/ writes one shot_NNN.cube per shot.")
    var lutOut: String?

    @Flag(help: "Copy frames unchanged (checks the decode/encode path).")
    var passthrough = false

    @Option(help: "Video encoder (default: libx264 where the container takes h264, else the container's own; on stdout rawvideo, or ffv1 in matroska; wrapped_avframe for y4m).")
    var codec: String?

    @Option(help: "Constant rate factor for x264/x265/vpx (default 18).")
    var crf: Int?

    @Option(help: "Encoder preset (default veryfast).")
    var preset: String?

    @Option(name: .customLong("pix-fmt"), help: "Output pixel format (default yuv420p for libx264).")
    var pixelFormat: String?

    @Option(help: "Container on stdout: nut (default), matroska, y4m.")
    var format: String?

    @Option(help: "Frame rate for folders and patterns of images.")
    var fps: Double = 25

    @Option(help: "Worker threads (default: one per core).")
    var threads: Int?

    @Flag(help: "Stop at the first damaged frame or packet of any input (FFmpeg's -xerror) instead of concealing it and warning at the end.")
    var strict = false

    @Flag(name: .short, help: "Overwrite existing outputs.")
    var y = false

    @Flag(name: .short, help: "Quiet: no notes or summary.")
    var q = false

    @Flag(help: "At the end, where the time went: each stage's busy and blocked seconds, and how full the frames' queues were (printed even with -q).")
    var stats = false

    @Flag(name: .shortAndLong, help: "Show FFmpeg's own messages.")
    var verbose = false

    @Flag(help: "Print the tool's version and the SHA-256 of the model it would use, and exit.")
    var version = false

    public init() {}

    public func validate() throws {
        if version { return }
        if output == nil { throw ValidationError("missing -o OUTPUT (a file, folder, pattern, or - for stdout)") }
        if fg != nil || bg != nil || fgMatte != nil {
            guard fg != nil, bg != nil else { throw ValidationError("layers mode needs both --fg and --bg") }
            if input != nil { throw ValidationError("give either INPUT or --fg/--bg, not both") }
            if mask != nil { throw ValidationError("in layers mode the mask is the foreground's alpha or --fg-matte, not -m") }
            if passthrough { throw ValidationError("--passthrough has nothing to do in layers mode") }
            if [fg, bg, fgMatte].contains("-") { throw ValidationError("layers are read from files, not standard input") }
        } else if input == nil {
            throw ValidationError("missing INPUT (or --fg FG --bg BG for layers mode)")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if !(fps > 0 && fps <= 1000) { throw ValidationError("--fps must be between 0 and 1000") }
        if !(0...1).contains(strength) { throw ValidationError("--strength must be between 0 and 1") }
        if !(0...5).contains(smoothing) { throw ValidationError("--smoothing must be between 0 and 5 seconds") }
        if !(maxSlope == 0 || (maxSlope >= 1 && maxSlope <= 255)) { throw ValidationError("--max-slope must be 0 (off) or between 1 and 255") }
        if !(sceneThreshold > 1) { throw ValidationError("--scene-threshold must be greater than 1") }
        if inferencePolicy == nil { throw ValidationError("--infer-every must be a whole number from 1 to 100, or auto") }
        if Self.labels[label] == nil { throw ValidationError("--label must be one of person, animal, food, other") }
        if let start, parseTime(start) == nil { throw ValidationError("--start must be a time: seconds (12.5) or [hh:]mm:ss.ms (00:01:30.5)") }
        if let duration, !((parseTime(duration) ?? 0) > 0) {
            throw ValidationError("--duration must be a time above 0: seconds (12.5) or [hh:]mm:ss.ms (00:01:30.5)")
        }
    }

    /// The part of the input asked for (--start, --duration), without its warm-up; nil: all of it.
    var range: TimeRange? {
        if start == nil && duration == nil { return nil }
        return TimeRange(start: start.flatMap(parseTime) ?? 0, duration: duration.flatMap(parseTime))
    }

    public func run() throws {
        if version {
            print(versionText())
            return
        }
        Interrupt.installHandlers()
        setFFmpegLogging(verbose: verbose)
        setStrictDecoding(strict)
        do {
            try transcode()
        } catch let error as PipeError {
            FileHandle.standardError.write(Data("harmonize: \(error)\n".utf8))
            throw ExitCode(1)
        } catch let error as EngineError {
            FileHandle.standardError.write(Data("harmonize: \(error)\n".utf8))
            throw ExitCode(1)
        } catch let error as PartInterrupted {
            let what = target == "-" ? "stdout: the stream stops short" : "\(target): a part is written whole or not at all (join needs it whole): nothing written"
            FileHandle.standardError.write(Data("harmonize: interrupted by \(Interrupt.signalName) after \(error.frames) frames of the part; \(what)\n".utf8))
            throw ExitCode(Interrupt.exitStatus)
        } catch let error as NoFrameError {
            let why = error.interrupted ? "interrupted by \(Interrupt.signalName) before the first frame"
                : range != nil ? "no frame to read at --start \(start ?? "0") (the input ends before it)"
                : "no whole frame to read (the input ends before its first frame does)"
            FileHandle.standardError.write(Data("harmonize: \(PipeError(inputName == "-" ? "stdin" : inputName, why + "; nothing written"))\n".utf8))
            throw ExitCode(error.interrupted ? Interrupt.exitStatus : 1)
        }
    }

    var inferencePolicy: InferencePolicy? {
        if inferEvery == "auto" { return .automatic }
        guard let n = Int(inferEvery), (1...100).contains(n) else { return nil }
        return .every(n)
    }

    /// INPUT, or the foreground in layers mode (for messages).
    var inputName: String { input ?? fg ?? "" }

    static let labels: [String: SemanticLabel] = ["person": .person, "animal": .animal, "food": .food, "other": .other]

    /// The destination (-o; validate() has checked it is there).
    var target: String { output ?? "-" }

    /// The frame work (harmonization, or nothing for --passthrough), the source to read, which
    /// carries each frame's mask as its matte (a still or a clip), and the model file used.
    /// What loads beside the input's opening (a single image is decoded as it opens): the model,
    /// and a still mask at its own size. Nil where the run needs neither.
    private struct Preloads {
        var model: (path: String, loading: Prefetch<HarmonizationModel>)?
        var mask: Prefetch<StillMask>?
    }

    private func startPreloads() -> Preloads {
        guard !passthrough else { return Preloads() }
        var preloads = Preloads()
        if let path = model ?? Harmonizer.defaultModelPath() {
            preloads.model = (path, Prefetch(thread: "harmonize.model") { try HarmonizationModel(path: path) })
        }
        if fg == nil, let mask, Endpoint(mask).isStill { preloads.mask = StillMask.prefetch(mask) }
        return preloads
    }

    private func plan(_ source: FrameSource, _ preloads: Preloads) throws -> (FrameSource, Harmonizer?, modelPath: String?) {
        if passthrough { return (source, nil, nil) }
        let info = source.info
        var source = source
        let masks: Harmonizer.Masks
        if source is LayerComposite {
            masks = .clip
        } else if let mask {
            // A still is read beside the input's first frame; its note (a scaled mask) comes with the warnings.
            source = Endpoint(mask).isStill ? StillMaskSource(base: source, maskPath: mask, loading: preloads.mask)
                : try MaskedSource(base: source, basePath: inputName, maskPath: mask)
            masks = .clip
        } else if info.layout.hasAlpha {
            masks = .alphaChannel
        } else {
            throw PipeError(inputName, "no mask: give one with -m MASK (an image, clip, folder or pattern; white = foreground), use an input with an alpha channel, or --passthrough")
        }
        guard let (path, loading) = preloads.model else {
            throw PipeError("", "no model found: pass --model FILE.safetensors or set HARMONIZE_MODEL (make train makes one)")
        }
        let harmonizer = Harmonizer(model: try loading.result.get(), masks: masks,
                                    label: Self.labels[label] ?? .other, strength: strength)
        return (source, harmonizer, path)
    }

    private func transcode() throws {
        for input in [input, fg, bg, fgMatte, mask].compactMap({ $0 }) {
            try checkNotSameLocation(input: input, output: target)
        }
        let rate = Rational(Int32((fps * 1000).rounded()), 1000)
        let preloads = startPreloads()
        let opened: FrameSource
        if let fg, let bg {
            opened = try LayerComposite(foreground: fg, background: bg, matte: fgMatte, frameRate: rate)
        } else {
            opened = try openSource(inputName, frameRate: rate)
            // Video to video: frames stay in the decoder's 4:2:0 planes; only the blocks the mask
            // touches are converted, and every other sample reaches the encoder as decoded.
            if !sideBySide, let reader = opened as? MediaReader, Endpoint(target).writesVideo { _ = reader.keepYUV420() }
        }
        let frameRate = opened.info.frameRate.isValid ? opened.info.frameRate.double : 25
        let radius = Int((smoothing * frameRate).rounded())
        if var range {
            let still = fg != nil ? Endpoint(fg!).isStill && Endpoint(bg!).isStill : Endpoint(inputName).isStill
            guard let part = opened as? RangeSelectable, !still else {
                throw PipeError(inputName, "--start/--duration need a clip (a video file, an image pattern or stdin), not a still or a folder")
            }
            // Frames around the part, read so that its frames are planned and smoothed as in one pass.
            if !passthrough {
                let warmUp = SmoothingSink.warmUpFrames(policy: inferencePolicy ?? .every(1), radius: radius, cutRatio: sceneThreshold)
                range.warmUpBefore = Double(warmUp.before) / frameRate
                range.warmUpAfter = Double(warmUp.after) / frameRate
            }
            try part.select(range)
        }
        if passthrough && (curvesOut != nil || lutOut != nil) {
            throw PipeError("", "--curves-out and --lut-out need harmonization (not --passthrough)")
        }
        let (source, harmonizer, modelPath) = try plan(opened, preloads)
        // What made the output, for a video's container and the curves' lines (hashing the model
        // costs a few ms: not for a still).
        let provenance: Provenance? = Endpoint(target).writesVideo || curvesOut != nil
            ? Provenance(modelHash: try modelPath.map { try sha256Hex(ofFile: $0) }, options: shapingOptions, range: range,
                         source: range == nil ? nil : URL(fileURLWithPath: inputName).lastPathComponent) : nil
        let options = EncodeOptions(codec: codec, crf: crf, preset: preset, pixelFormat: pixelFormat,
                                    format: format, overwrite: y, comment: provenance?.line)
        if passthrough && sideBySide { throw PipeError("", "--side-by-side shows harmonization (not --passthrough)") }
        var outputInfo = source.info
        if sideBySide { outputInfo.width *= 2 }
        let output = try openSink(target, info: outputInfo, passthrough: source.passthrough, options: options)
        let export: CurveExport?
        do {
            export = curvesOut == nil && lutOut == nil ? nil
                : try CurveExport(jsonl: curvesOut, lut: lutOut, timeBase: source.info.timeBase, overwrite: y,
                              madeBy: provenance?.line)
        } catch {
            output.abort()
            throw error
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let workers = threads ?? cores
        // Each worker's network runs on its own thread; a single picture has the cores to itself.
        if harmonizer != nil {
            HarmonizationModel.setMatrixThreads(source.info.expectedFrames == 1 ? cores : max(1, cores / workers))
        }
        var pipeline: Pipeline
        // A part of the clip: its warm-up frames and the copied streams' packets outside it are dropped.
        let rangeSink = range.flatMap { range in
            (opened as? RangeSelectable)?.selectedSeconds.map {
                RangeSink(sink: output, window: $0, passthrough: source.passthrough, input: inputName == "-" ? "stdin" : inputName, range: range)
            }
        }
        let written: FrameSink = rangeSink ?? output
        var sink = written
        var smoothingSink: SmoothingSink?
        if let harmonizer {
            let stage = SmoothingSink(sink: written, harmonizer: harmonizer, clock: source.info, radius: radius, cutRatio: sceneThreshold,
                                      policy: inferencePolicy ?? .every(1), export: export, sideBySide: sideBySide,
                                      maxSlope: maxSlope == 0 ? nil : maxSlope)
            pipeline = Pipeline(workers: workers) { stage.predict($0) }
            pipeline.inFrameOrder = { stage.plan($0) }
            sink = stage
            smoothingSink = stage
        } else {
            pipeline = Pipeline(workers: workers) { _ in }
        }
        let progress = !q && ProgressLine.enabled ? ProgressLine(total: source.info.expectedFrames) : nil
        if let progress { pipeline.onFrameWritten = { if !$0.warmUp { progress.frameWritten() } } }

        let summary: PipelineSummary
        do {
            summary = try pipeline.run(source: source, sink: sink)
            progress?.end()
            try export?.finish()
        } catch {
            progress?.end()
            export?.abandon()
            throw error
        }
        if !q {
            for warning in summary.warnings { note(warning) }
            let target = self.target == "-" ? "stdout" : self.target
            let stop = summary.interrupted
                ? " (interrupted by \(Interrupt.signalName) after frame \(summary.frames); output holds what was processed)" : ""
            var shots = (smoothingSink?.shots ?? 0) > 1 ? ", \(smoothingSink!.shots) shots" : ""
            if let stage = smoothingSink, stage.inferred < summary.frames {
                shots += ", network on \(stage.inferred) of them"
            }
            if let stage = smoothingSink, stage.slopeLimited > 0 {
                shots += ", slope guard on \(stage.slopeLimited) of them"
            }
            let frames = rangeSink?.written ?? summary.frames
            var count = frames == 1 ? String(format: "1 frame in %.2f s", summary.seconds)
                : String(format: "%d frames in %.1f s (%.1f fps)", frames, summary.seconds, Double(frames) / max(summary.seconds, 1e-9))
            if let rangeSink, rangeSink.dropped > 0 { count += " (and \(rangeSink.dropped) frames of warm-up around them)" }
            note("\(count) -> \(target)\(shots)\(stop)")
        }
        if stats {
            for line in StatsReport.lines(summary, renderSeconds: smoothingSink?.renderSeconds) { note(line) }
        }
        // A partial output is valid and playable, but not what was asked for: say so in the status.
        if summary.interrupted { throw ExitCode(Interrupt.exitStatus) }
    }

    private func note(_ text: String) {
        FileHandle.standardError.write(Data("harmonize: \(text)\n".utf8))
    }
}
