// The harmonize command-line tool. The command itself (options, their checks, the wiring of sources,
// harmonizer and sinks) is the HarmonizeCommand library, which the option fuzz target links too.
import HarmonizeCommand

// `harmonize batch|plan|join ...` are the scale-out commands; anything else is one job (a file named
// like one of them: ./batch).
let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "batch": Batch.main(Array(arguments.dropFirst()))
case "plan": Plan.main(Array(arguments.dropFirst()))
case "join": Join.main(Array(arguments.dropFirst()))
default: Harmonize.main()
}
