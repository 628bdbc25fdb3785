import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failure in the engine: what failed, for which file.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public init(_ path: String, _ message: String) { self.path = path; self.message = message }
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// A safetensors file, memory-mapped and checked as untrusted input: the header's length and JSON
/// shape, each tensor's dtype, shape and byte range (inside the data, matching shape x dtype, not
/// overlapping another). Any violation is an `EngineError`, never a crash.
public final class SafetensorsFile: @unchecked Sendable {
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", u8 = "U8"
        public var size: Int { switch self { case .f32: 4; case .f16, .bf16: 2; case .u8: 1 } }
    }

    public struct Tensor: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range inside the data section.
        public let range: Range<Int>
        public var count: Int { shape.reduce(1, *) }
    }

    public let path: String
    public let metadata: [String: String]
    public let tensors: [String: Tensor]
    private let base: UnsafeRawPointer
    private let mappedLength: Int
    private let dataStart: Int

    /// Largest header accepted (the format's own readers use 100 MB).
    static let maxHeader = 100 << 20

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw EngineError(path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw EngineError(path, "not a regular file") }
        let size = Int(st.st_size)
        guard size >= 8 else { throw EngineError(path, "too short for a safetensors file (\(size) bytes)") }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw EngineError(path, "cannot map: \(String(cString: strerror(errno)))")
        }
        let base = UnsafeRawPointer(map)
        do {
            let headerLength = base.loadUnaligned(as: UInt64.self).littleEndian
            guard headerLength >= 2, headerLength <= UInt64(min(Self.maxHeader, size - 8)) else {
                throw EngineError(path, "header length \(headerLength) does not fit a \(size)-byte file")
            }
            let header = Data(bytes: base + 8, count: Int(headerLength))
            let dataStart = 8 + Int(headerLength)
            (metadata, tensors) = try Self.parse(header: header, dataSize: size - dataStart, path: path)
            self.base = base
            self.mappedLength = size
            self.dataStart = dataStart
        } catch {
            munmap(map, size)
            throw error
        }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), mappedLength) }

    private static func parse(header: Data, dataSize: Int, path: String) throws -> ([String: String], [String: Tensor]) {
        guard let json = try? JSONSerialization.jsonObject(with: header), let entries = json as? [String: Any] else {
            throw EngineError(path, "header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var tensors: [String: Tensor] = [:]
        for (name, value) in entries {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw EngineError(path, "__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw EngineError(path, "metadata \(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any] else { throw EngineError(path, "tensor \(name): entry is not an object") }
            guard let dt = entry["dtype"] as? String, let dtype = DType(rawValue: dt) else {
                throw EngineError(path, "tensor \(name): unsupported dtype \(entry["dtype"] ?? "none") (F32, F16, BF16, U8)")
            }
            guard let shapeAny = entry["shape"] as? [Any], let offsetsAny = entry["data_offsets"] as? [Any], offsetsAny.count == 2 else {
                throw EngineError(path, "tensor \(name): needs shape and two data_offsets")
            }
            let shape = try shapeAny.map { try integer($0, path, "tensor \(name): shape") }
            let offsets = try offsetsAny.map { try integer($0, path, "tensor \(name): data_offsets") }
            var count = 1
            for d in shape {
                let (c, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, c <= dataSize else { throw EngineError(path, "tensor \(name): shape \(shape) is larger than the file") }
                count = c
            }
            guard offsets[0] <= offsets[1], offsets[1] <= dataSize else {
                throw EngineError(path, "tensor \(name): data_offsets \(offsets) outside the \(dataSize)-byte data")
            }
            guard offsets[1] - offsets[0] == count * dtype.size else {
                throw EngineError(path, "tensor \(name): \(offsets[1] - offsets[0]) bytes for shape \(shape) of \(dt)")
            }
            tensors[name] = Tensor(name: name, dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
        }
        let ranges = tensors.values.map(\.range).filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
        for (a, b) in zip(ranges, ranges.dropFirst()) where a.upperBound > b.lowerBound {
            throw EngineError(path, "tensors overlap at byte \(b.lowerBound)")
        }
        return (metadata, tensors)
    }

    private static func integer(_ value: Any, _ path: String, _ what: String) throws -> Int {
        // JSONSerialization gives NSNumber; reject fractions, negatives and huge values.
        guard let n = value as? NSNumber, let i = Int(exactly: n.doubleValue),
              i >= 0, Double(i) == n.doubleValue else {
            throw EngineError(path, "\(what) holds \(value), not a non-negative integer")
        }
        return i
    }

    public func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw EngineError(path, "missing tensor \(name)") }
        return t
    }

    /// The tensor's values as Float (converted from f16/bf16/u8), checked against `shape` if given.
    public func floats(_ name: String, shape: [Int]? = nil) throws -> [Float] {
        let t = try tensor(name)
        if let shape, shape != t.shape { throw EngineError(path, "tensor \(name) has shape \(t.shape), expected \(shape)") }
        let p = base + dataStart + t.range.lowerBound
        let n = t.count
        switch t.dtype {
        case .f32: return (0..<n).map { Float(bitPattern: p.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian) }
        case .f16: return (0..<n).map { Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian)) }
        case .bf16: return (0..<n).map { Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) << 16) }
        case .u8: return (0..<n).map { Float(p.load(fromByteOffset: $0, as: UInt8.self)) }
        }
    }

    /// A tensor of network weights: as `floats`, and refused if any value is NaN or infinite (a
    /// diverged training run exports such files; they would turn every frame's curves into NaN).
    public func weights(_ name: String, shape: [Int]) throws -> [Float] {
        let v = try floats(name, shape: shape)
        if let i = v.firstIndex(where: { !$0.isFinite }) {
            throw EngineError(path, "tensor \(name) holds a non-finite value (\(v[i]) at index \(i)); the model is unusable")
        }
        return v
    }

    /// The raw bytes of a U8 tensor.
    public func bytes(_ name: String) throws -> [UInt8] {
        let t = try tensor(name)
        guard t.dtype == .u8 else { throw EngineError(path, "tensor \(name) is \(t.dtype.rawValue), not U8") }
        return Array(UnsafeRawBufferPointer(start: base + dataStart + t.range.lowerBound, count: t.count))
    }
}
