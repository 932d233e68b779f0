#include "lib/core/index_entry.h"

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

// ---------------------------------------------------------------------------------------------
// Encoding.

IndexEntry MakeEntry(std::string path, uint64_t dev, uint64_t ino, absl::Time birth, bool tree) {
  return IndexEntry{std::move(path), /*has_identity=*/true, dev, ino, birth, tree};
}

TEST(IndexEntryTest, RoundTrip) {
  const absl::Time birth = absl::FromUnixNanos(1793581200123456789);
  const std::vector<IndexEntry> cases = {
      MakeEntry("/srv/a/xo-vm-backups/vm/20261101T010000Z.json", 2049, 1234, birth, false),
      MakeEntry("/srv/a/xo-vm-backups/vm/vdis/j/v/data/20261101T010000Z.vhd", 2049, 99, birth,
                true),
      MakeEntry("/srv/a/with\nnewline", 1, 2, birth, false),
      MakeEntry("/srv/a/ends with newline\n", 1, 2, birth, false),
      MakeEntry("/srv/a/100%/%41%%", 1, 2, birth, false),
      MakeEntry("/srv/a/with spaces  and\ttab", 1, 2, birth, false),
      MakeEntry("/srv/a/path ino 5\nkind tree", 1, 2, birth, false),
      MakeEntry("/srv/a/non-utf8-\xff\xfe\x80\xc3(", 1, 2, birth, false),
      MakeEntry("/srv/a/control-\x01\x1f\x7f\r", 1, 2, birth, false),
      MakeEntry("/srv/a/utf8-\xc3\xa9t\xc3\xa9", 1, 2, birth, false),
      MakeEntry("/", 0, 0, absl::UnixEpoch(), false),
      MakeEntry("/srv/big", std::numeric_limits<uint64_t>::max(),
                std::numeric_limits<uint64_t>::max(), birth, true),
      MakeEntry("/srv/old", 7, 8, absl::UnixEpoch() - absl::Nanoseconds(1), false),
      MakeEntry("/srv/older", 7, 8, absl::FromUnixSeconds(-1000000000), false),
  };
  for (const IndexEntry& entry : cases) {
    SCOPED_TRACE(entry.path);
    const std::string encoded = EncodeIndexEntry(entry);
    // One field per line whatever the path holds.
    EXPECT_EQ(std::count(encoded.begin(), encoded.end(), '\n'), 6) << encoded;
    const absl::StatusOr<IndexEntry> decoded = DecodeIndexEntry(encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.status() << "\n" << encoded;
    EXPECT_EQ(*decoded, entry);
  }
}

TEST(IndexEntryTest, EncodedFormat) {
  const IndexEntry entry =
      MakeEntry("/srv/a/x%\n.json", 2049, 1234, absl::FromUnixNanos(1500000000000000001), true);
  EXPECT_EQ(EncodeIndexEntry(entry),
            "xo-immutable-index 2\n"
            "path /srv/a/x%25%0A.json\n"
            "dev 2049\n"
            "ino 1234\n"
            "birth_ns 1500000000000000001\n"
            "kind tree\n");
}

TEST(IndexEntryTest, DecodesV1PathOnly) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/srv/a/xo-vm-backups/vm/20261101T010000Z.json",
       "/srv/a/xo-vm-backups/vm/20261101T010000Z.json"},
      {"/srv/a/xo-vm-backups/vm/20261101T010000Z.json\n",
       "/srv/a/xo-vm-backups/vm/20261101T010000Z.json"},
      {"/srv/a/with space", "/srv/a/with space"},
      {"/srv/a/100%41", "/srv/a/100%41"},  // v1 is not escaped
      {"/", "/"},
  };
  for (const auto& [content, path] : cases) {
    SCOPED_TRACE(content);
    const absl::StatusOr<IndexEntry> entry = DecodeIndexEntry(content);
    ASSERT_TRUE(entry.ok()) << entry.status();
    EXPECT_EQ(entry->path, path);
    EXPECT_FALSE(entry->has_identity);
    EXPECT_EQ(entry->dev, 0u);
    EXPECT_EQ(entry->ino, 0u);
    EXPECT_FALSE(entry->tree);
  }
}

