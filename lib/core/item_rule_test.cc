#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/core/expiry.h"
#include "lib/core/facts.h"
#include "lib/core/plan.h"
#include "lib/core/rules.h"
#include "lib/core/xo_layout.h"

namespace xoi {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

absl::Time Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

// Returns fixed facts and counts how often each is asked for.
class FakeFacts : public ItemFacts {
 public:
  bool same_identity = false;
  ChangeFacts changes;
  RunCheck run;

  int identity_calls = 0;
  int changes_calls = 0;
  int run_calls = 0;

  bool IndexedSameIdentity() override {
    ++identity_calls;
    return same_identity;
  }
  ChangeFacts Changes() override {
    ++changes_calls;
    return changes;
  }
  RunCheck Run() override {
    ++run_calls;
    return run;
  }
};

const absl::Time kNow = Utc(2026, 11, 20, 12);
// Created 2026-11-19: with 14d, protected until 2026-12-04T00:00:00Z.
const absl::Time kFresh = Utc(2026, 11, 19, 10);
// Created 2026-10-01: with 14d, expired since 2026-10-16T00:00:00Z.
const absl::Time kOld = Utc(2026, 10, 1, 10);
constexpr char kMarker[] = "xo-vm-backups/vm-1/20261119T100000Z.json";
constexpr char kPath[] = "xo-vm-backups/vm-1/20261119T100000Z.xva";

struct Case {
  std::string name;
  // The item.
  bool immutable = false;
  bool tree = false;
  uint32_t nlink = 1;
  absl::Time birth = kFresh;
  bool indexed = false;
  // Settings and clock.
  absl::Duration duration = absl::Hours(14 * 24);
  absl::Time now = kNow;
  // Facts.
  bool same_identity = false;
  absl::Duration unchanged_for = absl::Hours(2);  // newest_change = now - unchanged_for
  std::string refusal;
  bool run_complete = true;
  std::string marker = kMarker;
  // Expectations.
  std::optional<ActionKind> want;
  int identity_calls = 0;
  int changes_calls = 0;
  int run_calls = 0;
  std::vector<std::string> reason_has = {};
  std::vector<std::string> reason_lacks = {};
};

std::string KindText(const std::optional<ActionKind>& kind) {
  return kind ? std::string(ActionKindName(*kind)) : "nothing";
}

void RunCase(const Case& c) {
  SCOPED_TRACE(c.name);
  Candidate item;
  item.path = kPath;
  item.tree = c.tree;
  item.stat.mode = c.tree ? (S_IFDIR | 0755) : (S_IFREG | 0644);
  item.stat.ino = 4242;
  item.stat.dev = 2049;
  item.stat.nlink = c.nlink;
  item.stat.birth = c.birth;
  item.stat.has_btime = true;
  item.stat.ctime = c.birth;
  item.stat.immutable = c.immutable;
  item.stat.immutable_known = true;

  Settings settings;
  settings.duration = c.duration;
  settings.settle = absl::Seconds(10);
  settings.orphan_grace = absl::Hours(1);

  FakeFacts facts;
  facts.same_identity = c.same_identity;
  facts.changes.newest_change = c.now - c.unchanged_for;
  facts.changes.refusal = c.refusal;
  facts.run.complete = c.run_complete;
  facts.run.marker = c.marker;

  const std::optional<Action> action = Decide(item, c.indexed, settings, c.now, facts);
  const std::optional<ActionKind> got =
      action ? std::optional<ActionKind>(action->kind) : std::nullopt;
  EXPECT_EQ(got, c.want) << "got " << KindText(got) << " (" << (action ? action->reason : "")
                         << "), want " << KindText(c.want);
  EXPECT_EQ(facts.identity_calls, c.identity_calls) << "IndexedSameIdentity() calls";
  EXPECT_EQ(facts.changes_calls, c.changes_calls) << "Changes() calls";
  EXPECT_EQ(facts.run_calls, c.run_calls) << "Run() calls";
  if (!action) return;
  EXPECT_EQ(action->path, kPath);
  EXPECT_EQ(action->tree, c.tree);
  EXPECT_EQ(action->stat.ino, 4242u);
  EXPECT_EQ(action->stat.birth, c.birth);
  EXPECT_EQ(action->day, CreationDay(c.birth));
  EXPECT_FALSE(action->reason.empty());
  for (const std::string& part : c.reason_has) {
    EXPECT_THAT(action->reason, HasSubstr(part));
  }
  for (const std::string& part : c.reason_lacks) {
    EXPECT_THAT(action->reason, Not(HasSubstr(part)));
  }
}

TEST(DecideTest, ImmutableItems) {
  const std::vector<Case> cases = {
      {.name = "immutable, expired, indexed: lift",
       .immutable = true,
       .birth = kOld,
       .indexed = true,
       .want = ActionKind::kLift,
       .reason_has = {"expired", "2026-10-01", "2026-10-16T00:00:00Z"}},
      {.name = "immutable, expired, not indexed: lift",
       .immutable = true,
       .birth = kOld,
       .indexed = false,
       .want = ActionKind::kLift},
      {.name = "immutable, not indexed: index",
       .immutable = true,
       .indexed = false,
       .want = ActionKind::kIndex,
       .reason_has = {"not in the index"}},
      {.name = "steady state: immutable, indexed, not expired: nothing, no "
               "fact asked",
       .immutable = true,
       .indexed = true,
       .want = std::nullopt},
      {.name = "steady state of a tree: nothing, no fact asked",
       .immutable = true,
       .tree = true,
       .nlink = 5,
       .indexed = true,
       .want = std::nullopt},
      {.name = "steady state even when the facts would say otherwise",
       .immutable = true,
       .indexed = true,
       .unchanged_for = absl::ZeroDuration(),
       .refusal = "a FIFO",
       .run_complete = false,
       .want = std::nullopt},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, ExpiredMutableItems) {
  const std::vector<Case> cases = {
      {.name = "mutable, expired, indexed: lift (finishing an interrupted lift)",
       .immutable = false,
       .birth = kOld,
       .indexed = true,
       .want = ActionKind::kLift,
       .reason_has = {"interrupted lift"}},
      {.name = "mutable, expired, not indexed: nothing",
       .immutable = false,
       .birth = kOld,
       .indexed = false,
       .want = std::nullopt},
      {.name = "mutable hard link, expired: nothing (never protected)",
       .immutable = false,
       .nlink = 2,
       .birth = kOld,
       .indexed = false,
       .want = std::nullopt},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, HardLinks) {
  const std::vector<Case> cases = {
      {.name = "file with 2 links: refuse",
       .nlink = 2,
       .want = ActionKind::kRefuse,
       .reason_has = {"2 hard links"}},
      {.name = "indexed file with 3 links: refuse before consulting the index "
               "entry",
       .nlink = 3,
       .indexed = true,
       .same_identity = true,
       .want = ActionKind::kRefuse,
       .reason_has = {"3 hard links"}},
      {.name = "a directory's link count is not a hard link",
       .tree = true,
       .nlink = 7,
       .want = ActionKind::kProtect,
       .changes_calls = 1,
       .run_calls = 1},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, Drift) {
  const std::vector<Case> cases = {
      {.name = "indexed, same identity: reprotect at once, no settle, no run check",
       .indexed = true,
       .same_identity = true,
       .unchanged_for = absl::ZeroDuration(),
       .run_complete = false,
       .want = ActionKind::kReprotect,
       .identity_calls = 1,
       .reason_has = {"drift", "2026-12-04T00:00:00Z"}},
      {.name = "indexed tree, same identity: reprotect",
       .tree = true,
       .nlink = 3,
       .indexed = true,
       .same_identity = true,
       .want = ActionKind::kReprotect,
       .identity_calls = 1},
      {.name = "indexed, another inode (replaced): decided as new, settled and "
               "finished",
       .indexed = true,
       .same_identity = false,
       .want = ActionKind::kProtect,
       .identity_calls = 1,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "indexed, another inode, still changing: wait",
       .indexed = true,
       .same_identity = false,
       .unchanged_for = absl::Seconds(1),
       .want = ActionKind::kWait,
       .identity_calls = 1,
       .changes_calls = 1},
      {.name = "not indexed: identity never asked",
       .indexed = false,
       .same_identity = true,
       .want = ActionKind::kProtect,
       .changes_calls = 1,
       .run_calls = 1},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, SettleAndRunCompletion) {
  const std::vector<Case> cases = {
      {.name = "changed 5s ago: wait for settle, run not checked",
       .unchanged_for = absl::Seconds(5),
       .want = ActionKind::kWait,
       .changes_calls = 1,
       .reason_has = {"changed 5s ago", "settle 10s"}},
      {.name = "changed 9.999s ago: still waiting",
       .unchanged_for = absl::Milliseconds(9999),
       .want = ActionKind::kWait,
       .changes_calls = 1},
      {.name = "unchanged for exactly settle: settled",
       .unchanged_for = absl::Seconds(10),
       .want = ActionKind::kProtect,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "change time in the future (clock skew): wait",
       .unchanged_for = -absl::Hours(1),
       .want = ActionKind::kWait,
       .changes_calls = 1,
       .reason_has = {"changed 0s ago"}},
      {.name = "run incomplete, younger than orphan grace: wait for the marker",
       .unchanged_for = absl::Minutes(30),
       .run_complete = false,
       .want = ActionKind::kWait,
       .changes_calls = 1,
       .run_calls = 1,
       .reason_has = {kMarker, "1h"}},
      {.name = "run incomplete, just under orphan grace: wait",
       .unchanged_for = absl::Hours(1) - absl::Milliseconds(1),
       .run_complete = false,
       .want = ActionKind::kWait,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "run incomplete, unchanged for exactly orphan grace: protect",
       .unchanged_for = absl::Hours(1),
       .run_complete = false,
       .want = ActionKind::kProtect,
       .changes_calls = 1,
       .run_calls = 1,
       .reason_has = {"never completed", kMarker}},
      {.name = "run incomplete, older than orphan grace: protect",
       .unchanged_for = absl::Hours(5),
       .run_complete = false,
       .want = ActionKind::kProtect,
       .changes_calls = 1,
       .run_calls = 1,
       .reason_has = {"never completed", kMarker, "5h", "2026-12-04T00:00:00Z"}},
      {.name = "finished: protect",
       .unchanged_for = absl::Minutes(1),
       .run_complete = true,
       .want = ActionKind::kProtect,
       .changes_calls = 1,
       .run_calls = 1,
       .reason_has = {"finished", "1m", kMarker, "2026-12-04T00:00:00Z"}},
      {.name = "finished, no marker needed: protect",
       .run_complete = true,
       .marker = "",
       .want = ActionKind::kProtect,
       .changes_calls = 1,
       .run_calls = 1,
       .reason_has = {"finished"},
       .reason_lacks = {"run complete"}},
      {.name = "finished tree: protect",
       .tree = true,
       .nlink = 2,
       .want = ActionKind::kProtect,
       .changes_calls = 1,
       .run_calls = 1},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, TreeRefusal) {
  const std::vector<Case> cases = {
      {.name = "tree with a member that can never be locked: refuse, run not "
               "checked",
       .tree = true,
       .nlink = 2,
       .refusal = "data/x.vhd/blocks/0/7: FIFO",
       .want = ActionKind::kRefuse,
       .changes_calls = 1,
       .reason_has = {"data/x.vhd/blocks/0/7: FIFO"}},
      {.name = "refusal wins over settle",
       .tree = true,
       .unchanged_for = absl::ZeroDuration(),
       .refusal = "member hard-linked",
       .want = ActionKind::kRefuse,
       .changes_calls = 1},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, DurationZeroReleasesTheRemote) {
  const std::vector<Case> cases = {
      {.name = "immutable, indexed: lift",
       .immutable = true,
       .indexed = true,
       .duration = absl::ZeroDuration(),
       .want = ActionKind::kLift,
       .reason_has = {"immutability duration is 0"}},
      {.name = "immutable, not indexed: lift",
       .immutable = true,
       .indexed = false,
       .duration = absl::ZeroDuration(),
       .want = ActionKind::kLift},
      {.name = "immutable, born today: lift",
       .immutable = true,
       .birth = kNow - absl::Minutes(1),
       .indexed = true,
       .duration = absl::ZeroDuration(),
       .want = ActionKind::kLift},
      {.name = "mutable, not indexed: left alone (not protected)",
       .immutable = false,
       .indexed = false,
       .duration = absl::ZeroDuration(),
       .want = std::nullopt},
      {.name = "mutable, new and finished: left alone",
       .immutable = false,
       .birth = kNow - absl::Hours(3),
       .indexed = false,
       .duration = absl::ZeroDuration(),
       .want = std::nullopt},
      {.name = "mutable, indexed: finish the lift (never protect)",
       .immutable = false,
       .indexed = true,
       .duration = absl::ZeroDuration(),
       .same_identity = true,
       .want = ActionKind::kLift},
      {.name = "mutable hard link: left alone, not refused",
       .immutable = false,
       .nlink = 2,
       .duration = absl::ZeroDuration(),
       .want = std::nullopt},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, CreationDayBoundaries) {
  const absl::Time late = Utc(2026, 11, 1, 23, 59, 59);  // day D = 2026-11-01
  const absl::Time midnight = Utc(2026, 11, 2);          // day D+1
  const absl::Time d2 = Utc(2026, 11, 3);                // D+2 00:00:00
  const std::vector<Case> cases = {
      {.name = "born 23:59:59 on D, 1d, 24h later: still protected",
       .immutable = true,
       .birth = late,
       .indexed = true,
       .duration = absl::Hours(24),
       .now = late + absl::Hours(24),
       .want = std::nullopt},
      {.name = "born 23:59:59 on D, 1d, 1ns before D+2: still protected",
       .immutable = true,
       .birth = late,
       .indexed = true,
       .duration = absl::Hours(24),
       .now = d2 - absl::Nanoseconds(1),
       .want = std::nullopt},
      {.name = "born 23:59:59 on D, 1d, at D+2 00:00:00: lift",
       .immutable = true,
       .birth = late,
       .indexed = true,
       .duration = absl::Hours(24),
       .now = d2,
       .want = ActionKind::kLift,
       .reason_has = {"2026-11-01", "2026-11-03T00:00:00Z"}},
      {.name = "born 00:00:00 on D+1, 1d, at D+2 00:00:00: still protected",
       .immutable = true,
       .birth = midnight,
       .indexed = true,
       .duration = absl::Hours(24),
       .now = d2,
       .want = std::nullopt},
      {.name = "born 00:00:00 on D+1, 1d, at D+3 00:00:00: lift",
       .immutable = true,
       .birth = midnight,
       .indexed = true,
       .duration = absl::Hours(24),
       .now = Utc(2026, 11, 4),
       .want = ActionKind::kLift},
      {.name = "mutable drift 1ns before expiry: reprotect",
       .immutable = false,
       .birth = late,
       .indexed = true,
       .duration = absl::Hours(24),
       .now = d2 - absl::Nanoseconds(1),
       .same_identity = true,
       .want = ActionKind::kReprotect,
       .identity_calls = 1},
      {.name = "mutable and indexed at expiry: lift (finishing)",
       .immutable = false,
       .birth = late,
       .indexed = true,
       .duration = absl::Hours(24),
       .now = d2,
       .same_identity = true,
       .want = ActionKind::kLift},
      {.name = "new file 1ns before its expiry would be: protect",
       .immutable = false,
       .birth = late,
       .indexed = false,
       .duration = absl::Hours(24),
       .now = d2 - absl::Nanoseconds(1),
       .want = ActionKind::kProtect,
       .changes_calls = 1,
       .run_calls = 1,
       .reason_has = {"2026-11-03T00:00:00Z"}},
  };
  for (const Case& c : cases) RunCase(c);
}

}  // namespace
}  // namespace xoi
