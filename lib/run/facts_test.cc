// The facts the rules ask for, read over a FakeFileSystem: simulated immutable flags (no root
// needed) and failing calls, on a real scratch tree.
#include "lib/run/facts.h"

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
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/core/glob_set.h"
#include "lib/core/index_record.h"
#include "lib/core/rules.h"
#include "lib/core/status.h"
#include "lib/core/xo_layout.h"
#include "lib/fs/fake_file_system.h"
#include "lib/fs/index.h"

namespace xoi {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Op = FakeFileSystem::Op;

constexpr char kVdi[] = "xo-vm-backups/vm1/vdis/job1/vdi1";
// A VHD directory: its block allocation table and two blocks.
constexpr char kTree[] = "xo-vm-backups/vm1/vdis/job1/vdi1/data/20260101T000000Z.vhd";

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

::testing::Matcher<const OddMember&> Odd(const std::string& path, const std::string& why) {
  return AllOf(Field(&OddMember::path, path), Field(&OddMember::why, why));
}

class FactsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr);
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    scratch_ = absl::StrCat(tmp, "/facts_test/", info->name());
    std::filesystem::remove_all(scratch_);  // nothing in it is really immutable
    root_ = scratch_ + "/remote";
    std::filesystem::create_directories(root_);
    auto root_fd = fake_.OpenDirByPath(root_);
    ASSERT_TRUE(root_fd.ok()) << root_fd.status();
    root_fd_ = *std::move(root_fd);
  }

  void MakeTree() {
    std::filesystem::create_directories(Abs(kTree) + "/blocks/0");
    WriteFile(Abs(kTree) + "/bat", "bat");
    WriteFile(Abs(kTree) + "/blocks/0/0", "block 0");
    WriteFile(Abs(kTree) + "/blocks/0/1", "block 1");
  }

  std::string Abs(const std::string& relative) { return root_ + "/" + relative; }

  FileStat Stat(const std::string& relative) {
    auto st = fake_.StatAt(root_fd_.get(), relative.c_str(), relative);
    EXPECT_TRUE(st.ok()) << st.status();
    return st.value_or(FileStat{});
  }

  // What the walk would hand the rules for `path`.
  Candidate Item(const std::string& path, bool tree) { return Candidate{path, Stat(path), tree}; }

  // With `threads`, the tree is walked by that many threads.
  ChangeFacts ChangesOf(const Candidate& item, int threads = 1) {
    RemoteRunFacts runs(fake_, root_fd_.get());
    RemoteItemFacts facts(fake_, root_fd_.get(), runs, item, threads);
    return facts.Changes();
  }

  std::string scratch_, root_;
  FakeFileSystem fake_;
  Fd root_fd_;
};

// ---------------------------------------------------------------------------------------------
// RemoteItemFacts::Changes.

TEST_F(FactsTest, ATreeChangedLastWhereItsNewestMemberChanged) {
  MakeTree();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(chmod(Abs(kTree + std::string("/blocks/0/1")).c_str(), 0600), 0);  // newest ctime
  const Candidate item = Item(kTree, /*tree=*/true);
  const ChangeFacts changes = ChangesOf(item);
  EXPECT_THAT(changes.odd_members, IsEmpty());
  EXPECT_EQ(changes.mutable_members, 5u);
  EXPECT_EQ(changes.newest_change, Stat(kTree + std::string("/blocks/0/1")).ctime);
  EXPECT_GT(changes.newest_change, item.stat.ctime);
}

TEST_F(FactsTest, AFileChangedAtItsCtimeWithoutReadingAnything) {
  std::filesystem::create_directories(Abs("xo-vm-backups/vm1"));
  WriteFile(Abs("xo-vm-backups/vm1/20260101T000000Z.xva"), "xva");
  const Candidate item = Item("xo-vm-backups/vm1/20260101T000000Z.xva", /*tree=*/false);
  const int opens = fake_.Calls(Op::kOpen);
  const ChangeFacts changes = ChangesOf(item);
  EXPECT_EQ(changes.newest_change, item.stat.ctime);
  EXPECT_THAT(changes.odd_members, IsEmpty());
  EXPECT_EQ(changes.mutable_members, 0u);
  EXPECT_EQ(fake_.Calls(Op::kOpen), opens);
}

