// The executor against failing system calls, without root: a FakeFileSystem simulates the
// immutable flag and read leases over a real scratch tree and fails chosen calls (EIO, EPERM,
// ENOSPC, ENOENT, a writer holding a file open) or runs a writer's strike just before one. Every
// outcome, detail, simulated flag and index record is checked, and so is the state the next run
// starts from.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/core/expiry.h"
#include "lib/core/index_record.h"
#include "lib/core/plan.h"
#include "lib/core/rules.h"
#include "lib/core/xo_layout.h"
#include "lib/fs/executor.h"
#include "lib/fs/fake_file_system.h"
#include "lib/fs/index.h"
#include "lib/fs/index_testing.h"
#include "lib/fs/walker.h"

namespace xoi {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Op = FakeFileSystem::Op;

constexpr char kFile[] = "xo-vm-backups/vm1/20260101T000000Z.xva";
// A VHD directory: its block allocation table and two blocks.
constexpr char kTree[] = "xo-vm-backups/vm1/vdis/job1/vdi1/data/20260101T000000Z.vhd";

const Settings kSettings{absl::Hours(24 * 7), absl::Minutes(10), absl::Hours(24)};

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

Identity IdOf(const FileStat& st) { return Identity{st.ino, absl::ToUnixNanos(st.birth)}; }

// Asks for nothing: the decisions these tests make need no fact that costs I/O.
class NoFacts : public ItemFacts {
 public:
  ChangeFacts Changes() override {
    ADD_FAILURE() << "Changes asked for";
    return ChangeFacts{};
  }
  RunCheck Run() override {
    ADD_FAILURE() << "Run asked for";
    return RunCheck{};
  }
  bool LiftedHere() override {
    ADD_FAILURE() << "LiftedHere asked for";
    return false;
  }
};

class ExecutorFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr);
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    scratch_ = absl::StrCat(tmp, "/executor_fault_test/", info->name());
    std::filesystem::remove_all(scratch_);  // nothing in it is really immutable
    root_ = scratch_ + "/remote";
    index_dir_ = scratch_ + "/index/r1";
    std::filesystem::create_directories(Abs(kTree) + "/blocks/0");
    WriteFile(Abs(kFile), "xva");
    WriteFile(Abs(kTree) + "/bat", "bat");
    WriteFile(Abs(kTree) + "/blocks/0/0", "block 0");
    WriteFile(Abs(kTree) + "/blocks/0/1", "block 1");
    auto root_fd = fake_.OpenDirByPath(root_);
    ASSERT_TRUE(root_fd.ok()) << root_fd.status();
    root_fd_ = *std::move(root_fd);
    Reopen();
  }

  // A new run: the index as the last Flush left it.
  void Reopen() {
    index_.reset();
    auto index = Index::Open(fake_, index_dir_, root_, /*create=*/true);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = *std::move(index);
  }

  std::string Abs(const std::string& relative) const { return root_ + "/" + relative; }

  FileStat Stat(const std::string& path) {
    auto st = fake_.StatAt(root_fd_.get(), path.c_str(), path);
    EXPECT_TRUE(st.ok()) << st.status();
    return st.value_or(FileStat{});
  }

  // The action the planner would make for `path` as it is now (lib/core/rules.cc Decide), with
  // the reference the item's ctime.
  Action Decided(ActionKind kind, const std::string& path, bool tree) {
    const FileStat stat = Stat(path);
    Action action{kind, path, tree, stat};
    action.reference = stat.ctime;
    return action;
  }

  // What the rules decide for `path` at `now`, with the index as it is.
  std::optional<Action> Planned(const std::string& path, bool tree, absl::Time now) {
    const Candidate item{path, Stat(path), tree};
    NoFacts facts;
    return Decide(item, index_->Find(IdOf(item.stat)), kSettings, now, facts).action;
  }

  // immutability.json's actions, as PlanRemoteFiles makes them.
  Action MarkerAction(ActionKind kind, std::string content) {
    FileStat stat;
    if (auto st = fake_.StatAt(root_fd_.get(), kMarkerName, kMarkerName); st.ok()) stat = *st;
    Action action{kind, kMarkerName, false, stat};
    action.indexed = false;
    action.content = std::move(content);
    return action;
  }

  ActionResult Apply(const Action& action) {
    Executor executor(fake_, root_fd_.get(), index_.get());
    return executor.Apply(action);
  }

  std::optional<IndexRecord> RecordOf(const std::string& path) {
    return FindRecord(*index_, IdOf(Stat(path)));
  }

  // Remote-relative paths of the inodes whose simulated immutable flag is set.
  std::set<std::string> Locked() {
    std::set<std::string> locked;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root_)) {
      const std::string path = entry.path().string();
      if (!entry.is_symlink() && fake_.IsImmutable(path)) {
        locked.insert(path.substr(root_.size() + 1));
      }
    }
    return locked;
  }

  // Every inode of the tree (remote-relative), the tree included.
  std::set<std::string> Everything(const std::string& tree) {
    std::set<std::string> all = {tree};
    for (const auto& entry : std::filesystem::recursive_directory_iterator(Abs(tree))) {
      all.insert(entry.path().string().substr(root_.size() + 1));
    }
    return all;
  }

  // The tree and its members (remote-relative) in the order a protect locks them, top down: the
  // directory first, then each directory's entries in getdents order (readdir's), a folder before
  // what it holds.
  std::vector<std::string> LockOrder(const std::string& tree) {
    std::vector<std::string> order = {tree};
    AppendPreOrder(tree, &order);
    return order;
  }

  void AppendPreOrder(const std::string& dir, std::vector<std::string>* order) {
    for (const auto& entry : std::filesystem::directory_iterator(Abs(dir))) {
      const std::string path = dir + "/" + entry.path().filename().string();
      order->push_back(path);
      if (entry.is_directory() && !entry.is_symlink()) AppendPreOrder(path, order);
    }
  }

  // The tree's members (remote-relative) and then the tree, in the order a lift clears them: each
  // directory's entries in getdents order, children before their directory.
  std::vector<std::string> TreeOrder(const std::string& tree) {
    std::vector<std::string> order;
    AppendPostOrder(tree, &order);
    order.push_back(tree);
    return order;
  }

  void AppendPostOrder(const std::string& dir, std::vector<std::string>* order) {
    for (const auto& entry : std::filesystem::directory_iterator(Abs(dir))) {
      const std::string path = dir + "/" + entry.path().filename().string();
      if (entry.is_directory() && !entry.is_symlink()) AppendPostOrder(path, order);
      order->push_back(path);
    }
  }

  // The last regular file in `order`: failing there leaves members locked before it, whatever
  // the order.
  std::string LastFile(const std::vector<std::string>& order) {
    std::string last;
    for (const std::string& path : order) {
      if (std::filesystem::is_regular_file(Abs(path))) last = path;
    }
    return last;
  }

  // The newest ctime and birth among the tree and its members, as they are now.
  absl::Time NewestCtime(const std::string& tree) {
    absl::Time newest = absl::InfinitePast();
    for (const std::string& path : Everything(tree)) newest = std::max(newest, Stat(path).ctime);
    return newest;
  }
  absl::Time NewestBirth(const std::string& tree) {
    absl::Time newest = absl::InfinitePast();
    for (const std::string& path : Everything(tree)) newest = std::max(newest, Stat(path).birth);
    return newest;
  }

  // Every directory of the tree (the tree included) whose simulated flag is not set.
  std::set<std::string> MutableFolders(const std::string& tree) {
    std::set<std::string> folders;
    for (const std::string& path : Everything(tree)) {
      if (std::filesystem::is_directory(Abs(path)) && !fake_.IsImmutable(Abs(path))) {
        folders.insert(path);
      }
    }
    return folders;
  }

  // Locked members whose folder is mutable: a lift, which enters only locked folders, could never
  // reach them.
  std::set<std::string> LockedBelowAMutableFolder(const std::string& tree) {
    std::set<std::string> stranded;
    for (const std::string& path : Locked()) {
      for (std::string up = path; up.size() > tree.size() && absl::StartsWith(up, tree);) {
        up = up.substr(0, up.rfind('/'));
        if (up.size() >= tree.size() && !fake_.IsImmutable(Abs(up))) stranded.insert(path);
      }
    }
    return stranded;
  }

  // A writer's mkdir of `folder` (and a file in it), judged as the kernel would against the
  // simulated flags: EPERM in a locked folder. Returns 0 or the errno.
  int WriterMakes(const std::string& folder) {
    const std::string parent = folder.substr(0, folder.rfind('/'));
    if (fake_.IsImmutable(Abs(parent))) return EPERM;
    std::filesystem::create_directory(Abs(folder));
    WriteFile(Abs(folder + "/block"), "written late");
    return 0;
  }

  std::vector<std::string> IndexFiles() {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(index_dir_)) {
      names.push_back(e.path().filename().string());
    }
    return names;
  }

  std::string scratch_, root_, index_dir_;
  FakeFileSystem fake_;
  Fd root_fd_;
  std::unique_ptr<Index> index_;
};

