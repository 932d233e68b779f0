// The walk of a remote with several workers: a large folder's entries are shared out between
// them (walker.cc), and each item must still be reported exactly once, whatever the number of
// workers. Plain files in a scratch folder: no root needed.
#include "lib/fs/walker.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/core/glob_set.h"
#include "lib/fs/fake_file_system.h"
#include "lib/fs/file_system.h"
#include "lib/fs/helper_threads.h"

namespace xoi {
namespace {

class Collector : public WalkVisitor {
 public:
  void OnItem(int, Candidate candidate) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++items[candidate.path];
  }
  void OnRefused(int, const std::string& path, const std::string&) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++refused[path];
  }
  void OnError(int, const std::string& path, const absl::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    errors.push_back(absl::StrCat(path, ": ", status.message()));
  }
  std::map<std::string, int> items, refused;
  std::vector<std::string> errors;

 private:
  std::mutex mu_;
};

TEST(WalkTest, ALargeFolderSharedBetweenWorkersYieldsEachItemOnce) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  ASSERT_NE(tmp, nullptr);
  const std::string root = absl::StrCat(tmp, "/walker_test/remote");
  std::filesystem::remove_all(root);
  const std::string big = root + "/xo-vm-backups/6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5";
  const std::string small = root + "/xo-vm-backups/0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d";
  std::filesystem::create_directories(big);
  std::filesystem::create_directories(small);
  std::map<std::string, int> expected;
  // More than a few shares of entries in one folder, with names that are no item among them.
  for (int i = 0; i < 3000; ++i) {
    const std::string name = absl::StrCat("20261130T", 100000 + i, "Z.json");
    std::ofstream(big + "/" + name) << "{}";
    expected[absl::StrCat("xo-vm-backups/6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5/", name)] = 1;
    if (i % 3 == 0) std::ofstream(big + "/" + absl::StrCat("note-", i, ".txt")) << "";
  }
  std::ofstream(small + "/20261130T000000Z.xva") << "x";
  expected["xo-vm-backups/0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d/20261130T000000Z.xva"] = 1;
  std::filesystem::create_symlink("/etc/passwd", big + "/20261130T999999Z.json");

  absl::StatusOr<GlobSet> globs = GlobSet::Compile(GlobSet::DefaultPatterns());
  ASSERT_TRUE(globs.ok()) << globs.status();
  absl::StatusOr<Fd> root_fd = RealFileSystem().OpenDirByPath(root);
  ASSERT_TRUE(root_fd.ok()) << root_fd.status();
  uint64_t listed_alone = 0;
  // The last walk is refused its helper threads (a service's TasksMax): the caller walks alone.
  for (int jobs : {1, 2, 4, 8, -8}) {
    SCOPED_TRACE(jobs);
    const bool refused = jobs < 0;
    const uint64_t refused_before = RefusedHelperThreads();
    RefuseHelperThreadsForTesting(refused);
    Collector found;
    const WalkStats stats =
        Walk(RealFileSystem(), root_fd->get(), *globs, refused ? -jobs : jobs, &found);
    RefuseHelperThreadsForTesting(false);
    EXPECT_EQ(RefusedHelperThreads() - refused_before, refused ? 1u : 0u);
    EXPECT_EQ(found.items, expected);
    EXPECT_EQ(found.refused.size(), 1u);
    EXPECT_EQ(found.refused.count(
                  "xo-vm-backups/6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5/20261130T999999Z.json"),
              1u);
    EXPECT_TRUE(found.errors.empty()) << found.errors.front();
    // Each folder is listed once, however its entries were shared out.
    if (jobs == 1) listed_alone = stats.dirs_listed;
    EXPECT_EQ(stats.dirs_listed, listed_alone);
    EXPECT_GE(stats.dirs_listed, 2u);
  }
  std::filesystem::remove_all(root);
}