TEST_F(FactsTest, AMemberFolderThatCannotBeListedMakesTheTreeWait) {
  MakeTree();
  const Candidate item = Item(kTree, true);
  fake_.Fail(Op::kList, kTree + std::string("/blocks"), EIO);
  const int lists = fake_.Calls(Op::kList);
  const ChangeFacts changes = ChangesOf(item);
  EXPECT_EQ(changes.newest_change, absl::InfiniteFuture());
  EXPECT_THAT(changes.odd_members, IsEmpty());
  EXPECT_EQ(fake_.Calls(Op::kList) - lists, 2);  // the tree, then blocks (failed)
}

TEST_F(FactsTest, ATreeThatCannotBeListedMakesItWait) {
  MakeTree();
  const Candidate item = Item(kTree, true);
  fake_.Fail(Op::kList, kTree, EIO);  // the first listing is the tree's own
  const ChangeFacts changes = ChangesOf(item);
  EXPECT_EQ(changes.newest_change, absl::InfiniteFuture());
  EXPECT_THAT(changes.odd_members, IsEmpty());
  EXPECT_EQ(changes.mutable_members, 0u);
}

TEST_F(FactsTest, AMemberThatCannotBeExaminedMakesTheTreeWait) {
  MakeTree();
  const Candidate item = Item(kTree, true);
  fake_.Fail(Op::kStat, kTree + std::string("/blocks/0/0"), EIO);
  const ChangeFacts changes = ChangesOf(item);
  EXPECT_EQ(changes.newest_change, absl::InfiniteFuture());
  EXPECT_THAT(changes.odd_members, IsEmpty());
  EXPECT_THAT(changes.unexamined, AllOf(HasSubstr("/blocks/0/0"), HasSubstr("Input/output error")));
}

TEST_F(FactsTest, ATreeThatCannotBeOpenedWaits) {
  MakeTree();
  const Candidate item = Item(kTree, true);
  fake_.Fail(Op::kOpen, kTree, EACCES);
  const ChangeFacts changes = ChangesOf(item);
  EXPECT_THAT(changes.unexamined, HasSubstr("Permission denied"));
  EXPECT_EQ(changes.newest_change, absl::InfiniteFuture());
  EXPECT_THAT(changes.odd_members, IsEmpty());
  EXPECT_EQ(changes.mutable_members, 0u);
}

TEST_F(FactsTest, ATreeThatVanishedWaits) {
  MakeTree();
  const Candidate item = Item(kTree, true);
  std::filesystem::remove_all(Abs(kTree));
  const ChangeFacts changes = ChangesOf(item);
  EXPECT_EQ(changes.newest_change, absl::InfiniteFuture());
  EXPECT_EQ(changes.unexamined, "") << "gone: nothing to look at";
}

// Members that can never be locked are listed, not a reason to leave the whole tree unlocked; they
// are left out of the newest change and of the mutable members.
TEST_F(FactsTest, AFifoMemberIsListedAndTheRestCounts) {
  MakeTree();
  const std::string fifo = kTree + std::string("/blocks/0/fifo");
  ASSERT_EQ(mkfifo(Abs(fifo).c_str(), 0644), 0);
  const Candidate item = Item(kTree, true);
  const ChangeFacts changes = ChangesOf(item);
  EXPECT_THAT(changes.odd_members, ElementsAre(Odd(fifo, "a FIFO")));
  EXPECT_EQ(changes.mutable_members, 5u);
  EXPECT_LT(changes.newest_change, absl::InfiniteFuture());
  EXPECT_GE(changes.newest_change, item.stat.ctime);
}

TEST_F(FactsTest, AMemberWithTwoHardLinksIsListed) {
  MakeTree();
  const std::string bat = kTree + std::string("/bat");
  ASSERT_EQ(link(Abs(bat).c_str(), (scratch_ + "/bat.link").c_str()), 0);
  const ChangeFacts changes = ChangesOf(Item(kTree, true));
  EXPECT_THAT(changes.odd_members, ElementsAre(Odd(bat, "2 hard links")));
  EXPECT_EQ(changes.mutable_members, 4u);
}

