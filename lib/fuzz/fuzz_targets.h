// Fuzz targets for the parsers that read untrusted or hand-written input. Each function must
// accept any bytes without crashing, and aborts when an invariant breaks (a round trip that does
// not return what went in). libFuzzer drives them (lib/fuzz/*_fuzzer.cc, tools/fuzz.sh); the
// regression test replays the seed corpus and every crash ever found (testdata/fuzz/<target>/).
#ifndef XOI_LIB_FUZZ_FUZZ_TARGETS_H_
#define XOI_LIB_FUZZ_FUZZ_TARGETS_H_

#include <cstddef>
#include <cstdint>

namespace xoi::fuzz {

void ConfigParser(const uint8_t* data, size_t size);
void DurationParser(const uint8_t* data, size_t size);
void GlobCompiler(const uint8_t* data, size_t size);
void IndexEntryDecoder(const uint8_t* data, size_t size);
// What a writer on the remote controls: immutability.json, alias files, run metadata (status).
void MarkerParser(const uint8_t* data, size_t size);
void AliasParser(const uint8_t* data, size_t size);
void RunMetadataParser(const uint8_t* data, size_t size);
// The program's own state, which a damaged disk can garble: the clock record, index day files,
// hold files.
void ClockRecordDecoder(const uint8_t* data, size_t size);
void DayFileDecoder(const uint8_t* data, size_t size);
void HoldFileDecoder(const uint8_t* data, size_t size);

}  // namespace xoi::fuzz

#endif  // XOI_LIB_FUZZ_FUZZ_TARGETS_H_
