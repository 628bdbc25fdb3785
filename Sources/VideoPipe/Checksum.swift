import CFFmpeg
import Foundation

/// The SHA-256 of a file's bytes as 64 lowercase hex digits (what `sha256sum` prints), read in 1 MiB
/// pieces with libavutil's hash: what identifies a model file in outputs and `--version`.
public func sha256Hex(ofFile path: String) throws -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else {
        throw PipeError(path, "cannot read: \(String(cString: strerror(errno)))")
    }
    defer { try? handle.close() }
    guard let context = av_sha_alloc() else { throw PipeError(path, "out of memory") }
    defer { av_free(UnsafeMutableRawPointer(context)) }
    av_sha_init(context, 256)
    while true {
        let chunk: Data
        do {
            chunk = try handle.read(upToCount: 1 << 20) ?? Data()
        } catch {
            throw PipeError(path, "cannot read: \((error as NSError).localizedDescription)")
        }
        if chunk.isEmpty { break }
        chunk.withUnsafeBytes { av_sha_update(context, $0.bindMemory(to: UInt8.self).baseAddress, $0.count) }
    }
    var digest = [UInt8](repeating: 0, count: 32)
    av_sha_final(context, &digest)
    return digest.map { String(format: "%02x", $0) }.joined()
}