// The tree's members and the tree itself, remote-relative.
std::set<std::string> WholeTree() {
  const std::string t = kTree;
  return {t, t + "/bat", t + "/blocks", t + "/blocks/0", t + "/blocks/0/0", t + "/blocks/0/1"};
}

// The order's prefix before the first element equal to `stop`.
std::set<std::string> Before(const std::vector<std::string>& order, const std::string& stop) {
  std::set<std::string> before;
  for (const std::string& path : order) {
    if (path == stop) break;
    before.insert(path);
  }
  return before;
}

// ---------------------------------------------------------------------------------------------
// Protect: files.

TEST_F(ExecutorFaultTest, ProtectsAFileAndRecordsItInMemory) {
  const Action action = Decided(ActionKind::kProtect, kFile, /*tree=*/false);
  const ActionResult r = Apply(action);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.detail, "");
  EXPECT_EQ(r.flags_changed, 1u);
  EXPECT_EQ(Locked(), std::set<std::string>{kFile});
  ASSERT_EQ(AllRecords(*index_).size(), 1u);
  IndexRecord want;
  want.path = kFile;
  want.dev = action.stat.dev;
  want.ino = action.stat.ino;
  want.birth = action.stat.birth;
  want.reference = action.stat.ctime;
  EXPECT_EQ(AllRecords(*index_)[0], want);
  EXPECT_NE(index_->Find(IdOf(action.stat)), nullptr);
  // Nothing on disk until the run flushes.
  EXPECT_THAT(IndexFiles(), IsEmpty());
  ASSERT_TRUE(index_->Flush().ok());
  EXPECT_THAT(IndexFiles(), ::testing::ElementsAre(DayFileName(CreationDay(want.reference))));
}

TEST_F(ExecutorFaultTest, AFileReferenceIsRaisedToItsCtimePlusTheClockLag) {
  Action action = Decided(ActionKind::kProtect, kFile, false);
  action.reference = action.stat.ctime - absl::Hours(5);  // the writer prepared it in advance
  action.clock_lag = absl::Seconds(90);
  ASSERT_EQ(Apply(action).outcome, Outcome::kDone);
  ASSERT_NE(RecordOf(kFile), std::nullopt);
  EXPECT_EQ(RecordOf(kFile)->reference, action.stat.ctime + absl::Seconds(90));
}

TEST_F(ExecutorFaultTest, AFileReferenceLaterThanItsCtimeIsKept) {
  Action action = Decided(ActionKind::kProtect, kFile, false);
  action.reference = action.stat.ctime + absl::Hours(30);
  action.clock_lag = absl::Seconds(90);
  ASSERT_EQ(Apply(action).outcome, Outcome::kDone);
  ASSERT_NE(RecordOf(kFile), std::nullopt);
  EXPECT_EQ(RecordOf(kFile)->reference, action.stat.ctime + absl::Hours(30));
}

TEST_F(ExecutorFaultTest, AnAlreadyLockedFileKeepsThePlannedReference) {
  // Its ctime is when it was locked (a reprotect of an item someone re-locked): not a change.
  fake_.SetImmutableByPath(Abs(kFile), true);
  Action action = Decided(ActionKind::kReprotect, kFile, false);
  action.reference = action.stat.ctime - absl::Hours(5);
  action.clock_lag = absl::Seconds(90);
  const ActionResult r = Apply(action);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.flags_changed, 0u);
  ASSERT_NE(RecordOf(kFile), std::nullopt);
  EXPECT_EQ(RecordOf(kFile)->reference, action.stat.ctime - absl::Hours(5));
}

// A writer links the file elsewhere exactly between the executor's last look and the flag: the
// flag would lock that other name too. The executor looks again after setting it, and undoes.
TEST_F(ExecutorFaultTest, AHardLinkMadeJustBeforeTheFlagIsUndoneAndRefused) {
  const Action action = Decided(ActionKind::kProtect, kFile, /*tree=*/false);
  const std::string other = scratch_ + "/elsewhere";
  fake_.Before(Op::kSetFlag, kFile, [&] { ASSERT_EQ(link(Abs(kFile).c_str(), other.c_str()), 0); });
  const ActionResult r = Apply(action);
  EXPECT_EQ(r.outcome, Outcome::kRefused) << r.detail;
  EXPECT_THAT(r.detail, HasSubstr("a hard link appeared while it was being locked"));
  EXPECT_THAT(Locked(), IsEmpty());
  EXPECT_FALSE(fake_.IsImmutable(other));
  EXPECT_THAT(AllRecords(*index_), IsEmpty());
}

TEST_F(ExecutorFaultTest, EpermOnAFileIsAFailureWithTheErrnoText) {
  fake_.Fail(Op::kSetFlag, kFile, EPERM);
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kFile, false));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.detail, absl::StrCat("injected fault in ", kFile, ": Operation not permitted"));
  EXPECT_EQ(r.flags_changed, 0u);
  EXPECT_THAT(Locked(), IsEmpty());
  EXPECT_THAT(AllRecords(*index_), IsEmpty());
}

// A filesystem that accepts the flag and ignores it (no error from the ioctl) must not have its
// files counted and recorded as locked: the look after the change reads the flag.
TEST_F(ExecutorFaultTest, AFileWhoseFilesystemIgnoresTheFlagIsAFailureAndNotRecorded) {
  fake_.IgnoreFlagRequests(kFile);
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kFile, false));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_THAT(r.detail, AllOf(HasSubstr(kFile), HasSubstr("ignored by the filesystem")));
  EXPECT_EQ(r.flags_changed, 0u);
  EXPECT_THAT(Locked(), IsEmpty());
  EXPECT_THAT(AllRecords(*index_), IsEmpty());
}

