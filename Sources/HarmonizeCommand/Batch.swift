import ArgumentParser
import Foundation
import NIOConcurrencyHelpers

/// `harmonize batch`: many jobs (input, mask, output), each run as a `harmonize` process of its own,
/// `--jobs` at a time. A job that fails does not stop the others; the summary at the end names
/// each one's outcome, and the exit status is 1 if any failed. A state file beside the list records
/// the jobs started and finished, so a rerun skips what is done and redoes what an interruption cut
/// off (its output is a valid partial file of our own), while an output the batch did not make is
/// never overwritten without -y.
public struct Batch: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "harmonize batch",
        abstract: "Run many harmonize jobs: from a list, or a folder of clips with a folder of masks.",
        discussion: """
        LIST.tsv has one job a line: INPUT<TAB>MASK<TAB>OUTPUT (MASK may be empty: the input's alpha). \
        Blank lines and lines starting with # are skipped; relative paths are relative to the list's \
        folder. Options after -- go to every job.

        Examples:
          harmonize batch shots.tsv --jobs 2 -- --strength 0.8
          harmonize batch --inputs clips/ --masks mattes/ -o out/
        """)

    @Argument(help: "The jobs: INPUT<TAB>MASK<TAB>OUTPUT per line.")
    var list: String?

    @Option(help: "A folder of inputs (instead of a list): each is harmonized with the mask of the same name in --masks.")
    var inputs: String?

    @Option(help: "With --inputs: the folder of masks, one per input, of the same file name.")
    var masks: String?

    @Option(name: .shortAndLong, help: "With --inputs: the folder the outputs go to (same file names).")
    var output: String?

    @Option(help: "Jobs run at once (default 1; each gets the cores divided among them).")
    var jobs: Int = 1

    @Flag(name: .short, help: "Redo jobs whose output exists (each job overwrites it).")
    var y = false

    @Argument(parsing: .postTerminator, help: "Options for every job (after --), e.g. -- --strength 0.8 --model m.safetensors.")
    var jobOptions: [String] = []

    public init() {}

    public func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if list == nil {
            guard inputs != nil, masks != nil, output != nil else {
                throw ValidationError("give a LIST.tsv, or --inputs DIR --masks DIR -o DIR")
            }
        } else if inputs != nil || masks != nil || output != nil {
            throw ValidationError("give either a LIST.tsv or --inputs/--masks/-o, not both")
        }
        for banned in ["-o", "--output", "-m", "--mask"] where jobOptions.contains(banned) {
            throw ValidationError("\(banned) comes from each job, not from the options after --")
        }
    }

    struct Job {
        let input: String
        let mask: String?
        let output: String
        /// The output as the list or folder names it, for the progress lines and the summary.
        let shown: String
    }

    enum Outcome {
        case done(seconds: Double)
        case failed(seconds: Double, message: String)
        case skipped(String)
        case interrupted
    }

    public func run() throws {
        let (jobsToRun, statePath) = try readJobs()
        let state = try BatchState(path: statePath)
        let executable = runningExecutable()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var common = jobOptions
        if !common.contains("--threads") { common += ["--threads", String(max(1, cores / jobs))] }

        let outcomes = NIOLockedValueBox<[Int: Outcome]>([:])
        let slots = DispatchSemaphore(value: jobs)
        let group = DispatchGroup()
        let start = Date()
        let stop = NIOLockedValueBox(false)
        let running = NIOLockedValueBox<[Int: Process]>([:])
        installBatchInterruptHandler {
            stop.withLockedValue { $0 = true }
            // Ctrl-C reaches the jobs too (one process group); a SIGTERM to the batch alone does not.
            for p in running.withLockedValue({ Array($0.values) }) where p.isRunning { p.interrupt() }
        }

        for (n, job) in jobsToRun.enumerated() {
            // Skipped: done by an earlier run of this batch, or an output the batch did not make.
            let exists = FileManager.default.fileExists(atPath: job.output)
            var redo = y
            if exists && !y {
                switch state.status(of: job.output) {
                case .done:
                    Batch.record(n, .skipped("done by an earlier run"), job, jobsToRun.count, outcomes)
                    continue
                case .started:
                    redo = true         // our own output, cut off by an interruption: made again
                case nil:
                    Batch.record(n, .skipped("output exists (not made by this batch; -y to redo)"), job, jobsToRun.count, outcomes)
                    continue
                }
            }
            slots.wait()
            if stop.withLockedValue({ $0 }) {
                slots.signal()
                Batch.record(n, .interrupted, job, jobsToRun.count, outcomes)
                continue
            }
            var args = [job.input] + (job.mask.map { ["-m", $0] } ?? []) + ["-o", job.output, "-q"] + common
            if redo && !args.contains("-y") { args.append("-y") }
            // A fresh output folder is the usual case on a farm: made here, as `mkdir -p` would.
            try? FileManager.default.createDirectory(atPath: (job.output as NSString).deletingLastPathComponent,
                                                     withIntermediateDirectories: true)
            try state.started(job.output)
            group.enter()
            let began = Date()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = args
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            let errors = Pipe()
            process.standardError = errors
            let collected = NIOLockedValueBox(Data())
            errors.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                collected.withLockedValue { $0.append(data) }
            }
            process.terminationHandler = { p in
                running.withLockedValue { _ = $0.removeValue(forKey: n) }
                errors.fileHandleForReading.readabilityHandler = nil
                let rest = (try? errors.fileHandleForReading.readToEnd()) ?? nil
                let text = String(decoding: collected.withLockedValue { $0 } + (rest ?? Data()), as: UTF8.self)
                let seconds = Date().timeIntervalSince(began)
                let outcome: Outcome
                if p.terminationStatus == 0 {
                    try? state.done(job.output)
                    outcome = .done(seconds: seconds)
                } else if p.terminationReason == .uncaughtSignal || p.terminationStatus == 130 || p.terminationStatus == 143 {
                    outcome = .interrupted
                } else {
                    outcome = .failed(seconds: seconds, message: Batch.lastMessage(text, status: p.terminationStatus))
                }
                Batch.record(n, outcome, job, jobsToRun.count, outcomes)
                slots.signal()
                group.leave()
            }
            do {
                try process.run()
                running.withLockedValue { $0[n] = process }
            } catch {
                process.terminationHandler = nil
                Batch.record(n, .failed(seconds: 0, message: "cannot start \(executable): \(error)"), job, jobsToRun.count, outcomes)
                slots.signal()
                group.leave()
            }
        }
        group.wait()

        let results = outcomes.withLockedValue { $0 }
        let summary = Batch.summary(jobsToRun, results, seconds: Date().timeIntervalSince(start))
        FileHandle.standardError.write(Data(summary.utf8))
        if results.values.contains(where: { if case .interrupted = $0 { true } else { false } }) { throw ExitCode(130) }
        if results.values.contains(where: { if case .failed = $0 { true } else { false } }) { throw ExitCode(1) }
    }

    /// One progress line as each job ends.
    private static func record(_ n: Int, _ outcome: Outcome, _ job: Job, _ total: Int,
                               _ outcomes: NIOLockedValueBox<[Int: Outcome]>) {
        let count = outcomes.withLockedValue { $0[n] = outcome; return $0.count }
        let what = switch outcome {
        case .done(let s): String(format: "done in %.1f s", s)
        case .failed(_, let m): "failed: \(m)"
        case .skipped(let why): "skipped: \(why)"
        case .interrupted: "interrupted"
        }
        FileHandle.standardError.write(Data("harmonize: [\(count)/\(total)] \(job.shown): \(what)\n".utf8))
    }

    /// The job's own last message (its one-line error), without the "harmonize: " prefix.
    static func lastMessage(_ stderr: String, status: Int32) -> String {
        let lines = stderr.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        guard let last = lines.last(where: { $0.hasPrefix("harmonize: ") || $0.hasPrefix("Error: ") }) ?? lines.last else {
            return "exit status \(status)"
        }
        for prefix in ["harmonize: ", "Error: "] where last.hasPrefix(prefix) { return String(last.dropFirst(prefix.count)) }
        return last
    }

    static func summary(_ jobs: [Job], _ results: [Int: Outcome], seconds: Double) -> String {
        var counts: [String: Int] = [:]
        let width = max(6, jobs.map(\.shown.count).max() ?? 0)
        func pad(_ text: String, _ n: Int) -> String { text.padding(toLength: max(n, text.count), withPad: " ", startingAt: 0) }
        var rows: [String] = []
        for (n, job) in jobs.enumerated() {
            let (status, time, message): (String, String, String) = switch results[n] {
            case .done(let s)?: ("done", String(format: "%.1f", s), "")
            case .failed(let s, let m)?: ("failed", String(format: "%.1f", s), m)
            case .skipped(let why)?: ("skipped", "-", why)
            case .interrupted?, nil: ("interrupted", "-", "")
            }
            counts[status, default: 0] += 1
            rows.append("  " + pad(status, 12) + String(repeating: " ", count: max(0, 7 - time.count)) + time + "  "
                        + (message.isEmpty ? job.shown : pad(job.shown, width) + "  " + message))
        }
        var head = "harmonize: batch of \(jobs.count): \(counts["done", default: 0]) done, \(counts["failed", default: 0]) failed, \(counts["skipped", default: 0]) skipped"
        if let interrupted = counts["interrupted"] { head += ", \(interrupted) interrupted" }
        head += String(format: " in %.1f s\n", seconds)
        return head + "  status      seconds  " + pad("output", width) + "  message\n" + rows.joined(separator: "\n") + "\n"
    }

    /// The jobs, and where the batch keeps its state.
    private func readJobs() throws -> ([Job], String) {
        if let list {
            let text: String
            do { text = try String(contentsOfFile: list, encoding: .utf8) } catch {
                throw ValidationError("\(list): cannot read: \((error as NSError).localizedDescription)")
            }
            let base = URL(fileURLWithPath: list).deletingLastPathComponent()
            func resolve(_ p: Substring) -> String {
                let s = String(p)
                return s.hasPrefix("/") ? s : base.appendingPathComponent(s).standardizedFileURL.path
            }
            var jobs: [Job] = []
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard fields.count == 3, !fields[0].isEmpty, !fields[2].isEmpty else {
                    throw ValidationError("\(list):\(i + 1): expected INPUT<TAB>MASK<TAB>OUTPUT (MASK may be empty), got \(fields.count) field\(fields.count == 1 ? "" : "s")")
                }
                jobs.append(Job(input: resolve(fields[0]), mask: fields[1].isEmpty ? nil : resolve(fields[1]),
                                output: resolve(fields[2]), shown: String(fields[2])))
            }
            if jobs.isEmpty { throw ValidationError("\(list): no jobs in the list") }
            let outputs = Set(jobs.map(\.output))
            if outputs.count < jobs.count { throw ValidationError("\(list): two jobs write the same output") }
            return (jobs, list + ".state")
        }
        let (inputs, masks, output) = (inputs!, masks!, output!)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: inputs).filter { !$0.hasPrefix(".") }.sorted()
        } catch {
            throw ValidationError("\(inputs): cannot list the folder: \((error as NSError).localizedDescription)")
        }
        if names.isEmpty { throw ValidationError("\(inputs): no files in the folder") }
        try? FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let jobs = names.map { name in
            Job(input: (inputs as NSString).appendingPathComponent(name), mask: (masks as NSString).appendingPathComponent(name),
                output: (output as NSString).appendingPathComponent(name), shown: (output as NSString).appendingPathComponent(name))
        }
        return (jobs, (output as NSString).appendingPathComponent(".harmonize-batch.state"))
    }
}