TEST_F(FactsTest, EveryOddMemberIsListedAndTheWalkGoesOn) {
  MakeTree();
  const std::string t = kTree;
  ASSERT_EQ(symlink("/etc/passwd", Abs(t + "/link").c_str()), 0);
  ASSERT_EQ(mkfifo(Abs(t + "/blocks/fifo").c_str(), 0644), 0);
  ASSERT_EQ(link(Abs(t + "/blocks/0/1").c_str(), (scratch_ + "/other").c_str()), 0);
  // A symlinked folder is a member, never followed.
  std::filesystem::create_directories(scratch_ + "/outside");
  WriteFile(scratch_ + "/outside/file", "outside");
  ASSERT_EQ(symlink((scratch_ + "/outside").c_str(), Abs(t + "/blocks/dirlink").c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(chmod(Abs(t + "/blocks/0/0").c_str(), 0600), 0);  // the newest change
  for (int threads : {1, 3}) {  // a large tree's folders are shared between threads
    SCOPED_TRACE(threads);
    const ChangeFacts changes = ChangesOf(Item(kTree, true), threads);
    // In path order, however many threads found them.
    EXPECT_THAT(changes.odd_members, ::testing::ElementsAre(Odd(t + "/blocks/0/1", "2 hard links"),
                                                            Odd(t + "/blocks/dirlink", "a symlink"),
                                                            Odd(t + "/blocks/fifo", "a FIFO"),
                                                            Odd(t + "/link", "a symlink")));
    EXPECT_EQ(changes.mutable_members, 4u);  // bat, blocks, blocks/0, blocks/0/0
    EXPECT_EQ(changes.newest_change, Stat(t + "/blocks/0/0").ctime);
  }
}

TEST_F(FactsTest, ImmutableMembersAreLeftOutOfTheNewestChange) {
  MakeTree();
  const std::string bat = kTree + std::string("/bat");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(chmod(Abs(bat).c_str(), 0600), 0);  // as our own flag change would move its ctime
  fake_.SetImmutableByPath(Abs(bat), true);
  fake_.SetImmutableByPath(Abs(kTree + std::string("/blocks/0/0")), true);
  const Candidate item = Item(kTree, true);
  absl::Time expected = item.stat.ctime;
  for (const char* member : {"/blocks", "/blocks/0", "/blocks/0/1"}) {
    expected = std::max(expected, Stat(kTree + std::string(member)).ctime);
  }
  ASSERT_GT(Stat(bat).ctime, expected);
  for (int threads : {1, 3}) {
    SCOPED_TRACE(threads);
    const ChangeFacts changes = ChangesOf(item, threads);
    EXPECT_THAT(changes.odd_members, IsEmpty());
    EXPECT_EQ(changes.mutable_members, 3u);
    EXPECT_EQ(changes.newest_change, expected);
    EXPECT_EQ(changes.locked_members, 2u);
  }
}

TEST_F(FactsTest, AFullyLockedTreeHasNoMutableMember) {
  MakeTree();
  for (const auto& entry : std::filesystem::recursive_directory_iterator(Abs(kTree))) {
    fake_.SetImmutableByPath(entry.path().string(), true);
  }
  const Candidate item = Item(kTree, true);
  const ChangeFacts changes = ChangesOf(item);
  EXPECT_EQ(changes.mutable_members, 0u);
  EXPECT_EQ(changes.newest_change, item.stat.ctime);
}

// ---------------------------------------------------------------------------------------------
// RemoteItemFacts::Run.

TEST_F(FactsTest, AVhdDirectoryNamedByUuidBelongsToTheRunOfItsAlias) {
  const std::string tree = absl::StrCat(kVdi, "/data/0b1c2d3e-uuid.vhd");
  std::filesystem::create_directories(Abs(tree));
  WriteFile(Abs(absl::StrCat(kVdi, "/20260101T000000Z.alias.vhd")), "./data/0b1c2d3e-uuid.vhd\n");
  const Candidate item = Item(tree, true);
  RemoteRunFacts runs(fake_, root_fd_.get());
  RemoteItemFacts facts(fake_, root_fd_.get(), runs, item);
  const RunCheck before = facts.Run();
  EXPECT_FALSE(before.complete);
  EXPECT_EQ(before.marker, "xo-vm-backups/vm1/20260101T000000Z.json");
  WriteFile(Abs("xo-vm-backups/vm1/20260101T000000Z.json"), "{}");
  const RunCheck after = facts.Run();
  EXPECT_TRUE(after.complete);
  EXPECT_EQ(after.marker, "xo-vm-backups/vm1/20260101T000000Z.json");
}

// ---------------------------------------------------------------------------------------------
// RemoteRunFacts.

class RunFactsTest : public FactsTest {
 protected:
  void SetUp() override {
    FactsTest::SetUp();
    std::filesystem::create_directories(Abs(kVdi) + "/data");
    WriteFile(Alias("20260101T000000Z.alias.vhd"), "./data/x.vhd\n");
    WriteFile(Alias("20260102T000000Z.alias.vhd"), "data/y.vhd");
    WriteFile(Alias("20260103T000000Z.alias.vhd"), "  data/x.vhd  ");
    WriteFile(Alias(".20260104T000000Z.alias.vhd"), "data/x.vhd");  // XO's temporary file
    WriteFile(Alias("20260105T000000Z.vhd"), "data/x.vhd");         // not an alias
  }

  std::string Alias(const std::string& name) { return absl::StrCat(Abs(kVdi), "/", name); }
};

TEST_F(RunFactsTest, ReadsEachFolderOnceAndResolvesItsAliases) {
  RemoteRunFacts runs(fake_, root_fd_.get());
  const int lists = fake_.Calls(Op::kList);
  const int reads = fake_.Calls(Op::kRead);
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(runs.AliasesPointingAt(kVdi, "data/x.vhd"),
                ElementsAre("20260101T000000Z.alias.vhd", "20260103T000000Z.alias.vhd"));
  }
  EXPECT_THAT(runs.AliasesPointingAt(kVdi, "data/y.vhd"),
              ElementsAre("20260102T000000Z.alias.vhd"));
  EXPECT_THAT(runs.AliasesPointingAt(kVdi, "data/z.vhd"), IsEmpty());
  EXPECT_EQ(fake_.Calls(Op::kList) - lists, 1);
  EXPECT_EQ(fake_.Calls(Op::kRead) - reads, 3);  // the three aliases, once each

  // Another folder is read on its own, once too.
  const std::string other = "xo-vm-backups/vm1/vdis/job1/vdi2";
  std::filesystem::create_directories(Abs(other));
  WriteFile(Abs(other + "/20260101T000000Z.alias.vhd"), "data/x.vhd");
  EXPECT_THAT(runs.AliasesPointingAt(other, "data/x.vhd"),
              ElementsAre("20260101T000000Z.alias.vhd"));
  EXPECT_THAT(runs.AliasesPointingAt(other, "data/x.vhd"),
              ElementsAre("20260101T000000Z.alias.vhd"));
  EXPECT_EQ(fake_.Calls(Op::kList) - lists, 2);
  EXPECT_EQ(fake_.Calls(Op::kRead) - reads, 4);
}

// Only the folders asked about last are kept (a remote of thousands of VMs would otherwise hold
// every alias of every VM): one that was let go is read again, and still answers right.
TEST_F(RunFactsTest, AFolderLetGoIsReadAgainAndAnswersTheSame) {
  const std::string other = "xo-vm-backups/vm1/vdis/job1/vdi2";
  std::filesystem::create_directories(Abs(other));
  WriteFile(Abs(other + "/20260101T000000Z.alias.vhd"), "data/y.vhd");
  RemoteRunFacts runs(fake_, root_fd_.get(), /*folders_kept=*/1);
  const int lists = fake_.Calls(Op::kList);
  EXPECT_THAT(runs.AliasesPointingAt(kVdi, "data/y.vhd"),
              ElementsAre("20260102T000000Z.alias.vhd"));
  EXPECT_THAT(runs.AliasesPointingAt(kVdi, "data/y.vhd"),
              ElementsAre("20260102T000000Z.alias.vhd"));
  EXPECT_EQ(fake_.Calls(Op::kList) - lists, 1);
  EXPECT_THAT(runs.AliasesPointingAt(other, "data/y.vhd"),
              ElementsAre("20260101T000000Z.alias.vhd"));
  EXPECT_EQ(fake_.Calls(Op::kList) - lists, 2);
  EXPECT_THAT(runs.AliasesPointingAt(kVdi, "data/y.vhd"),
              ElementsAre("20260102T000000Z.alias.vhd"));
  EXPECT_EQ(fake_.Calls(Op::kList) - lists, 3);
}

TEST_F(RunFactsTest, AnUnreadableAliasIsSkippedAlone) {
  fake_.Fail(Op::kRead, "20260101T000000Z.alias.vhd", EIO);
  RemoteRunFacts runs(fake_, root_fd_.get());
  EXPECT_THAT(runs.AliasesPointingAt(kVdi, "data/x.vhd"),
              ElementsAre("20260103T000000Z.alias.vhd"));
  EXPECT_THAT(runs.AliasesPointingAt(kVdi, "data/y.vhd"),
              ElementsAre("20260102T000000Z.alias.vhd"));
}

TEST_F(RunFactsTest, AFolderThatCannotBeListedHasNoAliases) {
  fake_.Fail(Op::kList, kVdi, EIO);
  RemoteRunFacts runs(fake_, root_fd_.get());
  EXPECT_THAT(runs.AliasesPointingAt(kVdi, "data/x.vhd"), IsEmpty());
  EXPECT_EQ(fake_.Calls(Op::kRead), 0);
}

TEST_F(RunFactsTest, AMissingFolderHasNoAliases) {
  RemoteRunFacts runs(fake_, root_fd_.get());
  EXPECT_THAT(runs.AliasesPointingAt("xo-vm-backups/vm1/vdis/job1/missing", "data/x.vhd"),
              IsEmpty());
}

TEST_F(RunFactsTest, AMarkerExistsOnlyAsARegularFile) {
  RemoteRunFacts runs(fake_, root_fd_.get());
  EXPECT_FALSE(runs.MarkerExists("xo-vm-backups/vm1/20260101T000000Z.json"));
  WriteFile(Abs("xo-vm-backups/vm1/20260101T000000Z.json"), "{}");
  EXPECT_TRUE(runs.MarkerExists("xo-vm-backups/vm1/20260101T000000Z.json"));
  std::filesystem::create_directories(Abs("xo-vm-backups/vm1/20260102T000000Z.json"));
  EXPECT_FALSE(runs.MarkerExists("xo-vm-backups/vm1/20260102T000000Z.json"));
  fake_.Fail(Op::kStat, "20260101T000000Z.json", EIO);
  EXPECT_FALSE(runs.MarkerExists("xo-vm-backups/vm1/20260101T000000Z.json"));
}

// ---------------------------------------------------------------------------------------------
// RemoteRootFacts.

TEST_F(FactsTest, AnEmptyRootIsNotInitialised) {
  RemoteRootFacts facts(fake_, root_fd_.get());
  EXPECT_FALSE(facts.Initialised());
}

TEST_F(FactsTest, AnXoFolderMeansInitialised) {
  std::filesystem::create_directories(Abs("xo-vm-backups"));
  RemoteRootFacts facts(fake_, root_fd_.get());
  EXPECT_TRUE(facts.Initialised());
}

TEST_F(FactsTest, AFileNamedLikeAnXoFolderIsNotInitialised) {
  WriteFile(Abs("xo-vm-backups"), "");
  WriteFile(Abs("other"), "");
  RemoteRootFacts facts(fake_, root_fd_.get());
  EXPECT_FALSE(facts.Initialised());
}

TEST_F(FactsTest, AnEncryptionJsonMeansInitialised) {
  WriteFile(Abs("encryption.json"), "{}");
  RemoteRootFacts facts(fake_, root_fd_.get());
  EXPECT_TRUE(facts.Initialised());
}

TEST_F(FactsTest, RootFileStatShowsTheSimulatedFlag) {
  WriteFile(Abs("metadata.json"), "{}");
  fake_.SetImmutableByPath(Abs("metadata.json"), true);
  RemoteRootFacts facts(fake_, root_fd_.get());
  const std::optional<FileStat> st = facts.Stat("metadata.json");
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->is_regular());
  EXPECT_TRUE(st->immutable);
  EXPECT_EQ(facts.Stat("encryption.json"), std::nullopt);
}

