#include "lib/fs/index.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/core/expiry.h"

namespace xoi {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

IndexEntry MakeEntry(std::string path, uint64_t dev, uint64_t ino, absl::Time birth, bool tree) {
  return IndexEntry{std::move(path), /*has_identity=*/true, dev, ino, birth, tree};
}

// ---------------------------------------------------------------------------------------------
// The on-disk index.

class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr);
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    scratch_ = absl::StrCat(tmp, "/index_test/", info->name());
    std::filesystem::remove_all(scratch_);
    std::filesystem::create_directories(scratch_);
    index_path_ = absl::StrCat(scratch_, "/var/lib/xoi");
    remote_dir_ = absl::StrCat(index_path_, "/remote-1");
  }

  std::unique_ptr<Index> MustOpen(bool create) {
    absl::StatusOr<std::unique_ptr<Index>> index =
        Index::Open(RealFileSystem(), index_path_, "remote-1", create);
    EXPECT_TRUE(index.ok()) << index.status();
    return index.ok() ? *std::move(index) : nullptr;
  }

  static bool Exists(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
  }

  static mode_t ModeOf(const std::string& path) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return 0;
    return st.st_mode;
  }

  static std::vector<std::string> Listing(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  static void WriteFile(const std::string& path, absl::string_view content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }

  std::string scratch_;
  std::string index_path_;
  std::string remote_dir_;
};

const absl::Time kBirth = absl::FromUnixSeconds(1793581200);  // 2026-11-01T01:00:00Z

TEST_F(IndexTest, OpenWithoutCreateOnMissingFolderIsEmptyAndCreatesNothing) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/false);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->size(), 0u);
  EXPECT_THAT(index->Keys(), IsEmpty());
  EXPECT_EQ(index->dir_fd(), -1);
  EXPECT_EQ(index->dir_path(), remote_dir_);
  EXPECT_FALSE(index->Contains(absl::CivilDay(2026, 11, 1), IndexEntryName("/srv/a/x")));
  EXPECT_FALSE(Exists(index_path_));
  EXPECT_FALSE(Exists(absl::StrCat(scratch_, "/var")));
  EXPECT_THAT(Listing(scratch_), IsEmpty());
  // Writes are refused, not silently dropped.
  const absl::Status put =
      index->Put(absl::CivilDay(2026, 11, 1), MakeEntry("/srv/a/x", 1, 2, kBirth, false));
  EXPECT_EQ(put.code(), absl::StatusCode::kFailedPrecondition) << put;
  EXPECT_FALSE(Exists(index_path_));
  EXPECT_TRUE(index->Sync().ok());
}

TEST_F(IndexTest, OpenWithCreateMakesFoldersWithMode0700) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_GE(index->dir_fd(), 0);
  EXPECT_EQ(index->size(), 0u);
  for (const std::string& dir : {absl::StrCat(scratch_, "/var"), absl::StrCat(scratch_, "/var/lib"),
                                 index_path_, remote_dir_}) {
    SCOPED_TRACE(dir);
    const mode_t mode = ModeOf(dir);
    EXPECT_TRUE(S_ISDIR(mode));
    EXPECT_EQ(mode & 07777, 0700u);
  }
  EXPECT_THAT(Listing(remote_dir_), IsEmpty());
  // Opening again (everything exists) is fine.
  EXPECT_NE(MustOpen(/*create=*/true), nullptr);
}

