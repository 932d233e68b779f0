// The day file: EncodeDayFile / DecodeDayFile, RecordDay, DayFileName. The index lives outside the
// remote, but whatever it holds leads flag changes: a decoder that accepts a damaged or forged file
// could lift the wrong inode, so every kind of damage is a row.
#include "lib/core/index_record.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/utc.h"

namespace xoi {
namespace {

using ::testing::HasSubstr;

const absl::CivilDay kDay(2026, 11, 20);
const absl::Time kDayStart = Utc(2026, 11, 20);

IndexRecord Record(std::string path, uint64_t ino, absl::Duration into_day = absl::Hours(1),
                   bool tree = false, absl::Time locked_at = absl::InfinitePast(),
                   bool lifted = false) {
  IndexRecord r;
  r.path = std::move(path);
  r.dev = 2049;
  r.ino = ino;
  r.birth = kDayStart - absl::Hours(24 * 30) + absl::Nanoseconds(ino * 1000003);
  r.tree = tree;
  r.reference = kDayStart + into_day;
  r.locked_at = locked_at;
  r.lifted = lifted;
  return r;
}

std::vector<IndexRecord> Sorted(std::vector<IndexRecord> records) {
  std::sort(records.begin(), records.end(), [](const IndexRecord& a, const IndexRecord& b) {
    return std::tie(a.path, a.ino, a.birth) < std::tie(b.path, b.ino, b.birth);
  });
  return records;
}

// The checksum the format specifies, computed here independently of the encoder.
std::string Checksum(absl::string_view body) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
  return absl::BytesToHexString(
             absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)))
      .substr(0, 16);
}

// `body` (header and record lines) with a valid end line: a forgery only the checks on the content
// can refuse.
std::string Sealed(absl::string_view body) {
  return absl::StrCat(body, "end\t", Checksum(body), "\n");
}

// The body of an encoded day file (without its end line).
std::string Body(absl::string_view text) {
  return std::string(text.substr(0, text.rfind("end\t")));
}

// A day file's header, and one record line (a file, reference kDayStart + 1h), for forgeries.
std::string Header(size_t count, absl::string_view day = "2026-11-20") {
  return absl::StrCat("xo-immutable-index 3 ", day, " ", count, "\n");
}
std::string Line(size_t shared, absl::string_view suffix, uint64_t ino = 1) {
  return absl::StrCat("P\tf\t801\t", absl::Hex(ino), "\t1700000000000000000\t",
                      absl::ToUnixSeconds(kDayStart + absl::Hours(1)), "\t-\t", shared, "\t",
                      suffix, "\n");
}

void ExpectRejected(absl::CivilDay day, const std::string& text, absl::string_view why) {
  SCOPED_TRACE(absl::StrCat(why, "\n", absl::CHexEscape(text)));
  const absl::StatusOr<std::vector<IndexRecord>> got = DecodeDayFile(day, text);
  ASSERT_FALSE(got.ok()) << "decoded " << got->size() << " records";
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(got.status().message(), HasSubstr(DayFileName(day)));
}

TEST(DayFileNameTest, Format) {
  EXPECT_EQ(DayFileName(kDay), "2026-11-20.idx");
  EXPECT_EQ(DayFileName(absl::CivilDay(1999, 1, 2)), "1999-01-02.idx");
}

TEST(RecordDayTest, TheUtcDayOfTheReference) {
  IndexRecord r;
  r.birth = Utc(2020, 1, 1);  // never the birth
  r.reference = kDayStart;
  EXPECT_EQ(RecordDay(r), kDay);
  r.reference = kDayStart + absl::Hours(24) - absl::Nanoseconds(1);
  EXPECT_EQ(RecordDay(r), kDay);
  r.reference = kDayStart - absl::Nanoseconds(1);
  EXPECT_EQ(RecordDay(r), absl::CivilDay(2026, 11, 19));
}

