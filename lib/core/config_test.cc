#include "lib/core/config.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/core/glob_set.h"

namespace xoi {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr char kSource[] = "/etc/xo-immutable-backups/test-config.json";

// A document with one remote "a" whose object is `body`.
std::string OneRemote(absl::string_view body) {
  return absl::StrCat(R"({"remotes": {"a": )", body, "}}");
}

// A document with one remote "a" holding `fields` besides a valid root and
// duration.
std::string RemoteWith(absl::string_view fields) {
  return OneRemote(
      absl::StrCat(R"({"root": "/srv/a", "immutabilityDuration": "14d", )", fields, "}"));
}

absl::StatusOr<Config> Parse(absl::string_view text) { return ParseConfig(text, kSource); }

Config MustParse(absl::string_view text) {
  absl::StatusOr<Config> config = Parse(text);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *std::move(config) : Config();
}

// Asserts that `text` is refused with InvalidArgument, a message "<file>:
// <key>: ...", and (when given) `what` in it.
void ExpectError(absl::string_view text, absl::string_view key, absl::string_view what = "") {
  SCOPED_TRACE(text);
  const absl::StatusOr<Config> config = Parse(text);
  ASSERT_FALSE(config.ok()) << "accepted";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith(absl::StrCat(kSource, ": ", key, ": ")));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(what));
}

// ---------------------------------------------------------------------------------------------
// Valid configurations.

TEST(ParseConfigTest, FullConfig) {
  const Config config = MustParse(R"({
    "indexPath": "/var/lib/xoi-test/",
    "remotes": {
      "zeta": {"root": "/srv/zeta/", "immutabilityDuration": "14d"},
      "alpha": {
        "root": "/srv//alpha",
        "immutabilityDuration": "7 days",
        "settle": "30s",
        "orphanGrace": "2h",
        "paths": ["a/*.json", "b/{c,d}/"]
      },
      "m-2_x.y": {"root": "/mnt/backups/m", "immutabilityDuration": 86400000, "settle": 5000,
                  "orphanGrace": "90m"}
    }
  })");
  EXPECT_EQ(config.source, kSource);
  EXPECT_EQ(config.index_path, "/var/lib/xoi-test");
  EXPECT_THAT(config.notices, IsEmpty());
  ASSERT_THAT(config.remotes, SizeIs(3));

  // Sorted by id.
  const RemoteConfig& alpha = config.remotes[0];
  const RemoteConfig& m = config.remotes[1];
  const RemoteConfig& zeta = config.remotes[2];
  EXPECT_EQ(alpha.id, "alpha");
  EXPECT_EQ(m.id, "m-2_x.y");
  EXPECT_EQ(zeta.id, "zeta");

  EXPECT_EQ(alpha.root, "/srv/alpha");
  EXPECT_EQ(alpha.immutability_duration, absl::Hours(7 * 24));
  EXPECT_EQ(alpha.settle, absl::Seconds(30));
  EXPECT_EQ(alpha.orphan_grace, absl::Hours(2));
  EXPECT_THAT(alpha.paths, ElementsAre("a/*.json", "b/{c,d}/"));

  // Bare numbers are milliseconds.
  EXPECT_EQ(m.root, "/mnt/backups/m");
  EXPECT_EQ(m.immutability_duration, absl::Hours(24));
  EXPECT_EQ(m.settle, absl::Seconds(5));
  EXPECT_EQ(m.orphan_grace, absl::Minutes(90));

  // Defaults.
  EXPECT_EQ(zeta.root, "/srv/zeta");
  EXPECT_EQ(zeta.immutability_duration, absl::Hours(14 * 24));
  EXPECT_EQ(zeta.settle, absl::Seconds(10));
  EXPECT_EQ(zeta.orphan_grace, absl::Hours(1));
  EXPECT_EQ(zeta.paths, GlobSet::DefaultPatterns());
  EXPECT_EQ(m.paths, GlobSet::DefaultPatterns());
}

constexpr char kMinimal[] =
    R"({"remotes": {"r": {"root": "/srv/r", "immutabilityDuration": "1d"}}})";