TEST_F(IndexTest, PutContainsReadRemove) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  const absl::CivilDay day(2026, 11, 1);
  const IndexEntry entry = MakeEntry("/srv/a/xo-vm-backups/vm/20261101T010000Z.json", 2049, 77,
                                     kBirth + absl::Nanoseconds(123), false);
  const std::string name = IndexEntryName(entry.path);

  ASSERT_TRUE(index->Put(day, entry).ok());
  EXPECT_TRUE(index->Contains(day, name));
  EXPECT_FALSE(index->Contains(day + 1, name));
  EXPECT_FALSE(index->Contains(day, IndexEntryName("/srv/a/other")));
  EXPECT_EQ(index->size(), 1u);

  // On disk: <index>/<remote>/<day>/<sha256>, mode 0600, folder 0700, no
  // temporary left.
  const std::string day_dir = absl::StrCat(remote_dir_, "/2026-11-01");
  EXPECT_EQ(ModeOf(day_dir) & 07777, 0700u);
  EXPECT_EQ(ModeOf(absl::StrCat(day_dir, "/", name)) & 07777, 0600u);
  EXPECT_THAT(Listing(day_dir), ElementsAre(name));
  EXPECT_THAT(Listing(remote_dir_), ElementsAre("2026-11-01"));

  const absl::StatusOr<IndexEntry> read = index->Read(day, name);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, entry);

  // Put again: same key, replaced in place.
  IndexEntry updated = entry;
  updated.ino = 78;
  ASSERT_TRUE(index->Put(day, updated).ok());
  EXPECT_EQ(index->size(), 1u);
  EXPECT_EQ(index->Read(day, name)->ino, 78u);
  EXPECT_THAT(Listing(day_dir), ElementsAre(name));
  EXPECT_TRUE(index->Sync().ok());

  ASSERT_TRUE(index->Remove(day, name).ok());
  EXPECT_FALSE(index->Contains(day, name));
  EXPECT_EQ(index->size(), 0u);
  // The empty day folder goes with its last entry.
  EXPECT_FALSE(Exists(day_dir));
  EXPECT_THAT(Listing(remote_dir_), IsEmpty());
  // Removing what is gone is fine.
  EXPECT_TRUE(index->Remove(day, name).ok());
  // Reading what is gone is NotFound.
  EXPECT_EQ(index->Read(day, name).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(IndexTest, RemoveKeepsADayFolderThatStillHoldsEntries) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  const absl::CivilDay day(2026, 11, 1);
  const IndexEntry a = MakeEntry("/srv/a/a", 1, 1, kBirth, false);
  const IndexEntry b = MakeEntry("/srv/a/b", 1, 2, kBirth, true);
  ASSERT_TRUE(index->Put(day, a).ok());
  ASSERT_TRUE(index->Put(day, b).ok());
  ASSERT_TRUE(index->Remove(day, IndexEntryName(a.path)).ok());
  EXPECT_TRUE(Exists(absl::StrCat(remote_dir_, "/2026-11-01")));
  EXPECT_TRUE(index->Contains(day, IndexEntryName(b.path)));
  EXPECT_TRUE(index->Read(day, IndexEntryName(b.path))->tree);
  ASSERT_TRUE(index->Remove(day, IndexEntryName(b.path)).ok());
  EXPECT_FALSE(Exists(absl::StrCat(remote_dir_, "/2026-11-01")));
}

TEST_F(IndexTest, KeysSortedByDayThenName) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  struct Put {
    absl::CivilDay day;
    std::string path;
  };
  const std::vector<Put> puts = {
      {absl::CivilDay(2026, 11, 2), "/srv/a/one"},    {absl::CivilDay(2026, 11, 1), "/srv/a/two"},
      {absl::CivilDay(2025, 12, 31), "/srv/a/three"}, {absl::CivilDay(2026, 11, 1), "/srv/a/four"},
      {absl::CivilDay(2026, 11, 2), "/srv/a/five"},   {absl::CivilDay(2026, 2, 10), "/srv/a/six"},
  };
  std::vector<IndexKey> want;
  for (const Put& p : puts) {
    ASSERT_TRUE(index->Put(p.day, MakeEntry(p.path, 1, 1, kBirth, false)).ok());
    want.push_back(IndexKey{p.day, IndexEntryName(p.path)});
  }
  std::sort(want.begin(), want.end(), [](const IndexKey& a, const IndexKey& b) {
    return a.day != b.day ? a.day < b.day : a.name < b.name;
  });
  const std::vector<IndexKey> keys = index->Keys();
  ASSERT_EQ(keys.size(), want.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_TRUE(keys[i] == want[i]) << i << ": " << FormatDay(keys[i].day) << "/" << keys[i].name
                                    << " want " << FormatDay(want[i].day) << "/" << want[i].name;
  }
  EXPECT_EQ(index->size(), puts.size());
}

