import Engine
import Foundation
import VideoPipe

/// `--stats`: the pipeline's stage times as a small table, and the busiest stage named, so the
/// next bottleneck shows without a profiler.
enum StatsReport {
    static func lines(_ summary: PipelineSummary, renderSeconds: Double?) -> [String] {
        let s = summary.stats
        let wall = summary.seconds
        var lines = [String(format: "stats over %.2f s, %d frames:", wall, summary.frames),
                     "  stage   threads   busy s  blocked s    load  ms/frame    cpu s"]
        let frames = Double(max(1, summary.frames))
        for stage in [s.decode, s.work, s.write] {
            let name = stage.name.padding(toLength: 7, withPad: " ", startingAt: 0)
            lines.append("  " + name + String(format: " %7d %8.2f %10.2f %5.0f %% %9.2f %8.2f", stage.threads, stage.busy, stage.waiting, 100 * stage.load(over: wall), 1000 * stage.busy / frames, stage.cpu))
        }
        if let renderSeconds {
            lines.append(String(format: "  (write: %.2f s rendering the curves into frames, %.2f s smoothing and encoding)",
                                renderSeconds, max(0, s.write.busy - renderSeconds)))
        }
        lines.append(String(format: "  frames waiting for a worker: %.1f on average, at most %d; in flight (window of %d): %.1f on average, full at %.0f %% of frames",
                            s.queued.mean, s.queued.most, s.inFlight.capacity, s.inFlight.mean,
                            100 * Double(s.inFlight.full) / Double(max(1, s.inFlight.samples))))
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let ours = s.decode.cpu + s.work.cpu + s.write.cpu
        lines.append(String(format: "  CPU: %.2f s for the process, %.0f %% of %d cores over the run; %.2f s in the stages' threads, %.2f s in FFmpeg's and OpenBLAS's own",
                            s.processCPU, wall > 0 ? 100 * s.processCPU / (Double(cores) * wall) : 0, cores, ours, max(0, s.processCPU - ours)))
        let kernels = HarmonizationModel.matrixKernels
        if kernels.name != "not loaded" {
            let why = kernels.chosenHere ? "chosen for this CPU" : ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] != nil ? "OPENBLAS_CORETYPE" : "OpenBLAS's own pick"
            lines.append("  network's matrix products: OpenBLAS \(kernels.name) kernels (\(why))")
        }
        let busiest = [s.decode, s.work, s.write].max { $0.load(over: wall) < $1.load(over: wall) }!
        lines.append(String(format: "  busiest: %@ (%.0f %% of %@)", busiest.name as NSString, 100 * busiest.load(over: wall),
                            busiest.threads == 1 ? "its thread" : "its \(busiest.threads) threads"))
        return lines
    }
}