TEST(DayFileTest, EncodedFormat) {
  const absl::Time birth = absl::FromUnixNanos(1795136400123456789);
  IndexRecord json;
  json.path = "xo-vm-backups/vm-1/20261120T010000Z.json";
  json.dev = 0x801;
  json.ino = 0x1a2b;
  json.birth = birth;
  json.reference = Utc(2026, 11, 20, 1, 5);
  IndexRecord tree;
  tree.path = "xo-vm-backups/vm-1/vdis/j/v/data/a%b\nc.vhd";
  tree.dev = 0x801;
  tree.ino = 0x1a2c;
  tree.birth = birth;
  tree.tree = true;
  tree.reference = Utc(2026, 11, 20, 1, 5);
  tree.locked_at = Utc(2026, 11, 20, 1, 6);
  tree.lifted = true;
  // Given in reverse order: the encoder sorts by path.
  EXPECT_EQ(EncodeDayFile(kDay, {tree, json}),
            "xo-immutable-index 3 2026-11-20 2\n"
            "P\tf\t801\t1a2b\t1795136400123456789\t1795136700\t-\t0\t"
            "xo-vm-backups/vm-1/20261120T010000Z.json\n"
            "L\tt\t801\t1a2c\t1795136400123456789\t1795136700\t1795136760\t19\t"
            "vdis/j/v/data/a%25b%0Ac.vhd\n"
            "end\te6a19a2682ac72fa\n");
  EXPECT_EQ(EncodeDayFile(kDay, std::vector<IndexRecord>{}),
            "xo-immutable-index 3 2026-11-20 0\nend\t45c3f86d721047ef\n");
}

TEST(DayFileTest, EmptyDay) {
  const absl::StatusOr<std::vector<IndexRecord>> got =
      DecodeDayFile(kDay, EncodeDayFile(kDay, std::vector<IndexRecord>{}));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->empty());
}

