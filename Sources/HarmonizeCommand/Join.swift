import ArgumentParser
import Foundation
import VideoPipe

/// `harmonize join`: the parts of a clip made with --start/--duration (on one machine or many),
/// concatenated without re-encoding into what a single pass would have written.
public struct Join: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "harmonize join",
        abstract: "Join the parts of a clip made with --start/--duration into one file, without re-encoding.",
        discussion: """
        The parts are put in time order and checked: the same encoder settings and harmonize \
        options (their container tags), no gap or overlap between them, and with --source as many \
        frames as the source has over the same time. Audio and subtitles come from --source \
        (over the time the parts cover), else from the parts.

        Example:
          harmonize join parts/clip.part*.mp4 --source clip.mp4 -o clip.harmonized.mp4
        """)

    @Argument(help: "The parts (any order).")
    var parts: [String]

    @Option(name: .shortAndLong, help: "The joined file.")
    var output: String

    @Option(help: "The clip the parts were made from: audio and subtitles are taken from it, and its frames counted.")
    var source: String?

    @Flag(name: .short, help: "Overwrite OUTPUT.")
    var y = false

    @Flag(name: .short, help: "Quiet: no summary.")
    var q = false

    public init() {}

    public func validate() throws {
        if parts.isEmpty { throw ValidationError("give the parts to join") }
    }

    public func run() throws {
        setFFmpegLogging(verbose: false)
        do {
            let report = try PartJoiner.join(parts: parts, source: source, output: output, overwrite: y)
            if !q {
                let note = String(format: "joined %d parts, %d frames, %.3f-%.3f s -> %@ (audio and subtitles: %@)",
                                  report.parts, report.frames, report.start, report.end, output, report.otherStreams)
                FileHandle.standardError.write(Data("harmonize: \(note)\n".utf8))
            }
        } catch let error as PipeError {
            FileHandle.standardError.write(Data("harmonize join: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
