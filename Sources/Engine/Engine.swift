/// The harmonization model: S2CRNet curve prediction and curve rendering (in progress; see the
/// Engine issue). This module never links FFmpeg: it works on plain pixel buffers.
public enum Engine {
    /// The version of the weight format this engine reads.
    public static let formatVersion = 1
}