TEST_F(FactsTest, MarkerContentIsReadAndNulloptOnEio) {
  RemoteRootFacts facts(fake_, root_fd_.get());
  EXPECT_EQ(facts.MarkerContent(), std::nullopt);  // missing
  WriteFile(Abs(kMarkerName), R"({"since":1,"immutable":true,"duration":2})");
  EXPECT_EQ(facts.MarkerContent(), R"({"since":1,"immutable":true,"duration":2})");
  fake_.Fail(Op::kRead, kMarkerName, EIO);
  EXPECT_EQ(facts.MarkerContent(), std::nullopt);
  EXPECT_EQ(facts.MarkerContent(), R"({"since":1,"immutable":true,"duration":2})");
}

// ---------------------------------------------------------------------------------------------
// RemoteUnreachedFacts.

TEST_F(FactsTest, StatBeneathSaysWhatTheRecordsPathHoldsNowAndOnlyStats) {
  std::filesystem::create_directories(Abs("old"));
  WriteFile(Abs("old/a.xva"), "xva");
  fake_.SetImmutableByPath(Abs("old/a.xva"), true);
  const FileStat st = Stat("old/a.xva");
  const int lists = fake_.Calls(Op::kList), reads = fake_.Calls(Op::kRead);
  RemoteUnreachedFacts facts(fake_, root_fd_.get());
  const std::optional<FileStat> now = facts.StatBeneath("old/a.xva");
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->ino, st.ino);
  EXPECT_EQ(now->birth, st.birth);
  EXPECT_TRUE(now->immutable);
  const std::optional<FileStat> folder = facts.StatBeneath("old");
  ASSERT_TRUE(folder.has_value());
  EXPECT_TRUE(folder->is_dir());
  EXPECT_EQ(fake_.Calls(Op::kList), lists);
  EXPECT_EQ(fake_.Calls(Op::kRead), reads);
}

