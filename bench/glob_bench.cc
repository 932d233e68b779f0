// Micro-benchmarks of the glob set: what the walker pays per directory entry
// before any system call (GlobSet::Advance over realistic XO paths,
// MatchSegment on single names).
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "benchmark/benchmark.h"
#include "lib/core/glob_set.h"

namespace xoi {
namespace {

const GlobSet& DefaultGlobs() {
  static const GlobSet* const kGlobs = new GlobSet(*GlobSet::Compile(GlobSet::DefaultPatterns()));
  return *kGlobs;
}

// Paths as XO lays them out (tools/gen_remote.cc), items and non-items, split
// into segments.
const std::vector<std::vector<std::string>>& XoPaths() {
  static const auto* const kPaths = [] {
    const std::vector<std::string> paths = {
        "xo-vm-backups/4c6e8a1e-0f3b-4d5e-9a7b-1c2d3e4f5a6b/"
        "20261101T010000Z.json",
        "xo-vm-backups/4c6e8a1e-0f3b-4d5e-9a7b-1c2d3e4f5a6b/"
        "20261101T010000Z.xva",
        "xo-vm-backups/4c6e8a1e-0f3b-4d5e-9a7b-1c2d3e4f5a6b/"
        "20261101T010000Z.xva.checksum",
        "xo-vm-backups/4c6e8a1e-0f3b-4d5e-9a7b-1c2d3e4f5a6b/cache.json.gz",
        "xo-vm-backups/4c6e8a1e-0f3b-4d5e-9a7b-1c2d3e4f5a6b/vdis/"
        "9e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7/"
        "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9/"
        "20261102T010000Z.alias.vhd",
        "xo-vm-backups/4c6e8a1e-0f3b-4d5e-9a7b-1c2d3e4f5a6b/vdis/"
        "9e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7/"
        "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9/"
        "20261104T010000Z.vhd",
        "xo-vm-backups/4c6e8a1e-0f3b-4d5e-9a7b-1c2d3e4f5a6b/vdis/"
        "9e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7/"
        "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9/data/"
        "20261102T010000Z.vhd",
        "xo-vm-backups/4c6e8a1e-0f3b-4d5e-9a7b-1c2d3e4f5a6b/vdis/"
        "9e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7/"
        "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9/data/"
        "5f4e3d2c-1b0a-4998-8776-655443322110.vhd",
        "xo-vm-backups/4c6e8a1e-0f3b-4d5e-9a7b-1c2d3e4f5a6b/"
        ".20261107T000000Z.xva.tmp",
        "xo-vm-backups/4c6e8a1e-0f3b-4d5e-9a7b-1c2d3e4f5a6b/"
        "20261107T000000Z.json.lock",
        "xo-config-backups/1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9/"
        "20261101T030000Z/data.json",
        "xo-config-backups/1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9/"
        "20261101T030000Z/metadata.json",
        "xo-pool-metadata-backups/1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9/"
        "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9/20261101T040000Z/data",
        "other/a.json",
    };
    auto* out = new std::vector<std::vector<std::string>>;
    for (const std::string& p : paths) out->push_back(absl::StrSplit(p, '/'));
    return out;
  }();
  return *kPaths;
}

// Every segment of every path, from the root, as the walker advances: the cost
// per name examined.
void BM_AdvanceXoPaths(benchmark::State& state) {
  const GlobSet& globs = DefaultGlobs();
  GlobSet::Step step;
  int64_t names = 0;
  for (auto _ : state) {
    for (const std::vector<std::string>& segments : XoPaths()) {
      GlobSet::State at = globs.Start();
      for (const std::string& name : segments) {
        globs.Advance(at, name, &step);
        ++names;
        if (!step.descend()) break;
        at = step.next;
      }
      benchmark::DoNotOptimize(step.file_item);
    }
  }
  state.SetItemsProcessed(names);
}
BENCHMARK(BM_AdvanceXoPaths);

// One name in the busiest directory kind, a VM folder (three wildcard patterns
// and `vdis`).
void BM_AdvanceVmFolderEntry(benchmark::State& state) {
  const GlobSet& globs = DefaultGlobs();
  GlobSet::Step step;
  globs.Advance(globs.Start(), "xo-vm-backups", &step);
  GlobSet::State vm_backups = step.next;
  globs.Advance(vm_backups, "4c6e8a1e-0f3b-4d5e-9a7b-1c2d3e4f5a6b", &step);
  const GlobSet::State vm = step.next;
  const std::vector<std::string> names = {"20261101T010000Z.json", "20261101T010000Z.xva",
                                          "20261101T010000Z.xva.checksum", "cache.json.gz", "vdis"};
  for (auto _ : state) {
    for (const std::string& name : names) {
      globs.Advance(vm, name, &step);
      benchmark::DoNotOptimize(step.file_item);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(names.size()));
}
BENCHMARK(BM_AdvanceVmFolderEntry);

void BM_LiteralChildrenRoot(benchmark::State& state) {
  const GlobSet& globs = DefaultGlobs();
  std::vector<std::string> names;
  for (auto _ : state) {
    benchmark::DoNotOptimize(globs.LiteralChildren(globs.Start(), &names));
  }
}
BENCHMARK(BM_LiteralChildrenRoot);

void BM_Compile(benchmark::State& state) {
  for (auto _ : state) {
    auto globs = GlobSet::Compile(GlobSet::DefaultPatterns());
    benchmark::DoNotOptimize(globs);
  }
}
BENCHMARK(BM_Compile);

// MatchSegment on the shapes the default set uses; arg selects the case.
struct MatchCase {
  const char* segment;
  const char* name;
};
constexpr MatchCase kMatchCases[] = {
    {"*.json", "20261101T010000Z.json"},                        // 0: match, one star
    {"*.xva.checksum", "20261101T010000Z.xva"},                 // 1: miss, suffix
    {"*", "4c6e8a1e-0f3b-4d5e-9a7b-1c2d3e4f5a6b"},              // 2: match-all
    {"*.vhd", "20261102T010000Z.alias.vhd"},                    // 3: match
    {"*.vhd", "5f4e3d2c-1b0a-4998-8776-655443322110.vhd.tmp"},  // 4: miss after
                                                                // a partial
    {"*T*Z.*", "20261101T010000Z.xva.checksum"},                // 5: several stars
};

void BM_MatchSegment(benchmark::State& state) {
  const MatchCase& c = kMatchCases[state.range(0)];
  const absl::string_view segment = c.segment, name = c.name;
  for (auto _ : state) {
    benchmark::DoNotOptimize(MatchSegment(segment, name));
  }
  state.SetLabel(std::string(c.segment) + " ~ " + c.name);
}
BENCHMARK(BM_MatchSegment)->DenseRange(0, 5);

void BM_IsExcludedName(benchmark::State& state) {
  const std::vector<std::string> names = {"20261101T010000Z.json", ".tmp", "x.lock",
                                          "cache.json.gz"};
  for (auto _ : state) {
    for (const std::string& name : names) benchmark::DoNotOptimize(GlobSet::IsExcludedName(name));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(names.size()));
}
BENCHMARK(BM_IsExcludedName);

}  // namespace
}  // namespace xoi

BENCHMARK_MAIN();