TEST(DayFileTest, RoundTrip) {
  const std::string vdi =
      "xo-vm-backups/0b7e4a3c-9d2e-5f8a-7b6c-5d4e6f1c0d3a/vdis/"
      "5f8a7b6c-5d4e-6f1c-0d3a-0b7e4a3c9d2e/6f1c0d3a-0b7e-4a3c-9d2e-5f8a7b6c5d4e/";
  const std::string long_name(200, 'x');
  std::vector<IndexRecord> records = {
      Record("xo-vm-backups/vm-1/20261120T010000Z.json", 1),
      Record("xo-vm-backups/vm-1/20261120T010000Z.xva", 2, absl::Hours(2)),
      Record("xo-vm-backups/vm-1/20261120T010000Z.xva.checksum", 3, absl::Hours(2)),
      // Trees with and without locked_at; lifted records of both kinds.
      Record(vdi + "data/0a1b2c3d-0000-4000-8000-000000000001.vhd", 4, absl::Hours(3), true,
             kDayStart + absl::Hours(3) + absl::Seconds(5)),
      Record(vdi + "data/0a1b2c3d-0000-4000-8000-000000000002.vhd", 5, absl::Hours(4), true),
      Record(vdi + "data/0a1b2c3d-0000-4000-8000-000000000003.vhd", 6, absl::Hours(4), true,
             kDayStart + absl::Hours(5), /*lifted=*/true),
      Record(vdi + "20261120T030000Z.alias.vhd", 7, absl::Hours(3), false, absl::InfinitePast(),
             /*lifted=*/true),
      // One path, two identities (a path reused by another inode); the same inode number with
      // another birth.
      Record("xo-vm-backups/vm-2/20261120T010000Z.json", 8),
      Record("xo-vm-backups/vm-2/20261120T010000Z.json", 9, absl::Hours(6)),
      [] {
        IndexRecord r = Record("xo-vm-backups/vm-2/20261120T010000Z.json", 8);
        r.birth += absl::Seconds(1);
        return r;
      }(),
      // Protected only in part (the next run finishes it): a file, and trees with and without
      // locked_at.
      [] {
        IndexRecord r = Record("partial/file", 30);
        r.complete = false;
        return r;
      }(),
      [] {
        IndexRecord r = Record("partial/tree", 31, absl::Hours(7), true,
                               kDayStart + absl::Hours(7) + absl::Seconds(2));
        r.complete = false;
        return r;
      }(),
      [] {
        IndexRecord r = Record("partial/tree-adopted", 32, absl::Hours(8), true);
        r.complete = false;
        return r;
      }(),
      // Odd bytes in names.
      Record("odd/with\nnewline", 10),
      Record("odd/ends with newline\n", 11),
      Record("odd/with\ttab and  spaces", 12),
      Record("odd/100%/%41%%/%0A", 13),
      Record("odd/non-utf8-\xff\xfe\x80\xc3(", 14),
      Record("odd/utf8-\xc3\xa9t\xc3\xa9", 15),
      Record("odd/control-\x01\x1f\x7f\r", 16),
      Record("odd/end\tffffffffffffffff", 17),
      Record("odd/xo-immutable-index 3 2026-11-20 1", 18),
      Record("odd/...", 19),
      Record("odd/.hidden/..x/x..", 20),
      // Long shared prefixes, and one path that is a prefix of the next.
      Record("long/" + long_name, 21),
      Record("long/" + long_name + "y", 22),
      Record("long/" + long_name + "/z", 23),
      Record("a", 24),
      Record("a/b", 25),
      Record("ab", 26),
      // Numbers at their limits; times at the edges of the day.
      [] {
        IndexRecord r = Record("limits/max", 27);
        r.dev = std::numeric_limits<uint64_t>::max();
        r.ino = std::numeric_limits<uint64_t>::max();
        r.birth = absl::FromUnixNanos(std::numeric_limits<int64_t>::max());
        r.reference = kDayStart;
        return r;
      }(),
      [] {
        IndexRecord r = Record("limits/zero", 0);
        r.dev = 0;
        r.birth = absl::FromUnixNanos(std::numeric_limits<int64_t>::min());
        r.reference = kDayStart + absl::Hours(24) - absl::Seconds(1);
        r.locked_at = absl::UnixEpoch();
        r.tree = true;
        return r;
      }(),
  };
  const std::string text = EncodeDayFile(kDay, records);
  SCOPED_TRACE(absl::CHexEscape(text));
  // One line per record, whatever the paths hold.
  EXPECT_EQ(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')), records.size() + 2);
  const absl::StatusOr<std::vector<IndexRecord>> got = DecodeDayFile(kDay, text);
  ASSERT_TRUE(got.ok()) << got.status();
  const std::vector<IndexRecord> want = Sorted(records);
  ASSERT_EQ(got->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(absl::CHexEscape(want[i].path));
    EXPECT_EQ((*got)[i].path, want[i].path);
    EXPECT_TRUE((*got)[i] == want[i]);
  }
  // Encoding what was decoded gives the same text.
  EXPECT_EQ(EncodeDayFile(kDay, *got), text);
  // The incomplete records came back incomplete, and only they.
  size_t incomplete = 0;
  for (const IndexRecord& r : *got) incomplete += r.complete ? 0 : 1;
  EXPECT_EQ(incomplete, 3u);
}

TEST(DayFileTest, StateOfAnIncompleteProtection) {
  // P protected, I protected only in part, L lifted: one letter, the rest of the line alike.
  IndexRecord r;
  r.path = "a";
  r.dev = 0x801;
  r.ino = 0x1a2b;
  r.birth = absl::FromUnixNanos(1795136400123456789);
  r.reference = Utc(2026, 11, 20, 1, 5);
  r.tree = true;
  r.locked_at = Utc(2026, 11, 20, 1, 6);
  const std::string line = "\tt\t801\t1a2b\t1795136400123456789\t1795136700\t1795136760\t0\ta\n";
  const std::string head = Header(1);
  r.complete = false;
  EXPECT_EQ(EncodeDayFile(kDay, {r}), Sealed(head + "I" + line));
  r.complete = true;
  EXPECT_EQ(EncodeDayFile(kDay, {r}), Sealed(head + "P" + line));
  r.lifted = true;
  EXPECT_EQ(EncodeDayFile(kDay, {r}), Sealed(head + "L" + line));
  // And back.
  for (const auto& [state, lifted, complete] :
       {std::tuple{"P", false, true}, std::tuple{"I", false, false}, std::tuple{"L", true, true}}) {
    SCOPED_TRACE(state);
    const absl::StatusOr<std::vector<IndexRecord>> got =
        DecodeDayFile(kDay, Sealed(head + state + line));
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), 1u);
    EXPECT_EQ((*got)[0].lifted, lifted);
    EXPECT_EQ((*got)[0].complete, complete);
    EXPECT_EQ((*got)[0].locked_at, r.locked_at);
  }
  // Only those three letters, in upper case.
  for (const char* state : {"i", "p", "l", "IP", "", "C"}) {
    ExpectRejected(kDay, Sealed(head + state + line), absl::StrCat("state ", state));
  }
}

TEST(DayFileTest, TimesKeepWholeSeconds) {
  // The reference is rounded down (never a later day), locked_at up (never a member missed).
  IndexRecord r = Record("a", 1);
  r.reference = kDayStart + absl::Hours(1) + absl::Milliseconds(700);
  r.locked_at = kDayStart + absl::Hours(1) + absl::Milliseconds(200);
  r.tree = true;
  IndexRecord exact = Record("b", 2);
  exact.locked_at = kDayStart + absl::Hours(2);
  IndexRecord late = Record("c", 3);
  late.reference = kDayStart + absl::Hours(24) - absl::Nanoseconds(1);
  const absl::StatusOr<std::vector<IndexRecord>> got =
      DecodeDayFile(kDay, EncodeDayFile(kDay, {r, exact, late}));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].reference, kDayStart + absl::Hours(1));
  EXPECT_EQ((*got)[0].locked_at, kDayStart + absl::Hours(1) + absl::Seconds(1));
  EXPECT_EQ((*got)[0].birth, r.birth) << "birth times keep their nanoseconds";
  EXPECT_EQ((*got)[1].locked_at, kDayStart + absl::Hours(2));
  EXPECT_EQ((*got)[2].reference, kDayStart + absl::Hours(24) - absl::Seconds(1));
  EXPECT_EQ(RecordDay((*got)[2]), kDay);
}

