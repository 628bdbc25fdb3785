import Testing
@testable import Engine

/// The separable, vectorised max pool against the 3x3 window, stride 2 and ceil mode (PyTorch's
/// MaxPool2d(3, 2, ceil_mode=True) as SqueezeNet uses it), on sizes around the vector width.
@Suite struct MaxPoolTests {
    @Test(arguments: [(5, 7), (33, 34), (35, 36), (63, 63), (127, 127), (66, 129), (140, 31), (4, 2), (2, 1), (1, 3)])
    func matchesTheThreeByThreeWindow(size: (Int, Int)) {
        let (height, width) = size
        let s = Shape(channels: 3, batch: 2, height: height, width: width)
        var rng = SeededGenerator(seed: UInt64(height * 1000 + width))
        let input = (0..<(s.channels * s.batch * s.plane)).map { _ in Float.random(in: -1...1, using: &rng) }
        let o = maxPoolShape(s)
        var output = [Float](repeating: .nan, count: o.channels * o.batch * o.plane)
        let got = input.withUnsafeBufferPointer { i in
            output.withUnsafeMutableBufferPointer { maxPool(i.baseAddress!, s, into: $0.baseAddress!) }
        }
        #expect(got.width == o.width && got.height == o.height)
        var wrong = 0
        for p in 0..<(s.channels * s.batch) {
            for oy in 0..<o.height {
                for ox in 0..<o.width {
                    var m = -Float.infinity
                    for y in (2 * oy)..<min(2 * oy + 3, height) {
                        for x in (2 * ox)..<min(2 * ox + 3, width) { m = max(m, input[p * s.plane + y * width + x]) }
                    }
                    if output[p * o.plane + oy * o.width + ox] != m { wrong += 1 }
                }
            }
        }
        #expect(wrong == 0, "\(height)x\(width): \(wrong) outputs differ")
    }
}

/// The first layer's convolution and pool fused by blocks of rows (`forwardPooled`) against the
/// convolution over the whole picture followed by the pool, on shapes that make several blocks, a
/// last block of one or two rows, odd heights (the pool's last window clipped) and a batch of two.
@Suite struct PooledConvolutionTests {
    @Test(arguments: [(3, 8, 3, 2, 0, 2, 256, 256), (3, 64, 3, 2, 0, 1, 256, 256), (3, 8, 3, 2, 0, 1, 75, 300),
                      (8, 8, 3, 1, 1, 2, 80, 90), (8, 16, 1, 1, 0, 1, 99, 70), (4, 4, 3, 1, 1, 1, 7, 9)])
    func matchesConvolutionThenPool(spec: (Int, Int, Int, Int, Int, Int, Int, Int)) throws {
        _ = try HarmonizationModel(path: "\(fixtures)/plain.safetensors")   // loads OpenBLAS
        let (inC, outC, k, stride, padding, batch, height, width) = spec
        var rng = SeededGenerator(seed: UInt64(inC * 1_000_003 + outC * 1009 + height * 31 + width))
        let conv = Conv2d(weight: (0..<(outC * inC * k * k)).map { _ in Float.random(in: -0.5...0.5, using: &rng) },
                          bias: (0..<outC).map { _ in Float.random(in: -0.2...0.2, using: &rng) },
                          inChannels: inC, outChannels: outC, kernel: k, stride: stride, padding: padding)
        let s = Shape(channels: inC, batch: batch, height: height, width: width)
        let input = (0..<s.count).map { _ in Float.random(in: -1...1, using: &rng) }
        let o = conv.outputShape(s), p = maxPoolShape(o)
        var whole = [Float](repeating: .nan, count: o.count), pooled = [Float](repeating: .nan, count: p.count)
        var fused = [Float](repeating: .nan, count: p.count)
        var columns = [Float](repeating: 0, count: max(1, conv.columnCount(s)))
        var block = [Float](repeating: 0, count: conv.pooledBlockCount(s))
        input.withUnsafeBufferPointer { i in
            columns.withUnsafeMutableBufferPointer { c in
                whole.withUnsafeMutableBufferPointer { w in
                    _ = conv.forward(i.baseAddress!, s, into: w.baseAddress!, columns: c.baseAddress!)
                    pooled.withUnsafeMutableBufferPointer { _ = maxPool(w.baseAddress!, o, into: $0.baseAddress!) }
                }
                block.withUnsafeMutableBufferPointer { b in
                    fused.withUnsafeMutableBufferPointer { f in
                        let got = conv.forwardPooled(i.baseAddress!, s, into: f.baseAddress!, columns: c.baseAddress!, block: b.baseAddress!)
                        #expect(got.height == p.height && got.width == p.width && got.batch == batch)
                    }
                }
            }
        }
        // The whole convolution itself, at a few positions, against the definition.
        for _ in 0..<20 {
            let (oc, b, oy, ox) = (Int.random(in: 0..<outC, using: &rng), Int.random(in: 0..<batch, using: &rng),
                                  Int.random(in: 0..<o.height, using: &rng), Int.random(in: 0..<o.width, using: &rng))
            var sum = conv.bias[oc]
            for c in 0..<inC { for ky in 0..<k { for kx in 0..<k {
                let iy = oy * stride - padding + ky, ix = ox * stride - padding + kx
                guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                sum += conv.weight[((oc * inC + c) * k + ky) * k + kx] * input[((c * batch + b) * height + iy) * width + ix]
            } } }
            let got = whole[(oc * batch + b) * o.plane + oy * o.width + ox]
            #expect(abs(got - max(sum, 0)) <= 1e-4, "\(spec): conv at \((oc, b, oy, ox)) \(got) vs \(max(sum, 0))")
        }
        let worst = zip(fused, pooled).map { abs($0 - $1) / max(abs($1), 1e-3) }.max() ?? .nan
        #expect(worst <= 1e-5, "\(spec): worst relative difference \(worst)")
        #expect(o.height > conv.pooledBlockRows(o) || height < 10, "\(spec): one block only")
    }
}

