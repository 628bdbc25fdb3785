import Foundation

/// The image files of a folder, in natural order (frame2 before frame10), as a clip at a fixed rate.
/// Files that are not images are skipped with a note; every image is fitted to the first one's size.
public final class FolderSource: FrameSource {
    public let folder: String
    public private(set) var info: StreamInfo
    public let passthrough: [PassthroughStream] = []
    public var warnings: [String] {
        guard let firstScaled else { return notes }
        return notes + [firstScaled + (scaled > 1 ? " (and \(scaled - 1) more image(s) of another size)" : "")]
    }
    private var notes: [String] = []
    /// Images of another size than the first, scaled: the first one named, the rest counted.
    private var firstScaled: String?
    private var scaled = 0
    /// The first image's own size (`info` has the size frames are delivered at: `fit`'s, if given).
    private let firstSize: (width: Int, height: Int)
    /// The image files that will be read, in order.
    public let files: [String]
    private var position = 0

    public static let imageExtensions: Set<String> = [
        "png", "jpg", "jpeg", "tif", "tiff", "webp", "bmp", "exr", "dpx", "tga", "ppm", "pgm", "pnm", "pam", "jxl",
    ]

    private let fit: (width: Int, height: Int, layout: PixelLayout)?

    public init(folder: String, frameRate: Rational = Rational(25, 1), fit: (width: Int, height: Int, layout: PixelLayout)? = nil) throws {
        self.fit = fit
        self.folder = folder
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw PipeError(folder, "cannot list folder: \((error as NSError).localizedDescription)")
        }
        let visible = names.filter { !$0.hasPrefix(".") }
        let images = visible.filter { Self.imageExtensions.contains(fileExtension($0)) }
        let others = visible.filter { !images.contains($0) }
        if !others.isEmpty {
            let shown = others.sorted(by: naturalLess).prefix(3).joined(separator: ", ")
            notes.append("\(folder): ignoring \(others.count) file(s) that are not images (\(shown)\(others.count > 3 ? ", ..." : ""))")
        }
        guard !images.isEmpty else { throw PipeError(folder, "folder holds no images") }
        files = images.sorted(by: naturalLess)

        // The first image sets the clip's size and pixel layout.
        let first = try MediaReader(path: (folder as NSString).appendingPathComponent(files[0]), copyStreams: false, fit: fit)
        firstSize = first.sourceSize
        var info = first.info
        info.timeBase = Rational(frameRate.den, frameRate.num)
        info.frameRate = frameRate
        info.expectedFrames = files.count
        self.info = info
    }

    public func next() throws -> SourceItem? {
        guard position < files.count, !Interrupt.isRequested else { return nil }
        let name = files[position]
        let path = (folder as NSString).appendingPathComponent(name)
        let reader: MediaReader
        do {
            reader = try MediaReader(path: path, copyStreams: false, fit: (info.width, info.height, info.layout))
        } catch where Interrupt.isRequested {
            return nil    // Ctrl-C while opening an image ends the clip; it is not an error
        }
        // (Scaling every image to a size asked for, `fit`, is its caller's to say.)
        let size = reader.sourceSize
        if size.width != firstSize.width || size.height != firstSize.height {
            if firstScaled == nil {
                firstScaled = "\(path): \(size.width)x\(size.height), scaled to \(info.width)x\(info.height)"
                    + (fit == nil ? " (the first image's size)" : " (the first image is \(firstSize.width)x\(firstSize.height))")
            }
            scaled += 1
        }
        guard let frame = try reader.nextFrame() else {
            if Interrupt.isRequested { return nil }
            throw PipeError(path, "no picture could be decoded")
        }
        frame.pts = Int64(position)
        frame.duration = 1
        frame.index = position
        frame.sourceName = name
        position += 1
        return .frame(frame)
    }
}

/// Natural order: runs of digits compare as numbers, so "frame2" < "frame10".
public func naturalLess(_ a: String, _ b: String) -> Bool {
    var i = a.unicodeScalars.makeIterator(), j = b.unicodeScalars.makeIterator()
    var ca = i.next(), cb = j.next()
    func isDigit(_ c: Unicode.Scalar?) -> Bool { c.map { $0.properties.numericType == .decimal && $0.isASCII } ?? false }
    while let x = ca, let y = cb {
        if isDigit(x) && isDigit(y) {
            var da = "", db = ""
            while isDigit(ca) { da.unicodeScalars.append(ca!); ca = i.next() }
            while isDigit(cb) { db.unicodeScalars.append(cb!); cb = j.next() }
            let ta = da.drop { $0 == "0" }, tb = db.drop { $0 == "0" }
            if ta.count != tb.count { return ta.count < tb.count }
            if ta != tb { return ta < tb }
            if da.count != db.count { return da.count < db.count }
        } else {
            if x != y { return x.value < y.value }
            ca = i.next(); cb = j.next()
        }
    }
    return ca == nil && cb != nil
}