TEST(ParseConfigTest, IndexPathDefaultIsTheOneGivenWithANotice) {
  auto config =
      ParseConfig(kMinimal, kSource, IndexPathDefault{"/var/lib/elsewhere", "$STATE_DIRECTORY"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->index_path, "/var/lib/elsewhere");
  ASSERT_THAT(config->notices, SizeIs(1));
  EXPECT_THAT(config->notices[0], HasSubstr("indexPath is not set"));
  EXPECT_THAT(config->notices[0], HasSubstr("STATE_DIRECTORY"));
}

TEST(ParseConfigTest, XosTomlConfigIsReadWithTheSameKeys) {
  auto config = ParseTomlConfig(R"(
# XO's daemon configuration
liftEvery = "1h"
indexPath = "/var/lib/xo-immutable-backups"

[remotes.remote1]
root = "/mnt/ssd/vhdblock/"
immutabilityDuration = "7d"
rebuildIndexOnStart = true
)",
                                "config.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_THAT(config->remotes, SizeIs(1));
  EXPECT_EQ(config->remotes[0].id, "remote1");
  EXPECT_EQ(config->remotes[0].root, "/mnt/ssd/vhdblock");
  EXPECT_EQ(config->remotes[0].immutability_duration, absl::Hours(24 * 7));
  // liftEvery, and rebuildIndexOnStart, which XO's sample puts in the remote's table.
  ASSERT_THAT(config->notices, SizeIs(2));
  EXPECT_THAT(config->notices[1], HasSubstr("remotes.remote1.rebuildIndexOnStart"));
}

// XO's sample config.toml puts indexPath in the remote's table: where its daemon kept that
// remote's index, which a run reads once; ours stays the top level's.
TEST(ParseConfigTest, ARemotesIndexPathNamesXosDaemonIndex) {
  auto config = ParseTomlConfig(R"(
[remotes.remote1]
root = "/mnt/ssd/vhdblock/"
immutabilityDuration = "7d"
indexPath = "/var/lib/xo-immutable-backups/remote1/"
)",
                                "config.toml", IndexPathDefault{"/var/lib/ours", "default"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->index_path, "/var/lib/ours");
  EXPECT_EQ(config->remotes[0].xo_daemon_index, "/var/lib/xo-immutable-backups/remote1");
  auto relative = ParseConfig(
      R"({"remotes": {"r": {"root": "/r", "immutabilityDuration": "7d", "indexPath": "x"}}})",
      "config.json");
  ASSERT_FALSE(relative.ok());
  EXPECT_THAT(relative.status().message(), HasSubstr("remotes.r.indexPath"));
}

TEST(ParseConfigTest, TomlErrorsNameTheFileLineAndKey) {
  auto broken = ParseTomlConfig("[remotes.r\nroot = 1", "config.toml");
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.status().message(), HasSubstr("config.toml"));
  EXPECT_THAT(broken.status().message(), HasSubstr("line 1"));
  auto wrong =
      ParseTomlConfig("[remotes.r]\nroot = 1\nimmutabilityDuration = \"7d\"\n", "config.toml");
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.status().message(), HasSubstr("remotes.r.root"));
  auto date = ParseTomlConfig("[remotes.r]\nroot = \"/r\"\nimmutabilityDuration = 2026-11-01\n",
                              "config.toml");
  ASSERT_FALSE(date.ok());
  EXPECT_THAT(date.status().message(), HasSubstr("immutabilityDuration"));
}

TEST(ParseConfigTest, Defaults) {
  const Config config = MustParse(kMinimal);
  EXPECT_EQ(config.index_path, kDefaultIndexPath);
  EXPECT_EQ(config.index_path, "/var/lib/xo-immutable-backups");
  ASSERT_THAT(config.remotes, SizeIs(1));
  const RemoteConfig& r = config.remotes[0];
  EXPECT_EQ(r.id, "r");
  EXPECT_EQ(r.root, "/srv/r");
  EXPECT_EQ(r.immutability_duration, absl::Hours(24));
  EXPECT_EQ(r.settle, absl::Seconds(10));
  EXPECT_EQ(r.orphan_grace, absl::Hours(1));
  EXPECT_EQ(r.paths, GlobSet::DefaultPatterns());
  EXPECT_EQ(config.max_entries_per_run, 15000u);
  ASSERT_THAT(config.notices, SizeIs(1));
  EXPECT_THAT(config.notices[0], HasSubstr("indexPath is not set, using " +
                                           std::string(kDefaultIndexPath) + " (default)"));
}

