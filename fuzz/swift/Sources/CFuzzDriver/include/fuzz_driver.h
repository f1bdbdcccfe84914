/* libFuzzer's entry point for programs that keep their own main (the runtime is linked by
 * -sanitize=fuzzer). SwiftPM gives every executable target its own main, so the Swift
 * fuzzers call this from top-level code instead of letting libFuzzer's main run. */
#ifndef TESSERA_FUZZ_DRIVER_H
#define TESSERA_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