/// A Fire module handing its output to the next Fire's squeeze block by block (`Fire.expand(_:_:
/// feeding:...)`) against the Fire's whole output followed by that squeeze.
@Suite struct FusedFireTests {
    static func conv(_ inC: Int, _ outC: Int, _ k: Int, padding: Int = 0) -> Conv2d {
        var rng = SeededGenerator(seed: UInt64(inC * 1_000_003 + outC * 1009 + k))
        return Conv2d(weight: (0..<(outC * inC * k * k)).map { _ in Float.random(in: -0.4...0.4, using: &rng) },
                      bias: (0..<outC).map { _ in Float.random(in: -0.1...0.2, using: &rng) },
                      inChannels: inC, outChannels: outC, kernel: k, padding: padding)
    }

    @Test(arguments: [(64, 16, 64, 16, 1, 63, 63), (128, 32, 128, 32, 1, 31, 31), (24, 8, 16, 12, 2, 29, 41), (8, 4, 8, 4, 1, 3, 5)])
    func matchesTheWholeOutputThenTheNextSqueeze(spec: (Int, Int, Int, Int, Int, Int, Int)) throws {
        _ = try HarmonizationModel(path: "\(fixtures)/plain.safetensors")   // loads OpenBLAS
        let (inC, sq, e, nextSq, batch, height, width) = spec
        let fire = Fire(squeeze: Self.conv(inC, sq, 1), expand1: Self.conv(sq, e, 1), expand3: Self.conv(sq, e, 3, padding: 1))
        let next = Self.conv(2 * e, nextSq, 1)
        let s = Shape(channels: inC, batch: batch, height: height, width: width)
        var rng = SeededGenerator(seed: UInt64(s.count * 7 + height))
        let input = (0..<s.count).map { _ in Float.random(in: 0...1, using: &rng) }
        let q = fire.squeeze.outputShape(s)
        var squeezed = [Float](repeating: 0, count: q.count), whole = [Float](repeating: .nan, count: 2 * e * q.batch * q.plane)
        var reference = [Float](repeating: .nan, count: nextSq * q.batch * q.plane), fused = reference
        var columns = [Float](repeating: 0, count: fire.expand3.columnCount(q))
        var block = [Float](repeating: 0, count: fire.fusedBlockCount(q))
        squeezed.withUnsafeMutableBufferPointer { sqp in
            columns.withUnsafeMutableBufferPointer { c in
                input.withUnsafeBufferPointer { _ = fire.squeeze.forward($0.baseAddress!, s, into: sqp.baseAddress!, columns: c.baseAddress!) }
                whole.withUnsafeMutableBufferPointer { w in
                    let o = fire.expand(sqp.baseAddress!, q, into: w.baseAddress!, columns: c.baseAddress!)
                    reference.withUnsafeMutableBufferPointer { _ = next.forward(w.baseAddress!, o, into: $0.baseAddress!, columns: c.baseAddress!) }
                }
                block.withUnsafeMutableBufferPointer { b in
                    fused.withUnsafeMutableBufferPointer { f in
                        let got = fire.expand(sqp.baseAddress!, q, feeding: next, into: f.baseAddress!, columns: c.baseAddress!,
                                              block: b.baseAddress!)
                        #expect(got.channels == nextSq && got.height == height && got.width == width && got.batch == batch)
                    }
                }
            }
        }
        #expect(reference.contains { $0 > 0 }, "\(spec): the reference is all zero")
        let worst = zip(fused, reference).map { abs($0 - $1) / max(abs($1), 1e-3) }.max() ?? .nan
        #expect(worst <= 1e-5, "\(spec): worst relative difference \(worst)")
    }
}