TEST(ParseConfigTest, RootsAreNormalised) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/srv/a", "/srv/a"},     {"/srv/a/", "/srv/a"},  {"//srv///a//", "/srv/a"},
      {"/srv/a b", "/srv/a b"}, {"/srv/.a", "/srv/.a"}, {"/srv/a..b", "/srv/a..b"},
  };
  for (const auto& [root, want] : cases) {
    SCOPED_TRACE(root);
    const Config config = MustParse(
        OneRemote(absl::StrCat(R"({"root": ")", root, R"(", "immutabilityDuration": "14d"})")));
    ASSERT_THAT(config.remotes, SizeIs(1));
    EXPECT_EQ(config.remotes[0].root, want);
  }
}

TEST(ParseConfigTest, ImmutabilityDurationZeroIsAccepted) {
  for (const std::string& value : {std::string("\"0\""), std::string("0")}) {
    SCOPED_TRACE(value);
    const Config config = MustParse(
        OneRemote(absl::StrCat(R"({"root": "/srv/a", "immutabilityDuration": )", value, "}")));
    ASSERT_THAT(config.remotes, SizeIs(1));
    EXPECT_EQ(config.remotes[0].immutability_duration, absl::ZeroDuration());
  }
}

TEST(ParseConfigTest, NumericDurationsAreMilliseconds) {
  const std::vector<std::pair<std::string, absl::Duration>> cases = {
      {"86400000", absl::Hours(24)},
      {"1209600000", absl::Hours(14 * 24)},
      {"86400000.0", absl::Hours(24)},
      {"8.64e7", absl::Hours(24)},
      {"90000000", absl::Hours(25)},
      {"86400001", absl::Hours(24) + absl::Milliseconds(1)},
      {"3153600000000", absl::Hours(24 * 365 * 100)},
  };
  for (const auto& [value, want] : cases) {
    SCOPED_TRACE(value);
    const Config config = MustParse(
        OneRemote(absl::StrCat(R"({"root": "/srv/a", "immutabilityDuration": )", value, "}")));
    ASSERT_THAT(config.remotes, SizeIs(1));
    EXPECT_EQ(config.remotes[0].immutability_duration, want);
  }
  const Config config = MustParse(RemoteWith(R"("settle": 1234567, "orphanGrace": 7200000)"));
  ASSERT_THAT(config.remotes, SizeIs(1));
  EXPECT_EQ(config.remotes[0].settle, absl::Milliseconds(1234567));
  EXPECT_EQ(config.remotes[0].orphan_grace, absl::Hours(2));
}

TEST(ParseConfigTest, ImmutabilityDurationOfExactlyOneDay) {
  const Config config =
      MustParse(OneRemote(R"({"root": "/srv/a", "immutabilityDuration": "24h"})"));
  ASSERT_THAT(config.remotes, SizeIs(1));
  EXPECT_EQ(config.remotes[0].immutability_duration, absl::Hours(24));
}

TEST(ParseConfigTest, SettleAndOrphanGraceMayBeZeroOrShort) {
  const Config config = MustParse(RemoteWith(R"("settle": "0", "orphanGrace": "500ms")"));
  ASSERT_THAT(config.remotes, SizeIs(1));
  EXPECT_EQ(config.remotes[0].settle, absl::ZeroDuration());
  EXPECT_EQ(config.remotes[0].orphan_grace, absl::Milliseconds(500));
}

TEST(ParseConfigTest, SiblingRootsWithACommonPrefixDoNotOverlap) {
  const Config config = MustParse(R"({"indexPath": "/srv/ab-index", "remotes": {
      "a": {"root": "/srv/a", "immutabilityDuration": "14d"},
      "b": {"root": "/srv/ab", "immutabilityDuration": "14d"}}})");
  ASSERT_THAT(config.remotes, SizeIs(2));
}

