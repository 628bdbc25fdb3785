// libFuzzer target: harmonize's command line. The bytes are split at NUL into up to 24 arguments
// (any UTF-8, lossy) and parsed and validated exactly as the tool does before it opens anything
// (ArgumentParser, then the command's validate), the subcommands (batch, plan, join) as main.swift
// dispatches them. Any argument list must give a command or an error to print, never a crash; an
// error must have a message.
import ArgumentParser
import FuzzSupport
import HarmonizeCommand

func fuzzOptions(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start = data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    let args = text.split(separator: "\0", maxSplits: 23, omittingEmptySubsequences: false).map(String.init)
    switch args.first {
    case "batch": check(Batch.self, Array(args.dropFirst()))
    case "plan": check(Plan.self, Array(args.dropFirst()))
    case "join": check(Join.self, Array(args.dropFirst()))
    default: check(Harmonize.self, args)
    }
    return 0
}

func check<Command: ParsableCommand>(_ command: Command.Type, _ args: [String]) {
    do {
        _ = try command.parse(args)
    } catch {
        precondition(!command.message(for: error).isEmpty || command.exitCode(for: error) == .success,
                     "an error without a message for \(args)")
    }
}

@main struct Main {
    static func main() { runFuzzTarget(fuzzOptions) }
}