TEST_F(FactsTest, StatBeneathIsNulloptWhenTheStatFails) {
  std::filesystem::create_directories(Abs("old"));
  WriteFile(Abs("old/a.xva"), "xva");
  RemoteUnreachedFacts facts(fake_, root_fd_.get());
  fake_.Fail(Op::kStat, "old/a.xva", EIO);
  EXPECT_EQ(facts.StatBeneath("old/a.xva"), std::nullopt);
  EXPECT_TRUE(facts.StatBeneath("old/a.xva").has_value());
}

TEST_F(FactsTest, StatBeneathNeverLeavesTheRemote) {
  std::filesystem::create_directories(scratch_ + "/outside");
  WriteFile(scratch_ + "/outside/a.xva", "outside");
  RemoteUnreachedFacts facts(fake_, root_fd_.get());
  EXPECT_EQ(facts.StatBeneath("../outside/a.xva"), std::nullopt);
  EXPECT_EQ(facts.StatBeneath(scratch_ + "/outside/a.xva"), std::nullopt);
}

TEST_F(FactsTest, StatBeneathNeverFollowsASymlink) {
  std::filesystem::create_directories(Abs("old"));
  WriteFile(Abs("old/a.xva"), "xva");
  ASSERT_EQ(symlink(Abs("old").c_str(), Abs("link").c_str()), 0);
  ASSERT_EQ(symlink(Abs("old/a.xva").c_str(), Abs("old/b.xva").c_str()), 0);
  RemoteUnreachedFacts facts(fake_, root_fd_.get());
  const std::optional<FileStat> file = facts.StatBeneath("old/a.xva");
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(facts.StatBeneath("link/a.xva"), std::nullopt);  // a symlinked folder
  // A symlink at the end is not followed: O_PATH | O_NOFOLLOW gives the link itself, which no
  // index record's identity matches.
  const std::optional<FileStat> link = facts.StatBeneath("old/b.xva");
  ASSERT_TRUE(link.has_value());
  EXPECT_TRUE(link->is_symlink());
  EXPECT_NE(link->ino, file->ino);
}