TEST(ParseConfigTest, CommentsAndTrailingCommasAreAccepted) {
  const Config config = MustParse(R"({
    // Where the ledger lives.
    "indexPath": "/var/lib/xoi", /* the default is fine too */
    "remotes": {
      "a": {"root": "/srv/a", "immutabilityDuration": "14d",},
    },
  })");
  EXPECT_EQ(config.index_path, "/var/lib/xoi");
  ASSERT_THAT(config.remotes, SizeIs(1));
  EXPECT_EQ(config.remotes[0].root, "/srv/a");
}

TEST(ParseConfigTest, LegacyKeysGiveOneNoticeEach) {
  {
    const Config config = MustParse(R"({"indexPath": "/var/lib/x", "liftEvery": "1h", "remotes": {
        "a": {"root": "/srv/a", "immutabilityDuration": "14d"}}})");
    ASSERT_THAT(config.notices, SizeIs(1));
    EXPECT_THAT(config.notices[0], StartsWith(kSource));
    EXPECT_THAT(config.notices[0], HasSubstr("liftEvery"));
  }
  {
    const Config config =
        MustParse(R"({"indexPath": "/var/lib/x", "rebuildIndexOnStart": true, "remotes": {
        "a": {"root": "/srv/a", "immutabilityDuration": "14d"}}})");
    ASSERT_THAT(config.notices, SizeIs(1));
    EXPECT_THAT(config.notices[0], StartsWith(kSource));
    EXPECT_THAT(config.notices[0], HasSubstr("rebuildIndexOnStart"));
  }
  {
    const Config config = MustParse(R"({
        "indexPath": "/var/lib/x",
        "liftEvery": 3600000,
        "remotes": {"a": {"root": "/srv/a", "immutabilityDuration": "14d"}},
        "rebuildIndexOnStart": false})");
    ASSERT_THAT(config.notices, SizeIs(2));
    EXPECT_THAT(config.notices[0], HasSubstr("liftEvery"));
    EXPECT_THAT(config.notices[1], HasSubstr("rebuildIndexOnStart"));
    ASSERT_THAT(config.remotes, SizeIs(1));
  }
}

// ---------------------------------------------------------------------------------------------
// Errors: one test per kind.

TEST(ParseConfigErrorTest, NotJson) {
  ExpectError("", "(document)", "not valid JSON");
  ExpectError("{", "(document)", "not valid JSON");
  ExpectError(R"({"remotes": {})", "(document)", "not valid JSON");
  ExpectError(R"({'remotes': {}})", "(document)", "not valid JSON");
  ExpectError(R"({"remotes": {}} /* unterminated)", "(document)", "not valid JSON");
  ExpectError("remotes: {}", "(document)", "not valid JSON");
  ExpectError(R"({"remotes": {}} trailing)", "(document)", "not valid JSON");
}

TEST(ParseConfigErrorTest, NotAnObject) {
  ExpectError("[]", "(document)", "must be a JSON object");
  ExpectError("null", "(document)", "must be a JSON object");
  ExpectError(R"("config")", "(document)", "must be a JSON object");
  ExpectError("42", "(document)", "must be a JSON object");
}

TEST(ParseConfigErrorTest, UnknownTopLevelKey) {
  ExpectError(R"({"remotez": {}})", "remotez", "unknown key");
  ExpectError(
      R"({"remotes": {"a": {"root": "/srv/a", "immutabilityDuration": "14d"}},
                  "IndexPath": "/x"})",
      "IndexPath", "unknown key");
}

TEST(ParseConfigTest, MaxEntriesPerRun) {
  const std::string remotes =
      R"("remotes": {"a": {"root": "/srv/a", "immutabilityDuration": "14d"}})";
  EXPECT_EQ(MustParse("{" + remotes + R"(, "maxEntriesPerRun": 1})").max_entries_per_run, 1u);
  EXPECT_EQ(MustParse("{" + remotes + R"(, "maxEntriesPerRun": 2000000.0})").max_entries_per_run,
            2000000u);
  for (const char* bad : {"0", "-5", "1.5", "\"50000\"", "true", "1e10"}) {
    SCOPED_TRACE(bad);
    ExpectError("{" + remotes + R"(, "maxEntriesPerRun": )" + bad + "}", "maxEntriesPerRun",
                "whole number from 1 to 1000000000");
  }
}