// A tree walked by several threads (a large VHD directory being locked) visits exactly the members
// the one-thread walk visits, once each, enters no folder `enter` refused, and tells each folder to
// `enter` before any of its members is visited.
// A VHD directory of 40 groups of 25 blocks, a folder deeper in each, and a folder to skip.
std::string MakeTree(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  EXPECT_NE(tmp, nullptr);
  const std::string top =
      absl::StrCat(tmp == nullptr ? "/nonexistent" : tmp, "/walker_test/", name);
  std::filesystem::remove_all(top);
  for (int g = 0; g < 40; ++g) {
    const std::string group = absl::StrCat(top, "/blocks/", g);
    std::filesystem::create_directories(group + "/deeper");
    for (int b = 0; b < 25; ++b) std::ofstream(absl::StrCat(group, "/", g * 25 + b)) << "";
    std::ofstream(group + "/deeper/x") << "";
  }
  for (const char* name : {"bat", "footer", "header"}) std::ofstream(top + "/" + name) << "";
  std::filesystem::create_directories(top + "/skipped/inner");
  std::ofstream(top + "/skipped/inner/never") << "";
  return top;
}

// An error callback that keeps "path: message" in `errors`, under `mu` (the walks may be shared
// between threads).
std::function<void(const std::string&, const absl::Status&)> CollectErrors(
    std::mutex& mu, std::vector<std::string>& errors) {
  return [&mu, &errors](const std::string& path, const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu);
    errors.push_back(absl::StrCat(path, ": ", status.message()));
  };
}

// Walks the tree at `top` (named `name` in the walk): WalkTree when `threads` is 0, else
// WalkTreeShared with that many threads.
absl::Status WalkTop(FileSystem& fs, const std::string& top, const std::string& name,
                     const TreeVisit& visit, int threads) {
  absl::StatusOr<Fd> top_fd = fs.OpenDirByPath(top);
  if (!top_fd.ok()) return top_fd.status();
  const absl::StatusOr<FileStat> top_stat = fs.StatFd(top_fd->get(), name);
  if (!top_stat.ok()) return top_stat.status();
  return threads == 0 ? WalkTree(fs, top_fd->get(), name, top_stat->dev, visit)
                      : WalkTreeShared(fs, top_fd->get(), name, top_stat->dev, visit, threads);
}

TEST(WalkTreeTest, SharedBetweenThreadsVisitsWhatOneThreadVisits) {
  const std::string top = MakeTree("tree.vhd");

  auto walk = [&](int threads) {
    std::mutex mu;
    std::map<std::string, int> members;
    std::set<std::string> entered;
    std::vector<std::string> early, errors;
    const TreeVisit visit{[&](const Member& m) {
                            std::lock_guard<std::mutex> lock(mu);
                            ++members[m.path];
                            const std::string parent = m.path.substr(0, m.path.rfind('/'));
                            if (parent != "tree.vhd" && entered.count(parent) == 0)
                              early.push_back(m.path);
                            return true;
                          },
                          CollectErrors(mu, errors),
                          [&](const Member& m) {
                            std::lock_guard<std::mutex> lock(mu);
                            if (m.path == "tree.vhd/skipped") return false;
                            entered.insert(m.path);
                            return true;
                          }};
    const absl::Status walked = WalkTop(RealFileSystem(), top, "tree.vhd", visit, threads);
    EXPECT_TRUE(walked.ok()) << walked;
    EXPECT_TRUE(errors.empty()) << errors.front();
    EXPECT_TRUE(early.empty()) << early.front() << " visited before its folder was entered";
    return members;
  };
  const std::map<std::string, int> alone = walk(0);
  EXPECT_EQ(alone.size(), 3u + 1u + 1u + 40u * (1u + 25u + 1u + 1u));
  EXPECT_EQ(alone.count("tree.vhd/skipped/inner"), 0u);
  for (int threads : {1, 2, 4}) {
    SCOPED_TRACE(threads);
    EXPECT_EQ(walk(threads), alone);
  }
  // Refused its helpers, the calling thread walks the whole tree, and the refusal is counted.
  const uint64_t refused_before = RefusedHelperThreads();
  RefuseHelperThreadsForTesting(true);
  const std::map<std::string, int> refused = walk(4);
  RefuseHelperThreadsForTesting(false);
  EXPECT_EQ(refused, alone);
  EXPECT_GE(RefusedHelperThreads() - refused_before, 1u);
  EXPECT_THAT(FirstHelperThreadRefusal(), ::testing::HasSubstr("Resource temporarily unavailable"));
  std::filesystem::remove_all(top);
}

