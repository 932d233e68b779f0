// Micro-benchmarks of the index entry format and entry names: what protecting
// or lifting one item costs in CPU besides its system calls.
#include <string>

#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "lib/core/index_entry.h"

namespace xoi {
namespace {

constexpr char kPath[] =
    "/srv/backups/r1/xo-vm-backups/4c6e8a1e-0f3b-4d5e-9a7b-1c2d3e4f5a6b/vdis/"
    "9e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9/"
    "data/"
    "20261102T010000Z.vhd";

IndexEntry Entry() {
  IndexEntry e;
  e.path = kPath;
  e.has_identity = true;
  e.dev = 0xfe01;
  e.ino = 123456789;
  e.birth = absl::FromUnixNanos(1795000000123456789);
  e.tree = true;
  return e;
}

void BM_EncodeIndexEntry(benchmark::State& state) {
  const IndexEntry entry = Entry();
  for (auto _ : state) {
    std::string encoded = EncodeIndexEntry(entry);
    benchmark::DoNotOptimize(encoded);
  }
}
BENCHMARK(BM_EncodeIndexEntry);

void BM_DecodeIndexEntry(benchmark::State& state) {
  const std::string encoded = EncodeIndexEntry(Entry());
  for (auto _ : state) {
    auto entry = DecodeIndexEntry(encoded);
    if (!entry.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(entry);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(encoded.size()));
}
BENCHMARK(BM_DecodeIndexEntry);

// XO's v1 entries: the content is the absolute path.
void BM_DecodeIndexEntryV1(benchmark::State& state) {
  const std::string encoded = std::string(kPath) + "\n";
  for (auto _ : state) {
    auto entry = DecodeIndexEntry(encoded);
    if (!entry.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(entry);
  }
}
BENCHMARK(BM_DecodeIndexEntryV1);

// One per item walked in every run (the steady state included): SHA-256 of the
// absolute path.
void BM_IndexEntryName(benchmark::State& state) {
  const std::string path = kPath;
  for (auto _ : state) {
    std::string name = IndexEntryName(path);
    benchmark::DoNotOptimize(name);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(path.size()));
}
BENCHMARK(BM_IndexEntryName);

}  // namespace
}  // namespace xoi

BENCHMARK_MAIN();