TEST(DayFileTest, BeforeTheEpoch) {
  const absl::CivilDay day(1969, 12, 31);
  IndexRecord r = Record("a", 1);
  r.reference = absl::UnixEpoch() - absl::Milliseconds(500);
  r.birth = absl::UnixEpoch() - absl::Hours(5);
  r.locked_at = absl::UnixEpoch() - absl::Milliseconds(1500);
  const absl::StatusOr<std::vector<IndexRecord>> got = DecodeDayFile(day, EncodeDayFile(day, {r}));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].reference, absl::UnixEpoch() - absl::Seconds(1));
  EXPECT_EQ((*got)[0].locked_at, absl::UnixEpoch() - absl::Seconds(1));
  EXPECT_EQ((*got)[0].birth, r.birth);
}

// A realistic day: 40 VMs backed up hourly (delta), two disks each: per run and VM a metadata file,
// and per disk an alias file and a VHD block directory (a tree) with a random UUID name. The
// shared-prefix compression keeps the index small however long XO's paths are.
TEST(DayFileTest, SizePerRecord) {
  auto uuid = [](uint64_t seed) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 12345;
    std::string hex;
    for (int i = 0; i < 4; ++i) {
      x ^= x >> 29;
      x *= 0xBF58476D1CE4E5B9ull;
      x ^= x >> 32;
      absl::StrAppend(&hex, absl::Hex(x, absl::kZeroPad16));
    }
    return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                        hex.substr(16, 4), "-", hex.substr(20, 12));
  };
  std::vector<IndexRecord> records;
  size_t path_bytes = 0;
  uint64_t ino = 0x4000000;
  for (int vm = 0; vm < 40; ++vm) {
    const std::string vm_dir = absl::StrCat("xo-vm-backups/", uuid(vm), "/");
    const std::string job = uuid(1000);
    for (int hour = 0; hour < 24; ++hour) {
      const std::string stamp =
          absl::StrCat("20261120T", absl::Dec(hour, absl::kZeroPad2), "0000Z");
      const absl::Duration at = absl::Hours(hour) + absl::Minutes(vm);
      ++ino;
      records.push_back(Record(vm_dir + stamp + ".json", ino, at + absl::Minutes(2)));
      for (int disk = 0; disk < 2; ++disk) {
        const std::string vdi_dir =
            absl::StrCat(vm_dir, "vdis/", job, "/", uuid(100 + vm * 2 + disk), "/");
        ++ino;
        records.push_back(Record(vdi_dir + stamp + ".alias.vhd", ino, at + absl::Minutes(1)));
        ++ino;
        records.push_back(Record(absl::StrCat(vdi_dir, "data/", uuid(ino), ".vhd"), ino, at, true,
                                 kDayStart + at + absl::Seconds(30)));
      }
    }
  }
  for (const IndexRecord& r : records) path_bytes += r.path.size();
  const std::string text = EncodeDayFile(kDay, records);
  const double per_record = static_cast<double>(text.size()) / records.size();
  RecordProperty("bytes_per_record", absl::StrCat(per_record));
  EXPECT_EQ(records.size(), 40u * 24 * 5);
  EXPECT_LT(per_record, 100) << text.size() << " bytes for " << records.size() << " records";
  EXPECT_LT(text.size(), path_bytes) << "smaller than the paths alone";
  const absl::StatusOr<std::vector<IndexRecord>> got = DecodeDayFile(kDay, text);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size(), records.size());
}

// ---------------------------------------------------------------------------------------------
// Damage and forgery.

std::string GoodFile() {
  return EncodeDayFile(kDay, {Record("xo-vm-backups/vm-1/20261120T010000Z.json", 1),
                              Record("xo-vm-backups/vm-1/20261120T010000Z.xva", 2),
                              Record("xo-vm-backups/vm-1/vdis/j/v/data/x.vhd", 3, absl::Hours(2),
                                     true, kDayStart + absl::Hours(3))});
}

TEST(DayFileTest, GoodFileDecodes) {
  const absl::StatusOr<std::vector<IndexRecord>> got = DecodeDayFile(kDay, GoodFile());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size(), 3u);
  // The body forged by Sealed() is the same as the encoder's: the forgeries below differ from a
  // good file only by what they name.
  EXPECT_EQ(Sealed(Body(GoodFile())), GoodFile());
}

