// libFuzzer target: harmonize's command line. The bytes are split at NUL into up to 24 arguments
// (any UTF-8, lossy) and parsed and validated exactly as the tool does before it opens anything
// (ArgumentParser, then Harmonize.validate). Any argument list must give a command or an error to
// print, never a crash; an error must have a message.
import FuzzSupport
import HarmonizeCommand

func fuzzOptions(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start = data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    let args = text.split(separator: "\0", maxSplits: 23, omittingEmptySubsequences: false).map(String.init)
    do {
        _ = try Harmonize.parse(args)
    } catch {
        precondition(!Harmonize.message(for: error).isEmpty || Harmonize.exitCode(for: error) == .success,
                     "an error without a message for \(args)")
    }
    return 0
}

@main struct Main {
    static func main() { runFuzzTarget(fuzzOptions) }
}
