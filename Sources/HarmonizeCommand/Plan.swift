import ArgumentParser
import Foundation
import VideoPipe

/// `harmonize plan`: splits a clip into time ranges that cover it exactly, one job each, and says
/// how to run them and join the results. Any boundary is seamless (each part reads the frames
/// around it that smoothing and planning look at), so boundaries fall where the frames divide
/// evenly; the plan reads the container's timestamps only, nothing is decoded.
public struct Plan: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "harmonize plan",
        abstract: "Split a clip into segments to process apart (on other cores or machines) and join.",
        discussion: """
        Prints the segments as JSON (each with its range, frame count, part file and command line, \
        and the join command), or with --format shell one command a line: the segments' then, last, \
        the join. Options after -- go to every segment's command (-m MASK, --model, ...).

        Examples:
          harmonize plan clip.mp4 --segments 8 -o out.mp4 -- -m matte.mp4
          harmonize plan clip.mp4 --segment-seconds 60 -o out.mp4 --format shell > jobs.sh
          head -n -1 jobs.sh | parallel -j 4 && tail -n 1 jobs.sh | sh
        """)

    @Argument(help: "The clip (a video file).")
    var input: String

    @Option(help: "How many segments (of equal frame counts).")
    var segments: Int?

    @Option(name: .customLong("segment-seconds"), help: "Or: segments of about this many seconds.")
    var segmentSeconds: Double?

    @Option(name: .shortAndLong, help: "The joined output.")
    var output: String

    @Option(name: .customLong("parts-dir"), help: "Where the parts go (default: beside the output).")
    var partsDir: String?

    @Option(help: "json (default) or shell.")
    var format: String = "json"

    @Option(help: "The harmonize command in the command lines (default: this executable).")
    var harmonize: String?

    @Argument(parsing: .postTerminator, help: "Options for every segment (after --), e.g. -- -m matte.mp4 --strength 0.8.")
    var jobOptions: [String] = []

    public init() {}

    public func validate() throws {
        switch (segments, segmentSeconds) {
        case (nil, nil): throw ValidationError("give --segments N or --segment-seconds S")
        case (.some, .some): throw ValidationError("give --segments or --segment-seconds, not both")
        case (.some(let n), nil) where n < 1: throw ValidationError("--segments must be at least 1")
        case (nil, .some(let s)) where !(s > 0): throw ValidationError("--segment-seconds must be above 0")
        default: break
        }
        if !["json", "shell"].contains(format) { throw ValidationError("--format must be json or shell") }
        for banned in ["-o", "--output", "--start", "--duration"] where jobOptions.contains(banned) {
            throw ValidationError("\(banned) comes from the plan, not from the options after --")
        }
    }

    struct Segment: Encodable {
        let index: Int
        let start: Double
        let duration: Double?
        let frames: Int
        let output: String
        let command: [String]
    }

    struct Document: Encodable {
        let input: String
        let frames: Int
        let duration: Double
        let frameRate: String
        let segments: [Segment]
        let join: [String]
        enum CodingKeys: String, CodingKey {
            case input, frames, duration, frameRate = "frame_rate", segments, join
        }
    }

    public func run() throws {
        setFFmpegLogging(verbose: false)
        let document: Document
        do {
            document = try makePlan()
        } catch let error as PipeError {
            FileHandle.standardError.write(Data("harmonize plan: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if format == "shell" {
            for segment in document.segments { print(shellLine(segment.command)) }
            print(shellLine(document.join))
        } else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(document), as: UTF8.self))
        }
    }

    func makePlan() throws -> Document {
        let (times, rate) = try frameTimes(of: input)
        let n = times.count
        let duration = times.last! + 1 / (rate.isValid ? rate.double : 25)
        let count = segments.map { max(1, min(n, $0)) } ?? Int(max(1, min(Double(n), (duration / segmentSeconds!).rounded())))
        // Segment k starts at frame round(k n / count); its start is that frame's time, printed to
        // the microsecond (the reader rounds it to the stream's own ticks).
        let firsts = (0..<count).map { k in Int((Double(k) * Double(n) / Double(count)).rounded()) }
        let executable = harmonize ?? runningExecutable()
        let out = URL(fileURLWithPath: output)
        let dir = partsDir ?? out.deletingLastPathComponent().relativePath
        let stem = out.deletingPathExtension().lastPathComponent, ext = out.pathExtension.isEmpty ? "mp4" : out.pathExtension
        // The parts' folder is made now, on the machine that plans (usually on the shared storage).
        if dir != "." { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let digits = max(3, String(count - 1).count)
        var list: [Segment] = []
        for k in 0..<count {
            let start = k == 0 ? 0 : micro(times[firsts[k]])
            let next = k + 1 < count ? micro(times[firsts[k + 1]]) : nil
            let length = next.map { micro($0 - start) }
            let frames = (k + 1 < count ? firsts[k + 1] : n) - firsts[k]
            let part = (dir == "." ? "" : dir + "/") + "\(stem).part" + String(repeating: "0", count: max(0, digits - String(k).count)) + "\(k).\(ext)"
            var command = [executable, input, "--start", decimal(start)]
            if let length { command += ["--duration", decimal(length)] }
            command += ["-o", part, "-q"] + jobOptions
            list.append(Segment(index: k, start: start, duration: length, frames: frames, output: part, command: command))
        }
        let join = [executable, "join"] + list.map(\.output) + ["--source", input, "-o", output]
        return Document(input: input, frames: n, duration: micro(duration), frameRate: rate.description, segments: list, join: join)
    }

    private func micro(_ t: Double) -> Double { (t * 1e6).rounded() / 1e6 }

    /// Seconds as the shortest decimal to the microsecond ("2.68", "0").
    private func decimal(_ t: Double) -> String {
        var s = String(format: "%.6f", t)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// A command line for sh: words quoted where they need it.
    private func shellLine(_ words: [String]) -> String {
        words.map { word in
            let safe = !word.isEmpty && word.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_./:=+,%@".contains($0)) }
            return safe ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }
}
