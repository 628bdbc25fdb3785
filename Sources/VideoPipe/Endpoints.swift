import Foundation

/// What an INPUT or OUTPUT argument names.
public enum Endpoint: Equatable, Sendable {
    case standardStream            // "-"
    case folder(String)            // an existing folder, or a path ending in "/"
    case pattern(String)           // printf pattern: shot_%04d.png
    case image(String)             // a single still image
    case video(String)             // any container

    public static let imageExtensions = FolderSource.imageExtensions

    /// A video file or stream (as an output: encoded by `MediaWriter`).
    public var writesVideo: Bool {
        switch self {
        case .video, .standardStream: true
        default: false
        }
    }

    /// A single picture (one frame for every frame of a clip).
    public var isStill: Bool {
        if case .image = self { return true }
        return false
    }

    /// A stream with its own timestamps (a video file or standard input), as opposed to images.
    public var hasTimestamps: Bool {
        switch self {
        case .video, .standardStream: true
        default: false
        }
    }

    public init(_ argument: String) {
        var isDir: ObjCBool = false
        if argument == "-" {
            self = .standardStream
        } else if argument.hasSuffix("/") || (FileManager.default.fileExists(atPath: argument, isDirectory: &isDir) && isDir.boolValue) {
            self = .folder(argument.count > 1 && argument.hasSuffix("/") ? String(argument.dropLast()) : argument)
        } else if isPrintfPattern(argument) {
            self = .pattern(argument)
        } else if Self.imageExtensions.contains(fileExtension(argument)) {
            self = .image(argument)
        } else {
            self = .video(argument)
        }
    }
}

/// Opens the source an INPUT argument names. `frameRate` applies to folders (image files carry none);
/// `fit` delivers frames of that size and layout instead of the source's own; `matteOnly` (mask
/// clips) gives each frame its luma plane as its matte where it can (`MediaReader`).
public func openSource(_ argument: String, frameRate: Rational = Rational(25, 1),
                       fit: (width: Int, height: Int, layout: PixelLayout)? = nil, copyStreams: Bool = true,
                       matteOnly: Bool = false) throws -> FrameSource {
    switch Endpoint(argument) {
    case .folder(let dir):
        return try FolderSource(folder: dir, frameRate: frameRate, fit: fit)
    case .pattern(let pattern):
        do {
            return try MediaReader(path: pattern, copyStreams: copyStreams, fit: fit, frameRate: frameRate, matteOnly: matteOnly)
        } catch let error as PipeError where error.message == "no such file" {
            throw PipeError(pattern, "no files match this pattern")
        }
    case .standardStream, .image, .video:
        return try MediaReader(path: argument, copyStreams: copyStreams, fit: fit, matteOnly: matteOnly)
    }
}

/// Opens the sink an OUTPUT argument names, for frames described by `info`.
public func openSink(_ argument: String, info: StreamInfo, passthrough: [PassthroughStream],
                     options: EncodeOptions) throws -> FrameSink {
    switch Endpoint(argument) {
    case .folder(let dir):
        return try ImageWriter(naming: .folder(dir, defaultExtension: "png"), info: info, passthrough: passthrough, options: options)
    case .pattern(let pattern):
        return try ImageWriter(naming: .pattern(pattern), info: info, passthrough: passthrough, options: options)
    case .image(let path):
        return try ImageWriter(naming: .single(path), info: info, passthrough: passthrough, options: options)
    case .standardStream, .video:
        return try MediaWriter(path: argument, info: info, passthrough: passthrough, options: options)
    }
}

/// Refuses an output that is the input itself (the same file or folder, or the same pattern): with
/// -y it would replace the source it is reading.
public func checkNotSameLocation(input: String, output: String) throws {
    guard input != "-", output != "-" else { return }
    let a = URL(fileURLWithPath: input).standardizedFileURL.path
    let b = URL(fileURLWithPath: output).standardizedFileURL.path
    var sa = stat(), sb = stat()
    let same = a == b || (stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
    if same { throw PipeError(output, "is also the input; write the output somewhere else") }
}

/// The lowercased extension of a path's last component ("" for none). Not NSString.pathExtension:
/// swift-corelibs-foundation traps inside it on some names (fuzz-paths found one; Fuzz/corpus/paths).
func fileExtension(_ path: String) -> String {
    let name = path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? ""
    guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
    return String(name[name.index(after: dot)...]).lowercased()
}
