// The index: records in memory, one day file per reference day, Flush, damaged day files kept
// aside, and the migration of the previous format (one file per item in day folders). Runs over a
// FakeFileSystem (no root needed) so that calls can be counted and failed.
#include "lib/fs/index.h"

#include <openssl/sha.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/core/expiry.h"
#include "lib/core/index_entry.h"
#include "lib/core/index_record.h"
#include "lib/core/plan.h"
#include "lib/core/status.h"
#include "lib/fs/fake_file_system.h"
#include "lib/fs/index_testing.h"

namespace xoi {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;
using Op = FakeFileSystem::Op;

constexpr char kRoot[] = "/srv/remote-a";
// 2026-11-01T01:00:00Z and two days later: references are kept to the second.
const absl::Time kDay1 =
    absl::FromCivil(absl::CivilSecond(2026, 11, 1, 1, 0, 0), absl::UTCTimeZone());
const absl::Time kDay3 = kDay1 + absl::Hours(48);

IndexRecord Record(std::string path, uint64_t ino, absl::Time reference, bool tree = false) {
  IndexRecord r;
  r.path = std::move(path);
  r.dev = 0x803;
  r.ino = ino;
  // Birth times keep their nanoseconds.
  r.birth = reference - absl::Hours(2) + absl::Nanoseconds(ino * 1000 + 7);
  r.tree = tree;
  r.reference = reference;
  if (tree) r.locked_at = reference - absl::Minutes(30);
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

void WriteFile(const std::string& path, absl::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  if (!std::filesystem::exists(dir)) return names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A day file's checksum line for `text` (everything above it), as index_record.cc makes it.
std::string EndLine(absl::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  const std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
  return absl::StrCat("end\t", hex.substr(0, 16), "\n");
}

class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr);
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    scratch_ = absl::StrCat(tmp, "/index_test/", info->name());
    std::filesystem::remove_all(scratch_);
    std::filesystem::create_directories(scratch_);
    dir_ = scratch_ + "/var/lib/xoi/remote-1";
  }

  std::unique_ptr<Index> MustOpen(bool create) {
    absl::StatusOr<std::unique_ptr<Index>> index = Index::Open(fake_, dir_, kRoot, create);
    EXPECT_TRUE(index.ok()) << index.status();
    return index.ok() ? *std::move(index) : nullptr;
  }

  // Writes `records` through an index opened with create, and flushes.
  void Seed(const std::vector<IndexRecord>& records) {
    std::unique_ptr<Index> index = MustOpen(/*create=*/true);
    ASSERT_NE(index, nullptr);
    for (const IndexRecord& r : records) index->Put(r);
    ASSERT_TRUE(index->Flush().ok());
  }

  std::string DayFile(absl::Time reference) {
    return absl::StrCat(dir_, "/", DayFileName(CreationDay(reference)));
  }

  // Every call the fake counts, to tell "no system call" apart.
  int AllCalls() {
    int total = 0;
    for (Op op : {Op::kStat, Op::kOpen, Op::kList, Op::kRead, Op::kSetFlag, Op::kGetFlags,
                  Op::kLease, Op::kWrite, Op::kMakeDir, Op::kUnlink, Op::kSync}) {
      total += fake_.Calls(op);
    }
    return total;
  }

  std::string scratch_, dir_;
  FakeFileSystem fake_;
};

// ---------------------------------------------------------------------------------------------
// Opening.

TEST_F(IndexTest, OpenWithoutCreateOnAMissingFolderIsEmptyAndWritesNothing) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/false);
  ASSERT_NE(index, nullptr);
  EXPECT_THAT(AllRecords(*index), IsEmpty());
  EXPECT_THAT(index->notices(), IsEmpty());
  EXPECT_EQ(index->protected_count(), 0u);
  EXPECT_EQ(index->dir_path(), dir_);
  EXPECT_THAT(Listing(scratch_), IsEmpty());
  EXPECT_TRUE(index->Flush().ok());  // nothing to write
  // Writes are refused, not silently dropped.
  index->Put(Record("a.xva", 1, kDay1));
  EXPECT_NE(index->Find(Record("a.xva", 1, kDay1).identity()), nullptr);
  const absl::Status flushed = index->Flush();
  EXPECT_EQ(flushed.code(), absl::StatusCode::kFailedPrecondition) << flushed;
  EXPECT_THAT(Listing(scratch_), IsEmpty());
  EXPECT_EQ(fake_.Calls(Op::kWrite) + fake_.Calls(Op::kMakeDir) + fake_.Calls(Op::kUnlink), 0);
}

TEST_F(IndexTest, OpenWithCreateMakesEachMissingFolder0700) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  for (const std::string& dir :
       {scratch_ + "/var", scratch_ + "/var/lib", scratch_ + "/var/lib/xoi", dir_}) {
    SCOPED_TRACE(dir);
    struct stat st;
    ASSERT_EQ(lstat(dir.c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0700u);
  }
  EXPECT_THAT(Listing(dir_), IsEmpty());
  EXPECT_NE(MustOpen(/*create=*/true), nullptr);  // again, everything exists
}

TEST_F(IndexTest, AnIndexFolderThatCannotBeOpenedIsAnError) {
  ASSERT_NE(MustOpen(/*create=*/true), nullptr);
  fake_.Fail(Op::kOpen, dir_, EACCES);
  auto index = Index::Open(fake_, dir_, kRoot, /*create=*/false);
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(ErrnoOf(index.status()), EACCES);
  EXPECT_THAT(std::string(index.status().message()), HasSubstr(dir_));
}

TEST_F(IndexTest, AFolderThatCannotBeListedIsAnError) {
  Seed({Record("a.xva", 1, kDay1)});
  fake_.Fail(Op::kList, dir_, EIO);
  auto index = Index::Open(fake_, dir_, kRoot, /*create=*/true);
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(ErrnoOf(index.status()), EIO);
}

// ---------------------------------------------------------------------------------------------
// Records in memory.

TEST_F(IndexTest, PutFindRemoveByIdentity) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  const IndexRecord a = Record("xo-vm-backups/vm/a.xva", 11, kDay1);
  const IndexRecord b = Record("xo-vm-backups/vm/b.vhd", 12, kDay1, /*tree=*/true);
  index->Put(a);
  index->Put(b);
  ASSERT_NE(index->Find(a.identity()), nullptr);
  EXPECT_EQ(FindRecord(*index, a.identity()), a);
  ASSERT_NE(index->Find(b.identity()), nullptr);
  EXPECT_EQ(FindRecord(*index, b.identity()), b);
  EXPECT_EQ(AllRecords(*index).size(), 2u);
  // The same inode number with another birth time is another inode.
  EXPECT_EQ(index->Find(Identity{a.ino, absl::ToUnixNanos(a.birth) + 1}), nullptr);
  EXPECT_EQ(index->Find(Identity{a.ino + 100, absl::ToUnixNanos(a.birth)}), nullptr);

  // Put of the same identity replaces, whatever the path.
  IndexRecord moved = a;
  moved.path = "xo-vm-backups/elsewhere/a.xva";
  index->Put(moved);
  EXPECT_EQ(AllRecords(*index).size(), 2u);
  EXPECT_EQ(FindRecord(*index, a.identity())->path, "xo-vm-backups/elsewhere/a.xva");

  index->Remove(a.identity());
  EXPECT_EQ(index->Find(a.identity()), nullptr);
  ASSERT_NE(index->Find(b.identity()), nullptr);  // positions moved; lookups still right
  EXPECT_EQ(FindRecord(*index, b.identity()), b);
  EXPECT_THAT(AllRecords(*index), ElementsAre(b));
  index->Remove(a.identity());  // nothing there: nothing happens
  EXPECT_EQ(AllRecords(*index).size(), 1u);
}

