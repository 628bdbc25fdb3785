import Foundation
import Testing
@testable import VideoPipe

/// A single image file is decoded once: the reader skips FFmpeg's stream probe (which decodes the
/// whole picture to learn its size and pixel format) and takes them from its own first decode. What
/// it reports and delivers must be what the probed path gives: the same file read as a one-file
/// pattern (`img_%d.png`, forced through the image2 demuxer and its probe).
@Suite struct ImageReaderTests {
    @Test(arguments: [
        ("png", ["-pix_fmt", "rgb24"]),
        ("png", ["-pix_fmt", "gray"]),
        ("png", ["-pix_fmt", "rgba"]),
        ("png", ["-pix_fmt", "rgb48be"]),
        ("jpg", ["-pix_fmt", "yuvj420p", "-q:v", "3"]),
        ("jpg", ["-pix_fmt", "yuvj444p", "-q:v", "3"]),
        ("bmp", ["-pix_fmt", "bgr24"]),
        ("tiff", ["-pix_fmt", "rgb24"]),
    ])
    func anImageReadsAsItsProbedPattern(ext: String, encode: [String]) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("harmonize-image-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("img_1.\(ext)").path
        let ffmpeg = Process()
        ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        ffmpeg.arguments = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=172x96:d=1,format=rgb24,crop=171:95",
                            "-frames:v", "1"] + encode + [path]
        try ffmpeg.run()
        ffmpeg.waitUntilExit()
        try #require(ffmpeg.terminationStatus == 0, "ffmpeg could not make \(ext) \(encode)")

        let image = try MediaReader(path: path, copyStreams: false)
        let probed = try MediaReader(path: folder.appendingPathComponent("img_%d.\(ext)").path, copyStreams: false)
        let (a, b) = (image.info, probed.info)
        #expect(a.width == 171 && a.height == 95, "\(a.width)x\(a.height)")
        #expect(a.width == b.width && a.height == b.height && a.layout == b.layout && a.bitDepth == b.bitDepth)
        #expect(a.color == b.color && a.sourcePixelFormat == b.sourcePixelFormat && a.sampleAspectRatio == b.sampleAspectRatio)
        // The image2 demuxer (FFmpeg's pick for .jpg) counts its files; the *_pipe ones cannot.
        if ext == "jpg" { #expect(a.expectedFrames == 1, "\(ext): \(String(describing: a.expectedFrames)) frames expected") }
        let x = try #require(try image.nextFrame()), y = try #require(try probed.nextFrame())
        try x.complete()
        try y.complete()
        #expect(x.byteCount == y.byteCount && x.byteCount > 0)
        // Row padding aside (never written), the same bytes.
        let rowBytes = x.width * x.layout.bytesPerPixel
        let same = (0..<x.height).allSatisfy { r in
            memcmp(x.data + r * x.rowBytes, y.data + r * y.rowBytes, rowBytes) == 0
        }
        #expect(same, "\(ext) \(encode): the pictures differ")
        #expect(try image.nextFrame() == nil && probed.nextFrame() == nil, "one picture each")
    }
}
