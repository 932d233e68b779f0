// PlanRemoteFiles: immutability.json and XO's own files at the remote root.
#include <sys/stat.h>

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/core/facts.h"
#include "lib/core/plan.h"
#include "lib/core/rules.h"
#include "lib/core/xo_layout.h"
#include "lib/testing/utc.h"

namespace xoi {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Returns fixed facts and counts how often each is asked for.
class FakeRemoteFileFacts : public RemoteFileFacts {
 public:
  std::map<std::string, FileStat> files;  // absent: missing
  bool initialised = true;
  std::optional<std::string> content;

  std::map<std::string, int> stat_calls;
  int initialised_calls = 0;
  int content_calls = 0;

  std::optional<FileStat> Stat(const char* name) override {
    ++stat_calls[name];
    auto it = files.find(name);
    if (it == files.end()) return std::nullopt;
    return it->second;
  }
  bool Initialised() override {
    ++initialised_calls;
    return initialised;
  }
  std::optional<std::string> MarkerContent() override {
    ++content_calls;
    return content;
  }
};

// With milliseconds, which the marker keeps.
const absl::Time kNow = Utc(2026, 11, 20, 12) + absl::Milliseconds(345);
const absl::Duration k14d = absl::Hours(14 * 24);
constexpr int64_t k14dMs = 1209600000;
constexpr int64_t k7dMs = 604800000;
constexpr int64_t kSinceMs = 1700000000000;  // 2023-11-14T22:13:20Z
constexpr char kRightContent[] =
    R"({"since":1700000000000,"immutable":true,"duration":1209600000})";
constexpr char kEncryption[] = "encryption.json";
constexpr char kMetadata[] = "metadata.json";

FileStat File(bool immutable, absl::Duration changed_ago = absl::Hours(2), uint32_t nlink = 1) {
  FileStat st;
  st.mode = S_IFREG | 0644;
  st.nlink = nlink;
  st.size = 64;
  st.ctime = kNow - changed_ago;
  st.birth = Utc(2026, 1, 1);
  st.has_btime = true;
  st.immutable = immutable;
  st.immutable_known = true;
  return st;
}

FileStat Other(uint32_t type) {
  FileStat st = File(false);
  st.mode = type | 0755;
  st.nlink = 2;
  return st;
}

struct Want {
  ActionKind kind;
  std::string path;
};

struct Case {
  std::string name;
  absl::Duration duration = k14d;
  // Facts.
  bool initialised = true;
  std::optional<FileStat> encryption;
  std::optional<FileStat> metadata;
  std::optional<FileStat> marker;
  std::optional<std::string> content;
  // Expectations, in plan order.
  std::vector<Want> want;
  bool stat_asked = true;  // each of the three names exactly once; else none
  int initialised_calls = 1;
  int content_calls = 0;
  std::optional<int64_t> want_since_ms;      // the kWriteMarker's `since`
  std::vector<std::string> reason_has = {};  // in the last action's reason
  std::vector<std::string> reason_lacks = {};
  uint64_t deferred = 0;  // entries of the plan left for later runs (ActionBudget)
};

std::string Describe(const std::vector<Action>& actions) {
  std::string out;
  for (const Action& a : actions) {
    out += std::string(ActionKindName(a.kind)) + " " + a.path + " (" + a.reason + "); ";
  }
  return out.empty() ? "nothing" : out;
}

// The marker's content as XO reads it: exactly these three keys.
void ExpectMarkerContent(const std::string& content, int64_t since_ms, int64_t duration_ms) {
  SCOPED_TRACE(content);
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(content, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(v.is_object());
  const boost::json::object& o = v.get_object();
  EXPECT_EQ(o.size(), 3u);
  ASSERT_TRUE(o.contains("since") && o.at("since").is_int64());
  EXPECT_EQ(o.at("since").get_int64(), since_ms);
  ASSERT_TRUE(o.contains("immutable") && o.at("immutable").is_bool());
  EXPECT_TRUE(o.at("immutable").get_bool());
  ASSERT_TRUE(o.contains("duration") && o.at("duration").is_int64());
  EXPECT_EQ(o.at("duration").get_int64(), duration_ms);
}

void RunCase(const Case& c) {
  SCOPED_TRACE(c.name);
  FakeRemoteFileFacts facts;
  facts.initialised = c.initialised;
  facts.content = c.content;
  // Distinct inode numbers, to check each action names the inode of its own file.
  const std::map<std::string, uint64_t> inos = {
      {kEncryption, 11}, {kMetadata, 12}, {kMarkerName, 13}};
  auto put = [&](const char* name, const std::optional<FileStat>& st) {
    if (!st) return;
    facts.files[name] = *st;
    facts.files[name].ino = inos.at(name);
  };
  put(kEncryption, c.encryption);
  put(kMetadata, c.metadata);
  put(kMarkerName, c.marker);

  Settings settings;
  settings.duration = c.duration;
  settings.settle = absl::Seconds(10);
  settings.orphan_grace = absl::Hours(1);

  Plan plan;
  plan.deferred = c.deferred;
  PlanRemoteFiles(settings, kNow, facts, &plan);

  std::map<std::string, int> want_stat_calls;
  if (c.stat_asked) want_stat_calls = {{kEncryption, 1}, {kMetadata, 1}, {kMarkerName, 1}};
  EXPECT_EQ(facts.stat_calls, want_stat_calls) << "Stat() calls";
  EXPECT_EQ(facts.initialised_calls, c.initialised_calls) << "Initialised() calls";
  EXPECT_EQ(facts.content_calls, c.content_calls) << "MarkerContent() calls";
  EXPECT_TRUE(plan.warnings.empty());
  EXPECT_TRUE(plan.lifts_held.empty());

  ASSERT_EQ(plan.actions.size(), c.want.size()) << Describe(plan.actions);
  for (size_t i = 0; i < c.want.size(); ++i) {
    const Action& a = plan.actions[i];
    SCOPED_TRACE(a.path);
    EXPECT_EQ(a.kind, c.want[i].kind) << Describe(plan.actions);
    EXPECT_EQ(a.path, c.want[i].path);
    EXPECT_FALSE(a.indexed) << "the index ignores the remote's own files";
    EXPECT_FALSE(a.tree);
    EXPECT_FALSE(a.reason.empty());
    EXPECT_EQ(a.requires_all_lifts, a.kind == ActionKind::kRemoveMarker);
    EXPECT_EQ(a.content.empty(), a.kind != ActionKind::kWriteMarker);
    auto it = facts.files.find(a.path);
    if (it == facts.files.end()) {
      EXPECT_EQ(a.stat.ino, 0u) << "a file that does not exist yet names no inode";
    } else {
      EXPECT_EQ(a.stat.ino, it->second.ino);
      EXPECT_EQ(a.stat.mode, it->second.mode);
      EXPECT_EQ(a.stat.immutable, it->second.immutable);
    }
    if (a.kind == ActionKind::kWriteMarker) {
      ASSERT_TRUE(c.want_since_ms.has_value());
      ExpectMarkerContent(a.content, *c.want_since_ms, absl::ToInt64Milliseconds(c.duration));
    }
  }
  if (plan.actions.empty()) return;
  for (const std::string& part : c.reason_has) {
    EXPECT_THAT(plan.actions.back().reason, HasSubstr(part));
  }
  for (const std::string& part : c.reason_lacks) {
    EXPECT_THAT(plan.actions.back().reason, Not(HasSubstr(part)));
  }
}

TEST(MarkerContentTest, XoFormat) {
  EXPECT_EQ(MarkerContent(absl::FromUnixMillis(kSinceMs), k14d), kRightContent);
  EXPECT_EQ(MarkerContent(kNow, absl::Hours(24)),
            R"({"since":1795176000345,"immutable":true,"duration":86400000})");
}

TEST(PlanRemoteFilesTest, NotInitialised) {
  const std::vector<Case> cases = {
      {.name = "protecting an uninitialised remote: nothing written, nothing stat'ed",
       .initialised = false,
       .want = {},
       .stat_asked = false},
      {.name = "protecting an uninitialised remote, facts notwithstanding: nothing",
       .initialised = false,
       .metadata = File(false),
       .want = {},
       .stat_asked = false},
      {.name = "releasing an uninitialised remote: Initialised() not asked, marker removed",
       .duration = absl::ZeroDuration(),
       .initialised = false,
       .marker = File(true),
       .want = {{ActionKind::kRemoveMarker, kMarkerName}},
       .initialised_calls = 0},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(PlanRemoteFilesTest, DurationZeroReleases) {
  const std::vector<Case> cases = {
      {.name = "marker present, root files immutable and mutable: lift the immutable one, "
               "then remove the marker once every lift took effect",
       .duration = absl::ZeroDuration(),
       .encryption = File(true),
       .metadata = File(false),
       .marker = File(true),
       .want = {{ActionKind::kLift, kEncryption}, {ActionKind::kRemoveMarker, kMarkerName}},
       .initialised_calls = 0,
       .reason_has = {"removed once everything is lifted"}},
      {.name = "both root files immutable: both lifted, in order",
       .duration = absl::ZeroDuration(),
       .encryption = File(true),
       .metadata = File(true),
       .marker = File(false),
       .want = {{ActionKind::kLift, kEncryption},
                {ActionKind::kLift, kMetadata},
                {ActionKind::kRemoveMarker, kMarkerName}},
       .initialised_calls = 0},
      {.name = "lift reason",
       .duration = absl::ZeroDuration(),
       .metadata = File(true),
       .want = {{ActionKind::kLift, kMetadata}},
       .initialised_calls = 0,
       .reason_has = {"immutability duration is 0"}},
      {.name = "root files mutable, marker missing: nothing",
       .duration = absl::ZeroDuration(),
       .encryption = File(false),
       .metadata = File(false),
       .want = {},
       .initialised_calls = 0},
      // Never locked by this program, which refuses a second name; unlocking it would unlock
      // the other name too, possibly outside the remote.
      {.name = "immutable root file with 2 links: refused, not lifted",
       .duration = absl::ZeroDuration(),
       .metadata = File(true, absl::Hours(2), 2),
       .want = {{ActionKind::kRefuse, kMetadata}},
       .initialised_calls = 0,
       .reason_has = {"2 hard links", "not unlocked"}},
      {.name = "root file changed just now: lifted without settle",
       .duration = absl::ZeroDuration(),
       .metadata = File(true, absl::ZeroDuration()),
       .want = {{ActionKind::kLift, kMetadata}},
       .initialised_calls = 0},
      {.name = "root file that is a directory: neither refused nor lifted",
       .duration = absl::ZeroDuration(),
       .encryption = Other(S_IFDIR),
       .want = {},
       .initialised_calls = 0},
      {.name = "entries left for later runs: the marker is kept, XO not told it is released",
       .duration = absl::ZeroDuration(),
       .marker = File(true),
       .want = {{ActionKind::kWait, kMarkerName}},
       .initialised_calls = 0,
       .reason_has = {"left for the next runs"},
       .deferred = 3},
      {.name = "marker with garbage content: removed, content never read",
       .duration = absl::ZeroDuration(),
       .marker = File(true),
       .content = "garbage",
       .want = {{ActionKind::kRemoveMarker, kMarkerName}},
       .initialised_calls = 0},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(PlanRemoteFilesTest, Marker) {
  const std::vector<Case> cases = {
      {.name = "missing: write it, since now",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .want_since_ms = absl::ToUnixMillis(kNow),
       .reason_has = {"immutable for 14d"}},
      {.name = "right content, immutable: steady state",
       .marker = File(true),
       .content = kRightContent,
       .want = {},
       .content_calls = 1},
      {.name = "right content with XO's spacing and another key order: steady state",
       .marker = File(true),
       .content = R"({ "duration": 1209600000, "immutable": true, "since": 1700000000000 })",
       .want = {},
       .content_calls = 1},
      {.name = "right content plus an unknown key: steady state",
       .marker = File(true),
       .content = R"({"since":1700000000000,"immutable":true,"duration":1209600000,"x":1})",
       .want = {},
       .content_calls = 1},
      {.name = "right content, mutable: protect it",
       .marker = File(false),
       .content = kRightContent,
       .want = {{ActionKind::kProtect, kMarkerName}},
       .content_calls = 1,
       .reason_has = {"must itself be immutable"}},
      {.name = "right content, mutable, changed just now: protected at once (no settle)",
       .marker = File(false, absl::ZeroDuration()),
       .content = kRightContent,
       .want = {{ActionKind::kProtect, kMarkerName}},
       .content_calls = 1},
      {.name = "another duration: rewrite, since kept",
       .marker = File(true),
       .content = R"({"since":1700000000000,"immutable":true,"duration":604800000})",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = kSinceMs,
       .reason_has = {"now 14d", "(since kept)"}},
      {.name = "shorter duration: rewrite, since kept",
       .duration = absl::Hours(7 * 24),
       .marker = File(true),
       .content = kRightContent,
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = kSinceMs,
       .reason_has = {"now 7d", "(since kept)"}},
      {.name = "duration as a float of the right value: rewrite, since kept",
       .marker = File(true),
       .content = R"({"since":1700000000000,"immutable":true,"duration":1209600000.0})",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = kSinceMs},
  };
  for (const Case& c : cases) RunCase(c);
  static_assert(k14dMs == 14 * 24 * 3600 * 1000LL && k7dMs == 7 * 24 * 3600 * 1000LL);
}

TEST(PlanRemoteFilesTest, DamagedMarkerIsRewritten) {
  const std::vector<Case> cases = {
      {.name = "unreadable: rewrite, since now",
       .marker = File(true),
       .content = std::nullopt,
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = absl::ToUnixMillis(kNow),
       .reason_lacks = {"since kept"}},
      {.name = "not JSON: rewrite, since now",
       .marker = File(true),
       .content = "{since: 1700000000000",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = absl::ToUnixMillis(kNow),
       .reason_lacks = {"since kept"}},
      {.name = "empty: rewrite, since now",
       .marker = File(false),
       .content = "",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = absl::ToUnixMillis(kNow)},
      {.name = "a JSON array, not an object: rewrite, since now",
       .marker = File(true),
       .content = R"([1700000000000,true,1209600000])",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = absl::ToUnixMillis(kNow)},
      {.name = "missing since: rewrite, since now",
       .marker = File(true),
       .content = R"({"immutable":true,"duration":1209600000})",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = absl::ToUnixMillis(kNow)},
      {.name = "since as a string: rewrite, since now",
       .marker = File(true),
       .content = R"({"since":"1700000000000","immutable":true,"duration":1209600000})",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = absl::ToUnixMillis(kNow)},
      {.name = "negative since: rewrite, since now",
       .marker = File(true),
       .content = R"({"since":-1,"immutable":true,"duration":1209600000})",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = absl::ToUnixMillis(kNow),
       .reason_lacks = {"since kept"}},
      {.name = "since beyond int64: rewrite, since now",
       .marker = File(true),
       .content = R"({"since":18446744073709551615,"immutable":true,"duration":1209600000})",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = absl::ToUnixMillis(kNow)},
      {.name = "duration beyond int64: rewrite, since kept",
       .marker = File(true),
       .content = R"({"since":1700000000000,"immutable":true,"duration":18446744073709551615})",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = kSinceMs},
      {.name = "nested too deep: rewrite, since now",
       .marker = File(true),
       .content = R"({"since":1700000000000,"immutable":true,"duration":1209600000,)"
                  R"("a":[[[[[[[[[[1]]]]]]]]]]})",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = absl::ToUnixMillis(kNow)},
      {.name = "trailing garbage: rewrite, since now",
       .marker = File(true),
       .content = std::string(kRightContent) + "}",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = absl::ToUnixMillis(kNow)},
      {.name = "missing duration: rewrite, since kept",
       .marker = File(true),
       .content = R"({"since":1700000000000,"immutable":true})",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = kSinceMs},
      {.name = "missing immutable: rewrite, since kept",
       .marker = File(true),
       .content = R"({"since":1700000000000,"duration":1209600000})",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = kSinceMs},
      // Current behaviour: a readable `since` is kept even when the marker said the remote was
      // not immutable (reported to the caller as questionable).
      {.name = "immutable:false: rewrite, since kept",
       .marker = File(true),
       .content = R"({"since":1700000000000,"immutable":false,"duration":1209600000})",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = kSinceMs},
      {.name = "immutable:1 (not a bool): rewrite, since kept",
       .marker = File(true),
       .content = R"({"since":1700000000000,"immutable":1,"duration":1209600000})",
       .want = {{ActionKind::kWriteMarker, kMarkerName}},
       .content_calls = 1,
       .want_since_ms = kSinceMs},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(PlanRemoteFilesTest, MarkerOfAnotherType) {
  const std::vector<Case> cases = {
      {.name = "a directory named immutability.json: refused, never read nor written",
       .marker = Other(S_IFDIR),
       .content = kRightContent,
       .want = {{ActionKind::kRefuse, kMarkerName}},
       .reason_has = {"a directory named immutability.json: not touched"}},
      {.name = "a symlink named immutability.json: refused",
       .marker = Other(S_IFLNK),
       .want = {{ActionKind::kRefuse, kMarkerName}},
       .reason_has = {"symlink"}},
      {.name = "a FIFO named immutability.json: refused",
       .marker = Other(S_IFIFO),
       .want = {{ActionKind::kRefuse, kMarkerName}},
       .reason_has = {"FIFO"}},
      {.name = "an immutable directory named immutability.json: refused all the same",
       .marker =
           [] {
             FileStat st = Other(S_IFDIR);
             st.immutable = true;
             return st;
           }(),
       .want = {{ActionKind::kRefuse, kMarkerName}}},
      {.name = "after the root files: they are still protected",
       .encryption = File(false),
       .marker = Other(S_IFDIR),
       .want = {{ActionKind::kProtect, kEncryption}, {ActionKind::kRefuse, kMarkerName}}},
      {.name = "releasing: a directory is refused, not removed",
       .duration = absl::ZeroDuration(),
       .marker = Other(S_IFDIR),
       .want = {{ActionKind::kRefuse, kMarkerName}},
       .initialised_calls = 0},
      // Locking or rewriting a file with other names would reach them too, possibly outside the
      // remote: like XO's root files, a hard-linked marker is refused, and never read.
      {.name = "right content, mutable, 2 hard links: refused, never read",
       .marker = File(false, absl::Hours(2), 2),
       .content = kRightContent,
       .want = {{ActionKind::kRefuse, kMarkerName}},
       .reason_has = {"2 hard links", "immutability.json is not touched"}},
      {.name = "wrong content, 2 hard links: refused, not rewritten",
       .marker = File(false, absl::Hours(2), 2),
       .content = R"({"since":1700000000000,"immutable":true,"duration":1})",
       .want = {{ActionKind::kRefuse, kMarkerName}},
       .reason_has = {"2 hard links"}},
      {.name = "immutable, 3 hard links: refused",
       .marker = File(true, absl::Hours(2), 3),
       .content = kRightContent,
       .want = {{ActionKind::kRefuse, kMarkerName}},
       .reason_has = {"3 hard links"}},
      {.name = "2 hard links, after the root files: they are still protected",
       .metadata = File(false),
       .marker = File(false, absl::Hours(2), 2),
       .want = {{ActionKind::kProtect, kMetadata}, {ActionKind::kRefuse, kMarkerName}}},
      {.name = "releasing, 2 hard links: still unlocked and removed (only writing is refused)",
       .duration = absl::ZeroDuration(),
       .marker = File(false, absl::Hours(2), 2),
       .want = {{ActionKind::kRemoveMarker, kMarkerName}},
       .initialised_calls = 0},
      {.name = "one link: the control, protected",
       .marker = File(false, absl::Hours(2), 1),
       .content = kRightContent,
       .want = {{ActionKind::kProtect, kMarkerName}},
       .content_calls = 1},
  };
  for (const Case& c : cases) RunCase(c);
}

// ---------------------------------------------------------------------------------------------
// ParseMarker: whatever the remote's writer put in immutability.json, read defensively.

struct ParseCase {
  std::string name;
  std::string content;
  std::optional<int64_t> since_ms;
  std::optional<int64_t> duration_ms;
  bool immutable;
};

void RunParseCases(const std::vector<ParseCase>& cases) {
  for (const ParseCase& c : cases) {
    SCOPED_TRACE(c.name);
    MarkerFields fields;
    ASSERT_NO_THROW(fields = ParseMarker(c.content));
    EXPECT_EQ(fields.since, c.since_ms
                                ? std::optional<absl::Time>(absl::FromUnixMillis(*c.since_ms))
                                : std::nullopt);
    EXPECT_EQ(fields.duration_ms, c.duration_ms);
    EXPECT_EQ(fields.immutable, c.immutable);
  }
}

TEST(ParseMarkerTest, WellFormed) {
  RunParseCases({
      {"XO's own content", kRightContent, kSinceMs, k14dMs, true},
      {"our own content", MarkerContent(absl::FromUnixMillis(kSinceMs), k14d), kSinceMs, k14dMs,
       true},
      {"spacing, key order, unknown keys",
       R"( { "x": {"y": [1, 2]}, "duration" : 1 , "immutable":true,"since":0 } )", 0, 1, true},
      {"immutable false", R"({"since":5,"immutable":false,"duration":7})", 5, 7, false},
      {"nothing but braces", "{}", std::nullopt, std::nullopt, false},
      {"nesting 8 deep (the limit) is fine", R"({"since":5,"a":[[[[[[[1]]]]]]]})", 5, std::nullopt,
       false},
  });
}

TEST(ParseMarkerTest, Numbers) {
  RunParseCases({
      {"the largest int64", R"({"since":9223372036854775807,"duration":9223372036854775807})",
       INT64_MAX, INT64_MAX, false},
      {"the smallest int64: since dropped (negative)",
       R"({"since":-9223372036854775808,"duration":-9223372036854775808})", std::nullopt, INT64_MIN,
       false},
      {"just above int64 (a uint64): dropped",
       R"({"since":9223372036854775808,"duration":9223372036854775808,"immutable":true})",
       std::nullopt, std::nullopt, true},
      {"the largest uint64: dropped",
       R"({"since":18446744073709551615,"duration":18446744073709551615,"immutable":true})",
       std::nullopt, std::nullopt, true},
      {"beyond uint64: a double, dropped",
       R"({"since":18446744073709551616,"duration":1e30,"immutable":true})", std::nullopt,
       std::nullopt, true},
      // No remote was made immutable before 1970: a negative `since` is ignored (the marker is
      // rewritten with the time of the run); the duration is kept as it is, for the caller to
      // compare.
      {"negative since: ignored; negative duration: kept",
       R"({"since":-1,"duration":-1209600000,"immutable":true})", std::nullopt, -1209600000, true},
      {"since 0 (1970-01-01): kept", R"({"since":0,"duration":1,"immutable":true})", 0, 1, true},
      {"since -0: the same 0", R"({"since":-0,"duration":1,"immutable":true})", 0, 1, true},
      {"floats: dropped, even of an integral value",
       R"({"since":1700000000000.0,"duration":1.2096e9,"immutable":true})", std::nullopt,
       std::nullopt, true},
      {"a fraction: dropped", R"({"since":0.5,"duration":-0.5,"immutable":true})", std::nullopt,
       std::nullopt, true},
      {"numbers as strings: dropped",
       R"({"since":"1700000000000","duration":"1209600000","immutable":"true"})", std::nullopt,
       std::nullopt, false},
      {"other types: dropped", R"({"since":null,"duration":[1],"immutable":1})", std::nullopt,
       std::nullopt, false},
      {"objects: dropped", R"({"since":{"ms":1},"duration":{},"immutable":{}})", std::nullopt,
       std::nullopt, false},
  });
}

TEST(ParseMarkerTest, NotAMarker) {
  const std::string deep_arrays = R"({"since":5,"immutable":true,"a":)" + std::string(100000, '[') +
                                  std::string(100000, ']') + "}";
  const std::string deep_objects = [] {
    std::string s = R"({"since":5,"immutable":true)";
    for (int i = 0; i < 1000; ++i) s += R"(,"a":{"b":1)";
    for (int i = 0; i < 1000; ++i) s += "}";
    return s + "}";
  }();
  RunParseCases({
      {"empty", "", std::nullopt, std::nullopt, false},
      {"garbage", "garbage", std::nullopt, std::nullopt, false},
      {"an array", R"([1700000000000,true,1209600000])", std::nullopt, std::nullopt, false},
      {"a number", "1700000000000", std::nullopt, std::nullopt, false},
      {"a string", R"("{\"since\":1}")", std::nullopt, std::nullopt, false},
      {"null", "null", std::nullopt, std::nullopt, false},
      {"true", "true", std::nullopt, std::nullopt, false},
      {"truncated", R"({"since":1700000000000,"immutable":true,"duration":1209600000)",
       std::nullopt, std::nullopt, false},
      {"trailing garbage", std::string(kRightContent) + " x", std::nullopt, std::nullopt, false},
      {"two objects", std::string(kRightContent) + kRightContent, std::nullopt, std::nullopt,
       false},
      {"a comment", std::string("/* XO */") + kRightContent, std::nullopt, std::nullopt, false},
      {"a NUL byte", std::string(R"({"since":1,"immutable":true})") + std::string(1, '\0'),
       std::nullopt, std::nullopt, false},
      {"NaN", R"({"since":NaN,"immutable":true})", std::nullopt, std::nullopt, false},
      {"nested 9 deep: refused whole", R"({"since":5,"immutable":true,"a":[[[[[[[[1]]]]]]]]})",
       std::nullopt, std::nullopt, false},
      {"nested 100000 arrays deep: refused, no stack overflow", deep_arrays, std::nullopt,
       std::nullopt, false},
      {"nested 1000 objects deep: refused", deep_objects, std::nullopt, std::nullopt, false},
  });
}

TEST(PlanRemoteFilesTest, RootFilesWhileProtecting) {
  const std::vector<Case> cases = {
      {.name = "both missing: only the marker",
       .marker = File(true),
       .content = kRightContent,
       .want = {},
       .content_calls = 1},
      {.name = "directory: refused",
       .encryption = Other(S_IFDIR),
       .marker = File(true),
       .content = kRightContent,
       .want = {{ActionKind::kRefuse, kEncryption}},
       .content_calls = 1,
       .reason_has = {"a directory, not a file"}},
      {.name = "symlink: refused",
       .metadata = Other(S_IFLNK),
       .marker = File(true),
       .content = kRightContent,
       .want = {{ActionKind::kRefuse, kMetadata}},
       .content_calls = 1,
       .reason_has = {"symlink"}},
      {.name = "immutable directory: still refused",
       .encryption =
           [] {
             FileStat st = Other(S_IFDIR);
             st.immutable = true;
             return st;
           }(),
       .marker = File(true),
       .content = kRightContent,
       .want = {{ActionKind::kRefuse, kEncryption}},
       .content_calls = 1},
      {.name = "2 hard links: refused",
       .metadata = File(false, absl::Hours(2), 2),
       .marker = File(true),
       .content = kRightContent,
       .want = {{ActionKind::kRefuse, kMetadata}},
       .content_calls = 1,
       .reason_has = {"2 hard links"}},
      {.name = "2 hard links, changing: refused before waiting",
       .metadata = File(false, absl::Seconds(1), 2),
       .marker = File(true),
       .content = kRightContent,
       .want = {{ActionKind::kRefuse, kMetadata}},
       .content_calls = 1},
      {.name = "immutable with 2 hard links: already locked, nothing",
       .metadata = File(true, absl::Hours(2), 2),
       .marker = File(true),
       .content = kRightContent,
       .want = {},
       .content_calls = 1},
      {.name = "changed 5s ago (settle 10s): wait",
       .encryption = File(false, absl::Seconds(5)),
       .marker = File(true),
       .content = kRightContent,
       .want = {{ActionKind::kWait, kEncryption}},
       .content_calls = 1,
       .reason_has = {"settle"}},
      {.name = "changed 1ns less than settle ago: wait",
       .encryption = File(false, absl::Seconds(10) - absl::Nanoseconds(1)),
       .marker = File(true),
       .content = kRightContent,
       .want = {{ActionKind::kWait, kEncryption}},
       .content_calls = 1},
      {.name = "changed exactly settle ago: protect",
       .encryption = File(false, absl::Seconds(10)),
       .marker = File(true),
       .content = kRightContent,
       .want = {{ActionKind::kProtect, kEncryption}},
       .content_calls = 1},
      {.name = "settled, both: protected in order, then the marker written",
       .encryption = File(false),
       .metadata = File(false),
       .want = {{ActionKind::kProtect, kEncryption},
                {ActionKind::kProtect, kMetadata},
                {ActionKind::kWriteMarker, kMarkerName}},
       .want_since_ms = absl::ToUnixMillis(kNow)},
      {.name = "already immutable: nothing",
       .encryption = File(true),
       .metadata = File(true),
       .marker = File(true),
       .content = kRightContent,
       .want = {},
       .content_calls = 1},
      {.name = "expired-looking old root file: still protected (root files never expire)",
       .metadata = File(false, absl::Hours(24 * 365)),
       .marker = File(true),
       .content = kRightContent,
       .want = {{ActionKind::kProtect, kMetadata}},
       .content_calls = 1,
       .reason_has = {"kept immutable while protected"}},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(PlanRemoteFilesTest, AppendsToThePlan) {
  FakeRemoteFileFacts facts;
  Settings settings;
  settings.duration = k14d;
  Plan plan;
  plan.actions.push_back(Action{ActionKind::kLift, "xo-vm-backups/a.xva", false, FileStat{}});
  PlanRemoteFiles(settings, kNow, facts, &plan);
  ASSERT_EQ(plan.actions.size(), 2u);
  EXPECT_EQ(plan.actions[0].path, "xo-vm-backups/a.xva");
  EXPECT_EQ(plan.actions[1].kind, ActionKind::kWriteMarker);
}

}  // namespace
}  // namespace xoi