TEST_F(IndexTest, RemovingKeepsEveryOtherRecordFindable) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  std::vector<IndexRecord> all;
  for (uint64_t ino = 1; ino <= 20; ++ino) {
    all.push_back(Record(absl::StrCat("f", ino), ino, kDay1 + absl::Hours(ino)));
    index->Put(all.back());
  }
  for (uint64_t ino : {1, 20, 7, 8, 13}) index->Remove(all[ino - 1].identity());
  EXPECT_EQ(AllRecords(*index).size(), 15u);
  for (const IndexRecord& r : all) {
    const bool removed = r.ino == 1 || r.ino == 20 || r.ino == 7 || r.ino == 8 || r.ino == 13;
    const std::optional<IndexRecord> found = FindRecord(*index, r.identity());
    if (removed) {
      EXPECT_EQ(found, std::nullopt) << r.path;
    } else {
      ASSERT_NE(found, std::nullopt) << r.path;
      EXPECT_EQ(*found, r);
    }
  }
}

TEST_F(IndexTest, ProtectedCountLeavesOutLiftedRecords) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  IndexRecord lifted = Record("c.xva", 3, kDay1);
  lifted.lifted = true;
  index->Put(Record("a.xva", 1, kDay1));
  index->Put(Record("b.vhd", 2, kDay3, /*tree=*/true));
  index->Put(lifted);
  EXPECT_EQ(index->protected_count(), 2u);
  IndexRecord now_lifted = Record("a.xva", 1, kDay1);
  now_lifted.lifted = true;
  index->Put(now_lifted);
  EXPECT_EQ(index->protected_count(), 1u);
  EXPECT_EQ(AllRecords(*index).size(), 3u);
}

TEST_F(IndexTest, TwoRecordsWithTheSamePathAndDifferentIdentitiesBothSurvive) {
  // The path was reused by another inode (XO wrote a new backup under the old name after the old
  // one was removed): both records are kept, on the same day file.
  const IndexRecord old_inode = Record("xo-vm-backups/vm/a.xva", 1, kDay1);
  IndexRecord new_inode = Record("xo-vm-backups/vm/a.xva", 2, kDay1 + absl::Hours(3));
  IndexRecord same_ino_other_birth = old_inode;
  same_ino_other_birth.birth += absl::Seconds(5);  // inode number reused
  Seed({old_inode, new_inode, same_ino_other_birth});
  for (bool create : {false, true}) {
    SCOPED_TRACE(create);
    std::unique_ptr<Index> index = MustOpen(create);
    ASSERT_NE(index, nullptr);
    EXPECT_THAT(index->notices(), IsEmpty());
    EXPECT_THAT(AllRecords(*index),
                UnorderedElementsAre(old_inode, new_inode, same_ino_other_birth));
  }
  EXPECT_THAT(Listing(dir_), ElementsAre(DayFileName(CreationDay(kDay1))));
}

// ---------------------------------------------------------------------------------------------
// Day files.

TEST_F(IndexTest, FlushWritesOneFilePerReferenceDay) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  const IndexRecord a = Record("xo-vm-backups/vm/a.xva", 1, kDay1);
  const IndexRecord b = Record("xo-vm-backups/vm/b.vhd", 2, kDay1 + absl::Hours(20), true);
  const IndexRecord c = Record("xo-vm-backups/vm/c.xva", 3, kDay3);
  for (const IndexRecord& r : {a, b, c}) index->Put(r);
  EXPECT_THAT(Listing(dir_), IsEmpty());  // in memory until flushed
  const int writes = fake_.Calls(Op::kWrite), syncs = fake_.Calls(Op::kSync);
  ASSERT_TRUE(index->Flush().ok());
  EXPECT_EQ(fake_.Calls(Op::kWrite) - writes, 2);
  EXPECT_EQ(fake_.Calls(Op::kSync) - syncs, 1);  // one syncfs for every file
  EXPECT_THAT(Listing(dir_), ElementsAre("2026-11-01.idx", "2026-11-03.idx"));

  const std::string day1 = ReadFile(dir_ + "/2026-11-01.idx");
  EXPECT_THAT(day1, AllOf(HasSubstr("xo-immutable-index 3 2026-11-01 2\n"),
                          HasSubstr("xo-vm-backups/vm/a.xva"), HasSubstr("b.vhd"),
                          Not(HasSubstr("c.xva"))));
  auto decoded = DecodeDayFile(absl::CivilDay(2026, 11, 1), day1);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(*decoded, ElementsAre(a, b));
  auto decoded3 = DecodeDayFile(absl::CivilDay(2026, 11, 3), ReadFile(dir_ + "/2026-11-03.idx"));
  ASSERT_TRUE(decoded3.ok()) << decoded3.status();
  EXPECT_THAT(*decoded3, ElementsAre(c));
  struct stat st;
  ASSERT_EQ(lstat((dir_ + "/2026-11-01.idx").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(IndexTest, FlushWithNothingChangedMakesNoSystemCall) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  index->Put(Record("a.xva", 1, kDay1));
  ASSERT_TRUE(index->Flush().ok());
  const int calls = AllCalls();
  ASSERT_TRUE(index->Flush().ok());
  EXPECT_EQ(AllCalls(), calls);
  // Nor after reopening: loading writes nothing, and flushing what was loaded neither.
  std::unique_ptr<Index> reopened = MustOpen(/*create=*/true);
  ASSERT_NE(reopened, nullptr);
  const int writes = fake_.Calls(Op::kWrite), unlinks = fake_.Calls(Op::kUnlink);
  const int after_open = AllCalls();
  ASSERT_TRUE(reopened->Flush().ok());
  EXPECT_EQ(AllCalls(), after_open);
  EXPECT_EQ(fake_.Calls(Op::kWrite), writes);
  EXPECT_EQ(fake_.Calls(Op::kUnlink), unlinks);
}

TEST_F(IndexTest, FlushRewritesOnlyTheDaysThatChanged) {
  const IndexRecord a = Record("a.xva", 1, kDay1);
  const IndexRecord c = Record("c.xva", 3, kDay3);
  Seed({a, c});
  struct stat day1_before, day3_before;
  ASSERT_EQ(lstat(DayFile(kDay1).c_str(), &day1_before), 0);
  ASSERT_EQ(lstat(DayFile(kDay3).c_str(), &day3_before), 0);
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  IndexRecord lifted = a;
  lifted.lifted = true;
  index->Put(lifted);
  const int writes = fake_.Calls(Op::kWrite);
  ASSERT_TRUE(index->Flush().ok());
  EXPECT_EQ(fake_.Calls(Op::kWrite) - writes, 1);
  struct stat day1_after, day3_after;
  ASSERT_EQ(lstat(DayFile(kDay1).c_str(), &day1_after), 0);
  ASSERT_EQ(lstat(DayFile(kDay3).c_str(), &day3_after), 0);
  EXPECT_NE(day1_after.st_ino, day1_before.st_ino);  // replaced by rename
  EXPECT_EQ(day3_after.st_ino, day3_before.st_ino);  // untouched
  EXPECT_EQ(day3_after.st_mtim.tv_nsec, day3_before.st_mtim.tv_nsec);
  EXPECT_THAT(ReadFile(DayFile(kDay1)), HasSubstr("L\tf\t"));
}

// A day is rewritten by merging its file, read as a stream, with the run's changes of it (never
// holding the day): new records between old ones, a path reused by another inode, an old record
// replaced, and one moved to another day, all land where a whole sort would put them.
TEST_F(IndexTest, ADayIsRewrittenByMergingItsFileWithTheChanges) {
  std::vector<IndexRecord> old;
  for (int i = 0; i < 500; i += 2) {
    old.push_back(Record(absl::StrCat("vm/", 1000 + i, ".xva"), 10000 + i, kDay1));
  }
  Seed(old);
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  std::vector<IndexRecord> want(old.begin(), old.end());
  for (int i = 1; i < 500; i += 10) {  // between old ones, and past the last
    want.push_back(Record(absl::StrCat("vm/", 1000 + i, ".xva"), 20000 + i, kDay1));
    index->Put(want.back());
  }
  want.push_back(Record("vm/1600.xva", 30000, kDay1));
  index->Put(want.back());
  want.push_back(Record("vm/1000.xva", 1, kDay1));  // the first path, reused: sorts before
  index->Put(want.back());
  want[4].lifted = true;  // replaced in place
  index->Put(want[4]);
  IndexRecord moved = want[6];  // to another day
  want.erase(want.begin() + 6);
  moved.reference = kDay3;
  index->Put(moved);
  want.push_back(moved);
  ASSERT_TRUE(index->Flush().ok());
  std::unique_ptr<Index> reopened = MustOpen(/*create=*/false);
  ASSERT_NE(reopened, nullptr);
  std::sort(want.begin(), want.end(), [](const IndexRecord& a, const IndexRecord& b) {
    return std::tie(a.path, a.ino, a.birth) < std::tie(b.path, b.ino, b.birth);
  });
  EXPECT_EQ(AllRecords(*reopened), want);
  EXPECT_THAT(Listing(dir_), ElementsAre("2026-11-01.idx", "2026-11-03.idx"));
}

TEST_F(IndexTest, ADayThatBecomesEmptyHasItsFileRemoved) {
  const IndexRecord a = Record("a.xva", 1, kDay1);
  const IndexRecord b = Record("b.xva", 2, kDay1);
  const IndexRecord c = Record("c.xva", 3, kDay3);
  Seed({a, b, c});
  ASSERT_THAT(Listing(dir_), ElementsAre("2026-11-01.idx", "2026-11-03.idx"));
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  index->Remove(a.identity());
  ASSERT_TRUE(index->Flush().ok());
  EXPECT_THAT(Listing(dir_), ElementsAre("2026-11-01.idx", "2026-11-03.idx"));
  index->Remove(b.identity());
  ASSERT_TRUE(index->Flush().ok());
  EXPECT_THAT(Listing(dir_), ElementsAre("2026-11-03.idx"));
  std::unique_ptr<Index> reopened = MustOpen(/*create=*/false);
  ASSERT_NE(reopened, nullptr);
  EXPECT_THAT(AllRecords(*reopened), ElementsAre(c));
}

TEST_F(IndexTest, ARecordPutAndRemovedBeforeAFlushLeavesNoFile) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  const IndexRecord a = Record("a.xva", 1, kDay1);
  index->Put(a);
  index->Remove(a.identity());
  ASSERT_TRUE(index->Flush().ok());
  EXPECT_THAT(Listing(dir_), IsEmpty());
}

