#include "lib/fs/xo_daemon.h"

#include <unistd.h>

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/scratch.h"

namespace xoi {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::xoi::testing::ScratchDir;
using ::xoi::testing::WriteFile;

void Put(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  WriteFile(path, content);
}

TEST(ReadXoDaemonIndexTest, ReadsEveryDayFolderAndSkipsWhatIsNoV1Entry) {
  ScratchDir scratch;
  const std::string dir = scratch.path() + "/r1";
  Put(dir + "/2026-11-01/aa", "/srv/r1/xo-vm-backups/vm/20261101T000000Z.json");
  Put(dir + "/2026-11-02/bb", "/srv/r1/xo-vm-backups/vm/20261102T000000Z.json");
  Put(dir + "/2026-11-02/cc", "not a path");
  Put(dir + "/2026-11-02/dd", std::string(5000, '/'));  // larger than any path
  Put(dir + "/not-a-day/ee", "/srv/r1/x");              // not a day folder: not looked at
  Put(dir + "/2026-11-03", "a file named like a day");
  auto index = ReadXoDaemonIndex(RealFileSystem(), dir);
  ASSERT_TRUE(index.ok()) << index.status();
  std::vector<std::string> paths;
  for (const XoIndexEntry& e : index->entries) {
    paths.push_back(absl::StrCat(absl::FormatCivilTime(e.day), " ", e.path));
  }
  std::sort(paths.begin(), paths.end());
  EXPECT_THAT(paths, ElementsAre("2026-11-01 /srv/r1/xo-vm-backups/vm/20261101T000000Z.json",
                                 "2026-11-02 /srv/r1/xo-vm-backups/vm/20261102T000000Z.json"));
  EXPECT_EQ(index->unreadable, 2u);
  EXPECT_EQ(ReadXoDaemonIndex(RealFileSystem(), scratch.path() + "/none").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(XoDaemonIndexDirTest, ConfiguredElseXosXdgDefault) {
  EXPECT_EQ(XoDaemonIndexDir("/var/lib/xo", "r1"), "/var/lib/xo");
  setenv("XDG_DATA_HOME", "/xdg", 1);
  EXPECT_EQ(XoDaemonIndexDir("", "r1"), "/xdg/xo-immutable-backups/r1");
  unsetenv("XDG_DATA_HOME");
  setenv("HOME", "/home/admin", 1);
  EXPECT_EQ(XoDaemonIndexDir("", "r1"), "/home/admin/.local/share/xo-immutable-backups/r1");
  unsetenv("HOME");
  EXPECT_EQ(XoDaemonIndexDir("", "r1"), "/root/.local/share/xo-immutable-backups/r1");
}

// A folder laid out like /proc, with the three files read per process.
void Process(const std::string& proc, int pid, const std::string& comm,
             const std::vector<std::string>& argv, const std::string& cgroup = "0::/user.slice\n") {
  const std::string base = proc + "/" + std::to_string(pid);
  std::string cmdline;
  for (const std::string& arg : argv) cmdline += arg + '\0';
  Put(base + "/comm", comm + "\n");
  Put(base + "/cmdline", cmdline);
  Put(base + "/cgroup", cgroup);
}

TEST(XoDaemonRunningTest, FindsItByNameByScriptAndByItsUnit) {
  ScratchDir scratch;
  const std::string proc = scratch.path() + "/proc";
  std::filesystem::create_directories(proc + "/self");
  EXPECT_THAT(XoDaemonRunning(proc), IsEmpty());
  Process(proc, 100, "xo-immutable-re", {"xo-immutable-remote"});  // exec -a
  Process(proc, 200, "node", {"/usr/bin/node", "/usr/local/bin/xo-immutable-remote"});
  Process(proc, 300, "node", {"node", "/opt/worker.js"},
          "0::/system.slice/xo-immutable-remote.service\n");
  // Started the way its package's README says, without the bin wrapper.
  Process(proc, 600, "node",
          {"node", "node_modules/@xen-orchestra/immutable-backups/dist/protectRemotes.mjs"});
  Process(proc, 700, "node",
          {"/usr/bin/node", "/opt/xo/immutable-backups/dist/liftProtection.mjs", "--remote", "r"});
  // Its lift tool, by name (truncated to 15 bytes as comm) and run by node.
  Process(proc, 900, "xo-lift-remote-", {"xo-lift-remote-immutability", "--remote", "r1"});
  Process(proc, 910, "node", {"node", "/usr/local/bin/xo-lift-remote-immutability"});
  // Not the daemon: a command that names it, another service, a script passed as an argument.
  Process(proc, 800, "cat", {"cat", "dist/protectRemotes.mjs"});
  Process(proc, 400, "systemctl", {"systemctl", "stop", "xo-immutable-remote"});
  Process(proc, 500, "node", {"node", "/opt/other.js"}, "0::/system.slice/xo-server.service\n");
  std::vector<std::string> found = XoDaemonRunning(proc);
  std::sort(found.begin(), found.end());
  EXPECT_THAT(
      found,
      ElementsAre("process 100 (xo-immutable-remote)", "process 200 (xo-immutable-remote)",
                  "process 300 of the active systemd unit xo-immutable-remote.service",
                  "process 600 (node protectRemotes.mjs)", "process 700 (node liftProtection.mjs)",
                  "process 900 (xo-lift-remote-immutability)",
                  "process 910 (xo-lift-remote-immutability)"));
}

}  // namespace
}  // namespace xoi