TEST(ParseConfigErrorTest, UnknownRemoteKey) {
  ExpectError(RemoteWith(R"("rooot": "/srv/b")"), "remotes.a.rooot", "unknown key");
  ExpectError(RemoteWith(R"("immutability": "14d")"), "remotes.a.immutability", "unknown key");
  ExpectError(RemoteWith(R"("enabled": true)"), "remotes.a.enabled", "unknown key");
}

TEST(ParseConfigErrorTest, RemotesNotAnObject) {
  ExpectError(R"({"remotes": []})", "remotes", "must be an object");
  ExpectError(R"({"remotes": "a"})", "remotes", "must be an object");
}

TEST(ParseConfigErrorTest, RemoteNotAnObject) {
  ExpectError(R"({"remotes": {"a": "/srv/a"}})", "remotes.a", "must be an object");
  ExpectError(R"({"remotes": {"a": null}})", "remotes.a", "must be an object");
}

TEST(ParseConfigErrorTest, WrongTypeForRoot) {
  ExpectError(OneRemote(R"({"root": 5, "immutabilityDuration": "14d"})"), "remotes.a.root",
              "must be a string");
  ExpectError(OneRemote(R"({"root": ["/srv/a"], "immutabilityDuration": "14d"})"), "remotes.a.root",
              "must be a string");
  ExpectError(OneRemote(R"({"root": null, "immutabilityDuration": "14d"})"), "remotes.a.root",
              "must be a string");
}

TEST(ParseConfigErrorTest, WrongTypeForIndexPath) {
  ExpectError(R"({"indexPath": 5, "remotes": {
      "a": {"root": "/srv/a", "immutabilityDuration": "14d"}}})",
              "indexPath", "must be a string");
}

TEST(ParseConfigErrorTest, WrongTypeForDuration) {
  ExpectError(OneRemote(R"({"root": "/srv/a", "immutabilityDuration": true})"),
              "remotes.a.immutabilityDuration", "must be a duration");
  ExpectError(OneRemote(R"({"root": "/srv/a", "immutabilityDuration": null})"),
              "remotes.a.immutabilityDuration", "must be a duration");
  ExpectError(RemoteWith(R"("settle": ["10s"])"), "remotes.a.settle", "must be a duration");
  ExpectError(RemoteWith(R"("orphanGrace": {"h": 1})"), "remotes.a.orphanGrace",
              "must be a duration");
}

TEST(ParseConfigErrorTest, WrongTypeForPaths) {
  ExpectError(RemoteWith(R"("paths": "xo-vm-backups/*/*.json")"), "remotes.a.paths",
              "must be an array");
  ExpectError(RemoteWith(R"("paths": {"a": "b"})"), "remotes.a.paths", "must be an array");
}

TEST(ParseConfigErrorTest, WrongTypeForPathsEntry) {
  ExpectError(RemoteWith(R"("paths": ["xo-vm-backups/*/*.json", 5])"), "remotes.a.paths",
              "every entry must be a string");
  ExpectError(RemoteWith(R"("paths": [null])"), "remotes.a.paths", "every entry must be a string");
  ExpectError(RemoteWith(R"("paths": [["a"]])"), "remotes.a.paths", "every entry must be a string");
}

TEST(ParseConfigErrorTest, RelativeRoot) {
  ExpectError(OneRemote(R"({"root": "srv/a", "immutabilityDuration": "14d"})"), "remotes.a.root",
              "must be an absolute path");
  ExpectError(OneRemote(R"({"root": "", "immutabilityDuration": "14d"})"), "remotes.a.root",
              "must be an absolute path");
  ExpectError(OneRemote(R"({"root": "./srv", "immutabilityDuration": "14d"})"), "remotes.a.root",
              "must be an absolute path");
}

TEST(ParseConfigErrorTest, RelativeIndexPath) {
  ExpectError(R"({"indexPath": "var/lib/x", "remotes": {
      "a": {"root": "/srv/a", "immutabilityDuration": "14d"}}})",
              "indexPath", "must be an absolute path");
}

