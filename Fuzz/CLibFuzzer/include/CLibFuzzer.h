// libFuzzer's driver entry point (compiler-rt, linked with -sanitize=fuzzer): runs the fuzzing loop
// on a callback, taking libFuzzer's command-line flags from argv.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