/// A Fire followed by a max pool (`Fire.expandPooled`, by blocks of rows each starting with the
/// last row of the block before) against the whole output, then `maxPool`.
@Suite struct PooledFireTests {
    @Test(arguments: [(128, 16, 64, 1, 63, 63), (256, 32, 128, 1, 31, 31), (24, 8, 16, 2, 29, 41), (8, 4, 8, 1, 3, 5),
                      (16, 8, 200, 1, 40, 40), (8, 4, 6, 2, 2, 9)])
    func matchesTheWholeOutputThenThePool(spec: (Int, Int, Int, Int, Int, Int)) throws {
        _ = try HarmonizationModel(path: "\(fixtures)/plain.safetensors")   // loads OpenBLAS
        let (inC, sq, e, batch, height, width) = spec
        let fire = Fire(squeeze: FusedFireTests.conv(inC, sq, 1), expand1: FusedFireTests.conv(sq, e, 1),
                        expand3: FusedFireTests.conv(sq, e, 3, padding: 1))
        let s = Shape(channels: inC, batch: batch, height: height, width: width)
        var rng = SeededGenerator(seed: UInt64(s.count * 7 + height))
        let input = (0..<s.count).map { _ in Float.random(in: 0...1, using: &rng) }
        let q = fire.squeeze.outputShape(s)
        let o = Shape(channels: 2 * e, batch: batch, height: height, width: width), p = maxPoolShape(o)
        var squeezed = [Float](repeating: 0, count: q.count), whole = [Float](repeating: .nan, count: o.count)
        var reference = [Float](repeating: .nan, count: p.count), fused = reference
        var columns = [Float](repeating: 0, count: fire.pooledColumnCount(q))
        var block = [Float](repeating: .nan, count: fire.pooledBlockCount(q))
        squeezed.withUnsafeMutableBufferPointer { sqp in
            columns.withUnsafeMutableBufferPointer { c in
                input.withUnsafeBufferPointer { _ = fire.squeeze.forward($0.baseAddress!, s, into: sqp.baseAddress!, columns: c.baseAddress!) }
                whole.withUnsafeMutableBufferPointer { w in
                    let o = fire.expand(sqp.baseAddress!, q, into: w.baseAddress!, columns: c.baseAddress!)
                    reference.withUnsafeMutableBufferPointer { _ = maxPool(w.baseAddress!, o, into: $0.baseAddress!) }
                }
                block.withUnsafeMutableBufferPointer { b in
                    fused.withUnsafeMutableBufferPointer { f in
                        let got = fire.expandPooled(sqp.baseAddress!, q, into: f.baseAddress!, columns: c.baseAddress!, block: b.baseAddress!)
                        #expect(got.channels == 2 * e && got.height == p.height && got.width == p.width && got.batch == batch)
                    }
                }
            }
        }
        #expect(reference.contains { $0 > 0 } && reference.contains { $0 == 0 }, "\(spec): the reference should have both signs clamped")
        let worst = zip(fused, reference).map { abs($0 - $1) / max(abs($1), 1e-3) }.max() ?? .nan
        #expect(worst <= 1e-5, "\(spec): worst relative difference \(worst)")
        #expect(height > fire.pooledBlockRows(q) || height < 30, "\(spec): one block only")
    }
}
