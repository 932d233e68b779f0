// stress: a simulated Xen Orchestra writes, rewrites and deletes backups continuously while
// xo-immutable runs start every second; then the clock moves past the duration and XO's retention
// deletes everything. Checks, at the end:
//   - every finished backup is locked (after a last run),
//   - nothing unfinished was ever locked: the writer never got EPERM on a file it was writing,
//   - every expired backup is unlocked (retention deletes them all without EPERM).
// Root only. Bounded: --seconds N (default 60). Everything lives in a scratch folder that is
// unlocked and deleted at the end, also on failure. With --fs ext4|xfs|btrfs the remote lives on a
// loop filesystem of that type, made for the run and always released; every line then names it.
//
//   bazel run -c opt //tools:stress -- --seconds 120 [--fs xfs]
//   bazel test //tools:stress_test      (5 s on each of ext4, XFS and btrfs)
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lib/testing/loop_fs.h"
#include "lib/testing/scratch.h"

namespace {

namespace fs = std::filesystem;
using xoi::testing::ImmutablePaths;
using xoi::testing::RunProcess;
using xoi::testing::ScratchDir;

struct WriterStats {
  std::atomic<int> runs_finished{0};
  std::atomic<int> runs_abandoned{0};
  std::atomic<int> eperm_while_writing{0};
  std::atomic<int> other_errors{0};
};

// Writes `size` bytes in small chunks with pauses, keeping the file open like a slow upload.
bool SlowWrite(const std::string& path, int chunks, WriterStats* stats) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    (errno == EPERM ? stats->eperm_while_writing : stats->other_errors)++;
    return false;
  }
  bool ok = true;
  for (int i = 0; i < chunks && ok; ++i) {
    if (write(fd, "0123456789abcdef", 16) != 16) {
      (errno == EPERM ? stats->eperm_while_writing : stats->other_errors)++;
      ok = false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  close(fd);
  return ok;
}

// One simulated backup run of VM `vm`: a VHD directory written block by block, its alias, then
// (unless abandoned, like a failed backup) the run's json last. Abandoned runs are rewritten
// ("merged") and deleted again, as XO cleans up after a failure.
void OneRun(const std::string& root, int vm, int n, bool abandon, WriterStats* stats) {
  char dt[32];
  snprintf(dt, sizeof(dt), "2026%02d%02dT%02d%02d00Z", 1 + n / 1000 % 12, 1 + n / 40 % 28,
           n / 60 % 24, n % 60);
  const std::string vm_dir = root + "/xo-vm-backups/vm" + std::to_string(vm);
  const std::string vdi = vm_dir + "/vdis/job/vdi";
  const std::string data = vdi + "/data/" + dt + ".vhd";
  std::error_code ec;
  fs::create_directories(data + "/blocks/0", ec);
  for (int b = 0; b < 6; ++b) SlowWrite(data + "/blocks/0/" + std::to_string(b), 3, stats);
  SlowWrite(data + "/bat", 2, stats);
  SlowWrite(vdi + "/" + dt + ".alias.vhd", 1, stats);
  if (abandon) {
    SlowWrite(data + "/bat", 4, stats);  // the "merge" rewrites an unfinished run
    fs::remove_all(data, ec);
    fs::remove(vdi + "/" + std::string(dt) + ".alias.vhd", ec);
    if (ec) (ec.value() == EPERM ? stats->eperm_while_writing : stats->other_errors)++;
    ++stats->runs_abandoned;
    return;
  }
  SlowWrite(vm_dir + "/" + dt + ".json", 1, stats);
  ++stats->runs_finished;
}

// "stress" or "stress[xfs]": every line says which filesystem it is about.
std::string tag = "stress";

int Fail(const std::string& what) {
  std::cerr << tag << ": FAIL: " << what << "\n";
  return 1;
}

// The program under test: in this binary's runfiles under `bazel run`, in the test's under
// `bazel test`.
std::string ProgramPath(const char* argv0) {
  if (getenv("TEST_SRCDIR") != nullptr) return xoi::testing::Runfile("reconciler/xo-immutable");
  return std::string(argv0) + ".runfiles/xo_immutable/reconciler/xo-immutable";
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 60;
  std::string fs_type;  // empty: the scratch folder's own filesystem
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--seconds")
      seconds = std::atoi(argv[++i]);
    else if (std::string(argv[i]) == "--fs")
      fs_type = argv[++i];
  }
  if (!fs_type.empty()) tag = "stress[" + fs_type + "]";
  if (!xoi::testing::HaveRootPowers()) {
    std::cerr << tag << ": needs root (CAP_LINUX_IMMUTABLE)\n";
    return 2;
  }
  const std::string bin = ProgramPath(argv[0]);
  if (access(bin.c_str(), X_OK) != 0) {
    std::cerr << tag << ": " << bin << " is missing: start it with bazel run\n";
    return 2;
  }
  ScratchDir scratch;
  std::unique_ptr<xoi::testing::LoopFilesystem> loop;  // destroyed before scratch, which holds it
  if (!fs_type.empty()) {
    std::string error;
    loop = xoi::testing::LoopFilesystem::Create(fs_type, scratch.path(), &error, 512);
    if (loop == nullptr) return Fail("cannot make the " + fs_type + " filesystem: " + error);
  }
  const std::string root = (loop ? loop->mount_point() : scratch.path()) + "/remote",
                    index = scratch.path() + "/index", config = scratch.path() + "/config.json";
  fs::create_directories(root + "/xo-vm-backups");
  xoi::testing::WriteFile(root + "/metadata.json", "{}");
  xoi::testing::WriteFile(
      config, "{\"indexPath\": \"" + index + "\", \"timeShiftThreshold\": \"365d\", \"remotes\": " +
                  "{\"s\": {\"root\": \"" + root + "\", \"immutabilityDuration\": \"1d\", " +
                  "\"settle\": \"1s\", \"orphanGrace\": \"1h\"}}}");

  WriterStats stats;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 rng(w);
      for (int n = w * 100000; !stop; ++n) OneRun(root, w, n, rng() % 4 == 0, &stats);
    });
  }
  int runs = 0, bad_exits = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    const auto next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    const int code = RunProcess({bin, "--config", config}).exit_code;
    ++runs;
    if (code != 0 && code != 75) ++bad_exits;
    std::this_thread::sleep_until(next);
  }
  stop = true;
  for (auto& t : writers) t.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // let the last files settle
  RunProcess({bin, "--config", config});

  // Every file of a finished run is locked; nothing else is.
  std::set<std::string> should_be_locked = {"metadata.json", "immutability.json"};
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string rel = e.path().string().substr(root.size() + 1);
    if (rel.find("/data/") == std::string::npos && rel.size() > 5 &&
        rel.compare(rel.size() - 5, 5, ".json") == 0) {
      should_be_locked.insert(rel);
    }
  }
  const std::set<std::string> locked = ImmutablePaths(root);
  int unlocked_finished = 0;
  for (const std::string& json : should_be_locked) unlocked_finished += !locked.count(json);
  std::cout << tag << ": " << seconds << " s, " << runs << " runs (" << bad_exits << " bad exits), "
            << stats.runs_finished << " backup runs finished, " << stats.runs_abandoned
            << " abandoned, " << locked.size() << " inodes locked\n";
  if (bad_exits > 0) return Fail("some runs exited with an error");
  if (stats.eperm_while_writing > 0) {
    return Fail(std::to_string(stats.eperm_while_writing) +
                " EPERM seen by the writer on files it was still writing");
  }
  if (stats.other_errors > 0) return Fail(std::to_string(stats.other_errors) + " writer errors");
  if (unlocked_finished > 0) {
    return Fail(std::to_string(unlocked_finished) + " finished backups are not locked");
  }

  // Past the duration: everything is lifted, and retention deletes it all.
  const int lift =
      RunProcess({bin, "--config", config, "--allow-mass-lift"}, xoi::testing::FaketimeEnv("+3d"))
          .exit_code;
  if (lift != 0) return Fail("the lifting run exited with " + std::to_string(lift));
  std::error_code ec;
  fs::remove_all(root + "/xo-vm-backups", ec);
  if (ec) return Fail("retention could not delete expired backups: " + ec.message());
  std::cout << tag << ": PASS\n";
  return 0;
}
