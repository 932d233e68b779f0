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
#include "lib/core/expiry.h"
#include "lib/core/index_entry.h"
#include "lib/core/rules.h"
#include "lib/core/status.h"
#include "lib/core/xo_layout.h"
#include "lib/fs/fake_file_system.h"
#include "lib/fs/index.h"

namespace xoi {
namespace {

using ::testing::ElementsAre;
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
    auto index = Index::Open(fake_, scratch_ + "/index", "r1", /*create=*/true);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = *std::move(index);
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

  ChangeFacts ChangesOf(const Candidate& item) {
    RemoteRunFacts runs(fake_, root_fd_.get());
    const absl::CivilDay day = CreationDay(item.stat.birth);
    const std::string name = IndexEntryName(Abs(item.path));
    RemoteItemFacts facts(fake_, root_fd_.get(), *index_, runs, item, day, name);
    return facts.Changes();
  }

  std::string scratch_, root_;
  FakeFileSystem fake_;
  Fd root_fd_;
  std::unique_ptr<Index> index_;
};

// ---------------------------------------------------------------------------------------------
// RemoteItemFacts::Changes.

TEST_F(FactsTest, ATreeChangedLastWhereItsNewestMemberChanged) {
  MakeTree();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(chmod(Abs(kTree + std::string("/blocks/0/1")).c_str(), 0600), 0);  // newest ctime
  const Candidate item = Item(kTree, /*tree=*/true);
  const ChangeFacts changes = ChangesOf(item);
  EXPECT_EQ(changes.refusal, "");
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
  EXPECT_EQ(changes.refusal, "");
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
  EXPECT_EQ(changes.refusal, "");
  EXPECT_EQ(fake_.Calls(Op::kList) - lists, 2);  // the tree, then blocks (failed)
}

TEST_F(FactsTest, ATreeThatCannotBeListedMakesItWait) {
  MakeTree();
  const Candidate item = Item(kTree, true);
  fake_.Fail(Op::kList, kTree, EIO);  // the first listing is the tree's own
  const ChangeFacts changes = ChangesOf(item);
  EXPECT_EQ(changes.newest_change, absl::InfiniteFuture());
  EXPECT_EQ(changes.refusal, "");
  EXPECT_EQ(changes.mutable_members, 0u);
}

TEST_F(FactsTest, AMemberThatCannotBeExaminedMakesTheTreeWait) {
  MakeTree();
  const Candidate item = Item(kTree, true);
  fake_.Fail(Op::kStat, kTree + std::string("/blocks/0/0"), EIO);
  const ChangeFacts changes = ChangesOf(item);
  EXPECT_EQ(changes.newest_change, absl::InfiniteFuture());
  EXPECT_EQ(changes.refusal, "");
}

TEST_F(FactsTest, ATreeThatCannotBeOpenedIsRefusedWithTheReason) {
  MakeTree();
  const Candidate item = Item(kTree, true);
  fake_.Fail(Op::kOpen, kTree, EACCES);
  const ChangeFacts changes = ChangesOf(item);
  EXPECT_EQ(changes.refusal,
            absl::StrCat("cannot open: injected fault in ", kTree, ": Permission denied"));
}

TEST_F(FactsTest, AFifoMemberIsRefusedByName) {
  MakeTree();
  ASSERT_EQ(mkfifo(Abs(kTree + std::string("/blocks/0/fifo")).c_str(), 0644), 0);
  const ChangeFacts changes = ChangesOf(Item(kTree, true));
  EXPECT_EQ(changes.refusal, absl::StrCat(kTree, "/blocks/0/fifo is a FIFO"));
}

TEST_F(FactsTest, AMemberWithTwoHardLinksIsRefused) {
  MakeTree();
  ASSERT_EQ(link(Abs(kTree + std::string("/bat")).c_str(), (scratch_ + "/bat.link").c_str()), 0);
  const ChangeFacts changes = ChangesOf(Item(kTree, true));
  EXPECT_EQ(changes.refusal, absl::StrCat(kTree, "/bat has 2 hard links"));
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
  const ChangeFacts changes = ChangesOf(item);
  EXPECT_EQ(changes.refusal, "");
  EXPECT_EQ(changes.mutable_members, 3u);
  EXPECT_EQ(changes.newest_change, expected);
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
// RemoteItemFacts::IndexedSameIdentity and Run.

TEST_F(FactsTest, IndexedSameIdentityComparesInodeAndBirth) {
  MakeTree();
  const Candidate item = Item(kTree, true);
  const absl::CivilDay day = CreationDay(item.stat.birth);
  const std::string name = IndexEntryName(Abs(kTree));
  RemoteRunFacts runs(fake_, root_fd_.get());
  RemoteItemFacts facts(fake_, root_fd_.get(), *index_, runs, item, day, name);
  EXPECT_FALSE(facts.IndexedSameIdentity());  // no entry
  IndexEntry entry{Abs(kTree), true, item.stat.dev, item.stat.ino, item.stat.birth, true};
  ASSERT_TRUE(index_->Put(day, entry).ok());
  EXPECT_TRUE(facts.IndexedSameIdentity());
  fake_.Fail(Op::kRead, name, EIO);
  EXPECT_FALSE(facts.IndexedSameIdentity());
  entry.ino += 1;
  ASSERT_TRUE(index_->Put(day, entry).ok());
  EXPECT_FALSE(facts.IndexedSameIdentity());
}

TEST_F(FactsTest, AVhdDirectoryNamedByUuidBelongsToTheRunOfItsAlias) {
  const std::string tree = absl::StrCat(kVdi, "/data/0b1c2d3e-uuid.vhd");
  std::filesystem::create_directories(Abs(tree));
  WriteFile(Abs(absl::StrCat(kVdi, "/20260101T000000Z.alias.vhd")), "./data/0b1c2d3e-uuid.vhd\n");
  const Candidate item = Item(tree, true);
  RemoteRunFacts runs(fake_, root_fd_.get());
  const std::string name = IndexEntryName(Abs(tree));
  RemoteItemFacts facts(fake_, root_fd_.get(), *index_, runs, item, CreationDay(item.stat.birth),
                        name);
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

TEST_F(FactsTest, UnreachedEntryAndWhatItsPathHoldsNow) {
  std::filesystem::create_directories(Abs("old"));
  WriteFile(Abs("old/a.xva"), "xva");
  fake_.SetImmutableByPath(Abs("old/a.xva"), true);
  const FileStat st = Stat("old/a.xva");
  const IndexEntry entry{Abs("old/a.xva"), true, st.dev, st.ino, st.birth, false};
  const absl::CivilDay day = CreationDay(st.birth);
  ASSERT_TRUE(index_->Put(day, entry).ok());
  const IndexKey key{day, IndexEntryName(entry.path)};
  RemoteUnreachedFacts facts(fake_, root_fd_.get(), *index_, key);
  auto read = facts.Entry();
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, entry);
  const std::optional<FileStat> now = facts.StatBeneath("old/a.xva");
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->ino, st.ino);
  EXPECT_TRUE(now->immutable);
}

TEST_F(FactsTest, UnreachedEntryThatCannotBeReadIsAnError) {
  const IndexKey key{absl::CivilDay(2026, 1, 1), IndexEntryName(Abs("old/a.xva"))};
  ASSERT_TRUE(index_->Put(key.day, IndexEntry{Abs("old/a.xva")}).ok());
  fake_.Fail(Op::kRead, key.name, EIO);
  RemoteUnreachedFacts facts(fake_, root_fd_.get(), *index_, key);
  auto read = facts.Entry();
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(ErrnoOf(read.status()), EIO);
}

TEST_F(FactsTest, StatBeneathNeverFollowsASymlink) {
  std::filesystem::create_directories(Abs("old"));
  WriteFile(Abs("old/a.xva"), "xva");
  ASSERT_EQ(symlink(Abs("old").c_str(), Abs("link").c_str()), 0);
  ASSERT_EQ(symlink(Abs("old/a.xva").c_str(), Abs("old/b.xva").c_str()), 0);
  const IndexKey key{absl::CivilDay(2026, 1, 1), "unused"};
  RemoteUnreachedFacts facts(fake_, root_fd_.get(), *index_, key);
  const std::optional<FileStat> file = facts.StatBeneath("old/a.xva");
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(facts.StatBeneath("link/a.xva"), std::nullopt);  // a symlinked folder
  // A symlink at the end is not followed: O_PATH | O_NOFOLLOW gives the link itself, which no
  // index entry's identity matches.
  const std::optional<FileStat> link = facts.StatBeneath("old/b.xva");
  ASSERT_TRUE(link.has_value());
  EXPECT_TRUE(link->is_symlink());
  EXPECT_NE(link->ino, file->ino);
}

TEST_F(FactsTest, StatBeneathIsNulloptForAMissingPath) {
  std::filesystem::create_directories(Abs("old"));
  WriteFile(Abs("old/a.xva"), "xva");
  const IndexKey key{absl::CivilDay(2026, 1, 1), "unused"};
  RemoteUnreachedFacts facts(fake_, root_fd_.get(), *index_, key);
  EXPECT_EQ(facts.StatBeneath("old/missing.xva"), std::nullopt);
  fake_.Fail(Op::kOpen, "old/a.xva", ENOENT);  // vanishes between the listing and the open
  EXPECT_EQ(facts.StatBeneath("old/a.xva"), std::nullopt);
  EXPECT_TRUE(facts.StatBeneath("old/a.xva").has_value());
}

}  // namespace
}  // namespace xoi
