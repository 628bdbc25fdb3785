// The harmonize command-line tool. The command itself (options, their checks, the wiring of sources,
// harmonizer and sinks) is the HarmonizeCommand library, which the option fuzz target links too.
import HarmonizeCommand

Harmonize.main()