TEST_F(IndexTest, ReopeningLoadsEveryRecord) {
  std::vector<IndexRecord> all = {
      Record("xo-vm-backups/vm/a.xva", 1, kDay1),
      Record("xo-vm-backups/vm/vdis/j/v/data/b.vhd", 2, kDay1 + absl::Hours(5), /*tree=*/true),
      Record("xo-vm-backups/vm/c.xva", 3, kDay3),
      // Names are bytes: tabs, newlines, '%' and non-ASCII survive.
      Record("xo-vm-backups/vm/odd\tname\n%41 \xc3\xa9.xva", 4, kDay3),
  };
  IndexRecord lifted = Record("xo-vm-backups/vm/d.vhd", 5, kDay3, /*tree=*/true);
  lifted.lifted = true;
  all.push_back(lifted);
  IndexRecord adopted = Record("xo-vm-backups/vm/e.vhd", 6, kDay3, /*tree=*/true);
  adopted.locked_at = absl::InfinitePast();  // unknown
  all.push_back(adopted);
  Seed(all);
  for (bool create : {false, true}) {
    SCOPED_TRACE(create);
    std::unique_ptr<Index> index = MustOpen(create);
    ASSERT_NE(index, nullptr);
    EXPECT_THAT(index->notices(), IsEmpty());
    EXPECT_THAT(AllRecords(*index), UnorderedElementsAreArray(all));
    for (const IndexRecord& r : all) {
      ASSERT_NE(index->Find(r.identity()), nullptr) << r.path;
      EXPECT_EQ(FindRecord(*index, r.identity()), r);
    }
    EXPECT_EQ(index->protected_count(), all.size() - 1);
  }
}

TEST_F(IndexTest, ARecordWhoseReferenceDayChangesMovesToTheOtherDayFile) {
  const IndexRecord a = Record("a.xva", 1, kDay1);
  const IndexRecord b = Record("b.xva", 2, kDay1);
  Seed({a, b});
  {
    std::unique_ptr<Index> index = MustOpen(/*create=*/true);
    ASSERT_NE(index, nullptr);
    IndexRecord later = a;
    later.reference = kDay3;  // raised: a reprotect saw a newer change
    index->Put(later);
    ASSERT_TRUE(index->Flush().ok());
  }
  EXPECT_THAT(Listing(dir_), ElementsAre("2026-11-01.idx", "2026-11-03.idx"));
  EXPECT_THAT(ReadFile(DayFile(kDay1)), Not(HasSubstr("a.xva")));
  EXPECT_THAT(ReadFile(DayFile(kDay3)), HasSubstr("a.xva"));
  {
    std::unique_ptr<Index> index = MustOpen(/*create=*/true);
    ASSERT_NE(index, nullptr);
    ASSERT_NE(index->Find(a.identity()), nullptr);
    EXPECT_EQ(FindRecord(*index, a.identity())->reference, kDay3);
    EXPECT_EQ(AllRecords(*index).size(), 2u);
    // Moved back: the emptied day file goes.
    IndexRecord back = a;
    back.reference = kDay1 + absl::Hours(1);
    index->Put(back);
    index->Remove(b.identity());
    ASSERT_TRUE(index->Flush().ok());
  }
  EXPECT_THAT(Listing(dir_), ElementsAre("2026-11-01.idx"));
  std::unique_ptr<Index> index = MustOpen(/*create=*/false);
  ASSERT_NE(index, nullptr);
  ASSERT_EQ(AllRecords(*index).size(), 1u);
  EXPECT_EQ(AllRecords(*index)[0].reference, kDay1 + absl::Hours(1));
}

