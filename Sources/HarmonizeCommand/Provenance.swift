import Foundation
import VideoPipe

/// What made an output: the tool's version, the model file's SHA-256 and the options that shape the
/// result (not threads or encoder settings, which the streams record themselves). `--version` prints
/// the first two; a video output carries all three in its container's `comment` tag and every line
/// of `--curves-out` repeats them, so the parts of a job spread over machines can be checked alike.
struct Provenance: Sendable {
    /// The tool's version: raised with each change to what it writes or how it harmonizes.
    static let toolVersion = "0.9.0"

    let modelHash: String?
    let options: [String]
    /// The part of the clip processed (--start/--duration), as `TimeRange.label` writes it; `join`
    /// checks that the parts tile the clip.
    var range: TimeRange? = nil
    /// The file name (no folder: machines mount the storage in different places) of the clip the
    /// range is of; `join` checks that all parts name the same one.
    var source: String? = nil

    /// "harmonize 0.9.0; model sha256:HEX; --strength 1 --smoothing 0.25 ...[; range 4.000000+2.000000 of clip.mp4]"
    var line: String {
        var parts = ["harmonize \(Self.toolVersion)"]
        if let modelHash { parts.append("model sha256:\(modelHash)") }
        if !options.isEmpty { parts.append(options.joined(separator: " ")) }
        if let range { parts.append("range \(range.label)" + (source.map { " of \($0)" } ?? "")) }
        return parts.joined(separator: "; ")
    }
}

extension Harmonize {
    /// The options that shape the pictures, as a canonical command line (defaults spelled out).
    var shapingOptions: [String] {
        if passthrough { return ["--passthrough"] }
        var o = ["--strength", format(strength), "--smoothing", format(smoothing), "--max-slope", format(maxSlope),
                 "--infer-every", inferEvery, "--scene-threshold", format(sceneThreshold), "--label", label]
        if sideBySide { o.append("--side-by-side") }
        return o
    }

    private func format(_ value: some BinaryFloatingPoint) -> String {
        let d = Double(value)
        return d == d.rounded() ? String(Int(d)) : String(d)
    }

    /// `harmonize --version`: the tool's version and the model it would use, with its hash.
    func versionText() -> String {
        var lines = ["harmonize \(Provenance.toolVersion)"]
        if let path = model ?? Harmonizer.defaultModelPath() {
            if let hash = try? sha256Hex(ofFile: path) {
                lines.append("model: \(path) sha256:\(hash)")
            } else {
                lines.append("model: \(path) (cannot be read)")
            }
        } else {
            lines.append("model: none found (--model FILE or HARMONIZE_MODEL)")
        }
        return lines.joined(separator: "\n")
    }
}