TEST(DayFileTest, EveryTruncationIsRejected) {
  const std::string good = GoodFile();
  for (size_t n = 0; n < good.size(); ++n) {
    ExpectRejected(kDay, good.substr(0, n), absl::StrCat("the first ", n, " bytes"));
  }
}

TEST(DayFileTest, EveryFlippedByteIsRejected) {
  const std::string good = GoodFile();
  for (size_t i = 0; i < good.size(); ++i) {
    for (unsigned char bit : {0x01, 0x20, 0x80}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ bit);
      ExpectRejected(kDay, bad, absl::StrCat("byte ", i, " ^ ", bit));
    }
  }
}

TEST(DayFileTest, ForgeryHelpersMakeGoodFiles) {
  // The controls for the forgeries below: built by hand, they decode when nothing is wrong.
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {Sealed(Header(0)), {}},
      {Sealed(Header(1) + Line(0, "a")), {"a"}},
      {Sealed(Header(2) + Line(0, "a") + Line(0, "b", 2)), {"a", "b"}},
      {Sealed(Header(2) + Line(0, "x/..y") + Line(4, "z", 2)), {"x/..y", "x/..z"}},
      {Sealed(Header(2) + Line(0, "ab") + Line(2, "", 2)), {"ab", "ab"}},
      {Sealed(Header(2) + Line(0, "ab") + Line(1, "c", 2)), {"ab", "ac"}},
  };
  for (const auto& [text, paths] : cases) {
    SCOPED_TRACE(absl::CHexEscape(text));
    const absl::StatusOr<std::vector<IndexRecord>> got = DecodeDayFile(kDay, text);
    ASSERT_TRUE(got.ok()) << got.status();
    std::vector<std::string> got_paths;
    for (const IndexRecord& r : *got) got_paths.push_back(r.path);
    EXPECT_EQ(got_paths, paths);
  }
}

TEST(DayFileTest, RejectsDamage) {
  const std::string good = GoodFile();
  const std::string body = Body(good);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"garbage", "garbage"},
      {"only an end line", Sealed("")},
      {"something after the end line", good + "x"},
      {"a second end line", good + good},
      {"no final newline", good.substr(0, good.size() - 1)},
      {"CRLF line ends", absl::StrReplaceAll(good, {{"\n", "\r\n"}})},
      {"a checksum in upper case",
       [&] {
         std::string s = body + "end\t" + Checksum(body) + "\n";
         for (size_t i = body.size() + 4; i < s.size(); ++i) s[i] = absl::ascii_toupper(s[i]);
         return s;
       }()},
      {"a longer checksum", body + "end\t" + Checksum(body) + "0\n"},
      {"a shorter checksum", body + "end\t" + Checksum(body).substr(0, 15) + "\n"},
      {"the checksum of another body", body + "end\t" + Checksum(body + "x") + "\n"},
  };
  for (const auto& [why, text] : cases) ExpectRejected(kDay, text, why);
}

TEST(DayFileTest, RejectsForgeriesWithAValidChecksum) {
  const std::string body = Body(GoodFile());
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = body;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << absl::CHexEscape(from);
    if (at == std::string::npos) return std::string();
    return Sealed(s.replace(at, from.size(), to));
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      // The header.
      {"another version (2)", replace("index 3 ", "index 2 ")},
      {"another version (4)", replace("index 3 ", "index 4 ")},
      {"another magic", replace("xo-immutable-index", "xo-immutable-indey")},
      {"no header", Sealed(body.substr(body.find('\n') + 1))},
      {"a header of another day", replace("2026-11-20 3", "2026-11-21 3")},
      {"a header count too small", replace("2026-11-20 3", "2026-11-20 2")},
      {"a header count too large", replace("2026-11-20 3", "2026-11-20 4")},
      {"a header count that is no number", replace("2026-11-20 3", "2026-11-20 three")},
      {"a header with a fifth field", replace("2026-11-20 3", "2026-11-20 3 x")},
      {"a header of tabs",
       replace("xo-immutable-index 3 2026-11-20 3", "xo-immutable-index\t3\t2026-11-20\t3")},
      // The records.
      {"a record line missing",
       [&] {
         std::string s = body;
         const size_t first = s.find('\n') + 1;
         return Sealed(s.erase(first, s.find('\n', first) + 1 - first));
       }()},
      {"an empty line", replace("\nP\t", "\n\nP\t")},
      {"another state", replace("\nP\tf\t801\t1\t", "\nX\tf\t801\t1\t")},
      {"another kind", replace("\nP\tf\t801\t1\t", "\nP\td\t801\t1\t")},
      {"a device that is no hex number", replace("\nP\tf\t801\t1\t", "\nP\tf\t80g\t1\t")},
      {"an inode that is no hex number", replace("\nP\tf\t801\t1\t", "\nP\tf\t801\tz\t")},
      {"an inode beyond 64 bits", replace("\nP\tf\t801\t1\t", "\nP\tf\t801\t10000000000000000\t")},
      {"a field missing", replace("\nP\tf\t", "\nP\t")},
      {"a field too many", replace("\t-\t0\t", "\t-\t-\t0\t")},
      {"a reference that is no number", replace("\t1795136400\t", "\t17951x6400\t")},
      {"a locked_at that is no number", replace("\t-\t0\t", "\tnever\t0\t")},
      {"a shared prefix longer than the previous path", replace("\t-\t0\t", "\t-\t1\t")},
      {"a shared prefix that is no number", replace("\t-\t0\t", "\t-\tx\t")},
      {"a bad escape", replace("20261120T010000Z.json", "20261120T010000Z.%G1")},
      {"a truncated escape", replace("20261120T010000Z.json", "20261120T010000Z.js%4")},
      {"a lone percent", replace("20261120T010000Z.json", "20261120T010000Z.json%")},
      // Order and paths.
      {"out of order", Sealed(Header(2) + Line(0, "b") + Line(0, "a", 2))},
      {"out of order through the shared prefix",
       Sealed(Header(2) + Line(0, "ab") + Line(1, "", 2))},
      {"a path that turns bad through the shared prefix",
       Sealed(Header(2) + Line(0, "x/..y") + Line(4, "/z", 2))},
  };
  for (const auto& [why, text] : cases) ExpectRejected(kDay, text, why);
}