TEST(IndexEntryTest, IgnoresUnknownKeys) {
  const absl::StatusOr<IndexEntry> entry = DecodeIndexEntry(
      "xo-immutable-index 2\n"
      "path /srv/a/x\n"
      "future something\n"
      "dev 1\n"
      "ino 2\n"
      "birth_ns 3\n"
      "kind file\n");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->path, "/srv/a/x");
  EXPECT_TRUE(entry->has_identity);
  EXPECT_EQ(entry->birth, absl::FromUnixNanos(3));
}

constexpr char kGoodV2[] =
    "xo-immutable-index 2\n"
    "path /srv/a/x\n"
    "dev 1\n"
    "ino 2\n"
    "birth_ns 3\n"
    "kind file\n";

std::string Replace(absl::string_view from, absl::string_view to) {
  return absl::StrReplaceAll(kGoodV2, {{from, to}});
}

TEST(IndexEntryTest, RejectsCorruptContent) {
  ASSERT_TRUE(DecodeIndexEntry(kGoodV2).ok());
  const std::vector<std::pair<std::string, std::string>> cases = {
      // v1 that is not an absolute path.
      {"relative v1", "srv/a/x"},
      {"relative v1 with newline", "srv/a/x\n"},
      {"empty", ""},
      {"only a newline", "\n"},
      {"v1 with NUL", std::string("/srv/a\0x", 8)},
      {"v1 of a wrong version", "xo-immutable-index 3\npath /srv/a/x\n"},
      // v2 with a missing field.
      {"missing path", Replace("path /srv/a/x\n", "")},
      {"missing dev", Replace("dev 1\n", "")},
      {"missing ino", Replace("ino 2\n", "")},
      {"missing birth", Replace("birth_ns 3\n", "")},
      {"missing kind", Replace("kind file\n", "")},
      {"magic only", "xo-immutable-index 2\n"},
      // Bad numbers.
      {"dev not a number", Replace("dev 1", "dev abc")},
      {"dev negative", Replace("dev 1", "dev -1")},
      {"dev empty", Replace("dev 1", "dev ")},
      {"ino overflow", Replace("ino 2", "ino 18446744073709551616")},
      {"ino with junk", Replace("ino 2", "ino 2x")},
      {"birth fractional", Replace("birth_ns 3", "birth_ns 1.5")},
      {"birth overflow", Replace("birth_ns 3", "birth_ns 9223372036854775808")},
      // Bad escapes and paths.
      {"bad escape", Replace("/srv/a/x", "/srv/a/%G1")},
      {"bad escape second digit", Replace("/srv/a/x", "/srv/a/%1G")},
      {"truncated escape", Replace("/srv/a/x", "/srv/a/%4")},
      {"lone percent", Replace("/srv/a/x", "/srv/a/%")},
      {"escaped NUL", Replace("/srv/a/x", "/srv/a/%00")},
      {"relative v2 path", Replace("/srv/a/x", "srv/a/x")},
      {"empty v2 path", Replace("path /srv/a/x", "path ")},
      // Other fields.
      {"bad kind", Replace("kind file", "kind dir")},
      {"line without a value", Replace("kind file", "kind")},
  };
  for (const auto& [name, content] : cases) {
    SCOPED_TRACE(name);
    const absl::StatusOr<IndexEntry> entry = DecodeIndexEntry(content);
    ASSERT_FALSE(entry.ok()) << "decoded as " << entry->path;
    EXPECT_EQ(entry.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(IndexEntryNameTest, Sha256HexOfThePath) {
  EXPECT_EQ(IndexEntryName("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(IndexEntryName(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string name = IndexEntryName("/srv/a/xo-vm-backups/vm/20261101T010000Z.json");
  EXPECT_EQ(name.size(), 64u);
  EXPECT_EQ(name.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(name, IndexEntryName("/srv/a/xo-vm-backups/vm/20261101T010000Z.json/"));
  // Bytes, not text: NUL and non-UTF-8 bytes count.
  EXPECT_NE(IndexEntryName(std::string("a\0b", 3)), IndexEntryName("a"));
}

}  // namespace
}  // namespace xoi