// Loaded records are found by inode number through buckets over the span of numbers in use: every
// record must be found wherever its number falls (the ends of the span, gaps of 2^40, numbers
// shared by two births), and no identity that was never recorded, below, inside or past the span.
TEST_F(IndexTest, EveryLoadedRecordIsFoundAndNoOtherWhateverTheInodeNumbers) {
  std::vector<IndexRecord> all;
  for (uint64_t ino : {uint64_t{7}, uint64_t{8}, uint64_t{9}, uint64_t{1000}, uint64_t{1} << 40,
                       (uint64_t{1} << 40) + 1, ~uint64_t{0} - 1}) {
    all.push_back(Record(absl::StrCat("xo-vm-backups/vm/", ino, ".xva"), ino, kDay1));
  }
  for (uint64_t i = 0; i < 3000; ++i) {
    all.push_back(Record(absl::StrCat("xo-vm-backups/many/", i, ".json"), 50000 + i * 37, kDay3));
  }
  // Inode 1000 again, born later (the number was reused after a deletion).
  IndexRecord reused = Record("xo-vm-backups/vm/reused.xva", 1000, kDay3);
  all.push_back(reused);
  Seed(all);
  std::unique_ptr<Index> index = MustOpen(/*create=*/false);
  ASSERT_NE(index, nullptr);
  ASSERT_EQ(index->loaded(), all.size());
  for (const IndexRecord& r : all) {
    const RecordSummary* found = index->Find(r.identity());
    ASSERT_NE(found, nullptr) << r.path;
    EXPECT_EQ(found->identity(), r.identity()) << r.path;
  }
  const int64_t birth = absl::ToUnixNanos(kDay1);
  for (uint64_t ino : {uint64_t{0}, uint64_t{6}, uint64_t{10}, uint64_t{50001}, uint64_t{999999},
                       (uint64_t{1} << 40) + 2, ~uint64_t{0}}) {
    EXPECT_EQ(index->Find(Identity{ino, birth}), nullptr) << ino;
  }
  // A recorded number with a birth it was never recorded with.
  EXPECT_EQ(index->Find(Identity{1000, birth}), nullptr);
  EXPECT_EQ(index->Find(Identity{50000 + 37, birth}), nullptr);
}

TEST_F(IndexTest, NamesThatAreNoDayFileAreLeftAlone) {
  const IndexRecord a = Record("a.xva", 1, kDay1);
  Seed({a});
  WriteFile(dir_ + "/README", "x");
  WriteFile(dir_ + "/2026-02-30.idx", "not a date");
  WriteFile(dir_ + "/2026-11-02.idx.damaged", "kept aside before");
  std::filesystem::create_directories(dir_ + "/notaday");
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_THAT(AllRecords(*index), ElementsAre(a));
  index->Put(Record("b.xva", 2, kDay3));
  ASSERT_TRUE(index->Flush().ok());
  for (const char* name : {"README", "2026-02-30.idx", "2026-11-02.idx.damaged", "notaday"}) {
    EXPECT_TRUE(Exists(dir_ + "/" + name)) << name;
  }
}

// A run killed between writing a day file's temporary and renaming it leaves the temporary (up to
// the size of a day). It is never read; the next run that may write (holding the remote's lock)
// removes it, a dry run leaves it.
TEST_F(IndexTest, TheTemporaryOfAKilledRewriteIsRemovedByTheNextWriter) {
  const IndexRecord a = Record("a.xva", 1, kDay1);
  Seed({a});
  const std::string temporary = dir_ + "/.2026-11-01.idx.tmp-99";
  WriteFile(temporary, EncodeDayFile(CreationDay(kDay1), {Record("b.xva", 2, kDay1)}));
  std::unique_ptr<Index> dry = MustOpen(/*create=*/false);
  ASSERT_NE(dry, nullptr);
  EXPECT_THAT(AllRecords(*dry), ElementsAre(a));
  EXPECT_TRUE(Exists(temporary));
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_THAT(AllRecords(*index), ElementsAre(a));
  EXPECT_FALSE(Exists(temporary));
}

// The other state files of the remote's folder (".holds.tmp-<pid>") are written the same way; a
// killed run's are removed in the same listing, the one a run makes of the folder, but only those
// of processes that are gone (a live one may be about to rename its own).
TEST_F(IndexTest, OpeningToWriteRemovesTheTemporariesOfGoneProcessesInItsOneListing) {
  const IndexRecord a = Record("a.xva", 1, kDay1);
  Seed({a});
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_GT(gone, 0);
  ASSERT_EQ(waitpid(gone, nullptr, 0), gone);
  const std::string dead = absl::StrCat(dir_, "/.holds.tmp-", gone, "-1");
  const std::string live = absl::StrCat(dir_, "/.holds.tmp-", getpid());
  WriteFile(dead, "half");
  WriteFile(live, "half");
  ASSERT_NE(MustOpen(/*create=*/false), nullptr);
  EXPECT_TRUE(Exists(dead)) << "a reader removes nothing";
  const int lists = fake_.Calls(Op::kList);
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(fake_.Calls(Op::kList) - lists, 1) << "the folder is listed once";
  EXPECT_FALSE(Exists(dead));
  EXPECT_TRUE(Exists(live)) << "a live process's temporary was removed";
  EXPECT_THAT(AllRecords(*index), ElementsAre(a));
}

// A file (not a folder) named like a day of the old format, e.g. `2026-11-04` left by an
// administrator's tool, is junk like any other name: no migration, no notice, left where it is.
TEST_F(IndexTest, AFileNamedLikeAnOldDayFolderIsIgnored) {
  const IndexRecord a = Record("a.xva", 1, kDay1);
  Seed({a});
  WriteFile(dir_ + "/2026-11-04", "not a folder");
  const int opens = fake_.Calls(Op::kOpen);
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(fake_.Calls(Op::kOpen) - opens, 2) << "only the index folder and the day file";
  EXPECT_THAT(AllRecords(*index), ElementsAre(a));
  EXPECT_THAT(index->notices(), IsEmpty()) << "nothing migrated";
  // A flush with nothing to migrate leaves it alone.
  index->Put(Record("b.xva", 2, kDay3));
  ASSERT_TRUE(index->Flush().ok());
  EXPECT_EQ(ReadFile(dir_ + "/2026-11-04"), "not a folder");
  EXPECT_THAT(Listing(dir_), ElementsAre("2026-11-01.idx", "2026-11-03.idx", "2026-11-04"));
}

// ---------------------------------------------------------------------------------------------
// Damaged day files: the day's records are left out (the walk re-indexes what is still locked, and
// nothing is lifted from them), a notice says so, and the file is kept aside.

struct Damage {
  const char* name;
  std::string (*apply)(std::string text);
  const char* why;  // in the notice
};