TEST_F(IndexTest, KeysExceptSkipsTheGivenKeysAndKeepsTheOrder) {
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  const absl::CivilDay d1(2026, 11, 1), d2(2026, 11, 2);
  for (const char* path : {"/srv/a/one", "/srv/a/two", "/srv/a/three"}) {
    ASSERT_TRUE(index->Put(d2, MakeEntry(path, 1, 1, kBirth, false)).ok());
    ASSERT_TRUE(index->Put(d1, MakeEntry(path, 1, 1, kBirth, false)).ok());
  }
  const std::vector<IndexKey> all = index->Keys();
  ASSERT_EQ(all.size(), 6u);
  // Skipping nothing is Keys(); skipping everything leaves nothing.
  const std::vector<IndexKey> none_skipped = index->KeysExcept({});
  ASSERT_EQ(none_skipped.size(), all.size());
  absl::flat_hash_set<std::string> every;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_TRUE(none_skipped[i] == all[i]) << i;
    every.insert(Index::Key(all[i].day, all[i].name));
  }
  EXPECT_THAT(index->KeysExcept(every), IsEmpty());
  // Skipping some keeps the others in Keys() order; a key of another day does not match.
  const absl::flat_hash_set<std::string> some = {
      Index::Key(d1, IndexEntryName("/srv/a/two")), Index::Key(d2, IndexEntryName("/srv/a/one")),
      Index::Key(absl::CivilDay(2026, 11, 3), IndexEntryName("/srv/a/three"))};
  std::vector<IndexKey> want;
  for (const IndexKey& key : all) {
    if (!some.contains(Index::Key(key.day, key.name))) want.push_back(key);
  }
  const std::vector<IndexKey> kept = index->KeysExcept(some);
  ASSERT_EQ(kept.size(), 4u);
  ASSERT_EQ(want.size(), 4u);
  for (size_t i = 0; i < kept.size(); ++i) EXPECT_TRUE(kept[i] == want[i]) << i;
}

TEST_F(IndexTest, ReopenLoadsEntriesFromListings) {
  const IndexEntry a = MakeEntry("/srv/a/a", 1, 1, kBirth, false);
  const IndexEntry b = MakeEntry("/srv/a/b", 1, 2, kBirth, true);
  const IndexEntry c = MakeEntry("/srv/a/c", 1, 3, kBirth, false);
  {
    std::unique_ptr<Index> index = MustOpen(/*create=*/true);
    ASSERT_NE(index, nullptr);
    ASSERT_TRUE(index->Put(absl::CivilDay(2026, 11, 1), a).ok());
    ASSERT_TRUE(index->Put(absl::CivilDay(2026, 11, 1), b).ok());
    ASSERT_TRUE(index->Put(absl::CivilDay(2026, 11, 3), c).ok());
    ASSERT_TRUE(index->Sync().ok());
  }
  for (bool create : {false, true}) {
    SCOPED_TRACE(create);
    std::unique_ptr<Index> index = MustOpen(create);
    ASSERT_NE(index, nullptr);
    EXPECT_EQ(index->size(), 3u);
    EXPECT_TRUE(index->Contains(absl::CivilDay(2026, 11, 1), IndexEntryName(a.path)));
    EXPECT_TRUE(index->Contains(absl::CivilDay(2026, 11, 1), IndexEntryName(b.path)));
    EXPECT_TRUE(index->Contains(absl::CivilDay(2026, 11, 3), IndexEntryName(c.path)));
    EXPECT_FALSE(index->Contains(absl::CivilDay(2026, 11, 1), IndexEntryName(c.path)));
    const absl::StatusOr<IndexEntry> read =
        index->Read(absl::CivilDay(2026, 11, 1), IndexEntryName(b.path));
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(*read, b);
  }
}

TEST_F(IndexTest, ReadsV1EntriesWrittenByXo) {
  ASSERT_NE(MustOpen(/*create=*/true), nullptr);
  const std::string path = "/srv/a/xo-vm-backups/vm/20261101T010000Z.xva";
  const std::string name = IndexEntryName(path);
  std::filesystem::create_directories(absl::StrCat(remote_dir_, "/2026-11-01"));
  WriteFile(absl::StrCat(remote_dir_, "/2026-11-01/", name), path);
  std::unique_ptr<Index> index = MustOpen(/*create=*/false);
  ASSERT_NE(index, nullptr);
  ASSERT_TRUE(index->Contains(absl::CivilDay(2026, 11, 1), name));
  const absl::StatusOr<IndexEntry> read = index->Read(absl::CivilDay(2026, 11, 1), name);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->path, path);
  EXPECT_FALSE(read->has_identity);
}

