// libFuzzer target: any bytes as a model file. The safetensors header (JSON), its tensor table and
// offsets, the metadata (format, version, end_max, layout) and every weight must be refused with an
// EngineError or loaded; nothing may crash, hang or read out of bounds (ASan watches).
import Engine
import Foundation
import FuzzSupport

let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-model-\(getpid()).safetensors").path

func fuzzModelFile(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start = data else { return 0 }
    // The loader maps a file (as harmonize does), so the bytes go through one.
    guard FileManager.default.createFile(atPath: scratch, contents: Data(bytes: start, count: count)) else { return 0 }
    if let file = try? SafetensorsFile(path: scratch) {
        for name in file.tensors.keys.sorted() {
            _ = try? file.floats(name)
            _ = try? file.bytes(name)
        }
    }
    _ = try? HarmonizationModel(path: scratch)
    return 0
}

@main struct Main {
    static func main() { runFuzzTarget(fuzzModelFile) }
}