const Damage kDamages[] = {
    {"Truncated", [](std::string text) { return text.substr(0, text.size() / 2); }, "truncated"},
    {"FlippedByte",
     [](std::string text) {
       const size_t at = text.find("a.xva");
       text[at] ^= 0x01;  // a.xva -> `.xva: the checksum no longer matches
       return text;
     },
     "bad checksum"},
    {"AnotherVersion",
     [](std::string text) {
       // Version 4, with a valid checksum: a newer program's file.
       std::string body = absl::StrReplaceAll(text.substr(0, text.rfind("end\t")),
                                              {{"xo-immutable-index 3 ", "xo-immutable-index 4 "}});
       return body + EndLine(body);
     },
     "version 4 (this program reads 3)"},
    {"RecordsOfAnotherDay",
     [](std::string text) {
       // The header says 2026-11-02: a file renamed to another day.
       std::string body = absl::StrReplaceAll(text.substr(0, text.rfind("end\t")),
                                              {{" 2026-11-01 ", " 2026-11-02 "}});
       return body + EndLine(body);
     },
     "header does not match"},
    {"Empty", [](std::string) { return std::string(); }, "truncated"},
};

class DamagedDayFileTest : public IndexTest, public ::testing::WithParamInterface<Damage> {
 protected:
  void SetUp() override {
    IndexTest::SetUp();
    Seed({a_, b_, c_});
    const std::string day1 = DayFile(kDay1);
    damaged_ = GetParam().apply(ReadFile(day1));
    WriteFile(day1, damaged_);
  }

  const IndexRecord a_ = Record("xo-vm-backups/vm/a.xva", 1, kDay1);
  const IndexRecord b_ = Record("xo-vm-backups/vm/b.vhd", 2, kDay1, /*tree=*/true);
  const IndexRecord c_ = Record("xo-vm-backups/vm/c.xva", 3, kDay3);
  std::string damaged_;
};

TEST_P(DamagedDayFileTest, IsLeftOutNamedAndKeptAside) {
  const std::string day1 = DayFile(kDay1);
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_THAT(AllRecords(*index), ElementsAre(c_));  // the other day is intact
  EXPECT_EQ(index->Find(a_.identity()), nullptr);
  ASSERT_EQ(index->notices().size(), 1u);
  const Warning& notice = index->notices()[0];
  EXPECT_EQ(notice.kind, WarningKind::kIndexEntryUnreadable);
  EXPECT_THAT(notice.message, AllOf(HasSubstr(day1), HasSubstr(GetParam().why),
                                    HasSubstr("kept as 2026-11-01.idx.damaged")));
  EXPECT_FALSE(Exists(day1));
  EXPECT_EQ(ReadFile(day1 + ".damaged"), damaged_);

  // Nothing lost from the new file the day gets, and the damaged one stays as it was.
  index->Put(Record("xo-vm-backups/vm/d.xva", 4, kDay1));
  ASSERT_TRUE(index->Flush().ok());
  EXPECT_EQ(ReadFile(day1 + ".damaged"), damaged_);
  std::unique_ptr<Index> reopened = MustOpen(/*create=*/true);
  ASSERT_NE(reopened, nullptr);
  EXPECT_THAT(reopened->notices(), IsEmpty());  // told once
  EXPECT_THAT(AllRecords(*reopened),
              UnorderedElementsAre(c_, Record("xo-vm-backups/vm/d.xva", 4, kDay1)));
}

TEST_P(DamagedDayFileTest, WithoutCreateIsLeftOutButNothingIsWrittenOrRenamed) {
  const std::string day1 = DayFile(kDay1);
  const int writes = fake_.Calls(Op::kWrite), unlinks = fake_.Calls(Op::kUnlink);
  std::unique_ptr<Index> index = MustOpen(/*create=*/false);
  ASSERT_NE(index, nullptr);
  EXPECT_THAT(AllRecords(*index), ElementsAre(c_));
  ASSERT_EQ(index->notices().size(), 1u);
  EXPECT_EQ(index->notices()[0].kind, WarningKind::kIndexEntryUnreadable);
  EXPECT_THAT(index->notices()[0].message,
              AllOf(HasSubstr(day1), HasSubstr(GetParam().why), Not(HasSubstr("kept as"))));
  EXPECT_EQ(ReadFile(day1), damaged_);
  EXPECT_FALSE(Exists(day1 + ".damaged"));
  EXPECT_EQ(fake_.Calls(Op::kWrite), writes);
  EXPECT_EQ(fake_.Calls(Op::kUnlink), unlinks);  // renames count as kUnlink
}

INSTANTIATE_TEST_SUITE_P(Damages, DamagedDayFileTest, ::testing::ValuesIn(kDamages),
                         [](const ::testing::TestParamInfo<Damage>& info) {
                           return std::string(info.param.name);
                         });

// A day file that cannot be read now (an I/O error, a permission) is not damaged: the day must not
// be rewritten from what little this run knows of it, so the index does not open (the remote is
// not worked on this run) and the file stays as it is for the next run.
// A day file that cannot be read now (an I/O error) is left out of the run, like a damaged one,
// but neither set aside nor ever rewritten from what little the run knows of it: a record that
// falls on that day is not written (Flush says so), and once the file reads again nothing was lost.
TEST_F(IndexTest, ADayFileThatCannotBeReadIsLeftOutAndNeverRewritten) {
  const IndexRecord a = Record("a.xva", 1, kDay1);
  const IndexRecord c = Record("c.xva", 3, kDay3);
  Seed({a, c});
  const std::string before = ReadFile(DayFile(kDay1));
  for (const int err : {EIO, EACCES, ENOMEM}) {
    SCOPED_TRACE(err);
    fake_.Fail(Op::kRead, "2026-11-01.idx", err);
    auto index = Index::Open(fake_, dir_, kRoot, /*create=*/true);
    ASSERT_TRUE(index.ok()) << index.status();
    EXPECT_THAT(AllRecords(**index), UnorderedElementsAre(c));
    ASSERT_EQ((*index)->notices().size(), 1u);
    EXPECT_EQ((*index)->notices()[0].kind, WarningKind::kIndexEntryUnreadable);
    EXPECT_THAT((*index)->notices()[0].message, HasSubstr(DayFile(kDay1)));
    // A new record of that day cannot be written without losing the others: it is not.
    (*index)->Put(Record("b.xva", 2, kDay1));
    const absl::Status flushed = (*index)->Flush();
    EXPECT_FALSE(flushed.ok());
    EXPECT_THAT(std::string(flushed.message()), HasSubstr(DayFile(kDay1)));
    EXPECT_EQ(ReadFile(DayFile(kDay1)), before);
    EXPECT_FALSE(Exists(DayFile(kDay1) + ".damaged"));
  }
  // Once it reads again, nothing was lost.
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_THAT(AllRecords(*index), UnorderedElementsAre(a, c));
  EXPECT_THAT(index->notices(), IsEmpty());
}