TEST_F(FactsTest, StatBeneathIsNulloptForAMissingPath) {
  std::filesystem::create_directories(Abs("old"));
  WriteFile(Abs("old/a.xva"), "xva");
  RemoteUnreachedFacts facts(fake_, root_fd_.get());
  EXPECT_EQ(facts.StatBeneath("old/missing.xva"), std::nullopt);
  fake_.Fail(Op::kOpen, "old/a.xva", ENOENT);  // vanishes between the listing and the open
  EXPECT_EQ(facts.StatBeneath("old/a.xva"), std::nullopt);
  EXPECT_TRUE(facts.StatBeneath("old/a.xva").has_value());
}

// ---------------------------------------------------------------------------------------------
// GatherSweepFacts.

class SweepFactsTest : public FactsTest {
 protected:
  void SetUp() override {
    FactsTest::SetUp();
    auto globs = GlobSet::Compile(GlobSet::DefaultPatterns());
    ASSERT_TRUE(globs.ok()) << globs.status();
    globs_ = std::make_unique<GlobSet>(*std::move(globs));
    auto index = Index::Open(fake_, scratch_ + "/index/r1", root_, /*create=*/true);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = *std::move(index);
  }

  IndexRecord RecordFor(const std::string& recorded_path, const FileStat& st, bool tree) {
    return RecordOf(recorded_path, st, tree, st.ctime);
  }

