// The harmonize command-line tool. The command itself (options, their checks, the wiring of sources,
// harmonizer and sinks) is the HarmonizeCommand library, which the option fuzz target links too.
import HarmonizeCommand

// `harmonize batch ...` runs many jobs; anything else is one job (a file named batch: ./batch).
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "batch" {
    Batch.main(Array(arguments.dropFirst()))
} else {
    Harmonize.main()
}