// A file too large to be a day file (EFBIG), or not a regular file (EINVAL), is damaged: left
// out, reported, kept aside.
TEST_F(IndexTest, ADayFileTooLargeOrOfAnotherTypeIsLeftOutAndKeptAside) {
  const IndexRecord a = Record("a.xva", 1, kDay1);
  const IndexRecord c = Record("c.xva", 3, kDay3);
  for (const int err : {EFBIG, EINVAL}) {
    SCOPED_TRACE(err);
    std::filesystem::remove_all(dir_);
    Seed({a, c});
    const std::string before = ReadFile(DayFile(kDay1));
    fake_.Fail(Op::kRead, "2026-11-01.idx", err);
    std::unique_ptr<Index> index = MustOpen(/*create=*/true);
    ASSERT_NE(index, nullptr);
    EXPECT_THAT(AllRecords(*index), ElementsAre(c));
    ASSERT_EQ(index->notices().size(), 1u);
    EXPECT_EQ(index->notices()[0].kind, WarningKind::kIndexEntryUnreadable);
    EXPECT_THAT(index->notices()[0].message,
                AllOf(HasSubstr(DayFile(kDay1)), HasSubstr("kept as 2026-11-01.idx.damaged")));
    EXPECT_FALSE(Exists(DayFile(kDay1)));
    EXPECT_EQ(ReadFile(DayFile(kDay1) + ".damaged"), before);
  }
  // A folder named like a day file: the same, moved aside whole.
  std::filesystem::remove_all(dir_);
  Seed({c});
  std::filesystem::create_directories(DayFile(kDay1));
  WriteFile(DayFile(kDay1) + "/inside", "x");
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_THAT(AllRecords(*index), ElementsAre(c));
  ASSERT_EQ(index->notices().size(), 1u);
  EXPECT_THAT(index->notices()[0].message, HasSubstr("kept as 2026-11-01.idx.damaged"));
  EXPECT_EQ(ReadFile(DayFile(kDay1) + ".damaged/inside"), "x");
  EXPECT_FALSE(Exists(DayFile(kDay1)));
}

TEST_F(IndexTest, ADamagedDayFileIsKeptBesideTheOnesKeptAsideBefore) {
  Seed({Record("a.xva", 1, kDay1)});
  const std::string day1 = DayFile(kDay1);
  WriteFile(day1 + ".damaged", "the first");
  WriteFile(day1, "the second");
  {
    std::unique_ptr<Index> index = MustOpen(/*create=*/true);
    ASSERT_NE(index, nullptr);
    ASSERT_EQ(index->notices().size(), 1u);
    EXPECT_THAT(index->notices()[0].message, HasSubstr("kept as 2026-11-01.idx.damaged.2"));
  }
  WriteFile(day1, "the third");
  {
    std::unique_ptr<Index> index = MustOpen(/*create=*/true);
    ASSERT_NE(index, nullptr);
    ASSERT_EQ(index->notices().size(), 1u);
    EXPECT_THAT(index->notices()[0].message, HasSubstr("kept as 2026-11-01.idx.damaged.3"));
  }
  EXPECT_EQ(ReadFile(day1 + ".damaged"), "the first");
  EXPECT_EQ(ReadFile(day1 + ".damaged.2"), "the second");
  EXPECT_EQ(ReadFile(day1 + ".damaged.3"), "the third");
  EXPECT_FALSE(Exists(day1));
  // A gap is filled: the first free name.
  std::filesystem::remove(day1 + ".damaged.2");
  WriteFile(day1, "the fourth");
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(ReadFile(day1 + ".damaged.2"), "the fourth");
  EXPECT_EQ(ReadFile(day1 + ".damaged.3"), "the third");
}

TEST_F(IndexTest, ADamagedDayFileThatCannotBeRenamedIsStillLeftOut) {
  Seed({Record("a.xva", 1, kDay1)});
  WriteFile(DayFile(kDay1), "garbage");
  fake_.Fail(Op::kUnlink, "2026-11-01.idx", EIO);
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_THAT(AllRecords(*index), IsEmpty());
  ASSERT_EQ(index->notices().size(), 1u);
  EXPECT_THAT(index->notices()[0].message, Not(HasSubstr("kept as")));
  EXPECT_EQ(ReadFile(DayFile(kDay1)), "garbage");
}

// ---------------------------------------------------------------------------------------------
// Flush failures: the old day file stays as it was, and the next Flush tries again.

TEST_F(IndexTest, NoSpaceForADayFileFailsTheFlushAndLeavesTheOldFile) {
  const IndexRecord a = Record("a.xva", 1, kDay1);
  Seed({a});
  const std::string before = ReadFile(DayFile(kDay1));
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  const IndexRecord b = Record("b.xva", 2, kDay1);
  index->Put(b);
  fake_.Fail(Op::kWrite, "2026-11-01.idx", ENOSPC);
  const int syncs = fake_.Calls(Op::kSync);
  const absl::Status flushed = index->Flush();
  EXPECT_EQ(ErrnoOf(flushed), ENOSPC) << flushed;
  EXPECT_THAT(std::string(flushed.message()), HasSubstr(DayFile(kDay1)));
  EXPECT_EQ(fake_.Calls(Op::kSync), syncs);
  EXPECT_EQ(ReadFile(DayFile(kDay1)), before);
  EXPECT_THAT(Listing(dir_), ElementsAre("2026-11-01.idx"));
  // The records stay in memory, and the day is still to be written.
  EXPECT_NE(index->Find(b.identity()), nullptr);
  ASSERT_TRUE(index->Flush().ok());
  std::unique_ptr<Index> reopened = MustOpen(/*create=*/false);
  ASSERT_NE(reopened, nullptr);
  EXPECT_THAT(AllRecords(*reopened), UnorderedElementsAre(a, b));
}

TEST_F(IndexTest, ASyncfsFailureFailsTheFlushAndTheNextFlushWritesAgain) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  const IndexRecord a = Record("a.xva", 1, kDay1);
  index->Put(a);
  fake_.Fail(Op::kSync, dir_, EIO);
  const absl::Status flushed = index->Flush();
  EXPECT_EQ(ErrnoOf(flushed), EIO) << flushed;
  // Not known durable: written again next time.
  const int writes = fake_.Calls(Op::kWrite);
  ASSERT_TRUE(index->Flush().ok());
  EXPECT_EQ(fake_.Calls(Op::kWrite) - writes, 1);
  std::unique_ptr<Index> reopened = MustOpen(/*create=*/false);
  ASSERT_NE(reopened, nullptr);
  EXPECT_THAT(AllRecords(*reopened), ElementsAre(a));
}

TEST_F(IndexTest, AnEmptiedDayFileThatCannotBeRemovedFailsTheFlush) {
  const IndexRecord a = Record("a.xva", 1, kDay1);
  Seed({a});
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  index->Remove(a.identity());
  fake_.Fail(Op::kUnlink, "2026-11-01.idx", EIO);
  EXPECT_EQ(ErrnoOf(index->Flush()), EIO);
  EXPECT_TRUE(Exists(DayFile(kDay1)));
  ASSERT_TRUE(index->Flush().ok());
  EXPECT_FALSE(Exists(DayFile(kDay1)));
}

// ---------------------------------------------------------------------------------------------
// Migration of the previous format: <dir>/<YYYY-MM-DD>/<sha256 of the absolute path>.