TEST_F(IndexTest, ReadOfCorruptEntryNamesTheFile) {
  ASSERT_NE(MustOpen(/*create=*/true), nullptr);
  const std::string name = IndexEntryName("/srv/a/x");
  std::filesystem::create_directories(absl::StrCat(remote_dir_, "/2026-11-01"));
  const std::string file = absl::StrCat(remote_dir_, "/2026-11-01/", name);
  WriteFile(file, "not an entry");
  std::unique_ptr<Index> index = MustOpen(/*create=*/false);
  ASSERT_NE(index, nullptr);
  const absl::StatusOr<IndexEntry> read = index->Read(absl::CivilDay(2026, 11, 1), name);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(read.status().message()), HasSubstr(file));
}

TEST_F(IndexTest, EmptyDayFolderLeftBehindIsRemovedOnOpen) {
  ASSERT_NE(MustOpen(/*create=*/true), nullptr);
  const std::string empty_day = absl::StrCat(remote_dir_, "/2026-10-31");
  const std::string full_day = absl::StrCat(remote_dir_, "/2026-11-01");
  std::filesystem::create_directories(empty_day);
  std::filesystem::create_directories(full_day);
  WriteFile(absl::StrCat(full_day, "/", IndexEntryName("/srv/a/x")), "/srv/a/x");
  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_FALSE(Exists(empty_day));
  EXPECT_TRUE(Exists(full_day));
  EXPECT_EQ(index->size(), 1u);
}

TEST_F(IndexTest, OpenWithoutCreateChangesNothing) {
  // A dry run opens the index without `create`: it must not write, not even
  // tidy up.
  ASSERT_NE(MustOpen(/*create=*/true), nullptr);
  const std::string empty_day = absl::StrCat(remote_dir_, "/2026-10-31");
  std::filesystem::create_directories(empty_day);
  std::unique_ptr<Index> index = MustOpen(/*create=*/false);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->size(), 0u);
  EXPECT_TRUE(Exists(empty_day));
}

TEST_F(IndexTest, JunkNamesAreIgnored) {
  ASSERT_NE(MustOpen(/*create=*/true), nullptr);
  const std::string good_name = IndexEntryName("/srv/a/x");
  const std::string day = absl::StrCat(remote_dir_, "/2026-11-01");
  std::filesystem::create_directories(day);
  WriteFile(absl::StrCat(day, "/", good_name), "/srv/a/x");
  // Junk inside a day folder: temporaries, wrong length, uppercase hex,
  // non-hex.
  WriteFile(absl::StrCat(day, "/.", good_name, ".tmp"), "x");
  WriteFile(absl::StrCat(day, "/", good_name.substr(1)), "x");
  WriteFile(absl::StrCat(day, "/", good_name, "0"), "x");
  std::string upper = good_name;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  WriteFile(absl::StrCat(day, "/", upper), "x");
  WriteFile(absl::StrCat(day, "/", std::string(64, 'g')), "x");
  WriteFile(absl::StrCat(day, "/README"), "x");
  // Junk beside the day folders: files and folders whose names are not days.
  WriteFile(absl::StrCat(remote_dir_, "/README"), "x");
  WriteFile(absl::StrCat(remote_dir_, "/.lock"), "");
  std::filesystem::create_directories(absl::StrCat(remote_dir_, "/2026-02-30"));
  std::filesystem::create_directories(absl::StrCat(remote_dir_, "/2026-1-01"));
  std::filesystem::create_directories(absl::StrCat(remote_dir_, "/notaday"));
  WriteFile(absl::StrCat(remote_dir_, "/notaday/", good_name), "/srv/a/x");
  // A day folder holding only junk.
  const std::string junk_day = absl::StrCat(remote_dir_, "/2026-11-02");
  std::filesystem::create_directories(junk_day);
  WriteFile(absl::StrCat(junk_day, "/junk"), "x");

  std::unique_ptr<Index> index = MustOpen(/*create=*/true);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->size(), 1u);
  const std::vector<IndexKey> keys = index->Keys();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].day, absl::CivilDay(2026, 11, 1));
  EXPECT_EQ(keys[0].name, good_name);
  // Junk is left alone, not deleted.
  EXPECT_TRUE(Exists(absl::StrCat(remote_dir_, "/README")));
  EXPECT_TRUE(Exists(absl::StrCat(day, "/README")));
  EXPECT_TRUE(Exists(absl::StrCat(junk_day, "/junk")));
  EXPECT_TRUE(Exists(absl::StrCat(remote_dir_, "/notaday/", good_name)));
}

}  // namespace
}  // namespace xoi
