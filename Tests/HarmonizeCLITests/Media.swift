import Foundation
import Testing

/// Test media and tools: every clip is generated with the `ffmpeg` command in a fresh temporary folder.
final class Workspace {
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("harmonize-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Runs `ffmpeg -v error -y ARGS` in the workspace; fails the test on error.
    func ffmpeg(_ args: [String]) throws {
        let r = try run("/usr/bin/env", ["ffmpeg", "-nostdin", "-v", "error", "-y"] + args)
        guard r.status == 0 else { throw ToolError("ffmpeg \(args.joined(separator: " ")): \(r.stderrText)") }
    }

    /// A soft test pattern (blurred testsrc2, so chroma edges survive 4:2:0 like real footage does).
    func makeClip(_ name: String, size: String = "320x240", rate: String = "25", seconds: Double = 2,
                  codec: [String] = ["-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p"],
                  extraInputs: [String] = [], extraOutput: [String] = []) throws -> String {
        try ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=\(size):rate=\(rate),gblur=sigma=1"] + extraInputs
            + ["-t", String(seconds)] + codec + extraOutput + [path(name)])
        return path(name)
    }

    /// Runs the harmonize binary, and checks that it left every input it was given as it was (for
    /// every command line of the suite, so no test can pass on a run that modified its input).
    func harmonize(_ args: [String], stdin: FileHandle? = nil, stdout: FileHandle? = nil,
                   environment: [String: String] = [:]) throws -> RunResult {
        let inputs = InputSnapshot(arguments: args, in: dir)
        let result = try run(harmonizeBinary, args, stdin: stdin, stdout: stdout, environment: environment)
        let changed = inputs.changed()
        #expect(changed.isEmpty, "harmonize \(args.joined(separator: " ")) modified its inputs: \(changed)")
        return result
    }

    func run(_ tool: String, _ args: [String], stdin: FileHandle? = nil, stdout: FileHandle? = nil,
             environment: [String: String] = [:]) throws -> RunResult {
        let p = Process()
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.currentDirectoryURL = dir
        let errPipe = Pipe()
        let outPipe = Pipe()
        p.standardError = errPipe
        p.standardOutput = stdout ?? outPipe
        p.standardInput = stdin ?? FileHandle.nullDevice
        try p.run()
        // Read both pipes while the child runs, so a full pipe cannot stall it.
        let errData = Mutexed(Data())
        let outData = Mutexed(Data())
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { errData.set(errPipe.fileHandleForReading.readDataToEndOfFile()) }
        if stdout == nil {
            DispatchQueue.global().async(group: group) { outData.set(outPipe.fileHandleForReading.readDataToEndOfFile()) }
        }
        p.waitUntilExit()
        group.wait()
        return RunResult(status: p.terminationStatus, stdout: outData.get(), stderr: errData.get())
    }

    /// Decoded frames of the video stream as raw bytes in `pixFmt` (ffmpeg's own decoder as referee).
    func frames(_ file: String, pixFmt: String, extraInput: [String] = []) throws -> [[UInt8]] {
        let (w, h) = try size(file, extraInput: extraInput)
        let r = try run("/usr/bin/env", ["ffmpeg", "-nostdin", "-v", "error"] + extraInput
            + ["-i", file, "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", pixFmt, "-vsync", "passthrough", "-"])
        guard r.status == 0 else { throw ToolError("decoding \(file): \(r.stderrText)") }
        let frameBytes = try frameSize(width: w, height: h, pixFmt: pixFmt)
        guard frameBytes > 0, r.stdout.count % frameBytes == 0 else {
            throw ToolError("\(file): \(r.stdout.count) bytes is not a whole number of \(w)x\(h) \(pixFmt) frames")
        }
        let bytes = [UInt8](r.stdout)
        return stride(from: 0, to: bytes.count, by: frameBytes).map { Array(bytes[$0..<($0 + frameBytes)]) }
    }

    func size(_ file: String, extraInput: [String] = []) throws -> (Int, Int) {
        let s = try probe(file, ["-select_streams", "v:0", "-show_entries", "stream=width,height"], extraInput: extraInput)
        let parts = s.split(separator: ",").compactMap { Int($0) }
        guard parts.count == 2 else { throw ToolError("no size for \(file): \(s)") }
        return (parts[0], parts[1])
    }

    /// ffprobe's compact output (no keys), trimmed.
    func probe(_ file: String, _ args: [String], extraInput: [String] = []) throws -> String {
        let r = try run("/usr/bin/env", ["ffprobe", "-v", "error"] + extraInput + args + ["-of", "csv=p=0", file])
        guard r.status == 0 else { throw ToolError("ffprobe \(file): \(r.stderrText)") }
        return String(decoding: r.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Presentation times of the decoded video frames, in seconds as ffprobe prints them.
    func frameTimes(_ file: String, extraInput: [String] = []) throws -> [Double] {
        try probe(file, ["-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time"], extraInput: extraInput)
            .split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: ", "))) }
    }

    private func frameSize(width w: Int, height h: Int, pixFmt: String) throws -> Int {
        switch pixFmt {
        case "gray": return w * h
        case "rgb24": return w * h * 3
        case "rgba": return w * h * 4
        case "rgb48le": return w * h * 6
        case "yuv420p": return w * h + 2 * ((w + 1) / 2) * ((h + 1) / 2)
        case "yuv420p10le": return 2 * (w * h + 2 * ((w + 1) / 2) * ((h + 1) / 2))
        case "yuv444p": return w * h * 3
        default: throw ToolError("unknown frame size for \(pixFmt)")
        }
    }
}