TEST_F(ExecutorFaultTest, ATreeMemberWhoseFlagIsIgnoredLeavesAnIncompleteRecord) {
  const std::string block = std::string(kTree) + "/blocks/0/1";
  fake_.IgnoreFlagRequests(block);
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kTree, true));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_THAT(r.detail, AllOf(HasSubstr(block), HasSubstr("ignored by the filesystem")));
  EXPECT_FALSE(fake_.IsImmutable(Abs(block)));
  EXPECT_EQ(r.flags_changed, Locked().size());
  const std::optional<IndexRecord> record = RecordOf(kTree);
  ASSERT_NE(record, std::nullopt);
  EXPECT_FALSE(record->complete);
}

TEST_F(ExecutorFaultTest, AFileThatVanishesAtOpenIsVanished) {
  fake_.Fail(Op::kOpen, kFile, ENOENT);
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kFile, false));
  EXPECT_EQ(r.outcome, Outcome::kVanished);
  EXPECT_EQ(r.detail, absl::StrCat("open ", kFile, ": No such file or directory"));
  EXPECT_THAT(Locked(), IsEmpty());
  EXPECT_THAT(AllRecords(*index_), IsEmpty());
}

TEST_F(ExecutorFaultTest, AFileDeletedBeforeApplyIsVanished) {
  const Action action = Decided(ActionKind::kProtect, kFile, false);
  ASSERT_TRUE(std::filesystem::remove(Abs(kFile)));
  const ActionResult r = Apply(action);
  EXPECT_EQ(r.outcome, Outcome::kVanished);
  EXPECT_EQ(r.detail, absl::StrCat("open ", kFile, ": No such file or directory"));
  EXPECT_THAT(AllRecords(*index_), IsEmpty());
}

TEST_F(ExecutorFaultTest, AFileReplacedBeforeApplyIsRefused) {
  const Action action = Decided(ActionKind::kProtect, kFile, false);
  // Written before the old one goes, so it cannot reuse its inode number.
  WriteFile(Abs(kFile) + ".new", "another inode");
  std::filesystem::rename(Abs(kFile) + ".new", Abs(kFile));
  const ActionResult r = Apply(action);
  EXPECT_EQ(r.outcome, Outcome::kRefused);
  EXPECT_EQ(r.detail,
            absl::StrCat(kFile, ": replaced by another inode since it was examined, not touched"));
  EXPECT_THAT(Locked(), IsEmpty());
  EXPECT_THAT(AllRecords(*index_), IsEmpty());
}

TEST_F(ExecutorFaultTest, ALeaseHeldByAWriterMeansWaiting) {
  fake_.HoldOpenForWriting(kFile);
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kFile, false));
  EXPECT_EQ(r.outcome, Outcome::kWaiting);
  EXPECT_EQ(r.detail, "open for writing by another process");
  EXPECT_EQ(r.flags_changed, 0u);
  EXPECT_THAT(Locked(), IsEmpty());
  EXPECT_THAT(AllRecords(*index_), IsEmpty());
  EXPECT_EQ(fake_.Calls(Op::kSetFlag), 0);
}

// A tree locked before (here half-way, as a killed run leaves it) is finished by name: a member
// locked already is told by its statx and never opened again (three calls each, on a tree of a
// million blocks); the rest is locked. Opening a locked member fails here, to show it is not done.
TEST_F(ExecutorFaultTest, FinishingATreeDoesNotOpenItsLockedMembersAgain) {
  for (const char* part : {"", "/blocks", "/blocks/0", "/bat", "/blocks/0/0"}) {
    fake_.SetImmutableByPath(Abs(kTree) + part, true);
  }
  for (const char* part : {"/bat", "/blocks/0/0"}) {
    fake_.Fail(Op::kOpen, std::string(kTree) + part, EIO);
  }
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kTree, true));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.flags_changed, 1u);
  EXPECT_TRUE(fake_.IsImmutable(Abs(kTree) + "/blocks/0/1"));
  const std::optional<IndexRecord> record = RecordOf(kTree);
  ASSERT_NE(record, std::nullopt);
  EXPECT_TRUE(record->complete);
}

// A chain of folders deeper than the walk goes, planted in a tree: the tree is locked down to the
// walk's reach, and the first folder beyond it is named and left mutable (so that a lift, which
// enters only locked folders, never has to go where the walk cannot).
TEST_F(ExecutorFaultTest, ATreeIsLockedDownToTheWalksReach) {
  std::string chain = std::string(kTree) + "/blocks";  // one level below the top
  for (int level = 2; level <= kMaxTreeDepth + 3; ++level) chain += "/d";
  std::filesystem::create_directories(Abs(chain));
  const std::string last_in_reach = chain.substr(0, chain.size() - 3 * 2);
  const std::string beyond = last_in_reach + "/d";
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kTree, true));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_THAT(r.detail, AllOf(HasSubstr(beyond + " ("), HasSubstr(kBeyondReach)));
  EXPECT_TRUE(fake_.IsImmutable(Abs(last_in_reach)));
  EXPECT_FALSE(fake_.IsImmutable(Abs(beyond)));
  EXPECT_TRUE(fake_.IsImmutable(Abs(kTree) + "/blocks/0/1"));
}

// A run killed after the flag and before its Flush: the next run finds the file immutable and
// unknown to the index, and records it from its ctime (its lock time).
TEST_F(ExecutorFaultTest, ALockedFileWhoseRecordWasNeverFlushedIsAdoptedNextRun) {
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kFile, false)).outcome, Outcome::kDone);
  Reopen();  // killed: never flushed
  ASSERT_EQ(RecordOf(kFile), std::nullopt);
  const FileStat now = Stat(kFile);
  ASSERT_TRUE(now.immutable);
  const std::optional<Action> next = Planned(kFile, false, now.ctime + absl::Hours(1));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->kind, ActionKind::kIndex);
  EXPECT_EQ(next->reference, now.ctime);
  const ActionResult r = Apply(*next);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.flags_changed, 0u);
  ASSERT_NE(RecordOf(kFile), std::nullopt);
  EXPECT_EQ(RecordOf(kFile)->reference, now.ctime);
  EXPECT_FALSE(RecordOf(kFile)->lifted);
}

// ---------------------------------------------------------------------------------------------
// Protect: trees.

TEST_F(ExecutorFaultTest, ProtectsEveryMemberOfATreeAndTheDirectory) {
  Action action = Decided(ActionKind::kProtect, kTree, /*tree=*/true);
  action.reference = action.stat.ctime - absl::Hours(1);
  action.clock_lag = absl::Minutes(1);
  const absl::Time newest_ctime = NewestCtime(kTree);
  const absl::Time newest_birth = NewestBirth(kTree);
  const ActionResult r = Apply(action);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.detail, "");
  EXPECT_EQ(r.flags_changed, 6u);
  EXPECT_EQ(Locked(), WholeTree());
  const std::optional<IndexRecord> record = RecordOf(kTree);
  ASSERT_NE(record, std::nullopt);
  EXPECT_EQ(record->path, kTree);
  EXPECT_TRUE(record->tree);
  EXPECT_FALSE(record->lifted);
  EXPECT_EQ(record->reference, newest_ctime + absl::Minutes(1));
  EXPECT_EQ(record->locked_at, newest_birth);
  EXPECT_EQ(AllRecords(*index_).size(), 1u);  // members have no record of their own
}

TEST_F(ExecutorFaultTest, ATreeReferenceLaterThanEveryChangeIsKept) {
  Action action = Decided(ActionKind::kProtect, kTree, true);
  action.reference = NewestCtime(kTree) + absl::Hours(30);
  ASSERT_EQ(Apply(action).outcome, Outcome::kDone);
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_EQ(RecordOf(kTree)->reference, action.reference);
}

