// Micro-benchmarks of the index's day-file format (lib/core/index_record.h): encoding and decoding
// a day of records shaped like an XO remote's (VM folders, VHD directories), and the bytes each
// record takes on disk.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "lib/core/index_record.h"

namespace xoi {
namespace {

const absl::CivilDay kDay(2026, 11, 1);

// `n` records of one day: 5 items a run (json, xva, and VHD directories), 24 runs a VM.
std::vector<IndexRecord> Day(int n) {
  std::vector<IndexRecord> records;
  const absl::Time start = absl::FromCivil(kDay, absl::UTCTimeZone());
  for (int i = 0; i < n; ++i) {
    const int vm = i / 120, run = (i / 5) % 24, item = i % 5;
    const std::string folder =
        absl::StrCat("xo-vm-backups/3e6f0c1a-8a1c-4c4e-9d4b-", 100000000000 + vm);
    const std::string dt = absl::StrCat("20261101T", run < 10 ? "0" : "", run, "0000Z");
    IndexRecord r;
    r.path = item < 2 ? absl::StrCat(folder, "/", dt, item == 0 ? ".json" : ".xva")
                      : absl::StrCat(folder, "/vdis/0b1c2d3e-aaaa-bbbb-cccc-dddddddddddd/",
                                     "6f1b0c2e-4e0b-4a7f-9c3d-", 100000000000 + item, "/data/", dt,
                                     ".vhd");
    r.tree = item >= 2;
    r.dev = 0x801;
    r.ino = 1000000 + i;
    r.birth = start + absl::Seconds(i % 80000) + absl::Nanoseconds(123456789 + i);
    r.reference = start + absl::Seconds(i % 80000 + 60);
    if (r.tree) r.locked_at = r.reference + absl::Seconds(5);
    records.push_back(std::move(r));
  }
  return records;
}

void BM_EncodeDayFile(benchmark::State& state) {
  const std::vector<IndexRecord> records = Day(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = EncodeDayFile(kDay, records);
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["bytes_per_record"] = static_cast<double>(bytes) / state.range(0);
}
BENCHMARK(BM_EncodeDayFile)->Arg(1000)->Arg(100000);

void BM_DecodeDayFile(benchmark::State& state) {
  const std::string text = EncodeDayFile(kDay, Day(static_cast<int>(state.range(0))));
  for (auto _ : state) {
    auto records = DecodeDayFile(kDay, text);
    if (!records.ok()) state.SkipWithError("the day file did not decode");
    benchmark::DoNotOptimize(records);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_DecodeDayFile)->Arg(1000)->Arg(100000);

}  // namespace
}  // namespace xoi

BENCHMARK_MAIN();