TEST(DayFileTest, RejectsRecordsOfAnotherDay) {
  // The encoder writes what it is given (its caller groups records by day); the decoder checks.
  const std::vector<std::pair<std::string, IndexRecord>> cases = {
      {"the next day", Record("a", 1, absl::Hours(24))},
      {"the day before", Record("a", 1, -absl::Seconds(1))},
      {"a year later", Record("a", 1, absl::Hours(24 * 365))},
  };
  for (const auto& [why, record] : cases) {
    ExpectRejected(kDay, EncodeDayFile(kDay, {Record("0", 5), record}), why);
  }
  // A good file decoded as another day's.
  ExpectRejected(absl::CivilDay(2026, 11, 21), GoodFile(), "decoded as the next day's file");
}

TEST(DayFileTest, RejectsPathsOutsideTheRemote) {
  const std::vector<std::string> paths = {
      "",    "..",  ".",    "../x", "a/../../x", "a/..",        "a/./b",
      "./a", "a/.", "a//b", "a/",   "/",         "/etc/shadow", "//x",
  };
  for (const std::string& path : paths) {
    ExpectRejected(kDay, EncodeDayFile(kDay, {Record(path, 1)}), absl::StrCat("path ", path));
    ExpectRejected(kDay, EncodeDayFile(kDay, {Record(path, 1), Record("0", 2)}),
                   absl::StrCat("path ", path, " after another"));
  }
  // Escaped slashes and dots decode to the same path, and are judged on it.
  const std::string body = Body(EncodeDayFile(kDay, {Record("a.b/c", 1)}));
  ExpectRejected(kDay, Sealed(absl::StrReplaceAll(body, {{"a.b/c", "%2E%2E%2Fc"}})),
                 "escaped ../c");
}

TEST(DayFileTest, RejectsAPathWithANul) {
  // No file name holds a NUL: an escaped one is a forgery (a C string would end there, naming
  // another file), wherever it is.
  const std::string body = Body(EncodeDayFile(kDay, {Record("a-b", 1)}));
  for (const std::string escaped : {"a%00b", "%00", "a%00", "%00a", "a/%00/b"}) {
    ExpectRejected(kDay, Sealed(absl::StrReplaceAll(body, {{"a-b", escaped}})),
                   absl::StrCat("escaped NUL: ", escaped));
  }
  // The encoder escapes it like any control byte; the decoder refuses what it wrote.
  ExpectRejected(kDay, EncodeDayFile(kDay, {Record(std::string("a\0b", 3), 1)}), "a NUL");
}

TEST(IsRemotePathTest, Table) {
  const std::vector<std::pair<std::string, bool>> cases = {
      {"a", true},
      {"a/b/c", true},
      {"...", true},
      {".hidden/..x/x..", true},
      {"a b/\t\n\x7f\xff", true},
      {"", false},
      {".", false},
      {"..", false},
      {"../x", false},
      {"a/../b", false},
      {"a/..", false},
      {"./a", false},
      {"a/./b", false},
      {"a/.", false},
      {"a//b", false},
      {"a/", false},
      {"/", false},
      {"/a", false},
      {"//a", false},
      {std::string("\0", 1), false},
      {std::string("a\0b", 3), false},
      {std::string("a/\0", 3), false},
      {std::string("a\0/../../etc", 12), false},
  };
  for (const auto& [path, want] : cases) {
    EXPECT_EQ(IsRemotePath(path), want) << absl::CHexEscape(path);
  }
}