TEST(ParseConfigErrorTest, RootWithDotSegments) {
  ExpectError(OneRemote(R"({"root": "/srv/../etc", "immutabilityDuration": "14d"})"),
              "remotes.a.root", "'..'");
  ExpectError(OneRemote(R"({"root": "/srv/a/..", "immutabilityDuration": "14d"})"),
              "remotes.a.root", "'..'");
  ExpectError(OneRemote(R"({"root": "/srv/./a", "immutabilityDuration": "14d"})"), "remotes.a.root",
              "'.'");
  ExpectError(R"({"indexPath": "/var/lib/../x", "remotes": {
      "a": {"root": "/srv/a", "immutabilityDuration": "14d"}}})",
              "indexPath", "'..'");
}

TEST(ParseConfigErrorTest, RootWithNulByte) {
  ExpectError(OneRemote(R"({"root": "/srv/a\u0000b", "immutabilityDuration": "14d"})"),
              "remotes.a.root", "NUL");
}

TEST(ParseConfigErrorTest, FilesystemRoot) {
  ExpectError(OneRemote(R"({"root": "/", "immutabilityDuration": "14d"})"), "remotes.a.root",
              "filesystem root");
  ExpectError(OneRemote(R"({"root": "///", "immutabilityDuration": "14d"})"), "remotes.a.root",
              "filesystem root");
}

TEST(ParseConfigErrorTest, SystemFolders) {
  for (const char* root : {"/etc", "/etc/xo", "/usr/local/backups", "/boot", "/proc/1", "/sys",
                           "/dev/shm", "/run/x", "/bin", "/lib64", "/var", "/home", "/root"}) {
    ExpectError(
        OneRemote(absl::StrCat(R"({"root": ")", root, R"(", "immutabilityDuration": "14d"})")),
        "remotes.a.root", "is a system folder");
  }
}

// A table of folders that look close to system ones and are ordinary places for a remote.
TEST(SystemFolderReasonTest, OrdinaryPlacesForARemoteAreAccepted) {
  for (const char* root : {"/srv/backups", "/mnt", "/mnt/xo", "/var/backups", "/var/lib/xo",
                           "/home/backups", "/data", "/etcetera", "/usr2", "/library"}) {
    EXPECT_EQ(SystemFolderReason(root), "") << root;
  }
  EXPECT_THAT(SystemFolderReason("/etc/xo"), HasSubstr("below /etc"));
}

// json::parse keeps the last of two equal keys: a second "root" or a second remote of one id
// would silently win. Named instead, wherever it is, even when spelled with an escape.
TEST(ParseConfigErrorTest, AKeyGivenTwiceIsNamed) {
  ExpectError(R"({"remotes": {"a": {"root": "/srv/a", "root": "/srv/b",
                   "immutabilityDuration": "14d"}}})",
              "remotes.a.root", "given twice");
  ExpectError(R"({"remotes": {"a": {"root": "/srv/a", "immutabilityDuration": "30d"},
                              "a": {"root": "/srv/a", "immutabilityDuration": "7d"}}})",
              "remotes.a", "given twice");
  ExpectError(R"({"indexPath": "/var/lib/x", "\u0069ndexPath": "/var/lib/y",
                  "remotes": {"a": {"root": "/srv/a", "immutabilityDuration": "7d"}}})",
              "indexPath", "given twice");
  // The same key in two objects is no duplicate.
  EXPECT_TRUE(Parse(R"({"remotes": {"a": {"root": "/srv/a", "immutabilityDuration": "7d"},
                                     "b": {"root": "/srv/b", "immutabilityDuration": "7d"}}})")
                  .ok());
}

TEST(ParseConfigErrorTest, BadDurationText) {
  ExpectError(OneRemote(R"({"root": "/srv/a", "immutabilityDuration": "14 fortnights"})"),
              "remotes.a.immutabilityDuration", "14 fortnights");
  ExpectError(OneRemote(R"({"root": "/srv/a", "immutabilityDuration": ""})"),
              "remotes.a.immutabilityDuration", "not a duration");
  ExpectError(RemoteWith(R"("settle": "soon")"), "remotes.a.settle", "not a duration");
  ExpectError(RemoteWith(R"("orphanGrace": "1..5h")"), "remotes.a.orphanGrace", "not a duration");
  ExpectError(RemoteWith(R"("orphanGrace": "-1h")"), "remotes.a.orphanGrace", "not a duration");
}