// A walk shared between threads that a member stops (a lock that failed) ends, however far the
// helpers had got: a helper still being started when it stopped is joined too, after the start
// (the run under tsan checks the joining; the helpers' vector was joined while a start could
// still add to it).
TEST(WalkTreeTest, ASharedWalkStoppedByAMemberEndsAndJoinsItsHelpers) {
  const std::string top = MakeTree("stopped.vhd");
  for (int stop_at : {1, 2, 5, 30, 200, 700}) {
    SCOPED_TRACE(stop_at);
    std::atomic<int> visited{0};
    std::mutex mu;
    std::vector<std::string> errors;
    const TreeVisit visit{[&](const Member&) { return ++visited != stop_at; },
                          CollectErrors(mu, errors), nullptr};
    const absl::Status walked = WalkTop(RealFileSystem(), top, "stopped.vhd", visit, 4);
    EXPECT_TRUE(walked.ok()) << walked;
    EXPECT_TRUE(errors.empty()) << errors.front();
    EXPECT_GE(visited.load(), stop_at);
  }
  std::filesystem::remove_all(top);
}

// With `regular_file`, the regular files (getdents' type) go there, by a name that opens in the
// folder handed with it, and every other member still goes to `member` with its statx: together
// the members of the plain walk, once each, with one thread or several.
TEST(WalkTreeTest, RegularFilesGoUnexaminedToTheirOwnCallback) {
  const std::string top = MakeTree("typed.vhd");
  ASSERT_EQ(mkfifo((top + "/blocks/0/fifo").c_str(), 0644), 0);
  auto walk = [&](int threads, bool typed) {
    std::mutex mu;
    std::map<std::string, std::string> seen;  // path -> how it was visited
    TreeVisit visit{[&](const Member& m) {
                      std::lock_guard<std::mutex> lock(mu);
                      seen[m.path] += m.stat.is_regular() ? "statted file;" : "member;";
                      return true;
                    },
                    [&](const std::string& path, const absl::Status& status) {
                      ADD_FAILURE() << path << ": " << status;
                    },
                    [&](const Member& m) { return m.path != "typed.vhd/skipped"; }};
    if (typed) {
      visit.regular_file = [&](int parent_fd, const char* name, const std::string& path) {
        struct stat st;
        const bool is_file = fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                             S_ISREG(st.st_mode) && path.substr(path.rfind('/') + 1) == name;
        std::lock_guard<std::mutex> lock(mu);
        seen[path] += is_file ? "file;" : "wrong file;";
        return true;
      };
    }
    const absl::Status walked = WalkTop(RealFileSystem(), top, "typed.vhd", visit, threads);
    EXPECT_TRUE(walked.ok()) << walked;
    return seen;
  };
  std::map<std::string, std::string> want = walk(0, /*typed=*/false);
  ASSERT_EQ(want.size(), 3u + 1u + 1u + 40u * (1u + 25u + 1u + 1u) + 1u);
  for (auto& [path, how] : want) {
    if (how == "statted file;") how = "file;";
  }
  EXPECT_EQ(want["typed.vhd/blocks/0/fifo"], "member;");
  for (int threads : {0, 1, 2, 4}) {
    SCOPED_TRACE(threads);
    EXPECT_EQ(walk(threads, /*typed=*/true), want);
  }
  std::filesystem::remove_all(top);
}

// A folder that is opened again to be listed but cannot be examined then (EIO on its statx) is an
// error named by its path: its members are never skipped in silence (a tree being locked would
// otherwise be reported done with that folder's blocks mutable).
TEST(WalkTreeTest, AFolderThatCannotBeExaminedOnceOpenedIsAnError) {
  const std::string top = MakeTree("failing.vhd");
  for (int threads : {0, 1, 2}) {
    SCOPED_TRACE(threads);
    FakeFileSystem fs;
    // The folder's first statx (from its parent's listing) passes; the one after opening fails.
    fs.Before(FakeFileSystem::Op::kStat, "failing.vhd/blocks/39", [] {});
    fs.FailExactly(FakeFileSystem::Op::kStat, "failing.vhd/blocks/39", EIO);
    std::mutex mu;
    std::vector<std::string> errors;
    const TreeVisit visit{[](const Member&) { return true; }, CollectErrors(mu, errors)};
    const absl::Status walked = WalkTop(fs, top, "failing.vhd", visit, threads);
    EXPECT_TRUE(walked.ok()) << walked;
    EXPECT_EQ(errors, std::vector<std::string>{
                          "failing.vhd/blocks/39: injected fault in failing.vhd/blocks/39: "
                          "Input/output error"});
  }
  std::filesystem::remove_all(top);
}