TEST_F(ExecutorFaultTest, ProtectingAgainChangesNoFlagAndKeepsOneRecord) {
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kTree, true)).outcome, Outcome::kDone);
  const ActionResult r = Apply(Decided(ActionKind::kReprotect, kTree, true));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.flags_changed, 0u);
  EXPECT_EQ(Locked(), WholeTree());
  EXPECT_EQ(AllRecords(*index_).size(), 1u);
}

TEST_F(ExecutorFaultTest, AMemberFailingHalfWayLeavesTheDirectoryLockedAndAnIncompleteRecord) {
  const std::vector<std::string> order = LockOrder(kTree);
  ASSERT_EQ(order.front(), kTree);
  const std::string failing = LastFile(order);
  ASSERT_THAT(failing, HasSubstr(kTree));
  fake_.Fail(Op::kSetFlag, failing, EIO);
  const Action action = Decided(ActionKind::kProtect, kTree, true);
  const ActionResult r = Apply(action);
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.detail, absl::StrCat("injected fault in ", failing, ": Input/output error"));
  // Top down: the directory and everything locked before the failing member, nothing after it.
  const std::set<std::string> locked_before = Before(order, failing);
  ASSERT_TRUE(locked_before.count(kTree));
  ASSERT_GT(locked_before.size(), 1u);
  EXPECT_EQ(Locked(), locked_before);
  EXPECT_EQ(r.flags_changed, locked_before.size());
  EXPECT_TRUE(fake_.IsImmutable(Abs(kTree)));
  EXPECT_FALSE(fake_.IsImmutable(Abs(failing)));
  // No locked member below a mutable folder: a lift reaches every one.
  EXPECT_THAT(LockedBelowAMutableFolder(kTree), IsEmpty());
  // Nothing locked is left without a record, marked incomplete: the next run finishes the job.
  const std::optional<IndexRecord> record = RecordOf(kTree);
  ASSERT_NE(record, std::nullopt);
  EXPECT_TRUE(record->tree);
  EXPECT_FALSE(record->lifted);
  EXPECT_FALSE(record->complete);
  // And it stays so on disk.
  ASSERT_TRUE(index_->Flush().ok());
  Reopen();
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_FALSE(RecordOf(kTree)->complete);
}

TEST_F(ExecutorFaultTest, AFailureOnTheDirectoryItselfLocksNothingAndLeavesNoRecord) {
  fake_.FailExactly(Op::kSetFlag, kTree, EIO);
  const int lists = fake_.Calls(Op::kList);
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kTree, true));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.detail, absl::StrCat("injected fault in ", kTree, ": Input/output error"));
  EXPECT_EQ(r.flags_changed, 0u);
  EXPECT_THAT(Locked(), IsEmpty()) << "no member is locked below a mutable directory";
  EXPECT_THAT(AllRecords(*index_), IsEmpty());
  EXPECT_EQ(fake_.Calls(Op::kList), lists) << "not listed either";
}

// The directory was locked already (by XO's daemon, by a run killed before its record): a failure
// on its first member still leaves a record, incomplete, so that it is finished and lifted.
TEST_F(ExecutorFaultTest, AFailureBelowADirectoryLockedAlreadyLeavesAnIncompleteRecord) {
  fake_.SetImmutableByPath(Abs(kTree), true);
  const std::vector<std::string> order = LockOrder(kTree);
  fake_.Fail(Op::kSetFlag, order[1], EIO);
  Action action = Decided(ActionKind::kReprotect, kTree, true);
  action.reference = action.stat.ctime - absl::Hours(2);
  const ActionResult r = Apply(action);
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.flags_changed, 0u);
  EXPECT_EQ(Locked(), std::set<std::string>{kTree});
  const std::optional<IndexRecord> record = RecordOf(kTree);
  ASSERT_NE(record, std::nullopt);
  EXPECT_FALSE(record->complete);
  EXPECT_FALSE(record->lifted);
  EXPECT_GE(record->reference, action.reference);
  EXPECT_LE(record->reference, NewestCtime(kTree));
}

TEST_F(ExecutorFaultTest, TheNextProtectOfAPartlyLockedTreeFinishesIt) {
  const std::vector<std::string> order = LockOrder(kTree);
  const std::string failing = LastFile(order);
  fake_.Fail(Op::kSetFlag, failing, EIO);
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kTree, true)).outcome, Outcome::kFailed);
  ASSERT_TRUE(index_->Flush().ok());
  Reopen();
  const size_t already = Before(order, failing).size();
  // Locked, recorded as incomplete, not expired: the rules finish it.
  ASSERT_TRUE(Stat(kTree).immutable);
  const absl::Time now = Stat(kTree).ctime + absl::Hours(1);
  const std::optional<Action> retry = Planned(kTree, true, now);
  ASSERT_TRUE(retry.has_value());
  ASSERT_EQ(retry->kind, ActionKind::kProtect) << ActionKindName(retry->kind);
  EXPECT_THAT(retry->reason, HasSubstr("stopped half-way"));
  const ActionResult r = Apply(*retry);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.flags_changed, 6u - already);
  EXPECT_EQ(Locked(), WholeTree());
  EXPECT_EQ(AllRecords(*index_).size(), 1u);
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_TRUE(RecordOf(kTree)->complete);
  // Complete now: the steady state.
  ASSERT_TRUE(index_->Flush().ok());
  Reopen();
  EXPECT_FALSE(Planned(kTree, true, now).has_value());
}

// A run killed half-way through a tree, before its Flush: the directory is locked, some members
// are not, and nothing is recorded. The next run locks the rest before it records the tree.
TEST_F(ExecutorFaultTest, APartlyLockedTreeWhoseRecordWasNeverFlushedIsFinishedNextRun) {
  const std::vector<std::string> order = LockOrder(kTree);
  const std::string failing = LastFile(order);
  fake_.Fail(Op::kSetFlag, failing, EIO);
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kTree, true)).outcome, Outcome::kFailed);
  Reopen();  // killed: never flushed
  ASSERT_EQ(RecordOf(kTree), std::nullopt);
  const FileStat top = Stat(kTree);
  ASSERT_TRUE(top.immutable);
  const std::optional<Action> next = Planned(kTree, true, top.ctime + absl::Hours(1));
  ASSERT_TRUE(next.has_value());
  ASSERT_EQ(next->kind, ActionKind::kProtect) << ActionKindName(next->kind);
  EXPECT_EQ(next->reference, top.ctime);
  const ActionResult r = Apply(*next);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.flags_changed, 6u - Before(order, failing).size());
  EXPECT_EQ(Locked(), WholeTree());
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_TRUE(RecordOf(kTree)->complete);
  EXPECT_FALSE(RecordOf(kTree)->lifted);
}

// Was a DEFECT (a tree protect failing half-way left its members locked without a record, and
// nothing ever lifted them): the record is written half-way, and once the tree has expired the
// next run lifts what was locked.
TEST_F(ExecutorFaultTest, APartlyLockedTreeIsLiftedOnceExpired) {
  const std::vector<std::string> order = LockOrder(kTree);
  const std::string failing = LastFile(order);
  fake_.Fail(Op::kSetFlag, failing, EIO);
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kTree, true)).outcome, Outcome::kFailed);
  const std::set<std::string> locked = Before(order, failing);
  ASSERT_EQ(Locked(), locked);
  ASSERT_TRUE(index_->Flush().ok());
  Reopen();  // a later run, after expiry
  const FileStat now = Stat(kTree);
  ASSERT_TRUE(now.immutable);
  const std::optional<Action> next = Planned(kTree, true, now.birth + absl::Hours(24 * 30));
  ASSERT_TRUE(next.has_value());
  ASSERT_EQ(next->kind, ActionKind::kLift) << ActionKindName(next->kind);
  EXPECT_EQ(next->members_locked_by, RecordOf(kTree)->locked_at);
  const ActionResult r = Apply(*next);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.detail, "");
  EXPECT_EQ(r.flags_changed, locked.size());
  EXPECT_THAT(Locked(), IsEmpty());
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_TRUE(RecordOf(kTree)->lifted);
}

