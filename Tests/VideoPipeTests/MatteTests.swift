import Foundation
import Testing
@testable import VideoPipe

/// Mask clips are read as their luma plane (`MediaReader(matteOnly:)`): no YUV -> RGB conversion of
/// the whole frame and no weighted sum back to one channel. The matte must be the one the full
/// conversion gave, for the formats masks come in.
@Suite struct MatteTests {
    /// Makes a grey ramp of every level (black to white, with a bright box) in the given format.
    func mask(_ name: String, _ encode: [String]) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("harmonize-matte-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent(name).path
        let ffmpeg = Process()
        ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        ffmpeg.arguments = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                            "gradients=s=256x64:c0=black:c1=white:x0=0:y0=0:x1=255:y1=0:r=5:d=0.6,"
                            + "drawbox=x=100:y=10:w=40:h=30:c=white:t=fill"] + encode + [path]
        try ffmpeg.run()
        ffmpeg.waitUntilExit()
        try #require(ffmpeg.terminationStatus == 0, "ffmpeg could not make \(name)")
        return path
    }

    @Test(arguments: [
        ("gray.mkv", ["-pix_fmt", "gray", "-c:v", "ffv1"], true),
        ("yuv420p.mp4", ["-pix_fmt", "yuv420p", "-c:v", "libx264", "-crf", "10"], true),
        ("yuvj420p.avi", ["-pix_fmt", "yuvj420p", "-c:v", "mjpeg", "-q:v", "2"], true),
        ("yuv444p-full.mkv", ["-pix_fmt", "yuv444p", "-color_range", "pc", "-c:v", "ffv1"], true),
        ("gray.png", ["-frames:v", "1", "-pix_fmt", "gray"], true),
        ("rgb.png", ["-frames:v", "1", "-pix_fmt", "rgb24"], false),
    ])
    func lumaMatteIsTheConvertedMatte(name: String, encode: [String], straight: Bool) throws {
        let path = try mask(name, encode)
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let fast = try MediaReader(path: path, copyStreams: false, matteOnly: true)
        let full = try MediaReader(path: path, copyStreams: false)
        var frames = 0
        while let a = try fast.nextFrame(), let b = try full.nextFrame() {
            try a.complete()
            try b.complete()
            #expect((a.matte != nil) == straight, "\(name): matte read straight from the luma plane: \(a.matte != nil)")
            // A frame whose matte is its luma plane holds no pixel buffer (6 MB at 1080p, unused).
            #expect((a.byteCount == 0) == straight, "\(name): \(a.byteCount) bytes of pixels")
            let expected = alphaPlane(of: b)
            let got = a.matte ?? alphaPlane(of: a)
            let worst = zip(got, expected).map { abs(Int($0) - Int($1)) }.max() ?? 0
            #expect(worst <= 1, "\(name) frame \(frames): matte differs by up to \(worst) levels")
            // A ramp (FFmpeg may leave full-range tagged clips in 16-235: both readers take the tag at its word).
            #expect(got.max()! - got.min()! >= 200, "\(name): the ramp should span the levels (\(got.min()!)-\(got.max()!))")
            frames += 1
        }
        #expect(frames >= 1)
    }
}