TEST(ParseConfigErrorTest, DurationTooLong) {
  ExpectError(OneRemote(R"({"root": "/srv/a", "immutabilityDuration": "36501d"})"),
              "remotes.a.immutabilityDuration", "too long");
  ExpectError(OneRemote(R"({"root": "/srv/a", "immutabilityDuration": 1e300})"),
              "remotes.a.immutabilityDuration", "too long");
  ExpectError(RemoteWith(R"("settle": 99999999999999999999)"), "remotes.a.settle", "too long");
}

TEST(ParseConfigErrorTest, ImmutabilityDurationBelowOneDay) {
  ExpectError(OneRemote(R"({"root": "/srv/a", "immutabilityDuration": "23h"})"),
              "remotes.a.immutabilityDuration", "at least 1 day");
  ExpectError(OneRemote(R"({"root": "/srv/a", "immutabilityDuration": "1ms"})"),
              "remotes.a.immutabilityDuration", "at least 1 day");
  ExpectError(OneRemote(R"({"root": "/srv/a", "immutabilityDuration": 86399999})"),
              "remotes.a.immutabilityDuration", "at least 1 day");
  ExpectError(OneRemote(R"({"root": "/srv/a", "immutabilityDuration": 1})"),
              "remotes.a.immutabilityDuration", "at least 1 day");
}

// Zero releases every backup of the remote at the next run, past the mass-lift guard: a value that
// only rounds to zero is a typo, never a release.
TEST(ParseConfigErrorTest, OnlyAnExplicitZeroReleasesTheRemote) {
  for (const char* value : {"0.5", "\"0.5\"", "\"0.4s\"", "\"0.4ms\"", "0.0", "\"0d\"", "\"0s\"",
                            "\"00\"", "\" 0\"", "1e-9"}) {
    SCOPED_TRACE(value);
    ExpectError(
        OneRemote(absl::StrCat(R"({"root": "/srv/a", "immutabilityDuration": )", value, "}")),
        "remotes.a.immutabilityDuration", "exactly \"0\"");
  }
}

TEST(ParseConfigErrorTest, NegativeNumber) {
  ExpectError(OneRemote(R"({"root": "/srv/a", "immutabilityDuration": -1})"),
              "remotes.a.immutabilityDuration", "must not be negative");
  ExpectError(OneRemote(R"({"root": "/srv/a", "immutabilityDuration": -86400000})"),
              "remotes.a.immutabilityDuration", "must not be negative");
  ExpectError(RemoteWith(R"("settle": -0.5)"), "remotes.a.settle", "must not be negative");
  ExpectError(RemoteWith(R"("orphanGrace": -3600000)"), "remotes.a.orphanGrace",
              "must not be negative");
}

TEST(ParseConfigErrorTest, OverlappingRemotesSameRoot) {
  ExpectError(R"({"remotes": {
      "b": {"root": "/srv/x", "immutabilityDuration": "14d"},
      "a": {"root": "/srv/x/", "immutabilityDuration": "14d"}}})",
              "remotes.b.root", "overlaps remote \"a\"");
}

TEST(ParseConfigErrorTest, OverlappingRemotesNested) {
  ExpectError(R"({"remotes": {
      "a": {"root": "/srv/x", "immutabilityDuration": "14d"},
      "b": {"root": "/srv/x/y/z", "immutabilityDuration": "14d"}}})",
              "remotes.b.root", "overlaps");
  ExpectError(R"({"remotes": {
      "a": {"root": "/srv/x/y", "immutabilityDuration": "14d"},
      "b": {"root": "/srv/x", "immutabilityDuration": "14d"}}})",
              "remotes.b.root", "overlaps");
  // Not adjacent once sorted.
  ExpectError(R"({"remotes": {
      "a": {"root": "/srv/x", "immutabilityDuration": "14d"},
      "b": {"root": "/srv/y", "immutabilityDuration": "14d"},
      "c": {"root": "/srv/x/c", "immutabilityDuration": "14d"}}})",
              "remotes.c.root", "overlaps remote \"a\"");
}

