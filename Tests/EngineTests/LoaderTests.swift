import Foundation
import Testing
@testable import Engine

/// The weight loader treats files as untrusted: every malformed file is an EngineError, never a crash.
@Suite struct LoaderTests {
    let dir: URL = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("engine-loader-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }()

    func file(_ bytes: [UInt8], _ name: String = "t.safetensors") -> String {
        let path = dir.appendingPathComponent(name).path
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    /// A well-formed file from a header dictionary and data bytes.
    func safetensors(_ header: String, data: [UInt8]) -> [UInt8] {
        let h = Array(header.utf8)
        var length = UInt64(h.count).littleEndian
        return withUnsafeBytes(of: &length) { Array($0) } + h + data
    }

    func expectError(_ bytes: [UInt8], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let path = file(bytes)
        do {
            _ = try SafetensorsFile(path: path)
            Issue.record("accepted a bad file (expected: \(fragment))", sourceLocation: sourceLocation)
        } catch let e as EngineError {
            #expect(e.description.contains(fragment), "\(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func goodFileReads() throws {
        let bytes = safetensors(#"{"__metadata__":{"a":"b"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"h":{"dtype":"F16","shape":[1],"data_offsets":[8,10]},"g":{"dtype":"BF16","shape":[1],"data_offsets":[10,12]}}"#,
                                data: [0, 0, 128, 63, 0, 0, 0, 64, 0, 60, 128, 63])
        let f = try SafetensorsFile(path: file(bytes))
        #expect(f.metadata == ["a": "b"])
        #expect(try f.floats("x") == [1, 2])
        #expect(try f.floats("h") == [1])
        #expect(try f.floats("g") == [1])
        #expect(throws: EngineError.self) { try f.floats("x", shape: [3]) }
        #expect(throws: EngineError.self) { try f.floats("missing") }
    }

    @Test func malformedFilesAreErrors() {
        expectError([], "too short")
        expectError([1, 0, 0, 0], "too short")
        expectError([255, 255, 255, 255, 255, 255, 255, 255, 123, 125], "header length")
        expectError(safetensors("[1,2]", data: []), "not a JSON object")
        expectError(safetensors("{not json", data: []), "not a JSON object")
        expectError(safetensors(#"{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)), "unsupported dtype")
        expectError(safetensors(#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)), "8 bytes for shape [3]")
        expectError(safetensors(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 4)), "outside")
        expectError(safetensors(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: Array(repeating: 0, count: 8)), "outside")
        expectError(safetensors(#"{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: Array(repeating: 0, count: 4)), "not a non-negative integer")
        expectError(safetensors(#"{"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, data: Array(repeating: 0, count: 4)), "not a non-negative integer")
        expectError(safetensors(#"{"x":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}"#, data: Array(repeating: 0, count: 4)), "larger than the file")
        expectError(safetensors(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(repeating: 0, count: 8)), "overlap")
        expectError(safetensors(#"{"x":{"dtype":"F32","shape":[1]}}"#, data: Array(repeating: 0, count: 4)), "needs shape and two data_offsets")
        expectError(safetensors(#"{"__metadata__":{"a":1}}"#, data: []), "not a string")
        expectError(safetensors(#"{"x":7}"#, data: []), "not an object")
    }

    @Test func truncatedModelFilesAreErrors() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: "\(fixtures)/plain.safetensors"))
        var rng = SeededGenerator(seed: 14)
        for cut in [0, 7, 8, 100, good.count / 2, good.count - 1] + (0..<20).map({ _ in Int.random(in: 0..<good.count, using: &rng) }) {
            let path = file(Array(good.prefix(cut)), "cut.safetensors")
            #expect(throws: EngineError.self, "cut at \(cut)") { try HarmonizationModel(path: path) }
        }
        // Random byte flips in the header: an error or a valid file, never a crash.
        let headerLength = Int(good.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        for _ in 0..<100 {
            var bytes = [UInt8](good)
            for _ in 0..<3 { bytes[8 + Int.random(in: 0..<headerLength, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            _ = try? HarmonizationModel(path: file(bytes, "flip.safetensors"))
        }
    }

    @Test func modelMetadataIsChecked() throws {
        let notModel = safetensors(#"{"__metadata__":{"format":"other"}}"#, data: [])
        #expect(throws: EngineError.self) { try HarmonizationModel(path: file(notModel)) }
        let newer = safetensors(#"{"__metadata__":{"format":"harmonize-s2crnet","version":"99"}}"#, data: [])
        let e = #expect(throws: EngineError.self) { try HarmonizationModel(path: file(newer)) }
        #expect(e?.description.contains("newer") == true)
        #expect(throws: EngineError.self) { try HarmonizationModel(path: file([1, 2, 3], "missing-dir/none")) }
    }

    /// A file whose weights hold a NaN or an infinity (a diverged run) is refused when loaded.
    @Test(arguments: [Float.nan, Float.infinity])
    func nonFiniteWeightsAreRefused(value: Float) throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/plain.safetensors")
        var bytes = [UInt8](try Data(contentsOf: fixture))
        let length = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        // The last two bytes of the data are the last f16 value of some tensor: make it non-finite.
        let bits = Float16(value).bitPattern
        bytes[bytes.count - 2] = UInt8(bits & 0xff)
        bytes[bytes.count - 1] = UInt8(bits >> 8)
        #expect(bytes.count > 8 + length)
        let e = #expect(throws: EngineError.self) { try HarmonizationModel(path: file(bytes, "nan.safetensors")) }
        #expect(e?.description.contains("non-finite") == true, "\(e.map { "\($0)" } ?? "")")
    }

    /// A fixture whose header has `old` replaced by `new` (a file relabelled as another format version).
    struct Relabelling {
        let path: String, header: String
        private let bytes: [UInt8], length: Int

        init(_ fixture: String) throws {
            path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(fixture)").path
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            length = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
            header = String(decoding: bytes[8..<(8 + length)], as: UTF8.self)
        }

        func replacing(_ old: String, with new: String) -> [UInt8] {
            let h = Array(header.replacingOccurrences(of: old, with: new).utf8)
            return (0..<8).map { UInt8((UInt64(h.count) >> (8 * UInt64($0))) & 0xff) } + h + bytes[(8 + length)...]
        }
    }

    /// A format 1 file relabelled as format 2: the end-value heads are missing, or end_max is out of range.
    @Test func formatTwoNeedsItsEndHeads() throws {
        let fixture = try Relabelling("plain.safetensors")
        func relabelled(_ endMax: String) -> [UInt8] {
            fixture.replacing(#""version":"1""#, with: #""version":"2","end_max":"\#(endMax)""#)
        }
        #expect(fixture.header.contains(#""version":"1""#))
        let missing = #expect(throws: EngineError.self) { try HarmonizationModel(path: file(relabelled("1.25"), "v2-missing.safetensors")) }
        #expect(missing?.description.contains("end_b") == true, "\(missing.map { "\($0)" } ?? "")")
        let range = #expect(throws: EngineError.self) { try HarmonizationModel(path: file(relabelled("9"), "v2-range.safetensors")) }
        #expect(range?.description.contains("end_max") == true)
        #expect(try HarmonizationModel(path: fixture.path).endMax == nil)
    }

    /// A format 2 file relabelled as format 3 needs its slope bound, and a sane one.
    @Test func formatThreeNeedsItsSlopeBound() throws {
        let fixture = try Relabelling("plain-v2.safetensors")
        func relabelled(_ extra: String) -> [UInt8] { fixture.replacing(#""version":"2""#, with: #""version":"3""# + extra) }
        #expect(fixture.header.contains(#""version":"2""#))
        let missing = #expect(throws: EngineError.self) { try HarmonizationModel(path: file(relabelled(""), "v3-missing.safetensors")) }
        #expect(missing?.description.contains("slope_bound") == true, "\(missing.map { "\($0)" } ?? "")")
        let range = #expect(throws: EngineError.self) {
            try HarmonizationModel(path: file(relabelled(#","slope_bound":"1","slope_knee":"1""#), "v3-range.safetensors"))
        }
        #expect(range?.description.contains("out of range") == true)
        let model = try HarmonizationModel(path: file(relabelled(#","slope_bound":"2.5","slope_knee":"1.5""#), "v3.safetensors"))
        #expect(model.slopeBound?.bound == 2.5 && model.slopeBound?.knee == 1.5)
        #expect(try HarmonizationModel(path: fixture.path).slopeBound == nil)
    }
}

@Suite struct CurveTests {
    /// Format 3's bend: slopes up to the knee pass unchanged (the identity stays the identity), a
    /// steep piece stays below the bound, and the end value comes down with it.
    @Test func boundedSlopes() {
        let id = CurveParameters.identity(pieces: 64).boundingSlopes(below: 2, knee: 1)
        #expect(zip(id.increments, CurveParameters.identity(pieces: 64).increments).allSatisfy { abs($0 - $1) < 1e-6 })
        // Darken to 0.6 over the first 63 pieces, then jump to 1 in the last: the format 1 shape.
        var w = [Float](repeating: 0.6 / 63, count: 64) + [Float](repeating: 1.0 / 64, count: 128)
        w[63] = 0.4
        let steep = CurveParameters(pieces: 64, weights: w)
        #expect(steep.increments[63] * 64 > 25)
        let bent = steep.boundingSlopes(below: 2, knee: 1)
        let steepest = bent.increments.max()! * 64
        #expect(steepest <= 2 && steepest > 1.99)
        #expect(abs(bent.ends[0] - (0.6 + 2.0 / 64)) < 1e-3, "end \(bent.ends[0])")
        #expect(abs(bent.evaluate(channel: 0, 0.5) - steep.evaluate(channel: 0, 0.5)) < 1e-6)
        #expect(abs(bent.ends[1] - 1) < 1e-5 && abs(bent.ends[2] - 1) < 1e-5)
    }

    @Test func identityAndComposition() {
        let id = CurveParameters.identity(pieces: 64)
        for x in stride(from: Float(0), through: 1, by: 0.01) { #expect(abs(id.evaluate(channel: 1, x) - x) < 1e-6) }
        // A curve that spends all its rise in the upper half (weights 1e-3 below, 1 above).
        let w = (0..<64).map { $0 < 32 ? Float(1e-3) : 1 }
        let steep = CurveParameters(pieces: 64, weights: w + w + w)
        #expect(steep.evaluate(channel: 0, 0.5) < 0.01)
        #expect(abs(steep.evaluate(channel: 0, 1) - 1) < 1e-6)
        let sampled = ToneCurves(steep)
        #expect(abs(sampled.value(channel: 2, at: 0.75) - steep.evaluate(channel: 2, 0.75)) < 1e-2)
        // Composition equals applying one after the other.
        let twice = ToneCurves(steep).then(steep)
        for i in stride(from: 0, to: 256, by: 17) {
            let x = Float(i) / 255
            #expect(abs(twice.values[i] - steep.evaluate(channel: 0, steep.evaluate(channel: 0, x))) < 1e-5)
        }
        // Strength 0 is the identity, 1 the curve; interpolation is sample-wise.
        #expect(sampled.strength(0) == ToneCurves.identity())
        #expect(sampled.strength(1).values.elementsEqual(sampled.values) { abs($0 - $1) < 1e-7 })
        #expect(ToneCurves.identity().resampled(1024).values[1023] == 1)
    }

    /// Format 2: the end value scales the curve (and it is clipped at 1), so darkening needs no jump at the top.
    @Test func endValuesAndSlopeGuard() {
        let flat = [Float](repeating: 1, count: 64)
        let dark = CurveParameters(pieces: 64, weights: flat + flat + flat, ends: [0.6, 1, 1.2])
        #expect(abs(dark.evaluate(channel: 0, 1) - 0.6) < 1e-6 && abs(dark.evaluate(channel: 0, 0.5) - 0.3) < 1e-6)
        #expect(abs(dark.evaluate(channel: 2, 0.5) - 0.6) < 1e-6 && dark.evaluate(channel: 2, 0.9) == 1)   // clipped
        let sampled = ToneCurves(dark)
        #expect(abs(sampled.values[255] - 0.6) < 1e-6 && sampled.values[2 * 256 + 255] == 1)
        #expect(abs(sampled.maxSlope - 1.2) < 1e-3)
        #expect(dark.increments.prefix(64).reduce(0, +) - 0.6 < 1e-6)
        // A format 1 darkening curve: low weights, then all the rise left in the last two pieces.
        let w = (0..<64).map { $0 < 62 ? Float(1) : 40 }
        let jump = ToneCurves(CurveParameters(pieces: 64, weights: w + w + w))
        #expect(jump.maxSlope > 10)
        let (capped, limited) = jump.limitingSlope(3)
        #expect(limited && capped.maxSlope <= 3 * 1.0001)
        for i in 0..<200 { #expect(abs(capped.values[i] - jump.values[i]) < 1e-6) }   // untouched below the jump
        #expect(capped.values[255] < jump.values[255])                                 // the top comes down instead
        let (same, untouched) = sampled.limitingSlope(3)
        #expect(!untouched && same == sampled)
    }

    @Test func renderSixteenBitAndSoftMask() {
        // 2x1 image, 16-bit: pixel 0 fully inside the mask, pixel 1 half inside.
        let curves = ToneCurves(size: 2, values: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5])   // every value -> 0.5
        var px: [UInt16] = [0, 65535, 1000, 65535, 0, 1000]
        let mask: [UInt8] = [255, 128]
        px.withUnsafeMutableBytes { p in
            mask.withUnsafeBufferPointer { m in
                CurveRenderer(curves: curves, bytesPerSample: 2).render(
                    ImageView(width: 2, height: 1, channels: 3, bytesPerSample: 2, rowBytes: 12, data: p.baseAddress!),
                    mask: MaskView(width: 2, height: 1, rowBytes: 2, data: m.baseAddress!))
            }
        }
        #expect(Array(px[0..<3]) == [32768, 32768, 32768])
        let a: Float = 128 / 255
        for (i, v) in [65535, 0, 1000].enumerated() {
            let want = 32768 * a + Float(v) * (1 - a)
            #expect(abs(Float(px[3 + i]) - want) <= 1, "channel \(i): \(px[3 + i]) vs \(want)")
        }
    }
}