class MigrationTest : public IndexTest {
 protected:
  void SetUp() override {
    IndexTest::SetUp();
    std::filesystem::create_directories(dir_);
    file_ = IndexEntry{absl::StrCat(kRoot, "/xo-vm-backups/vm/a.xva"), true, 0x803, 101,
                       kDay1 - absl::Hours(1) + absl::Nanoseconds(5),  false};
    tree_ = IndexEntry{absl::StrCat(kRoot, "/xo-vm-backups/vm/vdis/j/v/data/b.vhd"),
                       true,
                       0x803,
                       102,
                       kDay3 + absl::Nanoseconds(9),
                       true};
    OldEntry("2026-11-01", file_);
    OldEntry("2026-11-03", tree_);
    // Left to the walk: outside the remote, XO's v1 (a path, no identity), undecodable, the root
    // itself, and a remote whose name only starts like this one's.
    OldEntry("2026-11-01", IndexEntry{"/srv/other/xo-vm-backups/vm/c.xva", true, 1, 103, kDay1});
    const std::string v1 = absl::StrCat(kRoot, "/xo-vm-backups/vm/d.xva");
    OldRaw("2026-11-01", v1, v1);
    OldRaw("2026-11-03", "/not an entry", "garbage\n");
    OldEntry("2026-11-03", IndexEntry{kRoot, true, 1, 104, kDay3, true});
    OldEntry("2026-11-03",
             IndexEntry{absl::StrCat(kRoot, "-b/xo-vm-backups/vm/e.xva"), true, 1, 105, kDay3});
  }

  void OldEntry(const std::string& day, const IndexEntry& entry) {
    OldRaw(day, entry.path, EncodeIndexEntry(entry));
  }

  void OldRaw(const std::string& day, const std::string& path, const std::string& content) {
    std::filesystem::create_directories(dir_ + "/" + day);
    WriteFile(absl::StrCat(dir_, "/", day, "/", IndexEntryName(path)), content);
  }

  // What the migration makes of an old entry: expiry counts from the birth, as it did.
  static IndexRecord Migrated(const IndexEntry& e, const std::string& relative) {
    IndexRecord r;
    r.path = relative;
    r.dev = e.dev;
    r.ino = e.ino;
    r.birth = e.birth;
    r.tree = e.tree;
    r.reference = e.birth;
    return r;
  }

  IndexRecord MigratedFile() const { return Migrated(file_, "xo-vm-backups/vm/a.xva"); }
  IndexRecord MigratedTree() const {
    return Migrated(tree_, "xo-vm-backups/vm/vdis/j/v/data/b.vhd");
  }

  IndexEntry file_, tree_;
};

TEST_F(MigrationTest, LoadsEntriesWithIdentityUnderTheRootAndCountsTheRest) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_THAT(AllRecords(*index), UnorderedElementsAre(MigratedFile(), MigratedTree()));
  EXPECT_EQ(FindRecord(*index, Identity{101, absl::ToUnixNanos(file_.birth)})->path,
            "xo-vm-backups/vm/a.xva");
  EXPECT_EQ(FindRecord(*index, Identity{102, absl::ToUnixNanos(tree_.birth)})->locked_at,
            absl::InfinitePast());
  EXPECT_EQ(index->protected_count(), 2u);
  ASSERT_EQ(index->notices().size(), 1u);
  EXPECT_EQ(index->notices()[0].kind, WarningKind::kIndexNotice);
  EXPECT_THAT(index->notices()[0].message,
              AllOf(HasSubstr(dir_), HasSubstr("2 entries of the old format"),
                    HasSubstr("1 path-only entry of XO's daemon"),
                    HasSubstr("4 unreadable, repeated or outside the remote")));
  // The old folders stay until the new day files are durable.
  EXPECT_THAT(Listing(dir_), ElementsAre("2026-11-01", "2026-11-03"));
  EXPECT_EQ(fake_.Calls(Op::kUnlink), 0);
  EXPECT_EQ(fake_.Calls(Op::kWrite), 0);

  ASSERT_TRUE(index->Flush().ok());
  EXPECT_THAT(Listing(dir_), ElementsAre("2026-11-01.idx", "2026-11-03.idx"));
  std::unique_ptr<Index> reopened = MustOpen(/*create=*/true);
  ASSERT_NE(reopened, nullptr);
  EXPECT_THAT(reopened->notices(), IsEmpty());
  // The day files keep references to the second.
  IndexRecord file = MigratedFile(), tree = MigratedTree();
  file.reference = absl::FromUnixSeconds(absl::ToUnixSeconds(file.reference));
  tree.reference = absl::FromUnixSeconds(absl::ToUnixSeconds(tree.reference));
  EXPECT_THAT(AllRecords(*reopened), UnorderedElementsAre(file, tree));
}

TEST_F(MigrationTest, TheOldFoldersStayWhenTheFlushFails) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  fake_.Fail(Op::kWrite, "2026-11-03.idx", ENOSPC);
  EXPECT_EQ(ErrnoOf(index->Flush()), ENOSPC);
  EXPECT_TRUE(Exists(dir_ + "/2026-11-01"));
  EXPECT_TRUE(Exists(dir_ + "/2026-11-03/" + IndexEntryName(tree_.path)));
  fake_.Fail(Op::kSync, dir_, EIO);
  EXPECT_EQ(ErrnoOf(index->Flush()), EIO);
  EXPECT_TRUE(Exists(dir_ + "/2026-11-01/" + IndexEntryName(file_.path)));
  EXPECT_TRUE(Exists(dir_ + "/2026-11-03/" + IndexEntryName(tree_.path)));
  ASSERT_TRUE(index->Flush().ok());
  EXPECT_THAT(Listing(dir_), ElementsAre("2026-11-01.idx", "2026-11-03.idx"));
}

TEST_F(MigrationTest, AKilledRunBeforeTheFlushMigratesAgain) {
  ASSERT_NE(MustOpen(/*create=*/true), nullptr);  // never flushed
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_THAT(AllRecords(*index), UnorderedElementsAre(MigratedFile(), MigratedTree()));
  ASSERT_EQ(index->notices().size(), 1u);
  EXPECT_EQ(index->notices()[0].kind, WarningKind::kIndexNotice);
}

TEST_F(MigrationTest, WithoutCreateLoadsButNeitherWritesNorRemoves) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/false);
  ASSERT_NE(index, nullptr);
  EXPECT_THAT(AllRecords(*index), UnorderedElementsAre(MigratedFile(), MigratedTree()));
  ASSERT_EQ(index->notices().size(), 1u);
  EXPECT_EQ(index->notices()[0].kind, WarningKind::kIndexNotice);
  EXPECT_EQ(index->Flush().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Listing(dir_), ElementsAre("2026-11-01", "2026-11-03"));
  EXPECT_EQ(fake_.Calls(Op::kWrite) + fake_.Calls(Op::kUnlink) + fake_.Calls(Op::kMakeDir), 0);
}

TEST_F(MigrationTest, AnEntryAlreadyInADayFileIsNotMigratedTwice) {
  // A run killed after its Flush and before the old folders went.
  {
    std::unique_ptr<Index> index = MustOpen(/*create=*/true);
    ASSERT_NE(index, nullptr);
    IndexRecord newer = MigratedFile();
    newer.reference = kDay3;  // changed since: the day file's record wins
    index->Put(newer);
    fake_.Fail(Op::kUnlink, IndexEntryName(file_.path), EIO, /*times=*/1000);  // it stays
    ASSERT_TRUE(index->Flush().ok());
  }
  ASSERT_TRUE(Exists(dir_ + "/2026-11-01/" + IndexEntryName(file_.path)));
  FakeFileSystem fresh;
  auto index = Index::Open(fresh, dir_, kRoot, /*create=*/true);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_EQ(AllRecords(**index).size(), 2u);
  EXPECT_EQ(FindRecord(**index, MigratedFile().identity())->reference, kDay3);
}

