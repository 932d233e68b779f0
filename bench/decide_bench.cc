// Micro-benchmarks of the rules (xoi::Decide) with a trivial ItemFacts fake:
// the CPU cost per item once the walk has its statx, without any I/O.
#include <sys/stat.h>

#include <optional>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "lib/core/facts.h"
#include "lib/core/plan.h"
#include "lib/core/rules.h"
#include "lib/core/xo_layout.h"
#include "lib/testing/utc.h"

namespace xoi {
namespace {

const absl::Time kNow = Utc(2026, 11, 20, 12);
const absl::Time kFresh = Utc(2026, 11, 19, 10);  // protected until 2026-12-04 with 14d
const absl::Time kOld = Utc(2026, 10, 1, 10);     // expired since 2026-10-16 with 14d

// Fixed answers, no I/O; counts calls so that a benchmark can check what a rule
// asked for.
class FixedFacts : public ItemFacts {
 public:
  ChangeFacts Changes() override {
    ++calls;
    return ChangeFacts{kNow - absl::Hours(2)};
  }
  RunCheck Run() override {
    ++calls;
    return RunCheck{true, "xo-vm-backups/vm-1/20261119T100000Z.json"};
  }
  bool LiftedHere() override {
    ++calls;
    return false;
  }
  int64_t calls = 0;
};

Candidate Item(bool tree, bool immutable, absl::Time birth) {
  Candidate c;
  c.path = tree ? "xo-vm-backups/vm-1/vdis/job/vdi/data/20261119T100000Z.vhd"
                : "xo-vm-backups/vm-1/20261119T100000Z.xva";
  c.tree = tree;
  c.stat.mode = (tree ? S_IFDIR : S_IFREG) | 0644;
  c.stat.ino = 1234;
  c.stat.nlink = 1;
  c.stat.ctime = birth;
  c.stat.birth = birth;
  c.stat.has_btime = true;
  c.stat.immutable = immutable;
  c.stat.immutable_known = true;
  return c;
}

const Settings kSettings{absl::Hours(14 * 24), absl::Seconds(10), absl::Hours(1), false};

// The item's record, protected when it was finished (`reference`).
IndexRecord RecordOf(const Candidate& item, absl::Time reference) {
  IndexRecord r;
  r.path = item.path;
  r.ino = item.stat.ino;
  r.birth = item.stat.birth;
  r.tree = item.tree;
  r.reference = reference;
  return r;
}

// The steady state: immutable, indexed, not expired. Nothing to do, and no fact
// asked for.
void BM_DecideSteadyState(benchmark::State& state) {
  const Candidate item = Item(/*tree=*/state.range(0) != 0, /*immutable=*/true, kFresh);
  const RecordSummary record(RecordOf(item, kFresh));
  FixedFacts facts;
  for (auto _ : state) {
    Decision decision = Decide(item, &record, kSettings, kNow, facts);
    benchmark::DoNotOptimize(decision);
    if (decision.action) state.SkipWithError("the steady state planned an action");
  }
  if (facts.calls != 0) state.SkipWithError("the steady state asked for facts (I/O)");
  state.SetLabel(state.range(0) ? "tree" : "file");
}
BENCHMARK(BM_DecideSteadyState)->Arg(0)->Arg(1);

// A finished backup seen for the first time: mutable, not indexed, settled, run
// complete.
void BM_DecideProtect(benchmark::State& state) {
  const Candidate item = Item(/*tree=*/state.range(0) != 0, /*immutable=*/false, kFresh);
  FixedFacts facts;
  for (auto _ : state) {
    Decision decision = Decide(item, nullptr, kSettings, kNow, facts);
    if (!decision.action || decision.action->kind != ActionKind::kProtect) {
      state.SkipWithError("expected a protect action");
    }
    benchmark::DoNotOptimize(decision);
  }
  state.SetLabel(state.range(0) ? "tree" : "file");
}
BENCHMARK(BM_DecideProtect)->Arg(0)->Arg(1);

// An expired, immutable item: lift.
void BM_DecideLift(benchmark::State& state) {
  const Candidate item = Item(/*tree=*/false, /*immutable=*/true, kOld);
  const RecordSummary record(RecordOf(item, kOld));
  FixedFacts facts;
  for (auto _ : state) {
    Decision decision = Decide(item, &record, kSettings, kNow, facts);
    if (!decision.action || decision.action->kind != ActionKind::kLift) {
      state.SkipWithError("expected a lift");
    }
    benchmark::DoNotOptimize(decision);
  }
}
BENCHMARK(BM_DecideLift);

}  // namespace
}  // namespace xoi

BENCHMARK_MAIN();