TEST(DayFileTest, AcceptsNamesThatOnlyLookOdd) {
  // The decoder also reads escapes the encoder never writes (lower-case hex, escaped printable
  // bytes), and judges the path they decode to.
  const std::string body = Body(EncodeDayFile(kDay, {Record("a-b", 1)}));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a%2db", "a-b"},
      {"a%2Db", "a-b"},
      {"a%0ab", "a\nb"},
      {"a%7fb",
       "a\x7f"
       "b"},
  };
  for (const auto& [escaped, path] : cases) {
    SCOPED_TRACE(escaped);
    const absl::StatusOr<std::vector<IndexRecord>> got =
        DecodeDayFile(kDay, Sealed(absl::StrReplaceAll(body, {{"a-b", escaped}})));
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), 1u);
    EXPECT_EQ((*got)[0].path, path);
  }
}

// ---------------------------------------------------------------------------------------------
// DayFileDecoder: a day file read in pieces, as the index reads it (a day of a million records is
// never in memory at once).

TEST(DayFileDecoderTest, AnyPieceSizeDecodesTheSame) {
  std::vector<IndexRecord> records;
  for (uint64_t i = 1; i <= 60; ++i) {
    records.push_back(Record(absl::StrCat("xo-vm-backups/vm-", i % 7, "/", i, ".json"), i));
  }
  const std::string file = EncodeDayFile(kDay, records);
  for (size_t piece : {size_t{1}, size_t{2}, size_t{7}, size_t{64}, size_t{4096}}) {
    SCOPED_TRACE(absl::StrCat("pieces of ", piece));
    std::vector<IndexRecord> got;
    DayFileDecoder decoder(kDay, [&](IndexRecord r) { got.push_back(std::move(r)); });
    for (size_t at = 0; at < file.size(); at += piece) {
      ASSERT_TRUE(decoder.Feed(absl::string_view(file).substr(at, piece)).ok());
    }
    ASSERT_TRUE(decoder.Finish().ok());
    EXPECT_EQ(got, Sorted(records));
  }
}

// The encoder writes what EncodeDayFile would, in pieces taken at any time; it refuses to finish a
// file that would not read back (fewer or more records than its header says, or out of order).
TEST(DayFileEncoderTest, PiecesMakeTheSameFile) {
  std::vector<IndexRecord> records;
  for (uint64_t i = 1; i <= 60; ++i) {
    records.push_back(Record(absl::StrCat("xo-vm-backups/vm-", i % 7, "/", i, ".json"), i));
  }
  records.push_back(Record("xo-vm-backups/vm-1/1.json", 99));  // a path reused by another inode
  const std::vector<IndexRecord> sorted = Sorted(records);
  ASSERT_TRUE(std::is_sorted(sorted.begin(), sorted.end(), DayFileOrder));
  for (size_t every : {size_t{1}, size_t{3}, size_t{1000}}) {
    SCOPED_TRACE(absl::StrCat("a piece every ", every, " records"));
    DayFileEncoder encoder(kDay, sorted.size());
    std::string file;
    for (size_t i = 0; i < sorted.size(); ++i) {
      encoder.Add(sorted[i]);
      if (i % every == 0) file += encoder.TakeBytes();
    }
    absl::StatusOr<std::string> last = encoder.Finish();
    ASSERT_TRUE(last.ok()) << last.status();
    file += *last;
    EXPECT_EQ(file, EncodeDayFile(kDay, records));
  }
}

TEST(DayFileEncoderTest, RefusesAFileThatWouldNotReadBack) {
  DayFileEncoder fewer(kDay, 2);
  fewer.Add(Record("a.xva", 1));
  EXPECT_THAT(fewer.Finish().status().message(), HasSubstr("of 2 records given 1"));
  DayFileEncoder unordered(kDay, 2);
  unordered.Add(Record("b.xva", 1));
  unordered.Add(Record("a.xva", 2));
  EXPECT_THAT(unordered.Finish().status().message(), HasSubstr("out of order"));
}

