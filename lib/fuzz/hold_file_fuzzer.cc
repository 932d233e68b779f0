#include "lib/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  xoi::fuzz::HoldFileDecoder(data, size);
  return 0;
}
