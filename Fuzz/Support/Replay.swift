import Foundation
#if FUZZING
import CLibFuzzer
#endif

/// A fuzz target's entry point: one input's bytes; returns 0 (libFuzzer's convention).
public typealias FuzzEntry = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// The main of every fuzz target. Built for fuzzing (`make fuzz`: -sanitize=fuzzer,address -DFUZZING),
/// libFuzzer's loop with its flags from the command line; otherwise it replays the files and folders
/// given (the committed corpus; `make test` runs that).
public func runFuzzTarget(_ entry: FuzzEntry) -> Never {
    #if FUZZING
    fuzzEntry = entry
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, entry))
    #else
    replay(CommandLine.arguments.dropFirst(), entry)
    exit(0)
    #endif
}

#if FUZZING
/// The target's entry, for the symbol libFuzzer's runtime links against (set before its loop starts).
nonisolated(unsafe) var fuzzEntry: FuzzEntry?

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt { fuzzEntry?(data, count) ?? 0 }
#endif

/// Runs each file of the given files and folders through `entry`, in name order. Exits 1 when a path
/// is missing or nothing was found.
func replay(_ paths: ArraySlice<String>, _ entry: FuzzEntry) {
    var files: [String] = []
    for path in paths {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            FileHandle.standardError.write(Data("\(path): no such file or folder\n".utf8))
            exit(1)
        }
        files += isDir.boolValue ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
    }
    guard !files.isEmpty else {
        FileHandle.standardError.write(Data("nothing to replay\n".utf8))
        exit(1)
    }
    for file in files {
        let bytes = [UInt8](FileManager.default.contents(atPath: file) ?? Data())
        _ = bytes.withUnsafeBufferPointer { entry($0.baseAddress, $0.count) }
    }
    print("replayed \(files.count) inputs")
}