// An old entry whose path below the root is no remote path (`..`, `.`, an empty component) is
// dropped like one outside the remote: the day file it would spoil (the format refuses such a
// path) keeps every other record of its day.
TEST_F(MigrationTest, AnEntryWhosePathIsNoRemotePathIsDroppedAndItsDayKept) {
  const std::vector<std::string> bad = {
      "/xo-vm-backups/../../etc/passwd", "/xo-vm-backups/..", "/xo-vm-backups/./x.xva",
      "/xo-vm-backups//x.xva",           "/xo-vm-backups/",   "//xo-vm-backups/x.xva",
  };
  uint64_t ino = 200;
  for (const std::string& path : bad) {
    OldEntry("2026-11-01", IndexEntry{absl::StrCat(kRoot, path), true, 1, ++ino, kDay1});
  }
  {
    std::unique_ptr<Index> index = MustOpen(/*create=*/true);
    ASSERT_NE(index, nullptr);
    EXPECT_THAT(AllRecords(*index), UnorderedElementsAre(MigratedFile(), MigratedTree()));
    ASSERT_EQ(index->notices().size(), 1u);
    EXPECT_THAT(index->notices()[0].message,
                AllOf(HasSubstr("2 entries of the old format"),
                      HasSubstr(absl::StrCat(4 + bad.size(), " unreadable, repeated or outside"))));
    ASSERT_TRUE(index->Flush().ok());
  }
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_THAT(index->notices(), IsEmpty()) << "the day file is sound";
  ASSERT_NE(index->Find(MigratedFile().identity()), nullptr);
  EXPECT_EQ(FindRecord(*index, MigratedFile().identity())->path, "xo-vm-backups/vm/a.xva");
  EXPECT_NE(index->Find(MigratedTree().identity()), nullptr);
  EXPECT_EQ(AllRecords(*index).size(), 2u);
  EXPECT_FALSE(Exists(DayFile(kDay1) + ".damaged"));
}

// ---------------------------------------------------------------------------------------------
// Cost.

// Loading a day file of 100 bytes allocates about 100 bytes, not its 1 GiB limit (index.cc
// kMaxDayFileSize): a remote with a year of day files opens its index at once. Measured in a child
// process, whose peak resident size is its own (a buffer of the limit, zero-filled, is 1 GiB).
TEST_F(IndexTest, LoadingATinyDayFileAllocatesByItsSizeNotItsLimit) {
  Seed({Record("a.xva", 1, kDay1)});
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto index = Index::Open(RealFileSystem(), dir_, kRoot, /*create=*/false);
    _exit(index.ok() && AllRecords(**index).size() == 1 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  struct rusage usage;
  ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &usage), 0);
  const long peak_mib = usage.ru_maxrss / 1024;  // KiB on Linux
  EXPECT_LT(peak_mib, 64);
}

// The peak resident size, in MiB, of a child process in which `body` returned true; -1 when it
// returned false. The child tells it by its exit status.
long ChildPeakMib(const std::function<bool()>& body) {
  constexpr int kFailed = 255;
  const pid_t child = fork();
  if (child == 0) {
    if (!body()) _exit(kFailed);
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0) _exit(kFailed);
    _exit(static_cast<int>(std::min<long>(usage.ru_maxrss / 1024, kFailed - 1)));  // KiB
  }
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
      WEXITSTATUS(status) == kFailed) {
    ADD_FAILURE() << "child failed";
    return -1;
  }
  return WEXITSTATUS(status);
}

// A run holds 32 bytes a record, not its path: 200,000 records (a VM folder an attacker filled
// with empty *.json files, all locked on one day) open in a few MiB. Each step in its own child,
// so that no page of the writer counts against the reader.
TEST_F(IndexTest, OpeningHoldsNoPathInMemory) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "resident size is the sanitizer's here; measured in the plain run";
#endif
  constexpr uint64_t kRecords = 200000;
  ASSERT_GT(ChildPeakMib([&] {
              std::vector<IndexRecord> records;
              for (uint64_t i = 1; i <= kRecords; ++i) {
                records.push_back(Record(
                    absl::StrCat("xo-vm-backups/0b6e6a8e-1d4c-4f5e-9a51-3a3b1c2d4e5f/", i, ".json"),
                    i, kDay1));
              }
              std::filesystem::create_directories(dir_);
              WriteFile(DayFile(kDay1), EncodeDayFile(CreationDay(kDay1), std::move(records)));
              return true;
            }),
            0);
  const long peak = ChildPeakMib([&] {
    auto index = Index::Open(RealFileSystem(), dir_, kRoot, /*create=*/false);
    return index.ok() && (*index)->loaded() == kRecords && (*index)->notices().empty() &&
           (*index)->protected_count() == kRecords;
  });
  // 6.1 MiB of summaries, the program, and one read buffer; whole records would be 40 MiB more.
  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, 24);
}

// A run killed between two rewrites can leave one inode in two day files. The later reference is
// the one its last protection set (never the earlier, which would lift it early), and the stale
// copy goes with the next flush.
TEST_F(IndexTest, AnInodeInTwoDayFilesKeepsItsLaterReference) {
  const IndexRecord a = Record("xo-vm-backups/vm/a.xva", 1, kDay1);
  const IndexRecord b = Record("xo-vm-backups/vm/b.xva", 2, kDay1);
  Seed({a, b});
  IndexRecord a_later = a;
  a_later.reference = kDay3;
  a_later.path = "xo-vm-backups/vm-renamed/a.xva";
  WriteFile(DayFile(kDay3), EncodeDayFile(CreationDay(kDay3), {a_later}));
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "as found" : "after a flush");
    std::unique_ptr<Index> index = MustOpen(/*create=*/true);
    ASSERT_NE(index, nullptr);
    ASSERT_NE(index->Find(a.identity()), nullptr);
    EXPECT_EQ(index->Find(a.identity())->reference(), kDay3);
    EXPECT_EQ(index->protected_count(), 2u);
    EXPECT_THAT(AllRecords(*index), ElementsAre(a_later, b));  // by path
    ASSERT_TRUE(index->Flush().ok());
  }
  EXPECT_THAT(ReadFile(DayFile(kDay1)), Not(HasSubstr("a.xva")));
}

// The steady state reads no day file after Open: only the records the walk did not reach are read
// back, and only from the days that hold them.
TEST_F(IndexTest, ForEachReadsOnlyTheDaysOfTheRecordsWanted) {
  const IndexRecord a = Record("a.xva", 1, kDay1), c = Record("c.xva", 3, kDay3);
  Seed({a, c});
  std::unique_ptr<Index> index = MustOpen(/*create=*/false);
  ASSERT_NE(index, nullptr);
  int opens = fake_.Calls(Op::kOpen);
  std::vector<IndexRecord> seen;
  auto collect = [&](const IndexRecord& r) { seen.push_back(r); };
  ASSERT_TRUE(index->ForEach([](const RecordSummary&) { return false; }, collect).ok());
  EXPECT_EQ(fake_.Calls(Op::kOpen) - opens, 0);
  opens = fake_.Calls(Op::kOpen);
  ASSERT_TRUE(
      index->ForEach([&](const RecordSummary& s) { return s.identity() == c.identity(); }, collect)
          .ok());
  EXPECT_EQ(fake_.Calls(Op::kOpen) - opens, 1);
  EXPECT_THAT(seen, ElementsAre(c));
}

}  // namespace
}  // namespace xoi