// Was a DEFECT: members were locked children first, so a failure half-way left the folders
// holding the members already locked mutable, and the lift, which does not enter mutable folders,
// stranded them. Top down, every folder above a locked member is locked, and the lift reaches all.
TEST_F(ExecutorFaultTest, APartlyLockedTreeLeavesNoMutableFolderAboveWhatItLocked) {
  std::vector<std::string> blocks;
  for (const std::string& path : LockOrder(kTree)) {
    if (absl::StartsWith(path, absl::StrCat(kTree, "/blocks/0/"))) blocks.push_back(path);
  }
  ASSERT_EQ(blocks.size(), 2u);
  fake_.Fail(Op::kSetFlag, blocks[1], EIO);
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kTree, true)).outcome, Outcome::kFailed);
  ASSERT_TRUE(fake_.IsImmutable(Abs(blocks[0])));
  EXPECT_TRUE(fake_.IsImmutable(Abs(kTree) + "/blocks/0"));
  EXPECT_TRUE(fake_.IsImmutable(Abs(kTree) + "/blocks"));
  EXPECT_TRUE(fake_.IsImmutable(Abs(kTree)));
  EXPECT_THAT(LockedBelowAMutableFolder(kTree), IsEmpty());
  ASSERT_TRUE(index_->Flush().ok());
  Reopen();
  const absl::Time later = Stat(kTree).birth + absl::Hours(24 * 30);
  const std::optional<Action> next = Planned(kTree, true, later);
  ASSERT_TRUE(next.has_value());
  ASSERT_EQ(next->kind, ActionKind::kLift);
  const ActionResult r = Apply(*next);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_THAT(r.detail, Not(HasSubstr("mutable folders")));
  EXPECT_THAT(Locked(), IsEmpty()) << "nothing stranded";
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_TRUE(RecordOf(kTree)->lifted);
  EXPECT_FALSE(Planned(kTree, true, later + absl::Hours(24 * 30)).has_value());
}

TEST_F(ExecutorFaultTest, AMemberThatVanishesIsSkipped) {
  const std::string vanished = absl::StrCat(kTree, "/blocks/0/0");
  fake_.Fail(Op::kOpen, vanished, ENOENT);
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kTree, true));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.flags_changed, 5u);
  std::set<std::string> expected = WholeTree();
  expected.erase(vanished);
  EXPECT_EQ(Locked(), expected);
  EXPECT_NE(RecordOf(kTree), std::nullopt);
}

TEST_F(ExecutorFaultTest, ALeaseHeldOnATreeMemberMeansWaitingWithAnIncompleteRecord) {
  const std::vector<std::string> order = LockOrder(kTree);
  const std::string busy = LastFile(order);
  fake_.HoldOpenForWriting(busy);
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kTree, true));
  EXPECT_EQ(r.outcome, Outcome::kWaiting);
  EXPECT_EQ(r.detail, "open for writing by another process");
  EXPECT_EQ(r.flags_changed, Before(order, busy).size());
  EXPECT_EQ(Locked(), Before(order, busy));
  EXPECT_TRUE(fake_.IsImmutable(Abs(kTree)));
  EXPECT_FALSE(fake_.IsImmutable(Abs(busy)));
  // What was locked is recorded, as incomplete.
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_FALSE(RecordOf(kTree)->complete);
}

TEST_F(ExecutorFaultTest, MembersThatCanNeverBeLockedAreSkippedAndNamed) {
  const std::string t = kTree;
  ASSERT_EQ(mkfifo(Abs(t + "/blocks/0/fifo").c_str(), 0644), 0);
  ASSERT_EQ(symlink("/etc/passwd", Abs(t + "/blocks/link").c_str()), 0);
  WriteFile(Abs(t + "/blocks/0/2"), "block 2");
  const std::string outside = scratch_ + "/linked-outside";
  ASSERT_EQ(link(Abs(t + "/blocks/0/2").c_str(), outside.c_str()), 0);
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kTree, true));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_THAT(r.detail, AllOf(HasSubstr("not lockable, left as they are: "),
                              HasSubstr(t + "/blocks/0/fifo (a FIFO)"),
                              HasSubstr(t + "/blocks/link (a symlink)"),
                              HasSubstr(t + "/blocks/0/2 (2 hard links)")));
  EXPECT_EQ(r.flags_changed, 6u);
  EXPECT_EQ(Locked(), WholeTree());  // the rest, and the directory
  EXPECT_FALSE(fake_.IsImmutable(outside));
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_FALSE(RecordOf(kTree)->lifted);
}

TEST_F(ExecutorFaultTest, ManyOddMembersAreNamedUpToFive) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(mkfifo(Abs(absl::StrCat(kTree, "/fifo", i)).c_str(), 0644), 0);
  }
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kTree, true));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_THAT(r.detail, HasSubstr("(a FIFO) and 2 more"));
  EXPECT_EQ(Locked(), WholeTree());
}

// A writer strikes just before a block's flag is set, trying to make a folder (and a file in it)
// in each folder of the tree: by then the directory and the folders down to that block are locked,
// so every such mkdir fails (EPERM), and a folder locked later was listed after it was locked.
// Whatever a strike could still make is locked when Apply returns: no folder inside the tree stays
// mutable for XO's writer to fill.
TEST_F(ExecutorFaultTest, NoFolderCanBeMadeInATreeOnceItsDirectoryIsLocked) {
  std::vector<std::string> blocks;
  for (const std::string& path : LockOrder(kTree)) {
    if (absl::StartsWith(path, absl::StrCat(kTree, "/blocks/0/"))) blocks.push_back(path);
  }
  ASSERT_EQ(blocks.size(), 2u);
  const std::string t = kTree;
  struct Strike {
    std::string folder;
    bool after_top_locked;
    int err;
  };
  std::vector<Strike> strikes;
  int round = 0;
  auto strike = [&] {
    ++round;
    for (const std::string& in : {t, t + "/blocks", t + "/blocks/0"}) {
      const std::string folder = absl::StrCat(in, "/late", round);
      const bool after = fake_.IsImmutable(Abs(t));
      strikes.push_back(Strike{folder, after, WriterMakes(folder)});
    }
  };
  fake_.Before(Op::kSetFlag, blocks[0], strike);
  fake_.Before(Op::kSetFlag, blocks[1], strike);
  Action action = Decided(ActionKind::kProtect, kTree, true);
  action.clock_lag = absl::Seconds(30);
  const ActionResult r = Apply(action);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.detail, "");
  ASSERT_EQ(round, 2);
  int after_top_locked = 0;
  for (const Strike& s : strikes) {
    SCOPED_TRACE(s.folder);
    if (!s.after_top_locked) continue;
    ++after_top_locked;
    if (s.err == 0) {
      EXPECT_TRUE(fake_.IsImmutable(Abs(s.folder)));
      EXPECT_TRUE(fake_.IsImmutable(Abs(s.folder + "/block")));
    } else {
      EXPECT_EQ(s.err, EPERM);
    }
  }
  EXPECT_GE(after_top_locked, 1) << "no strike came after the directory was locked";
  // Here every strike came after the folders it aimed at were locked.
  EXPECT_EQ(after_top_locked, 6);
  for (const Strike& s : strikes) EXPECT_EQ(s.err, EPERM) << s.folder;
  EXPECT_THAT(MutableFolders(kTree), IsEmpty());
  EXPECT_EQ(Locked(), WholeTree());
  EXPECT_EQ(r.flags_changed, 6u);
  // The newest change and birth seen while locking count.
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_TRUE(RecordOf(kTree)->complete);
  EXPECT_EQ(RecordOf(kTree)->reference, NewestCtime(kTree) + absl::Seconds(30));
  EXPECT_EQ(RecordOf(kTree)->locked_at, NewestBirth(kTree));
}

