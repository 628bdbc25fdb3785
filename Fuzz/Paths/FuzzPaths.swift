// libFuzzer target: what an INPUT or OUTPUT argument names, and the order of a folder's files. The
// bytes are split at NUL into up to three arguments (any UTF-8, lossy); each is classified
// (`Endpoint`: stdin/stdout, folder, printf pattern, image, video) and the three are compared with
// the natural order folders are read in, which must be a strict weak order (irreflexive, asymmetric,
// transitive), or a folder's frames could come out in a different order from run to run.
import Foundation
import FuzzSupport
import VideoPipe

func fuzzPaths(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start = data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    let args = text.split(separator: "\0", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
    for arg in args {
        let endpoint = Endpoint(arg)
        if arg == "-" { precondition(endpoint == .standardStream) }
        if arg.count > 1 && arg.hasSuffix("/") { precondition(endpoint == .folder(String(arg.dropLast())), "\(arg) -> \(endpoint)") }
        if case .image(let path) = endpoint { precondition(endpoint.isStill && path == arg) }
        precondition(!naturalLess(arg, arg), "\(arg) < itself")
    }
    for a in args { for b in args where naturalLess(a, b) { precondition(!naturalLess(b, a), "\(a) < \(b) < \(a)") } }
    if args.count == 3, naturalLess(args[0], args[1]), naturalLess(args[1], args[2]) {
        precondition(naturalLess(args[0], args[2]), "not transitive: \(args)")
    }
    return 0
}

@main struct Main {
    static func main() { runFuzzTarget(fuzzPaths) }
}