// Records reach the sink before the end line is read: only Finish() says the file was intact, and
// the index acts on nothing before it did.
TEST(DayFileDecoderTest, OnlyFinishSaysTheFileWasIntact) {
  std::string file = EncodeDayFile(kDay, {Record("a.xva", 1), Record("b.xva", 2)});
  file[file.size() - 2] = file[file.size() - 2] == '0' ? '1' : '0';  // the checksum's last digit
  size_t seen = 0;
  DayFileDecoder decoder(kDay, [&](IndexRecord) { ++seen; });
  (void)decoder.Feed(file);
  EXPECT_EQ(seen, 2u);
  EXPECT_THAT(decoder.Finish().message(), HasSubstr("bad checksum"));

  DayFileDecoder cut(kDay, [](IndexRecord) {});
  ASSERT_TRUE(cut.Feed(absl::string_view(file).substr(0, file.find("end\t"))).ok());
  EXPECT_THAT(cut.Finish().message(), HasSubstr("truncated"));
}

// ---------------------------------------------------------------------------------------------
// RecordSummary: what a run holds in memory of each record, and decides on.

TEST(RecordSummaryTest, KeepsWhatTheRulesDecideOn) {
  struct Row {
    std::string name;
    IndexRecord record;
    absl::Time want_reference;
    absl::Time want_locked_at;
  };
  const absl::Time ref = kDayStart + absl::Hours(3);
  IndexRecord tree = Record("xo-vm-backups/vm/vdis/j/d/20261120T030000Z.vhd", 5, absl::Hours(3),
                            /*tree=*/true, ref + absl::Minutes(2) + absl::Milliseconds(300));
  IndexRecord lifted = Record("xo-vm-backups/vm/20261120T030000Z.json", 6, absl::Hours(3), false,
                              absl::InfinitePast(), /*lifted=*/true);
  IndexRecord incomplete = tree;
  incomplete.complete = false;
  IndexRecord fractional = Record("a.xva", 7, absl::Hours(3) + absl::Milliseconds(999));
  IndexRecord far = tree;
  far.locked_at = ref + absl::Hours(24 * 365 * 100);  // beyond what 32 bits of seconds hold
  IndexRecord infinite = tree;
  infinite.locked_at = absl::InfiniteFuture();
  IndexRecord early = Record("old.xva", 8);
  early.reference = Utc(1969, 12, 31) + absl::Milliseconds(500);
  const std::vector<Row> rows = {
      {"file", Record("a.xva", 1, absl::Hours(3)), ref, absl::InfinitePast()},
      {"tree: locked_at rounded up", tree, ref, ref + absl::Minutes(2) + absl::Seconds(1)},
      {"lifted", lifted, ref, absl::InfinitePast()},
      {"incomplete", incomplete, ref, ref + absl::Minutes(2) + absl::Seconds(1)},
      {"reference rounded down, within its day", fractional, ref, absl::InfinitePast()},
      {"locked_at too far: an earlier bound (fewer members lifted)", far, ref,
       ref + absl::Seconds(std::numeric_limits<int32_t>::max())},
      {"before the epoch", early, Utc(1969, 12, 31), absl::InfinitePast()},
      {"locked_at unbounded (every member the tree's)", infinite, ref,
       ref + absl::Seconds(std::numeric_limits<int32_t>::max())},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const RecordSummary s(row.record);
    EXPECT_EQ(s.identity(), row.record.identity());
    EXPECT_EQ(s.birth(), row.record.birth);
    EXPECT_EQ(s.tree(), row.record.tree);
    EXPECT_EQ(s.lifted(), row.record.lifted);
    EXPECT_EQ(s.complete(), row.record.complete);
    EXPECT_EQ(s.reference(), row.want_reference);
    EXPECT_EQ(s.day(), RecordDay(row.record));
    EXPECT_EQ(s.locked_at(), row.want_locked_at);
    EXPECT_LE(s.locked_at(), Stored(row.record).locked_at);  // never more members than locked
    EXPECT_TRUE(s.IsAt(row.record.path));
  }
}

// "Same path" is what tells a lifted item XO merges into from an old folder renamed onto a new
// backup's path: another path must not pass for the recorded one.
TEST(RecordSummaryTest, AnotherPathIsNotTheRecordedOne) {
  const IndexRecord r = Record("xo-vm-backups/vm/vdis/j/d/20261120T030000Z.vhd", 1);
  const RecordSummary s(r);
  EXPECT_TRUE(s.IsAt(r.path));
  EXPECT_FALSE(s.IsAt(r.path + "/"));
  EXPECT_FALSE(s.IsAt("xo-vm-backups/vm/vdis/j/d/20261121T030000Z.vhd"));
  int collisions = 0;
  for (int i = 0; i < 10000; ++i) collisions += s.IsAt(absl::StrCat(r.path, ".", i)) ? 1 : 0;
  EXPECT_EQ(collisions, 0);
}

}  // namespace
}  // namespace xoi