// A writer makes folders in the tree just before its directory is locked: they are there when the
// directory is listed (after its flag), so they are locked with the rest.
TEST_F(ExecutorFaultTest, AFolderMadeJustBeforeTheDirectoryIsLockedIsLockedWithIt) {
  const std::string late = absl::StrCat(kTree, "/late");
  int err = -1;
  bool top_was_locked = true;
  fake_.Before(Op::kSetFlag, kTree, [&] {  // the first flag a protect sets: the directory's
    top_was_locked = fake_.IsImmutable(Abs(kTree));
    err = WriterMakes(late);
    std::filesystem::create_directories(Abs(late + "/deeper"));
    WriteFile(Abs(late + "/deeper/block"), "written late");
  });
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kTree, true));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  ASSERT_EQ(err, 0);
  ASSERT_FALSE(top_was_locked);
  EXPECT_THAT(MutableFolders(kTree), IsEmpty());
  std::set<std::string> expected = WholeTree();
  expected.insert({late, late + "/block", late + "/deeper", late + "/deeper/block"});
  EXPECT_EQ(Locked(), expected);
  EXPECT_EQ(r.flags_changed, 10u);
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_EQ(RecordOf(kTree)->locked_at, NewestBirth(kTree));
}

// A folder that cannot be listed is a failure; it was locked before its listing, so the tree is
// left locked down to it, and recorded as incomplete.
TEST_F(ExecutorFaultTest, AFolderThatCannotBeListedIsAFailureWithAnIncompleteRecord) {
  const std::string folder = absl::StrCat(kTree, "/blocks/0");
  fake_.FailExactly(Op::kList, folder, EIO);
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kTree, true));
  EXPECT_EQ(r.outcome, Outcome::kFailed) << r.detail;
  EXPECT_THAT(r.detail, AllOf(HasSubstr(folder), HasSubstr("Input/output error")));
  EXPECT_TRUE(fake_.IsImmutable(Abs(kTree)));
  EXPECT_TRUE(fake_.IsImmutable(Abs(folder)));
  EXPECT_FALSE(fake_.IsImmutable(Abs(folder + "/0")));
  EXPECT_FALSE(fake_.IsImmutable(Abs(folder + "/1")));
  EXPECT_THAT(LockedBelowAMutableFolder(kTree), IsEmpty());
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_FALSE(RecordOf(kTree)->complete);
}

TEST_F(ExecutorFaultTest, ATreeWhoseDirectoryCannotBeListedIsAFailureWithAnIncompleteRecord) {
  fake_.FailExactly(Op::kList, kTree, EIO);
  const ActionResult r = Apply(Decided(ActionKind::kProtect, kTree, true));
  EXPECT_EQ(r.outcome, Outcome::kFailed) << r.detail;
  EXPECT_THAT(r.detail, HasSubstr("Input/output error"));
  EXPECT_EQ(r.flags_changed, 1u);
  EXPECT_EQ(Locked(), std::set<std::string>{kTree});
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_FALSE(RecordOf(kTree)->complete);
}

// ---------------------------------------------------------------------------------------------
// Lift.

TEST_F(ExecutorFaultTest, LiftClearsEveryMemberAndTurnsTheRecordLifted) {
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kTree, true)).outcome, Outcome::kDone);
  ASSERT_TRUE(index_->Flush().ok());
  Reopen();
  const IndexRecord before = *RecordOf(kTree);
  const std::optional<Action> lift = Planned(kTree, true, Stat(kTree).birth + absl::Hours(24 * 30));
  ASSERT_TRUE(lift.has_value());
  ASSERT_EQ(lift->kind, ActionKind::kLift);
  const ActionResult r = Apply(*lift);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.detail, "");
  EXPECT_EQ(r.flags_changed, 6u);
  EXPECT_THAT(Locked(), IsEmpty());
  // Kept, lifted: XO merging into it later does not make it a new backup.
  const std::optional<IndexRecord> after = RecordOf(kTree);
  ASSERT_NE(after, std::nullopt);
  EXPECT_TRUE(after->lifted);
  EXPECT_EQ(after->reference, before.reference);
  EXPECT_EQ(after->locked_at, lift->members_locked_by);
  EXPECT_EQ(index_->protected_count(), 0u);
  ASSERT_TRUE(index_->Flush().ok());
  Reopen();
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_TRUE(RecordOf(kTree)->lifted);
  // The next run leaves it alone.
  EXPECT_FALSE(Planned(kTree, true, Stat(kTree).birth + absl::Hours(24 * 31)).has_value());
}

TEST_F(ExecutorFaultTest, LiftOfAFileTurnsItsRecordLifted) {
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kFile, false)).outcome, Outcome::kDone);
  const IndexRecord before = *RecordOf(kFile);
  const std::optional<Action> lift =
      Planned(kFile, false, Stat(kFile).birth + absl::Hours(24 * 30));
  ASSERT_TRUE(lift.has_value());
  ASSERT_EQ(lift->kind, ActionKind::kLift);
  const ActionResult r = Apply(*lift);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.flags_changed, 1u);
  EXPECT_THAT(Locked(), IsEmpty());
  ASSERT_NE(RecordOf(kFile), std::nullopt);
  // The lift was planned from what the index holds in memory: whole seconds, as on disk.
  IndexRecord want = Stored(before);
  want.lifted = true;
  EXPECT_EQ(*RecordOf(kFile), want);
}

TEST_F(ExecutorFaultTest, ALiftFailingOnAMemberKeepsTheDirectoryLockedAndTheRecord) {
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kTree, true)).outcome, Outcome::kDone);
  const IndexRecord before = *RecordOf(kTree);
  const std::vector<std::string> order = TreeOrder(kTree);
  const std::string failing = LastFile(order);
  fake_.Fail(Op::kSetFlag, failing, EIO);
  const ActionResult r = Apply(Decided(ActionKind::kLift, kTree, true));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.detail, absl::StrCat("injected fault in ", failing, ": Input/output error"));
  const std::set<std::string> cleared = Before(order, failing);
  EXPECT_EQ(r.flags_changed, cleared.size());
  std::set<std::string> still_locked = WholeTree();
  for (const std::string& path : cleared) still_locked.erase(path);
  EXPECT_EQ(Locked(), still_locked);
  EXPECT_TRUE(fake_.IsImmutable(Abs(kTree)));
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_EQ(*RecordOf(kTree), before);

  // The directory is still locked and indexed: the next run lifts the rest.
  const ActionResult again = Apply(Decided(ActionKind::kLift, kTree, true));
  EXPECT_EQ(again.outcome, Outcome::kDone) << again.detail;
  EXPECT_EQ(again.flags_changed, 6u - cleared.size());
  EXPECT_THAT(Locked(), IsEmpty());
  EXPECT_TRUE(RecordOf(kTree)->lifted);
}