// Makes a chain of `levels` nested folders named `name` in the folder `base`, by descriptor (its
// paths may be too long to name); RemoveChain removes it.
void MakeChain(const std::string& base, const std::string& name, int levels) {
  int fd = open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  for (int i = 0; i < levels && fd >= 0; ++i) {
    EXPECT_EQ(mkdirat(fd, name.c_str(), 0755), 0) << i;
    const int next = openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(fd);
    fd = next;
  }
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
}

void RemoveChain(const std::string& base, const std::string& name, int levels) {
  std::vector<int> fds{open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  for (int i = 1; i < levels; ++i) {
    fds.push_back(openat(fds.back(), name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  for (int i = levels - 1; i >= 0; --i) {
    unlinkat(fds[static_cast<size_t>(i)], name.c_str(), AT_REMOVEDIR);
    close(fds[static_cast<size_t>(i)]);
  }
}

// A hostile chain of folders in a tree (more than kMaxTreeDepth levels, or a path of PATH_MAX bytes
// or more) neither exhausts the walk nor stops it with an error (which kept a backup holding one
// unlocked for ever): the first folder beyond reach is visited as a member, marked, never entered
// (nor is `enter` asked), and nothing below it is visited; the rest of the tree is walked.
TEST(WalkTreeTest, AFolderBeyondReachIsVisitedButNotEntered) {
  const std::string top = MakeTree("deep.vhd");
  MakeChain(top + "/blocks", "d", kMaxTreeDepth + 8);
  const std::string long_name(250, 'n');
  MakeChain(top, long_name, 18);
  // blocks/ is 1 level below the top, so the chain's 32nd folder is the 33rd level.
  std::string too_deep = "deep.vhd/blocks";
  for (int i = 0; i < kMaxTreeDepth; ++i) too_deep += "/d";
  // "deep.vhd/" and 16 names of 250 bytes make 4025 bytes; the 17th makes 4276.
  std::string too_long = "deep.vhd";
  for (int i = 0; i < 17; ++i) too_long += "/" + long_name;
  ASSERT_GE(too_long.size(), size_t{PATH_MAX});
  ASSERT_LT(too_long.size() - long_name.size() - 1, size_t{PATH_MAX});
  for (int threads : {0, 1, 2}) {
    SCOPED_TRACE(threads);
    std::mutex mu;
    std::set<std::string> beyond, below, entered;
    std::vector<std::string> errors;
    size_t blocks = 0;
    const TreeVisit visit{[&](const Member& m) {
                            std::lock_guard<std::mutex> lock(mu);
                            if (m.beyond_reach) beyond.insert(m.path);
                            for (const std::string& b : {too_deep, too_long}) {
                              if (m.path.rfind(b + "/", 0) == 0) below.insert(m.path);
                            }
                            blocks +=
                                m.stat.is_regular() && m.path.rfind("deep.vhd/blocks/", 0) == 0;
                            return true;
                          },
                          CollectErrors(mu, errors),
                          [&](const Member& m) {
                            std::lock_guard<std::mutex> lock(mu);
                            entered.insert(m.path);
                            return true;
                          }};
    const absl::Status walked = WalkTop(RealFileSystem(), top, "deep.vhd", visit, threads);
    EXPECT_TRUE(walked.ok()) << walked;
    EXPECT_TRUE(errors.empty()) << errors.front();
    EXPECT_EQ(beyond, (std::set<std::string>{too_deep, too_long}));
    EXPECT_TRUE(below.empty()) << *below.begin();
    EXPECT_EQ(entered.count(too_deep) + entered.count(too_long), 0u);
    EXPECT_EQ(entered.count(too_deep.substr(0, too_deep.size() - 2)), 1u) << "the last in reach";
    EXPECT_EQ(blocks, 40u * 25 + 40) << "the rest of the tree";
  }
  RemoveChain(top, long_name, 18);
  RemoveChain(top + "/blocks", "d", kMaxTreeDepth + 8);
  std::filesystem::remove_all(top);
}

}  // namespace
}  // namespace xoi
