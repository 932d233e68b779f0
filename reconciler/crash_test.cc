// Runs killed at the moment that matters most to the index: while a day file is being rewritten.
// A day file is replaced by a temporary file and a rename; a run killed before the rename leaves
// the old day file and a stray temporary, after it the new one. Either way the next run must find
// every locked item, record each once, and leave no temporary behind.
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>

#include "reconciler/remote_fixture.h"

namespace xoi {
namespace {

using CrashTest = RemoteTest;

constexpr char kVm[] = "xo-vm-backups/3c9a8f1e-5b7d-4e2a-9f6c-0d1e2f3a4b5c";

// Whether folder `dir` holds a day file's temporary (".<day>.idx.tmp-<pid>").
bool HoldsTemporary(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* e = readdir(d)) {
    if (std::string(e->d_name).find(".idx.tmp-") != std::string::npos) found = true;
  }
  closedir(d);
  return found;
}

// Adds `n` empty metadata files named <prefix><i>.json to the VM folder (each one an item).
void AddJsons(const std::string& root, const std::string& prefix, int n) {
  std::filesystem::create_directories(root + "/" + kVm);
  for (int i = 0; i < n; ++i) {
    std::ofstream(root + "/" + kVm + "/" + prefix + std::to_string(i) + ".json");
  }
}

TEST_F(CrashTest, ARunKilledWhileRewritingADayFileConvergesOnTheNext) {
  WriteFile(root_ + "/metadata.json", "{}");
  WriteConfig("7d");
  const std::string day_dir = index_ + "/r1";
  int items = 0, kills = 0;
  // Each round adds items (so that the day file is rewritten, larger each time) and kills the run
  // as soon as a rewrite's temporary appears.
  for (int round = 0; round < 8 && kills < 2; ++round) {
    AddJsons(root_, "r" + std::to_string(round) + "-", 15000);
    items += 15000;
    const int pid =
        testing::StartProcess({Runfile("reconciler/xo-immutable"), "--config", config_});
    ASSERT_GT(pid, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    bool killed = false;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (HoldsTemporary(day_dir)) {
        kill(pid, SIGKILL);
        killed = true;
        break;
      }
      if (waitpid(pid, &status, WNOHANG) == pid) break;  // finished before we saw a rewrite
    }
    if (killed) {
      testing::WaitProcess(pid);
      ++kills;
    } else if (kill(pid, 0) == 0) {
      kill(pid, SIGKILL);
      testing::WaitProcess(pid);
    }
  }
  ASSERT_GT(kills, 0) << "no run was caught rewriting a day file";

  // The next runs converge: as many as maxEntriesPerRun needs for every item.
  for (int run = 0; run < 4; ++run) {
    const ProcessResult r = Run();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    if (Count(r, "deferred") == 0) break;
  }
  EXPECT_FALSE(HoldsTemporary(day_dir)) << "the killed rewrites' temporaries are removed";
  std::set<std::string> locked = ImmutablePaths(root_);
  locked.erase("metadata.json");
  locked.erase("immutability.json");
  EXPECT_EQ(locked.size(), static_cast<size_t>(items));
  EXPECT_EQ(CountIndexEntries(day_dir), static_cast<size_t>(items)) << "each item recorded once";
  const ProcessResult again = Run();
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Count(again, "protected"), 0);
  EXPECT_EQ(Count(again, "indexed"), 0) << "every locked item is in the index";
}

}  // namespace
}  // namespace xoi