// A member folder found mutable inside a locked tree was tampered with (only root can clear a
// flag): the lift does not enter it, and whatever is inside stays as it is, even locked files.
TEST_F(ExecutorFaultTest, ALiftDoesNotEnterAMutableMemberFolder) {
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kTree, true)).outcome, Outcome::kDone);
  const std::string folder = absl::StrCat(kTree, "/blocks/0");
  fake_.SetImmutableByPath(Abs(folder), false);
  WriteFile(Abs(folder + "/planted"), "moved in");
  fake_.SetImmutableByPath(Abs(folder + "/planted"), true);
  Action lift = Decided(ActionKind::kLift, kTree, true);
  lift.members_locked_by = absl::Now() + absl::Hours(1);
  const ActionResult r = Apply(lift);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.detail,
            absl::StrCat("mutable folders inside it (tampering?) were not entered: ", folder));
  EXPECT_EQ(Locked(), (std::set<std::string>{folder + "/0", folder + "/1", folder + "/planted"}));
  EXPECT_EQ(r.flags_changed, 3u);  // bat, blocks, the directory
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_TRUE(RecordOf(kTree)->lifted);
}

// Members born after the tree was locked came in through a folder that was still mutable: not
// the item's, left locked (someone else locked them) and named; a foreign folder is not entered.
TEST_F(ExecutorFaultTest, ALiftLeavesLockedMembersBornAfterTheLock) {
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kTree, true)).outcome, Outcome::kDone);
  const absl::Time newest_member = NewestBirth(kTree);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string late_file = absl::StrCat(kTree, "/blocks/0/late");
  const std::string late_dir = absl::StrCat(kTree, "/blocks/late");
  WriteFile(Abs(late_file), "someone else's");
  std::filesystem::create_directory(Abs(late_dir));
  WriteFile(Abs(late_dir + "/inside"), "someone else's");
  for (const std::string& path : {late_file, late_dir, late_dir + "/inside"}) {
    fake_.SetImmutableByPath(Abs(path), true);
  }
  ASSERT_GT(std::min(Stat(late_file).birth, Stat(late_dir).birth), newest_member);
  Action lift = Decided(ActionKind::kLift, kTree, true);
  lift.members_locked_by = newest_member;  // what the record says: the newest member locked
  const ActionResult r = Apply(lift);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_THAT(r.detail, AllOf(HasSubstr("left locked, not the item's (born after it was locked): "),
                              HasSubstr(late_file), HasSubstr(late_dir), Not(HasSubstr("inside"))));
  EXPECT_EQ(Locked(), (std::set<std::string>{late_file, late_dir, late_dir + "/inside"}));
  EXPECT_EQ(r.flags_changed, 6u);
  EXPECT_TRUE(RecordOf(kTree)->lifted);
}

// Was a DEFECT (latent): a tree's record says locked_at = the newest birth among its members, and
// the lift cleared only members born strictly before members_locked_by, so the newest member was
// taken for a foreign one. Members born at members_locked_by belong to the item.
TEST_F(ExecutorFaultTest, ALiftByTheRecordedLockTimeClearsTheNewestMemberToo) {
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kTree, true)).outcome, Outcome::kDone);
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  const absl::Time locked_at = RecordOf(kTree)->locked_at;
  std::set<std::string> newest;  // births can tie: the clock is coarse
  for (const std::string& path : WholeTree()) {
    if (path != kTree && Stat(path).birth == locked_at) newest.insert(path);
  }
  ASSERT_THAT(newest, Not(IsEmpty()));
  Action lift = Decided(ActionKind::kLift, kTree, true);
  lift.members_locked_by = locked_at;
  const ActionResult r = Apply(lift);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.detail, "");
  EXPECT_THAT(Locked(), IsEmpty());
  EXPECT_EQ(r.flags_changed, 6u);
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_TRUE(RecordOf(kTree)->lifted);
}

// One nanosecond before the newest member's birth: that member is not the item's.
TEST_F(ExecutorFaultTest, ALiftLeavesAMemberBornJustAfterTheLockTime) {
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kTree, true)).outcome, Outcome::kDone);
  const absl::Time locked_at = RecordOf(kTree)->locked_at;
  std::set<std::string> newest;
  for (const std::string& path : WholeTree()) {
    if (path != kTree && Stat(path).birth == locked_at) newest.insert(path);
  }
  ASSERT_THAT(newest, Not(IsEmpty()));
  Action lift = Decided(ActionKind::kLift, kTree, true);
  lift.members_locked_by = locked_at - absl::Nanoseconds(1);
  const ActionResult r = Apply(lift);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_THAT(r.detail, HasSubstr("left locked, not the item's"));
  // A folder that is not the item's is not entered: what is inside it stays too.
  for (const std::string& path : Locked()) {
    bool below_newest = false;
    for (const std::string& n : newest) below_newest |= absl::StartsWith(path, n + "/");
    EXPECT_TRUE(newest.count(path) || below_newest) << path;
  }
  for (const std::string& n : newest) EXPECT_TRUE(fake_.IsImmutable(Abs(n))) << n;
}

// A member born after the day whose items have expired has not expired itself: the lift clears
// the others and waits, the directory and its record unchanged.
TEST_F(ExecutorFaultTest, AMemberNotExpiredYetMakesTheLiftWait) {
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kTree, true)).outcome, Outcome::kDone);
  const IndexRecord before = *RecordOf(kTree);
  const absl::Time newest_member = NewestBirth(kTree);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string young = absl::StrCat(kTree, "/blocks/0/young");
  WriteFile(Abs(young), "recent");
  fake_.SetImmutableByPath(Abs(young), true);
  Action lift = Decided(ActionKind::kLift, kTree, true);
  lift.members_expired_before = Stat(young).birth;  // born then: not expired
  ASSERT_LT(newest_member, lift.members_expired_before);
  const ActionResult r = Apply(lift);
  EXPECT_EQ(r.outcome, Outcome::kWaiting) << r.detail;
  EXPECT_EQ(r.detail, absl::StrCat("partly: members not expired yet, lifted later: ", young));
  EXPECT_TRUE(fake_.IsImmutable(Abs(kTree)));
  EXPECT_EQ(Locked(), (std::set<std::string>{kTree, young}));
  EXPECT_EQ(r.flags_changed, 5u);
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_EQ(*RecordOf(kTree), before);
}

TEST_F(ExecutorFaultTest, ALiftOfAnotherInodeIsRefused) {
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kFile, false)).outcome, Outcome::kDone);
  Action lift = Decided(ActionKind::kLift, kFile, false);
  lift.stat.ino += 1;
  const ActionResult r = Apply(lift);
  EXPECT_EQ(r.outcome, Outcome::kRefused);
  EXPECT_EQ(Locked(), std::set<std::string>{kFile});
  EXPECT_FALSE(RecordOf(kFile)->lifted);
}

// ---------------------------------------------------------------------------------------------
// Index-only actions.

