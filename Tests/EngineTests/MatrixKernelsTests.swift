import Foundation
import Testing
@testable import Engine

/// OpenBLAS 0.3.21 (Debian 12) picks its kernels from the CPU's model number and falls back to its
/// generic SSE3 ones ("Prescott") on CPUs newer than it: 3x slower products on a Sapphire Rapids
/// machine. The engine loads it with the kernels for the CPU's vector units.
@Suite struct MatrixKernelsTests {
    @Test func openBLASRunsTheKernelsOfTheCPUsVectorUnits() throws {
        _ = try HarmonizationModel(path: "\(fixtures)/plain.safetensors")
        let kernels = HarmonizationModel.matrixKernels
        let level = HarmonizationModel.cpuVectorLevel
        guard kernels.chosenHere else {
            // Left to OpenBLAS only where the user set OPENBLAS_CORETYPE (before the first model loaded
            // it) or the CPU has neither AVX-512 nor AVX2 + FMA.
            #expect(level == 0 || ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] != nil,
                    "vector level \(level), OpenBLAS runs \(kernels.name)")
            return
        }
        #expect(kernels.name == (level == 2 ? "SkylakeX" : "Haswell"), "vector level \(level), OpenBLAS runs \(kernels.name)")
    }
}
