// swift-tools-version:6.1
import PackageDescription

let locks = Target.Dependency.product(name: "NIOConcurrencyHelpers", package: "swift-nio")

let package = Package(
    name: "harmonize",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "harmonize", targets: ["harmonize"]),
        .library(name: "VideoPipe", targets: ["VideoPipe"]),
        .library(name: "Engine", targets: ["Engine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // NIOLockedValueBox: a lock ThreadSanitizer sees (pthread_mutex). Synchronization.Mutex on Linux
        // locks with futexes TSan does not intercept, so every access it guards reads as a race.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // System libraries, from Debian's -dev packages (installed by `make deps`).
        .systemLibrary(
            name: "CFFmpeg", path: "Sources/CFFmpeg",
            pkgConfig: "libavformat libavcodec libswscale libavutil",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),
        // OpenBLAS (Debian's libopenblas0, headers from libopenblas-dev), loaded on first use with
        // kernels chosen for the CPU: its own pick predates the newest CPUs.
        .target(name: "COpenBLAS", path: "Sources/COpenBLAS", linkerSettings: [.linkedLibrary("dl")]),
        // Inner loops Swift does not vectorise (float -> int conversions, clamps), in plain C.
        .target(name: "CKernels", path: "Sources/CKernels"),

        // FFmpeg's log callback, which takes a va_list: decoders' errors counted (VideoPipe's DecoderErrors).
        .target(name: "CDecoderLog", dependencies: ["CFFmpeg"], path: "Sources/CDecoderLog"),
        // Frames in and out: demux/decode, encode/mux, sources, sinks, the streaming pipeline.
        .target(name: "VideoPipe", dependencies: ["CFFmpeg", "CDecoderLog", locks]),
        // The model and the curves; no FFmpeg in here.
        .target(name: "Engine", dependencies: ["COpenBLAS", "CKernels", locks]),
        // The command: argument parsing and wiring, nothing else; the tool is its main.
        .target(
            name: "HarmonizeCommand",
            dependencies: [
                "VideoPipe", "Engine", locks,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "harmonize", dependencies: ["HarmonizeCommand"]),

        // Engine timings for `make bench`.
        .executableTarget(name: "engine-bench", dependencies: ["Engine"]),

        // Fuzz targets (libFuzzer with `make fuzz`; in a plain build each replays its committed corpus,
        // which `make test` runs).
        .target(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"], path: "Fuzz/Support"),
        .executableTarget(name: "fuzz-model-file", dependencies: ["Engine", "FuzzSupport"], path: "Fuzz/ModelFile"),
        .executableTarget(name: "fuzz-frame-geometry", dependencies: ["Engine", "FuzzSupport"], path: "Fuzz/FrameGeometry"),
        .executableTarget(name: "fuzz-paths", dependencies: ["VideoPipe", "FuzzSupport"], path: "Fuzz/Paths"),
        .executableTarget(name: "fuzz-options", dependencies: ["HarmonizeCommand", "FuzzSupport",
                                                              .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Fuzz/Options"),

        .testTarget(name: "VideoPipeTests", dependencies: ["VideoPipe", locks]),
        // Fixtures come from training/make_fixtures.py (the PyTorch reference).
        .testTarget(name: "EngineTests", dependencies: ["Engine"], exclude: ["Fixtures"]),
        .testTarget(name: "HarmonizeCLITests", dependencies: ["harmonize"]),
    ]
)
