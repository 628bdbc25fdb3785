import ArgumentParser
import Foundation
import VideoPipe

@main
struct Harmonize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harmonize",
        abstract: "Match a composited foreground to its background's colour and light, in images and video.",
        discussion: """
        INPUT and OUTPUT may each be a video file, an image, a folder of images, a printf \
        pattern (shot_%04d.png) or - for standard input/output. Timestamps, aspect ratio, \
        colour tags, rotation and audio are kept.

        Examples:
          Decode and re-encode a clip (checks the I/O path):
            harmonize clip.mov -o out.mp4 --passthrough
          Folder in, folder out, same file names:
            harmonize frames/ -o out/ --passthrough
          In a pipe:
            ffmpeg -i in.mkv -f nut - | harmonize - -o - --passthrough | ffplay -
        """)

    @Argument(help: "Video file, image, folder, printf pattern, or - for stdin.")
    var input: String

    @Option(name: .shortAndLong, help: "Video file, image, folder, printf pattern, or - for stdout.")
    var output: String

    @Flag(help: "Copy frames unchanged (checks the decode/encode path).")
    var passthrough = false

    @Option(help: "Video encoder (default: libx264 for files, rawvideo on stdout).")
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

    @Flag(name: .short, help: "Overwrite existing outputs.")
    var y = false

    @Flag(name: .short, help: "Quiet: no notes or summary.")
    var q = false

    @Flag(name: .shortAndLong, help: "Show FFmpeg's own messages.")
    var verbose = false

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if !(fps > 0 && fps <= 1000) { throw ValidationError("--fps must be between 0 and 1000") }
    }

    func run() throws {
        Interrupt.installHandlers()
        setFFmpegLogging(verbose: verbose)
        do {
            try transcode()
        } catch let error as PipeError {
            FileHandle.standardError.write(Data("harmonize: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func transcode() throws {
        guard passthrough else {
            throw PipeError("", "no harmonization model is built into this version yet; use --passthrough to copy frames")
        }
        try checkNotSameLocation(input: input, output: output)
        let rate = Rational(Int32((fps * 1000).rounded()), 1000)
        let source = try openSource(input, frameRate: rate)
        let options = EncodeOptions(codec: codec, crf: crf, preset: preset, pixelFormat: pixelFormat,
                                    format: format, overwrite: y)
        let sink = try openSink(output, info: source.info, passthrough: source.passthrough, options: options)
        let pipeline = Pipeline(workers: threads ?? ProcessInfo.processInfo.activeProcessorCount) { _ in }
        let summary = try pipeline.run(source: source, sink: sink)
        if !q {
            for warning in summary.warnings { note(warning) }
            let target = output == "-" ? "stdout" : output
            let stop = summary.interrupted ? " (interrupted; output holds what was processed)" : ""
            note(String(format: "%d frames in %.1f s (%.1f fps) -> %@%@", summary.frames, summary.seconds,
                        summary.framesPerSecond, target, stop))
        }
    }

    private func note(_ text: String) {
        FileHandle.standardError.write(Data("harmonize: \(text)\n".utf8))
    }
}