TEST_F(ExecutorFaultTest, IndexRecordsATreeFromItsCtimeWhenItsLockTimeIsUnknown) {
  for (const std::string& path : WholeTree()) fake_.SetImmutableByPath(Abs(path), true);
  Action index = Decided(ActionKind::kIndex, kTree, true);
  index.reference = index.stat.ctime - absl::Hours(3);
  const ActionResult r = Apply(index);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.flags_changed, 0u);
  ASSERT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_EQ(RecordOf(kTree)->reference, index.stat.ctime - absl::Hours(3));  // as planned
  EXPECT_EQ(RecordOf(kTree)->locked_at, index.stat.ctime);
  EXPECT_TRUE(RecordOf(kTree)->tree);
  EXPECT_FALSE(RecordOf(kTree)->lifted);
  // A record that follows a moved item keeps its lock time.
  index.locked_at = index.stat.ctime - absl::Hours(1);
  index.path = "xo-vm-backups/vm1/vdis/job1/vdi1/data/moved.vhd";
  ASSERT_EQ(Apply(index).outcome, Outcome::kDone);
  EXPECT_EQ(AllRecords(*index_).size(), 1u);
  EXPECT_EQ(RecordOf(kTree)->locked_at, index.stat.ctime - absl::Hours(1));
  EXPECT_EQ(RecordOf(kTree)->path, "xo-vm-backups/vm1/vdis/job1/vdi1/data/moved.vhd");
}

TEST_F(ExecutorFaultTest, UnindexRemovesOnlyTheRecordByIdentity) {
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kFile, false)).outcome, Outcome::kDone);
  ASSERT_EQ(Apply(Decided(ActionKind::kProtect, kTree, true)).outcome, Outcome::kDone);
  // As DecideUnreached makes it: the record's identity, at the record's path.
  Action unindex{ActionKind::kUnindex, "somewhere/else.xva", false, FileStat{}};
  unindex.stat.ino = Stat(kFile).ino;
  unindex.stat.birth = Stat(kFile).birth;
  const ActionResult r = Apply(unindex);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.flags_changed, 0u);
  EXPECT_EQ(RecordOf(kFile), std::nullopt);
  EXPECT_NE(RecordOf(kTree), std::nullopt);
  EXPECT_TRUE(fake_.IsImmutable(Abs(kFile)));
  // Unknown identity: nothing.
  unindex.stat.ino += 12345;
  EXPECT_EQ(Apply(unindex).outcome, Outcome::kDone);
  EXPECT_EQ(AllRecords(*index_).size(), 1u);
}

TEST_F(ExecutorFaultTest, TheRemotesOwnFilesAreNeverRecorded) {
  WriteFile(Abs("metadata.json"), "{}");
  Action protect = Decided(ActionKind::kProtect, "metadata.json", false);
  protect.indexed = false;
  EXPECT_EQ(Apply(protect).outcome, Outcome::kDone);
  EXPECT_TRUE(fake_.IsImmutable(Abs("metadata.json")));
  EXPECT_THAT(AllRecords(*index_), IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// immutability.json.

TEST_F(ExecutorFaultTest, WritesTheMarkerAndLocksIt) {
  const std::string content = MarkerContent(absl::FromUnixSeconds(1767225600), absl::Hours(168));
  const ActionResult r = Apply(MarkerAction(ActionKind::kWriteMarker, content));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(r.flags_changed, 1u);
  EXPECT_EQ(ReadFile(Abs(kMarkerName)), content);
  EXPECT_EQ(Locked(), std::set<std::string>{kMarkerName});
  EXPECT_THAT(AllRecords(*index_), IsEmpty());
}

TEST_F(ExecutorFaultTest, RewritesALockedMarker) {
  ASSERT_EQ(Apply(MarkerAction(ActionKind::kWriteMarker, "old")).outcome, Outcome::kDone);
  ASSERT_TRUE(fake_.IsImmutable(Abs(kMarkerName)));
  const ActionResult r = Apply(MarkerAction(ActionKind::kWriteMarker, "new"));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_EQ(ReadFile(Abs(kMarkerName)), "new");
  EXPECT_EQ(Locked(), std::set<std::string>{kMarkerName});
}

TEST_F(ExecutorFaultTest, NoSpaceForTheMarkerIsAFailureAndLeavesNone) {
  fake_.Fail(Op::kWrite, kMarkerName, ENOSPC);
  const ActionResult r = Apply(MarkerAction(ActionKind::kWriteMarker, "{}"));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.detail, absl::StrCat("injected fault in ", kMarkerName, ": No space left on device"));
  EXPECT_FALSE(std::filesystem::exists(Abs(kMarkerName)));
  EXPECT_THAT(Locked(), IsEmpty());
}

// Unlocked for the rewrite, the old one stayed mutable while the remote was full (each run's
// rewrite failing again): deletable by XO's user, who can fill the remote. It is locked again.
TEST_F(ExecutorFaultTest, AMarkerRewriteThatFailsLocksTheOldOneAgain) {
  ASSERT_EQ(Apply(MarkerAction(ActionKind::kWriteMarker, "old")).outcome, Outcome::kDone);
  fake_.Fail(Op::kWrite, kMarkerName, ENOSPC);
  const ActionResult r = Apply(MarkerAction(ActionKind::kWriteMarker, "new"));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_THAT(r.detail, HasSubstr("No space left on device"));
  EXPECT_EQ(ReadFile(Abs(kMarkerName)), "old");
  EXPECT_EQ(Locked(), std::set<std::string>{kMarkerName});
}

TEST_F(ExecutorFaultTest, ARootOwnedByAnotherUserNamesTheCapabilityNeeded) {
  fake_.Fail(Op::kWrite, kMarkerName, EACCES);
  const ActionResult r = Apply(MarkerAction(ActionKind::kWriteMarker, "{}"));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_THAT(r.detail, AllOf(HasSubstr("Permission denied"), HasSubstr("CAP_DAC_OVERRIDE")));
  EXPECT_FALSE(std::filesystem::exists(Abs(kMarkerName)));
}

TEST_F(ExecutorFaultTest, AMarkerThatIsAFolderIsRefused) {
  std::filesystem::create_directory(Abs(kMarkerName));
  const ActionResult r = Apply(MarkerAction(ActionKind::kWriteMarker, "{}"));
  EXPECT_EQ(r.outcome, Outcome::kRefused);
  EXPECT_THAT(r.detail, HasSubstr("is a directory, not touched"));
  EXPECT_THAT(Locked(), IsEmpty());
}

TEST_F(ExecutorFaultTest, RemoveMarkerUnlocksAndRemovesIt) {
  ASSERT_EQ(Apply(MarkerAction(ActionKind::kWriteMarker, "{}")).outcome, Outcome::kDone);
  const ActionResult r = Apply(MarkerAction(ActionKind::kRemoveMarker, ""));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_FALSE(std::filesystem::exists(Abs(kMarkerName)));
  EXPECT_THAT(Locked(), IsEmpty());
}

TEST_F(ExecutorFaultTest, RemovingAMissingMarkerIsDone) {
  const ActionResult r = Apply(MarkerAction(ActionKind::kRemoveMarker, ""));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.detail;
  EXPECT_FALSE(std::filesystem::exists(Abs(kMarkerName)));
}

TEST_F(ExecutorFaultTest, AMarkerThatCannotBeRemovedIsAFailure) {
  ASSERT_EQ(Apply(MarkerAction(ActionKind::kWriteMarker, "{}")).outcome, Outcome::kDone);
  fake_.Fail(Op::kUnlink, kMarkerName, EIO);
  const ActionResult r = Apply(MarkerAction(ActionKind::kRemoveMarker, ""));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.detail, absl::StrCat("injected fault in ", kMarkerName, ": Input/output error"));
  EXPECT_TRUE(std::filesystem::exists(Abs(kMarkerName)));
}

}  // namespace
}  // namespace xoi