  SweepFacts Gather(uint64_t* seen, std::vector<Problem>* errors) {
    return GatherSweepFacts(fake_, root_fd_.get(), Stat(kVdi).dev, *index_, *globs_, seen, errors);
  }

  std::unique_ptr<GlobSet> globs_;
  std::unique_ptr<Index> index_;
};

TEST_F(SweepFactsTest, FindsRecordsByIdentityAndTheLockedInodesNoGlobReaches) {
  MakeTree();
  // A backup moved out of the globs' reach (its mutable parent renamed), and still locked.
  const std::string xva = "xo-vm-backups/vm2/20260101T000000Z.xva";
  std::filesystem::create_directories(Abs("xo-vm-backups/vm2"));
  WriteFile(Abs(xva), "xva");
  fake_.SetImmutableByPath(Abs(xva), true);
  index_->Put(RecordFor(xva, Stat(xva), false));
  std::filesystem::rename(Abs("xo-vm-backups/vm2"), Abs("moved"));
  // Locked by someone else, unknown to the index, out of reach.
  WriteFile(Abs("stray.bin"), "stray");
  fake_.SetImmutableByPath(Abs("stray.bin"), true);
  // A locked tree the globs reach: neither it nor its members are reported.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(Abs(kTree))) {
    fake_.SetImmutableByPath(entry.path().string(), true);
  }
  fake_.SetImmutableByPath(Abs(kTree), true);
  index_->Put(RecordFor(kTree, Stat(kTree), true));
  // A record whose inode exists nowhere.
  FileStat gone;
  gone.ino = 987654321;
  gone.birth = absl::FromUnixSeconds(1767225600);
  index_->Put(RecordFor("xo-vm-backups/vm9/gone.xva", gone, false));

  uint64_t seen = 0;
  std::vector<Problem> errors;
  const SweepFacts facts = Gather(&seen, &errors);
  EXPECT_THAT(errors, IsEmpty());
  ASSERT_EQ(facts.indexed.size(), 3u);
  for (const SweptRecord& swept : facts.indexed) {
    SCOPED_TRACE(swept.record.path);
    EXPECT_EQ(swept.found, swept.record.ino != 987654321u);
  }
  std::vector<std::string> unreached;
  for (const LockedInode& locked : facts.unreached) unreached.push_back(locked.path);
  EXPECT_THAT(unreached, ElementsAre("moved/20260101T000000Z.xva", "stray.bin"));  // sorted
  EXPECT_GE(seen, 10u);
}

TEST_F(SweepFactsTest, AFolderThatCannotBeListedIsAProblemAndTheWalkGoesOn) {
  MakeTree();
  std::filesystem::create_directories(Abs("other"));
  WriteFile(Abs("other/locked"), "x");
  fake_.SetImmutableByPath(Abs("other/locked"), true);
  fake_.Fail(Op::kList, kVdi, EIO);
  uint64_t seen = 0;
  std::vector<Problem> errors;
  const SweepFacts facts = Gather(&seen, &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, kVdi);
  EXPECT_THAT(errors[0].message, HasSubstr("Input/output error"));
  ASSERT_EQ(facts.unreached.size(), 1u);
  EXPECT_EQ(facts.unreached[0].path, "other/locked");
}

}  // namespace
}  // namespace xoi