TEST(ParseConfigErrorTest, IndexPathInsideARoot) {
  ExpectError(R"({"indexPath": "/srv/a/.index", "remotes": {
      "a": {"root": "/srv/a", "immutabilityDuration": "14d"}}})",
              "indexPath", "must not contain one another");
  ExpectError(R"({"indexPath": "/srv/a", "remotes": {
      "a": {"root": "/srv/a", "immutabilityDuration": "14d"}}})",
              "indexPath", "must not contain one another");
}

TEST(ParseConfigErrorTest, RootInsideIndexPath) {
  ExpectError(R"({"indexPath": "/srv", "remotes": {
      "a": {"root": "/srv/a", "immutabilityDuration": "14d"}}})",
              "indexPath", "must not contain one another");
  ExpectError(R"({"indexPath": "/", "remotes": {
      "a": {"root": "/srv/a", "immutabilityDuration": "14d"}}})",
              "indexPath", "must not contain one another");
  // With the default indexPath.
  ExpectError(R"({"remotes": {
      "a": {"root": "/var/lib/xo-immutable-backups/a", "immutabilityDuration": "14d"}}})",
              "indexPath", "must not contain one another");
}

TEST(ParseConfigErrorTest, MissingRoot) {
  ExpectError(OneRemote(R"({"immutabilityDuration": "14d"})"), "remotes.a.root", "is required");
}

TEST(ParseConfigErrorTest, MissingImmutabilityDuration) {
  ExpectError(OneRemote(R"({"root": "/srv/a"})"), "remotes.a.immutabilityDuration", "is required");
  ExpectError(OneRemote(R"({"root": "/srv/a", "settle": "10s"})"), "remotes.a.immutabilityDuration",
              "is required");
}

TEST(ParseConfigErrorTest, NoRemotes) {
  ExpectError("{}", "remotes", "at least one remote");
  ExpectError(R"({"remotes": {}})", "remotes", "at least one remote");
  ExpectError(R"({"indexPath": "/var/lib/x", "liftEvery": "1h"})", "remotes",
              "at least one remote");
}

TEST(ParseConfigErrorTest, BadRemoteId) {
  for (const std::string& id :
       {std::string("../x"), std::string(".hidden"), std::string(""), std::string("a/b"),
        std::string("a b"), std::string("-a"), std::string("_a"), std::string(".."),
        std::string("a\\b"), std::string(129, 'a')}) {
    SCOPED_TRACE(id);
    std::string json_id = id;
    if (id == "a\\b") json_id = "a\\\\b";
    ExpectError(absl::StrCat(R"({"remotes": {")", json_id,
                             R"(": {"root": "/srv/a", "immutabilityDuration": "14d"}}})"),
                absl::StrCat("remotes.", id), "remote id");
  }
  // The longest accepted id, and the accepted characters.
  MustParse(absl::StrCat(R"({"remotes": {")", std::string(128, 'a'),
                         R"(": {"root": "/srv/a", "immutabilityDuration": "14d"}}})"));
  MustParse(R"({"remotes": {"0a.b-c_D": {"root": "/srv/a", "immutabilityDuration": "14d"}}})");
}

TEST(ParseConfigErrorTest, BadGlobInPaths) {
  ExpectError(RemoteWith(R"("paths": ["/xo-vm-backups/*"])"), "remotes.a.paths",
              "\"/xo-vm-backups/*\"");
  ExpectError(RemoteWith(R"("paths": ["xo-vm-backups/**/*.vhd"])"), "remotes.a.paths", "'**'");
  ExpectError(RemoteWith(R"("paths": ["xo-vm-backups/*/*.json", "a/{b"])"), "remotes.a.paths",
              "unbalanced");
}

TEST(ParseConfigErrorTest, EmptyPathsArray) {
  ExpectError(RemoteWith(R"("paths": [])"), "remotes.a.paths", "at least one glob");
}

}  // namespace
}  // namespace xoi