/// The contents of every input a harmonize command line names: each argument that is an existing file
/// (the input, mask, model, layers), every file of a named folder, the files a printf pattern names;
/// not the outputs (-o, --curves-out, --lut-out), which a run with -y may replace.
struct InputSnapshot {
    static let outputOptions: Set<String> = ["-o", "--output", "--curves-out", "--lut-out"]
    private(set) var contents: [String: Data] = [:]

    init(arguments: [String], in dir: URL) {
        var afterOutputOption = false
        for arg in arguments {
            defer { afterOutputOption = Self.outputOptions.contains(arg) }
            if afterOutputOption || arg.hasPrefix("-") { continue }
            for file in Self.files(named: arg, in: dir) {
                contents[file] = FileManager.default.contents(atPath: file)
            }
        }
    }

    /// The inputs whose bytes differ from the snapshot's, or that are gone.
    func changed() -> [String] {
        contents.filter { FileManager.default.contents(atPath: $0.key) != $0.value }.map(\.key).sorted()
    }

    private static func files(named arg: String, in dir: URL) -> [String] {
        let path = arg.hasPrefix("/") ? arg : dir.appendingPathComponent(arg).path
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { return [path] }
            return ((try? fm.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
                .filter { fm.fileExists(atPath: $0, isDirectory: &isDir) && !isDir.boolValue }
        }
        // A printf pattern (shot_%04d.png): the folder's files with its prefix and suffix.
        guard let percent = path.lastIndex(of: "%"), let d = path[percent...].firstIndex(of: "d") else { return [] }
        let folder = (path as NSString).deletingLastPathComponent
        let prefix = (String(path[..<percent]) as NSString).lastPathComponent, suffix = String(path[path.index(after: d)...])
        return ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).sorted()
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }.map { folder + "/" + $0 }
    }
}

struct RunResult {
    let status: Int32
    let stdout: Data
    let stderr: Data
    var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
}

struct ToolError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

final class Mutexed<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ v: T) { value = v }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
}

/// PSNR in dB between two byte buffers of 8-bit samples (infinity when equal).
func psnr8(_ a: [UInt8], _ b: [UInt8]) -> Double {
    precondition(a.count == b.count)
    var sum = 0.0
    for i in 0..<a.count { let d = Double(Int(a[i]) - Int(b[i])); sum += d * d }
    if sum == 0 { return .infinity }
    return 10 * log10(255 * 255 / (sum / Double(a.count)))
}

/// PSNR in dB of 16-bit little-endian samples holding `bits`-bit values.
func psnr16(_ a: [UInt8], _ b: [UInt8], bits: Int) -> Double {
    precondition(a.count == b.count)
    var sum = 0.0
    for i in stride(from: 0, to: a.count, by: 2) {
        let x = Int(a[i]) | Int(a[i + 1]) << 8, y = Int(b[i]) | Int(b[i + 1]) << 8
        let d = Double(x - y); sum += d * d
    }
    if sum == 0 { return .infinity }
    let peak = Double((1 << bits) - 1)
    return 10 * log10(peak * peak / (sum / Double(a.count / 2)))
}

/// The built binary sits beside the test bundle in .build/<config>/.
let harmonizeBinary: String = {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("harmonize").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("harmonize").path
}()

/// Every frame of `out` within `minPSNR` of `ref` (same count), as 8-bit samples in `pixFmt`.
func expectSameFrames(_ ws: Workspace, _ ref: String, _ out: String, pixFmt: String, minPSNR: Double = 50,
                      refInput: [String] = [], outInput: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let a = try ws.frames(ref, pixFmt: pixFmt, extraInput: refInput)
    let b = try ws.frames(out, pixFmt: pixFmt, extraInput: outInput)
    #expect(a.count == b.count, "frame count \(b.count), expected \(a.count)", sourceLocation: sourceLocation)
    #expect(a.count > 0, sourceLocation: sourceLocation)
    var worst = Double.infinity
    for (x, y) in zip(a, b) {
        let p = pixFmt.hasSuffix("10le") ? psnr16(x, y, bits: 10) : (pixFmt == "rgb48le" ? psnr16(x, y, bits: 16) : psnr8(x, y))
        worst = min(worst, p)
    }
    #expect(worst >= minPSNR, "worst frame PSNR \(worst) dB", sourceLocation: sourceLocation)
}
