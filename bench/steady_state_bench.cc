// Regression guard for the steady state: the run the timer makes every minute
// when nothing changed. Generates a small XO remote (//tools:gen_remote) in a
// scratch folder, protects it with one real xoi::ReconcileRemote, then
// benchmarks ReconcileRemote on it again (nothing to do).
//
// Needs root (real immutable flags); elsewhere it prints a skip message and
// exits 0. The scratch tree is handled by a parent process that only waits for
// the child doing the work and then lifts every flag below the scratch folder
// and removes it (chattr -R -i -a; rm -rf), however the child ended: success,
// failure, crash, or Ctrl-C (the parent ignores SIGINT/SIGTERM/SIGHUP
// meanwhile).
//
// Run (CI does, see .ci/run):
//   bazel run -c opt --jobs=2 //bench:steady_state_bench --
//       --benchmark_min_time=0.2
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "lib/core/config.h"
#include "lib/core/glob_set.h"
#include "lib/fs/clocks.h"
#include "lib/fs/file_system.h"
#include "lib/fs/state_dir.h"
#include "lib/report/text_report.h"
#include "lib/run/reconcile.h"
#include "lib/testing/scratch.h"

namespace xoi {
namespace {

// The remote: 20 VMs of 8 runs with 2 VDIs (VHD directories of 128 blocks),
// plus config and pool backups: about 22 thousand files, 690 items.
const std::vector<std::string> kShape = {
    "--vms",    "20",  "--runs",           "8",  "--vdis",         "2",
    "--blocks", "128", "--config-backups", "10", "--pool-backups", "10"};

struct Fixture {
  std::string index_path;
  RemoteConfig remote;
};
Fixture* fixture = nullptr;

// The gen_remote binary in this binary's runfiles (bazel run, or
// bazel-bin/bench/... directly).
std::string GenRemotePath() {
  std::vector<std::string> candidates;
  if (const char* dir = getenv("RUNFILES_DIR")) {
    candidates.push_back(absl::StrCat(dir, "/xo_immutable/tools/gen_remote"));
  }
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    candidates.push_back(absl::StrCat(std::string(self, static_cast<size_t>(n)),
                                      ".runfiles/xo_immutable/tools/gen_remote"));
  }
  candidates.push_back("tools/gen_remote");  // cwd is the runfiles tree under `bazel run`
  for (const std::string& c : candidates) {
    if (access(c.c_str(), X_OK) == 0) return c;
  }
  return "";
}

RemoteReport RunOnce(int jobs, bool deep) {
  RunOptions options;
  options.jobs = jobs;
  options.deep = deep;
  options.now = WallClockNow();
  const StateDir state(RealFileSystem(), fixture->index_path);
  return ReconcileRemote(RealFileSystem(), state, fixture->remote, options);
}

bool Converged(const RemoteReport& r) {
  const Counts& c = r.counts;
  return r.state == RemoteState::kDone && c.errors == 0 && c.protected_ == 0 &&
         c.reprotected == 0 && c.lifted == 0 && c.indexed == 0 && c.unindexed == 0 &&
         c.waiting == 0;
}

// One steady-state run per iteration; range(0) walker threads, range(1) --deep.
void BM_SteadyState(benchmark::State& state) {
  const int jobs = static_cast<int>(state.range(0));
  const bool deep = state.range(1) != 0;
  RemoteReport last;
  for (auto _ : state) {
    last = RunOnce(jobs, deep);
    if (!Converged(last)) {
      state.SkipWithError("the steady state did something (or failed): not converged");
      break;
    }
  }
  state.counters["items"] = static_cast<double>(last.counts.seen);
  state.counters["dirsListed"] = static_cast<double>(last.walk.dirs_listed);
  state.counters["statx"] = static_cast<double>(last.walk.statx_calls);
  state.counters["items/s"] = benchmark::Counter(static_cast<double>(last.counts.seen),
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(deep ? "--deep" : "");
}
BENCHMARK(BM_SteadyState)
    ->ArgNames({"jobs", "deep"})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({2, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The child: generate, protect, benchmark. Returns the exit code.
int Child(const std::string& scratch) {
  const std::string gen = GenRemotePath();
  if (gen.empty()) {
    fprintf(stderr, "steady_state_bench: cannot find tools/gen_remote in the runfiles\n");
    return 1;
  }
  static Fixture f;
  f.index_path = scratch + "/index";
  f.remote.id = "bench";
  f.remote.root = scratch + "/remote";
  f.remote.immutability_duration = absl::Hours(7 * 24);
  f.remote.settle = absl::ZeroDuration();
  f.remote.orphan_grace = absl::Hours(1);
  f.remote.paths = GlobSet::DefaultPatterns();
  fixture = &f;

  std::vector<std::string> argv = {gen, "--root", f.remote.root};
  argv.insert(argv.end(), kShape.begin(), kShape.end());
  const testing::ProcessResult generated = testing::RunProcess(argv);
  if (generated.exit_code != 0) {
    fprintf(stderr, "steady_state_bench: gen_remote failed: %s\n", generated.err.c_str());
    return 1;
  }
  const absl::Time start = absl::Now();
  const RemoteReport first = RunOnce(2, false);
  if (first.state != RemoteState::kDone || first.counts.errors != 0 ||
      first.counts.protected_ == 0) {
    RunReport report;
    report.started = absl::Now();
    report.remotes.push_back(first);
    fprintf(stderr, "steady_state_bench: the first run did not protect the remote: %s\n",
            FormatText(report).c_str());
    return 1;
  }
  fprintf(stderr,
          "steady_state_bench: remote of %llu items protected in %s; "
          "benchmarking the "
          "steady state\n",
          static_cast<unsigned long long>(first.counts.seen),
          absl::FormatDuration(absl::Now() - start).c_str());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace
}  // namespace xoi

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  if (!xoi::testing::HaveRootPowers()) {
    printf(
        "steady_state_bench: skipped: needs root (CAP_LINUX_IMMUTABLE) to set "
        "real flags\n");
    return 0;
  }
  const char* tmp = getenv("TMPDIR");
  std::string templ =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/var/tmp", "/xoi-steady-state.XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    perror("steady_state_bench: mkdtemp");
    return 1;
  }
  const std::string scratch = templ;
  fflush(nullptr);
  // The parent outlives the child whatever happens to it, and cleans up.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) signal(sig, SIG_IGN);
  const pid_t pid = fork();
  if (pid == 0) {
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) signal(sig, SIG_DFL);
    const int code = xoi::Child(scratch);
    fflush(nullptr);
    _exit(code);
  }
  int code = 1;
  if (pid > 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else {
    perror("steady_state_bench: fork");
  }
  const int lifted = xoi::testing::LiftAndRemove(scratch);
  fprintf(stderr, "steady_state_bench: lifted %d flags and removed %s\n", lifted, scratch.c_str());
  return code;
}