/// The batch's record of the outputs it started and finished (one "started PATH" or "done PATH"
/// line each, appended as they happen, so an interrupted batch leaves an accurate record).
final class BatchState: @unchecked Sendable {
    enum Status { case started, done }
    private let path: String
    private let lock = NIOLock()
    private var statuses: [String: Status] = [:]

    init(path: String) throws {
        self.path = path
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                if line.hasPrefix("started ") { statuses[String(line.dropFirst(8))] = .started }
                if line.hasPrefix("done ") { statuses[String(line.dropFirst(5))] = .done }
            }
        }
        if !FileManager.default.fileExists(atPath: path) && !FileManager.default.createFile(atPath: path, contents: nil) {
            throw ValidationError("\(path): cannot create the batch's state file")
        }
    }

    func status(of output: String) -> Status? { lock.withLock { statuses[output] } }
    func started(_ output: String) throws { try append(.started, output) }
    func done(_ output: String) throws { try append(.done, output) }

    private func append(_ status: Status, _ output: String) throws {
        try lock.withLock {
            statuses[output] = status
            guard let handle = FileHandle(forWritingAtPath: path) else {
                throw ValidationError("\(path): cannot write the batch's state file")
            }
            defer { try? handle.close() }
            handle.seekToEndOfFile()
            handle.write(Data("\(status == .done ? "done" : "started") \(output)\n".utf8))
        }
    }
}

/// Ctrl-C or SIGTERM: the jobs running (in the same process group) stop on their own, each leaving
/// a valid partial output; the batch starts no more and reports.
private func installBatchInterruptHandler(_ onStop: @escaping @Sendable () -> Void) {
    for sig in [SIGINT, SIGTERM] {
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        source.setEventHandler(handler: onStop)
        source.resume()
        batchSignalSources.append(source)
    }
}

/// Kept for the life of the process (set up once, on the main thread, before any job starts).
nonisolated(unsafe) private var batchSignalSources: [any DispatchSourceSignal] = []

/// The path of the running harmonize, for the commands it starts or writes out (batch, plan).
func runningExecutable() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}
