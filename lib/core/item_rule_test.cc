// Decide: one item the walk found, with its index record (looked up by identity) or none.
//
// Every row checks the action's kind, its reference (what the expiry counts from), its expiry, how
// often the costly facts were asked for, and the warnings. The steady state (an immutable,
// protected, unexpired item) asks for nothing.
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
#include "lib/core/index_record.h"
#include "lib/core/plan.h"
#include "lib/core/rules.h"
#include "lib/core/xo_layout.h"
#include "lib/testing/utc.h"

namespace xoi {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Returns fixed facts and counts how often each is asked for.
class FakeFacts : public ItemFacts {
 public:
  ChangeFacts changes;
  RunCheck run;
  bool lifted_here = false;

  int changes_calls = 0;
  int run_calls = 0;
  int lifted_here_calls = 0;

  ChangeFacts Changes() override {
    ++changes_calls;
    return changes;
  }
  RunCheck Run() override {
    ++run_calls;
    return run;
  }
  bool LiftedHere() override {
    ++lifted_here_calls;
    return lifted_here;
  }
};

const absl::Time kNow = Utc(2026, 11, 20, 12);
const absl::Duration k14d = absl::Hours(14 * 24);
// Day 2026-11-19: with 14d, protected until 2026-12-04T00:00:00Z.
const absl::Time kFresh = Utc(2026, 11, 19, 10);
// Day 2026-10-01: with 14d, expired since 2026-10-16T00:00:00Z.
const absl::Time kOld = Utc(2026, 10, 1, 10);
// With 14d at kNow, members born before the start of 2026-11-06 (the day of now - 14d) expired.
const absl::Time kMembersExpiredBefore = Utc(2026, 11, 6);
constexpr char kMarker[] = "xo-vm-backups/vm-1/20261119T100000Z.json";
constexpr char kPath[] = "xo-vm-backups/vm-1/20261119T100000Z.xva";
constexpr char kOtherPath[] = "xo-vm-backups/vm-1/20261001T100000Z.xva";
constexpr uint64_t kIno = 4242;

enum class Rec { kNone, kProtected, kLifted };

struct Case {
  std::string name;
  // The item.
  std::string path = kPath;
  bool immutable = false;
  bool tree = false;
  uint32_t nlink = 1;
  // Unset: an hour before its ctime, as on any real inode (a birth after the ctime takes a clock
  // stepped back between the two).
  std::optional<absl::Time> birth;
  absl::Time ctime = kFresh;
  // Its index record, of the same identity.
  Rec record = Rec::kNone;
  std::string record_path = kPath;
  absl::Time record_reference = kFresh;
  absl::Time record_locked_at = absl::InfinitePast();
  bool record_complete = true;  // false: an earlier protection stopped half-way
  // Settings and clock.
  absl::Duration duration = k14d;
  absl::Duration clock_lag = absl::ZeroDuration();
  bool clock_shifted = false;
  bool deep = false;
  absl::Time now = kNow;
  // Facts.
  absl::Duration unchanged_for = absl::Minutes(10);  // newest_change = now - unchanged_for
  uint64_t mutable_members = 0;
  uint64_t locked_members = 0;
  absl::Time newest_lock = absl::InfinitePast();
  std::vector<OddMember> odd_members = {};
  std::string unexamined;
  bool run_complete = true;
  std::string marker = kMarker;
  bool lifted_here = false;  // another item was lifted at this path (XO's merge renames onto it)
  // Expectations.
  std::optional<ActionKind> want;
  std::optional<absl::Time> want_reference = std::nullopt;   // checked when set
  std::optional<absl::Time> want_expires_at = std::nullopt;  // checked when set
  absl::Time want_locked_at = absl::InfinitePast();
  absl::Time want_members_locked_by = absl::InfiniteFuture();
  absl::Time want_members_expired_before = absl::InfiniteFuture();
  bool want_overdue = false;
  int changes_calls = 0;
  int run_calls = 0;
  std::vector<std::string> warnings = {};  // paths of the kMemberNotLockable warnings, in order
  std::vector<std::string> reason_has = {};
  std::vector<std::string> reason_lacks = {};
};

std::string KindText(const std::optional<ActionKind>& kind) {
  return kind ? std::string(ActionKindName(*kind)) : "nothing";
}

void RunCase(const Case& c) {
  SCOPED_TRACE(c.name);
  Candidate item;
  item.path = c.path;
  item.tree = c.tree;
  item.stat.mode = c.tree ? (S_IFDIR | 0755) : (S_IFREG | 0644);
  item.stat.ino = kIno;
  item.stat.dev = 2049;
  item.stat.nlink = c.nlink;
  const absl::Time birth = c.birth.value_or(c.ctime - absl::Hours(1));
  item.stat.birth = birth;
  item.stat.has_btime = true;
  item.stat.ctime = c.ctime;
  item.stat.immutable = c.immutable;
  item.stat.immutable_known = true;

  IndexRecord record;
  record.path = c.record_path;
  record.dev = 2050;  // device numbers can change on reboot: never part of the identity
  record.ino = kIno;
  record.birth = birth;
  record.tree = c.tree;
  record.reference = c.record_reference;
  record.locked_at = c.record_locked_at;
  record.lifted = c.record == Rec::kLifted;
  record.complete = c.record_complete;

  Settings settings;
  settings.duration = c.duration;
  settings.settle = absl::Seconds(10);
  settings.orphan_grace = absl::Hours(1);
  settings.deep = c.deep;
  settings.clock_lag = c.clock_lag;
  settings.clock_shifted = c.clock_shifted;

  FakeFacts facts;
  facts.changes.newest_change = c.now - c.unchanged_for;
  facts.changes.mutable_members = c.mutable_members;
  facts.changes.locked_members = c.locked_members;
  facts.changes.newest_lock = c.newest_lock;
  facts.changes.odd_members = c.odd_members;
  facts.changes.unexamined = c.unexamined;
  facts.run.complete = c.run_complete;
  facts.lifted_here = c.lifted_here;
  facts.run.marker = c.marker;

  // What the index holds in memory of that record: what a run decides on.
  const RecordSummary summary(record);
  const Decision decision =
      Decide(item, c.record == Rec::kNone ? nullptr : &summary, settings, c.now, facts);
  const std::optional<Action>& action = decision.action;
  const std::optional<ActionKind> got =
      action ? std::optional<ActionKind>(action->kind) : std::nullopt;
  EXPECT_EQ(got, c.want) << "got " << KindText(got) << " (" << (action ? action->reason : "")
                         << "), want " << KindText(c.want);
  EXPECT_EQ(facts.changes_calls, c.changes_calls) << "Changes() calls";
  EXPECT_EQ(facts.run_calls, c.run_calls) << "Run() calls";

  std::vector<std::string> warned;
  for (const Warning& w : decision.warnings) {
    EXPECT_EQ(w.kind, WarningKind::kMemberNotLockable) << WarningKindName(w.kind);
    EXPECT_THAT(w.message, HasSubstr("cannot be locked"));
    warned.push_back(w.path);
  }
  EXPECT_EQ(warned, c.warnings);
  for (size_t i = 0; i < decision.warnings.size() && i < c.odd_members.size(); ++i) {
    EXPECT_THAT(decision.warnings[i].message, HasSubstr(c.odd_members[i].why));
  }

  if (!action) return;
  EXPECT_EQ(action->path, c.path);
  EXPECT_EQ(action->tree, c.tree);
  EXPECT_EQ(action->stat.ino, kIno);
  EXPECT_EQ(action->stat.dev, 2049u) << "the stat found now, not the record's";
  EXPECT_EQ(action->stat.birth, birth);
  EXPECT_TRUE(action->indexed);
  EXPECT_FALSE(action->reason.empty());
  EXPECT_EQ(action->clock_lag, c.clock_lag);
  // The expiry reported is always the one the reference gives.
  EXPECT_EQ(action->expires_at, ItemExpiresAt(action->reference, settings));
  if (c.want_reference) {
    EXPECT_EQ(action->reference, *c.want_reference)
        << absl::FormatTime(action->reference) << " vs " << absl::FormatTime(*c.want_reference);
  }
  if (c.want_expires_at) {
    EXPECT_EQ(action->expires_at, *c.want_expires_at)
        << absl::FormatTime(action->expires_at) << " vs " << absl::FormatTime(*c.want_expires_at);
  }
  EXPECT_EQ(action->locked_at, c.want_locked_at);
  EXPECT_EQ(action->members_locked_by, c.want_members_locked_by);
  EXPECT_EQ(action->members_expired_before, c.want_members_expired_before);
  EXPECT_EQ(action->overdue, c.want_overdue);
  // A release forgets what it lifts (a record would keep it unlocked once a duration is set
  // again); a lift at expiry keeps a lifted record (XO merges into lifted items).
  EXPECT_EQ(action->forget_record,
            action->kind == ActionKind::kLift && c.duration == absl::ZeroDuration());
  for (const std::string& part : c.reason_has) {
    EXPECT_THAT(action->reason, HasSubstr(part));
  }
  for (const std::string& part : c.reason_lacks) {
    EXPECT_THAT(action->reason, Not(HasSubstr(part)));
  }
}

TEST(ItemExpiresAtTest, StartOfTheNextUtcDayPlusTheDuration) {
  Settings settings;
  settings.duration = absl::Hours(24);
  EXPECT_EQ(ItemExpiresAt(Utc(2026, 11, 1), settings), Utc(2026, 11, 3));
  EXPECT_EQ(ItemExpiresAt(Utc(2026, 11, 2) - absl::Milliseconds(1), settings), Utc(2026, 11, 3));
  EXPECT_EQ(ItemExpiresAt(Utc(2026, 11, 2), settings), Utc(2026, 11, 4));
  settings.duration = k14d;
  EXPECT_EQ(ItemExpiresAt(kFresh, settings), Utc(2026, 12, 4));
  // The clock lag is the caller's to add: ItemExpiresAt takes the reference as it is.
  settings.clock_lag = absl::Hours(48);
  EXPECT_EQ(ItemExpiresAt(kFresh, settings), Utc(2026, 12, 4));
  settings.duration = absl::ZeroDuration();
  EXPECT_EQ(ItemExpiresAt(kFresh, settings), Utc(2026, 11, 20));
}

// A tree whose members could not all be examined counts as changed at InfiniteFuture: it never
// expires (and the arithmetic on such a reference must not overflow: ASan found it did).
TEST(ItemExpiresAtTest, AReferenceThatIsNoTimeNeverExpires) {
  Settings settings;
  settings.duration = k14d;
  EXPECT_EQ(ItemExpiresAt(absl::InfiniteFuture(), settings), absl::InfiniteFuture());
  EXPECT_EQ(ItemExpiresAt(absl::InfinitePast(), settings), absl::InfiniteFuture());
}

TEST(DecideTest, ImmutableItems) {
  const std::vector<Case> cases = {
      {.name = "steady state: immutable, protected, not expired: nothing, no fact asked",
       .immutable = true,
       .record = Rec::kProtected,
       .want = std::nullopt},
      {.name = "steady state of a tree: nothing, no fact asked",
       .immutable = true,
       .tree = true,
       .nlink = 5,
       .record = Rec::kProtected,
       .want = std::nullopt},
      {.name = "steady state even when the facts would say otherwise",
       .immutable = true,
       .record = Rec::kProtected,
       .unchanged_for = absl::ZeroDuration(),
       .mutable_members = 3,
       .odd_members = {{"x/fifo", "a FIFO"}},
       .run_complete = false,
       .want = std::nullopt},
      {.name = "steady state, file with --deep: members are a tree's business, nothing asked",
       .immutable = true,
       .record = Rec::kProtected,
       .deep = true,
       .mutable_members = 3,
       .want = std::nullopt},
      {.name = "protected, expired by its record: lift",
       .immutable = true,
       .birth = kOld - absl::Hours(1),
       .ctime = kOld,
       .record = Rec::kProtected,
       .record_reference = kOld,
       .want = ActionKind::kLift,
       .want_reference = kOld,
       .want_expires_at = Utc(2026, 10, 16),
       .reason_has = {"expired", "2026-10-01", "2026-10-16T00:00:00Z"}},
      {.name = "not in the index, locked long ago (old ctime): lift",
       .immutable = true,
       .birth = kOld - absl::Hours(1),
       .ctime = kOld,
       .want = ActionKind::kLift,
       .want_reference = kOld,
       .reason_has = {"2026-10-16T00:00:00Z"}},
      {.name = "not in the index: recorded, expiring from its ctime (its lock time)",
       .immutable = true,
       .want = ActionKind::kIndex,
       .want_reference = kFresh,
       .want_expires_at = Utc(2026, 12, 4),
       .reason_has = {"not in the index"}},
      {.name = "not in the index, locked before its birth (a clock stepped back): from its birth",
       .immutable = true,
       .birth = kFresh,
       .ctime = kFresh - absl::Hours(2),
       .want = ActionKind::kIndex,
       .want_reference = kFresh},
      // XO's daemon locked a config backup's date folder whole: adopted, from its lock time.
      {.name = "XO's backup folder not in the index: adopted whole, expiry said",
       .path = "xo-config-backups/sched-1/20261119T100000Z",
       .immutable = true,
       .tree = true,
       .nlink = 2,
       .want = ActionKind::kProtect,
       .want_reference = kFresh,
       .want_expires_at = Utc(2026, 12, 4),
       .reason_has = {"a backup folder XO's daemon locked whole", "lifted from 2026-12-04"}},
      // The attacker made the folder a month ahead; XO's daemon locked the new backup in it now.
      {.name = "a folder born long before it was locked expires from its lock, not its birth",
       .path = "xo-config-backups/sched-1/20261119T100000Z",
       .immutable = true,
       .tree = true,
       .nlink = 2,
       .birth = kOld - absl::Hours(24 * 30),
       .want = ActionKind::kProtect,
       .want_reference = kFresh},
      // Trees are locked top down: a locked directory (XO's daemon, a run killed half-way) may
      // hold members that are not locked yet.
      {.name = "tree not in the index: its members locked, then recorded from its ctime",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .want = ActionKind::kProtect,
       .want_reference = kFresh,
       .want_expires_at = Utc(2026, 12, 4),
       .reason_has = {"not in the index", "members are locked too"}},
      {.name = "tree with a lifted record, locked again since: its members locked, recorded",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .record = Rec::kLifted,
       .record_reference = kOld,
       .want = ActionKind::kProtect,
       .want_reference = kFresh},
      {.name = "a lifted record, locked again since: recorded anew from its ctime",
       .immutable = true,
       .record = Rec::kLifted,
       .record_reference = kOld,
       .record_locked_at = kOld,
       .want = ActionKind::kIndex,
       .want_reference = kFresh,
       .reason_has = {"not in the index"}},
      {.name = "a lifted record, locked again long ago: lifted by its ctime",
       .immutable = true,
       .ctime = kOld,
       .record = Rec::kLifted,
       .record_reference = kFresh,
       .want = ActionKind::kLift,
       .want_reference = kOld},
      {.name = "the record's reference wins over an older ctime (a lag raised it)",
       .immutable = true,
       .ctime = kOld,
       .record = Rec::kProtected,
       .record_reference = kFresh,
       .want = std::nullopt},
      {.name = "the record's reference wins over a newer ctime (re-protected after a drift)",
       .immutable = true,
       .ctime = kFresh,
       .record = Rec::kProtected,
       .record_reference = kOld,
       .want = ActionKind::kLift,
       .want_reference = kOld},
      {.name = "protected record at another path: the record follows it",
       .immutable = true,
       .record = Rec::kProtected,
       .record_path = kOtherPath,
       .record_reference = kFresh - absl::Hours(30),
       .record_locked_at = kFresh - absl::Hours(29),
       .want = ActionKind::kFollow,
       .want_reference = kFresh - absl::Hours(30),
       .want_locked_at = kFresh - absl::Hours(29),
       .reason_has = {"moved since it was recorded", "follows it"}},
      {.name = "protected tree at another path, locked_at unknown: kept unknown",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .record = Rec::kProtected,
       .record_path = kOtherPath,
       .want = ActionKind::kFollow,
       .want_reference = kFresh,
       .want_locked_at = absl::InfinitePast(),
       .reason_has = {"moved since it was recorded"}},
      {.name = "protected record at another path, expired: lifted where it is now",
       .immutable = true,
       .record = Rec::kProtected,
       .record_path = kOtherPath,
       .record_reference = kOld,
       .want = ActionKind::kLift,
       .want_reference = kOld},
  };
  for (const Case& c : cases) RunCase(c);
}

// The attacker writes on the remote with XO's rights: it can prepare inodes days ahead (old birth
// times), rename mutable folders and fill them, but it cannot move a ctime back.
TEST(DecideTest, Attacker) {
  const std::vector<Case> cases = {
      {.name = "immutable, born 30 days ago but locked an hour ago, not indexed: recorded, never "
               "lifted",
       .immutable = true,
       .birth = kNow - absl::Hours(30 * 24),
       .ctime = kNow - absl::Hours(1),
       .want = ActionKind::kIndex,
       .want_reference = kNow - absl::Hours(1),
       .want_expires_at = Utc(2026, 12, 5)},
      {.name = "immutable tree, born 30 days ago but locked an hour ago: its members locked and "
               "recorded, never lifted",
       .immutable = true,
       .tree = true,
       .nlink = 2,
       .birth = kNow - absl::Hours(30 * 24),
       .ctime = kNow - absl::Hours(1),
       .want = ActionKind::kProtect,
       .want_reference = kNow - absl::Hours(1),
       .want_expires_at = Utc(2026, 12, 5)},
      {.name = "the prepared spare: born 30 days ago, written an hour ago: protected from its "
               "newest change",
       .birth = kNow - absl::Hours(30 * 24),
       .ctime = kNow - absl::Hours(1),
       .unchanged_for = absl::Hours(1),
       .want = ActionKind::kProtect,
       .want_reference = kNow - absl::Hours(1),
       .want_expires_at = Utc(2026, 12, 5),
       .want_overdue = true,
       .changes_calls = 1,
       .run_calls = 1,
       .reason_has = {"2026-12-05T00:00:00Z"}},
      {.name = "a prepared spare tree: protected from its newest change",
       .tree = true,
       .nlink = 2,
       .birth = kNow - absl::Hours(30 * 24),
       .unchanged_for = absl::Minutes(20),
       .want = ActionKind::kProtect,
       .want_reference = kNow - absl::Minutes(20),
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "born 30 days ago, written 30 days ago: finished and past its time, left alone",
       .birth = kNow - absl::Hours(30 * 24),
       .unchanged_for = absl::Hours(30 * 24),
       .want = std::nullopt,
       .changes_calls = 1},
      // An attacker moves the clock 30 days ahead: a backup XO just finished looks 30 days old.
      // The shift is detected, lifts are held; it must be locked all the same.
      {.name = "past its time only by a moved clock (time shift): protected",
       .birth = kNow - absl::Hours(30 * 24),
       .clock_shifted = true,
       .unchanged_for = absl::Hours(30 * 24),
       .want = ActionKind::kProtect,
       .want_reference = kNow - absl::Hours(30 * 24),
       .want_overdue = true,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "time shift, not finished yet: still waits to settle",
       .clock_shifted = true,
       .unchanged_for = absl::Seconds(2),
       .want = ActionKind::kWait,
       .changes_calls = 1},
      {.name = "time shift, locked and expired: still a lift (the guard holds it back)",
       .immutable = true,
       .record = Rec::kProtected,
       .record_reference = kOld,
       .clock_shifted = true,
       .want = ActionKind::kLift},
      {.name = "a lifted VHD directory XO merges into, at its path: left alone, nothing asked",
       .tree = true,
       .nlink = 2,
       .birth = kOld,
       .record = Rec::kLifted,
       .record_reference = kOld,
       .unchanged_for = absl::Seconds(1),
       .want = std::nullopt},
      {.name = "a lifted directory at its path, long unchanged: left alone",
       .tree = true,
       .nlink = 2,
       .birth = kOld,
       .record = Rec::kLifted,
       .record_reference = kOld,
       .unchanged_for = absl::Hours(3),
       .run_complete = false,
       .want = std::nullopt},
      {.name = "a lifted file at its path: left alone",
       .birth = kOld,
       .record = Rec::kLifted,
       .record_reference = kOld,
       .want = std::nullopt},
      {.name = "an old lifted directory renamed to a new backup's path: protected",
       .tree = true,
       .nlink = 2,
       .birth = kOld,
       .record = Rec::kLifted,
       .record_path = kOtherPath,
       .record_reference = kOld,
       .unchanged_for = absl::Minutes(30),
       .want = ActionKind::kProtect,
       .want_reference = kNow - absl::Minutes(30),
       .want_expires_at = Utc(2026, 12, 5),
       .changes_calls = 1,
       .run_calls = 1},
      // XO's merge: the parent (lifted) took the child's blocks, then its name, free only once
      // the child was lifted: expired data, its record follows it and stays lifted.
      {.name = "a lifted file renamed onto a path where a backup was lifted (merge): follows",
       .birth = kOld,
       .record = Rec::kLifted,
       .record_path = kOtherPath,
       .record_reference = kOld,
       .unchanged_for = absl::Minutes(30),
       .lifted_here = true,
       .want = ActionKind::kFollow,
       .want_reference = kOld},
      {.name = "a lifted directory renamed onto a lifted backup's path, just written: follows",
       .tree = true,
       .nlink = 2,
       .birth = kOld,
       .record = Rec::kLifted,
       .record_path = kOtherPath,
       .record_reference = kOld,
       .unchanged_for = absl::Seconds(1),
       .lifted_here = true,
       .want = ActionKind::kFollow,
       .want_reference = kOld},
      {.name = "an old lifted file renamed to a new path, still being written: wait",
       .birth = kOld,
       .record = Rec::kLifted,
       .record_path = kOtherPath,
       .record_reference = kOld,
       .unchanged_for = absl::Seconds(2),
       .want = ActionKind::kWait,
       .changes_calls = 1},
      {.name = "a protected item made mutable and rewritten: reprotected, its old reference kept",
       .birth = kFresh - absl::Hours(2),
       .ctime = kNow,
       .record = Rec::kProtected,
       .record_reference = kFresh,
       .unchanged_for = absl::ZeroDuration(),
       .want = ActionKind::kReprotect,
       .want_reference = kFresh},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, TreeLifts) {
  const std::vector<Case> cases = {
      {.name = "protected tree, expired: members locked by its locked_at",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .ctime = kOld + absl::Hours(5),
       .record = Rec::kProtected,
       .record_reference = kOld,
       .record_locked_at = kOld + absl::Hours(1),
       .want = ActionKind::kLift,
       .want_reference = kOld,
       .want_members_locked_by = kOld + absl::Hours(1),
       .want_members_expired_before = kMembersExpiredBefore},
      {.name = "protected tree, expired, locked_at unknown: the directory's ctime stands in",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .ctime = kOld + absl::Hours(5),
       .record = Rec::kProtected,
       .record_reference = kOld,
       .want = ActionKind::kLift,
       .want_members_locked_by = kOld + absl::Hours(5),
       .want_members_expired_before = kMembersExpiredBefore},
      {.name = "adopted tree (no record), expired by its ctime: members locked by its ctime",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .ctime = kOld,
       .want = ActionKind::kLift,
       .want_reference = kOld,
       .want_members_locked_by = kOld,
       .want_members_expired_before = kMembersExpiredBefore},
      {.name = "lifted record's locked_at is not used: the ctime stands in",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .ctime = kOld,
       .record = Rec::kLifted,
       .record_reference = kOld,
       .record_locked_at = kOld - absl::Hours(3),
       .want = ActionKind::kLift,
       .want_members_locked_by = kOld,
       .want_members_expired_before = kMembersExpiredBefore},
      {.name = "protected tree, expired, with --deep and mutable members: lifted, not reprotected",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .ctime = kOld,
       .record = Rec::kProtected,
       .record_reference = kOld,
       .record_locked_at = kOld,
       .deep = true,
       .mutable_members = 4,
       .want = ActionKind::kLift,
       .want_members_locked_by = kOld,
       .want_members_expired_before = kMembersExpiredBefore},
      // XO's daemon v1 locked a VHD directory's bat, header and footer, never the folder: past its
      // time, those would stay locked for ever unless lifted.
      {.name = "mutable tree never protected, past its time, members XO's daemon locked: lifted",
       .tree = true,
       .nlink = 3,
       .unchanged_for = absl::Hours(24 * 60),
       .locked_members = 3,
       .newest_lock = kOld,
       .want = ActionKind::kLift,
       .want_reference = kOld,
       .want_members_locked_by = kOld,
       .want_members_expired_before = kMembersExpiredBefore,
       .changes_calls = 1,
       .reason_has = {"3 members locked by XO's daemon"}},
      // Its lock time counts, as for any adopted item: locked recently, it is protected now.
      {.name = "mutable tree unchanged for long, a member locked recently: protected from then",
       .tree = true,
       .nlink = 3,
       .unchanged_for = absl::Hours(24 * 60),
       .locked_members = 1,
       .newest_lock = kFresh,
       .want = ActionKind::kProtect,
       .want_reference = kFresh,
       .want_overdue = true,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "mutable tree, protected record, expired: finishing the lift, limited the same way",
       .tree = true,
       .nlink = 3,
       .ctime = kOld + absl::Hours(2),
       .record = Rec::kProtected,
       .record_reference = kOld,
       .record_locked_at = kOld + absl::Hours(1),
       .want = ActionKind::kLift,
       .want_reference = kOld,
       .want_members_locked_by = kOld + absl::Hours(1),
       .want_members_expired_before = kMembersExpiredBefore,
       .reason_has = {"interrupted lift"}},
      // A mutable directory's ctime moves whenever anyone writes into it: a writer could make
      // members it adds now count as the item's. The record's reference stands in.
      {.name = "mutable tree, protected record without locked_at, expired: its reference, not "
               "its ctime",
       .tree = true,
       .nlink = 3,
       .ctime = kNow - absl::Minutes(1),
       .record = Rec::kProtected,
       .record_reference = kOld,
       .want = ActionKind::kLift,
       .want_reference = kOld,
       .want_members_locked_by = kOld,
       .want_members_expired_before = kMembersExpiredBefore},
      {.name = "mutable tree without locked_at, ctime older than the reference: the reference",
       .tree = true,
       .nlink = 3,
       .ctime = kOld - absl::Hours(2),
       .record = Rec::kProtected,
       .record_reference = kOld,
       .want = ActionKind::kLift,
       .want_members_locked_by = kOld,
       .want_members_expired_before = kMembersExpiredBefore},
      {.name = "adopted tree with a clock lag: expiry from ctime + lag, members by the ctime",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .ctime = kOld,
       .clock_lag = absl::Hours(3),
       .want = ActionKind::kLift,
       .want_reference = kOld + absl::Hours(3),
       .want_members_locked_by = kOld,
       .want_members_expired_before = kMembersExpiredBefore},
      {.name = "a file lift has no member limits",
       .immutable = true,
       .ctime = kOld,
       .record = Rec::kProtected,
       .record_reference = kOld,
       .record_locked_at = kOld,
       .want = ActionKind::kLift},
      {.name = "1d: members born before the start of the day of now - 1d expired",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .ctime = kOld,
       .record = Rec::kProtected,
       .record_reference = kOld,
       .record_locked_at = kOld,
       .duration = absl::Hours(24),
       .now = Utc(2026, 11, 20, 0, 30),
       .want = ActionKind::kLift,
       .want_members_locked_by = kOld,
       .want_members_expired_before = Utc(2026, 11, 19)},
  };
  for (const Case& c : cases) RunCase(c);
}

// A protection that stopped half-way (an error, a writer) leaves the item locked with a record
// marked incomplete: the next run finishes it.
TEST(DecideTest, IncompleteProtection) {
  const std::vector<Case> cases = {
      {.name =
           "immutable tree, protected only in part: its protection finished, its reference kept",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .ctime = kFresh + absl::Hours(2),
       .record = Rec::kProtected,
       .record_reference = kFresh,
       .record_locked_at = kFresh + absl::Minutes(1),
       .record_complete = false,
       .want = ActionKind::kProtect,
       .want_reference = kFresh,
       .want_expires_at = Utc(2026, 12, 4),
       .reason_has = {"stopped half-way", "finishing it"}},
      {.name = "immutable file, protected only in part: its protection finished",
       .immutable = true,
       .record = Rec::kProtected,
       .record_complete = false,
       .want = ActionKind::kProtect,
       .want_reference = kFresh,
       .reason_has = {"stopped half-way"}},
      {.name = "the same record, complete: the steady state",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .record = Rec::kProtected,
       .record_locked_at = kFresh + absl::Minutes(1),
       .want = std::nullopt},
      {.name = "with --deep and no mutable member found: its protection finished all the same",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .record = Rec::kProtected,
       .record_complete = false,
       .deep = true,
       .want = ActionKind::kProtect,
       .changes_calls = 1,
       .reason_has = {"stopped half-way"}},
      {.name = "with --deep and mutable members: reprotected for the drift",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .record = Rec::kProtected,
       .record_complete = false,
       .deep = true,
       .mutable_members = 2,
       .want = ActionKind::kReprotect,
       .changes_calls = 1,
       .reason_has = {"2 members made mutable"}},
      {.name = "moved since: its protection finished where it is now, its reference kept",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .record = Rec::kProtected,
       .record_path = kOtherPath,
       .record_reference = kFresh - absl::Hours(5),
       .record_complete = false,
       .want = ActionKind::kProtect,
       .want_reference = kFresh - absl::Hours(5)},
      {.name = "expired: lifted, members by its locked_at",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .ctime = kOld + absl::Hours(5),
       .record = Rec::kProtected,
       .record_reference = kOld,
       .record_locked_at = kOld + absl::Hours(1),
       .record_complete = false,
       .want = ActionKind::kLift,
       .want_reference = kOld,
       .want_members_locked_by = kOld + absl::Hours(1),
       .want_members_expired_before = kMembersExpiredBefore},
      {.name = "made mutable since: reprotected for the drift",
       .tree = true,
       .nlink = 3,
       .record = Rec::kProtected,
       .record_complete = false,
       .want = ActionKind::kReprotect,
       .want_reference = kFresh,
       .reason_has = {"drift"}},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, DeepVerification) {
  const std::vector<Case> cases = {
      {.name = "protected tree with 3 mutable members: reprotect at once",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .record = Rec::kProtected,
       .deep = true,
       .unchanged_for = absl::ZeroDuration(),
       .mutable_members = 3,
       .run_complete = false,
       .want = ActionKind::kReprotect,
       .want_reference = kFresh,
       .changes_calls = 1,
       .reason_has = {"drift: 3 members made mutable", "2026-12-04T00:00:00Z"}},
      {.name = "protected tree, every member locked: nothing, but the members were read",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .record = Rec::kProtected,
       .deep = true,
       .want = std::nullopt,
       .changes_calls = 1},
      {.name = "protected tree with odd members: warned, nothing else",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .record = Rec::kProtected,
       .deep = true,
       .odd_members = {{"a/b.vhd/blocks/fifo", "a FIFO"}, {"a/b.vhd/bat", "2 hard links"}},
       .want = std::nullopt,
       .changes_calls = 1,
       .warnings = {"a/b.vhd/blocks/fifo", "a/b.vhd/bat"}},
      // Its directory's flag does not say its members are locked (trees are locked top down): they
      // are locked, whatever --deep found.
      {.name = "adopted tree (no record), every member locked: its members locked and recorded",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .deep = true,
       .want = ActionKind::kProtect,
       .want_reference = kFresh,
       .changes_calls = 1,
       .reason_has = {"not in the index", "members are locked too"}},
      {.name = "adopted tree with mutable members: reprotected from its ctime",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .ctime = kFresh + absl::Hours(1),
       .deep = true,
       .mutable_members = 1,
       .want = ActionKind::kReprotect,
       .want_reference = kFresh + absl::Hours(1),
       .changes_calls = 1,
       .reason_has = {"1 members made mutable"}},
      {.name = "moved tree with mutable members: reprotected, with the record's reference",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .record = Rec::kProtected,
       .record_path = kOtherPath,
       .record_reference = kFresh - absl::Hours(5),
       .deep = true,
       .mutable_members = 2,
       .want = ActionKind::kReprotect,
       .want_reference = kFresh - absl::Hours(5),
       .changes_calls = 1},
      {.name = "without --deep, mutable members are not looked for",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .record = Rec::kProtected,
       .mutable_members = 2,
       .want = std::nullopt},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, HardLinks) {
  const std::vector<Case> cases = {
      // Refused only where it would otherwise be locked: a finished new file, or a protected one
      // made mutable before its expiry.
      {.name = "finished file with 2 links: refused where it would be protected, run not asked",
       .nlink = 2,
       .want = ActionKind::kRefuse,
       .want_reference = kFresh,
       .changes_calls = 1,
       .reason_has = {"2 hard links"}},
      {.name = "file with 2 links, run not complete: refused, run not asked",
       .nlink = 2,
       .run_complete = false,
       .want = ActionKind::kRefuse,
       .changes_calls = 1},
      {.name = "file with 2 links, still being written: the settle wait comes first",
       .nlink = 2,
       .unchanged_for = absl::Seconds(5),
       .want = ActionKind::kWait,
       .changes_calls = 1},
      {.name = "protected file made mutable with 3 links: refused, not reprotected",
       .nlink = 3,
       .record = Rec::kProtected,
       .want = ActionKind::kRefuse,
       .reason_has = {"3 hard links"}},
      {.name = "protected file, expired, mutable, 2 links: its lift is finished",
       .nlink = 2,
       .record = Rec::kProtected,
       .record_reference = kOld,
       .want = ActionKind::kLift,
       .want_reference = kOld,
       .reason_has = {"interrupted lift"}},
      {.name = "lifted file at its path with 2 links: left alone",
       .nlink = 2,
       .record = Rec::kLifted,
       .want = std::nullopt},
      {.name = "lifted file renamed to a new path with 2 links: refused",
       .nlink = 2,
       .record = Rec::kLifted,
       .record_path = kOtherPath,
       .want = ActionKind::kRefuse,
       .changes_calls = 1},
      {.name = "hard-linked file, unchanged for 30 days: past its time, left alone",
       .nlink = 2,
       .ctime = kNow - absl::Hours(30 * 24),
       .unchanged_for = absl::Hours(30 * 24),
       .want = std::nullopt,
       .changes_calls = 1},
      // Clearing the flag of a file with two names unlocks both, and the other may be outside
      // the remote: a hard-linked file locked by someone else is never adopted nor lifted (this
      // program's own locks refuse a second name), and says so while it is still locked.
      {.name = "hard-linked, locked by someone else, not in the index: refused, not adopted",
       .immutable = true,
       .nlink = 2,
       .want = ActionKind::kRefuse,
       .reason_has = {"2 hard links", "never unlocked here"}},
      {.name = "hard-linked, locked long ago, not in the index: refused, not lifted",
       .immutable = true,
       .nlink = 2,
       .birth = kOld - absl::Hours(1),
       .ctime = kOld,
       .want = ActionKind::kRefuse,
       .reason_has = {"2 hard links", "outside the remote"}},
      {.name = "hard-linked, recorded by an earlier version, expired: refused, not lifted",
       .immutable = true,
       .nlink = 3,
       .birth = kOld - absl::Hours(1),
       .ctime = kOld,
       .record = Rec::kProtected,
       .record_reference = kOld,
       .want = ActionKind::kRefuse,
       .reason_has = {"3 hard links"}},
      {.name = "hard-linked, recorded by an earlier version, not expired: refused, said at once",
       .immutable = true,
       .nlink = 2,
       .record = Rec::kProtected,
       .want = ActionKind::kRefuse},
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
      {.name = "protected, mutable: reprotect at once, no settle, no run check",
       .record = Rec::kProtected,
       .unchanged_for = absl::ZeroDuration(),
       .run_complete = false,
       .want = ActionKind::kReprotect,
       .want_reference = kFresh,
       .want_expires_at = Utc(2026, 12, 4),
       .reason_has = {"drift", "2026-12-04T00:00:00Z"}},
      {.name = "protected tree, mutable: reprotect, no member limits",
       .tree = true,
       .nlink = 3,
       .record = Rec::kProtected,
       .record_locked_at = kFresh,
       .want = ActionKind::kReprotect,
       .want_reference = kFresh},
      {.name = "protected, mutable, at another path: reprotected where it is",
       .record = Rec::kProtected,
       .record_path = kOtherPath,
       .want = ActionKind::kReprotect},
      {.name = "protected, mutable, expired: lift (finishing an interrupted lift)",
       .record = Rec::kProtected,
       .record_reference = kOld,
       .want = ActionKind::kLift,
       .want_reference = kOld,
       .reason_has = {"expired and indexed", "interrupted lift"}},
      {.name = "the clock lag is not added to a record's reference",
       .record = Rec::kProtected,
       .record_reference = kFresh,
       .clock_lag = absl::Hours(20),
       .want = ActionKind::kReprotect,
       .want_reference = kFresh,
       .want_expires_at = Utc(2026, 12, 4)},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, SettleAndRunCompletion) {
  const std::vector<Case> cases = {
      {.name = "changed 5s ago: wait for settle, run not checked",
       .unchanged_for = absl::Seconds(5),
       .want = ActionKind::kWait,
       .want_reference = kNow - absl::Seconds(5),
       .changes_calls = 1,
       .reason_has = {"changed 5s ago", "settle 10s"}},
      {.name = "changed 9.999s ago: still waiting",
       .unchanged_for = absl::Milliseconds(9999),
       .want = ActionKind::kWait,
       .changes_calls = 1},
      {.name = "unchanged for exactly settle: settled",
       .unchanged_for = absl::Seconds(10),
       .want = ActionKind::kProtect,
       .want_reference = kNow - absl::Seconds(10),
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "a tree not examined whole: wait, saying why instead of \"changed 0s ago\"",
       .tree = true,
       .unchanged_for = -absl::InfiniteDuration(),
       .unexamined = "statx x.vhd/blocks/0/0: Input/output error",
       .want = ActionKind::kWait,
       .changes_calls = 1,
       .reason_has = {"could not be examined whole", "x.vhd/blocks/0/0: Input/output error"},
       .reason_lacks = {"changed"}},
      {.name = "change time in the future (clock skew): wait",
       .unchanged_for = -absl::Hours(1),
       .want = ActionKind::kWait,
       .changes_calls = 1,
       .reason_has = {"changed 0s ago"}},
      {.name = "run incomplete, younger than orphan grace: wait for the marker",
       .unchanged_for = absl::Minutes(30),
       .run_complete = false,
       .want = ActionKind::kWait,
       .want_reference = kNow - absl::Minutes(30),
       .changes_calls = 1,
       .run_calls = 1,
       .reason_has = {kMarker, "1h"}},
      {.name = "run incomplete, just under orphan grace: wait",
       .unchanged_for = absl::Hours(1) - absl::Milliseconds(1),
       .run_complete = false,
       .want = ActionKind::kWait,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "run incomplete, unchanged for exactly orphan grace: protect, overdue",
       .unchanged_for = absl::Hours(1),
       .run_complete = false,
       .want = ActionKind::kProtect,
       .want_overdue = true,
       .changes_calls = 1,
       .run_calls = 1,
       .reason_has = {"never completed", kMarker}},
      {.name = "run incomplete, older than orphan grace: protect, overdue",
       .unchanged_for = absl::Hours(5),
       .run_complete = false,
       .want = ActionKind::kProtect,
       .want_reference = kNow - absl::Hours(5),
       .want_overdue = true,
       .changes_calls = 1,
       .run_calls = 1,
       .reason_has = {"never completed", kMarker, "5h", "2026-12-05T00:00:00Z"}},
      {.name = "finished a minute ago: protect, not overdue",
       .unchanged_for = absl::Minutes(1),
       .run_complete = true,
       .want = ActionKind::kProtect,
       .want_reference = kNow - absl::Minutes(1),
       .want_expires_at = Utc(2026, 12, 5),
       .changes_calls = 1,
       .run_calls = 1,
       .reason_has = {"finished", "1m", kMarker, "2026-12-05T00:00:00Z"}},
      {.name = "finished, unchanged just under orphan grace: not overdue",
       .unchanged_for = absl::Hours(1) - absl::Nanoseconds(1),
       .want = ActionKind::kProtect,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "finished, unchanged for 2h: overdue",
       .unchanged_for = absl::Hours(2),
       .want = ActionKind::kProtect,
       .want_overdue = true,
       .changes_calls = 1,
       .run_calls = 1},
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
       .unchanged_for = absl::Minutes(10),
       .want = ActionKind::kProtect,
       .changes_calls = 1,
       .run_calls = 1},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, OddMembers) {
  const std::vector<OddMember> odd = {{"t/fifo", "a FIFO"}, {"t/mnt", "another filesystem"}};
  const std::vector<Case> cases = {
      {.name = "finished tree with odd members: protected, each member warned",
       .tree = true,
       .nlink = 2,
       .unchanged_for = absl::Minutes(10),
       .odd_members = odd,
       .want = ActionKind::kProtect,
       .changes_calls = 1,
       .run_calls = 1,
       .warnings = {"t/fifo", "t/mnt"}},
      {.name = "still settling: no warning yet",
       .tree = true,
       .nlink = 2,
       .unchanged_for = absl::Seconds(1),
       .odd_members = odd,
       .want = ActionKind::kWait,
       .changes_calls = 1},
      {.name = "waiting for the run: warned already",
       .tree = true,
       .nlink = 2,
       .unchanged_for = absl::Minutes(10),
       .odd_members = odd,
       .run_complete = false,
       .want = ActionKind::kWait,
       .changes_calls = 1,
       .run_calls = 1,
       .warnings = {"t/fifo", "t/mnt"}},
      {.name = "expired before anything could lock it: left alone, no warning",
       .tree = true,
       .nlink = 2,
       .unchanged_for = absl::Hours(30 * 24),
       .odd_members = odd,
       .want = std::nullopt,
       .changes_calls = 1},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, ClockLag) {
  const std::vector<Case> cases = {
      // Written before the wall clock was stepped back: changed "in the future". It used to wait
      // until the clock caught up, unlocked; measured on the corrected clock it has settled.
      {.name = "changed 30m after the wall clock, 23h lag: settled, protected",
       .clock_lag = absl::Hours(23),
       .unchanged_for = -absl::Minutes(30),
       .want = ActionKind::kProtect,
       .want_reference = kNow + absl::Minutes(30) + absl::Hours(23),
       .want_overdue = true,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "changed 30m after the wall clock, 20m lag: not settled by the corrected clock",
       .clock_lag = absl::Minutes(20),
       .unchanged_for = -absl::Minutes(30),
       .want = ActionKind::kWait,
       .changes_calls = 1},
      {.name = "changed after the wall clock, no lag known: waits",
       .unchanged_for = -absl::Minutes(30),
       .want = ActionKind::kWait,
       .changes_calls = 1},
      {.name = "the lag raises the reference of a new item",
       .clock_lag = absl::Hours(3),
       .unchanged_for = absl::Hours(2),
       .want = ActionKind::kProtect,
       .want_reference = kNow + absl::Hours(1),
       .want_overdue = true,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "and so its expiry, across a day boundary",
       .clock_lag = absl::Hours(3),
       .now = Utc(2026, 11, 20, 23),
       .unchanged_for = absl::Hours(2),
       .want = ActionKind::kProtect,
       .want_reference = Utc(2026, 11, 21),
       .want_expires_at = Utc(2026, 12, 6),
       .want_overdue = true,
       .changes_calls = 1,
       .run_calls = 1,
       .reason_has = {"2026-12-06T00:00:00Z"}},
      {.name = "without the lag, the same item expires a day earlier",
       .now = Utc(2026, 11, 20, 23),
       .unchanged_for = absl::Hours(2),
       .want = ActionKind::kProtect,
       .want_reference = Utc(2026, 11, 20, 21),
       .want_expires_at = Utc(2026, 12, 5),
       .want_overdue = true,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "1d, written 25.5h ago, no lag: past its time, left alone",
       .duration = absl::Hours(24),
       .now = Utc(2026, 11, 20, 0, 30),
       .unchanged_for = absl::Minutes(25 * 60 + 30),
       .want = std::nullopt,
       .changes_calls = 1},
      {.name = "1d, written 25.5h ago, 2h lag: protected until a day later",
       .duration = absl::Hours(24),
       .clock_lag = absl::Hours(2),
       .now = Utc(2026, 11, 20, 0, 30),
       .unchanged_for = absl::Minutes(25 * 60 + 30),
       .want = ActionKind::kProtect,
       .want_reference = Utc(2026, 11, 19, 1),
       .want_expires_at = Utc(2026, 11, 21),
       .want_overdue = true,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "the settle wait reports the newest change itself",
       .clock_lag = absl::Hours(3),
       .unchanged_for = absl::Seconds(1),
       .want = ActionKind::kWait,
       .want_reference = kNow - absl::Seconds(1),
       .changes_calls = 1},
      {.name = "the run wait reports the raised reference",
       .clock_lag = absl::Hours(3),
       .unchanged_for = absl::Minutes(1),
       .run_complete = false,
       .want = ActionKind::kWait,
       .want_reference = kNow - absl::Minutes(1) + absl::Hours(3),
       .changes_calls = 1,
       .run_calls = 1},
      // An adopted item's ctime is its lock time as the lagging wall clock read it: corrected like
      // any other reference.
      {.name = "adopted item: its ctime plus the lag",
       .immutable = true,
       .ctime = kFresh,
       .clock_lag = absl::Hours(3),
       .want = ActionKind::kIndex,
       .want_reference = kFresh + absl::Hours(3),
       .want_expires_at = Utc(2026, 12, 4)},
      {.name = "adopted item locked at 23:00 with a 3h lag: the next day",
       .immutable = true,
       .ctime = Utc(2026, 11, 19, 23),
       .clock_lag = absl::Hours(3),
       .want = ActionKind::kIndex,
       .want_reference = Utc(2026, 11, 20, 2),
       .want_expires_at = Utc(2026, 12, 5)},
      {.name = "1d, adopted item its ctime would expire: the lag keeps it",
       .immutable = true,
       .ctime = Utc(2026, 11, 18, 23),
       .duration = absl::Hours(24),
       .clock_lag = absl::Hours(2),
       .now = Utc(2026, 11, 20, 0, 30),
       .want = ActionKind::kIndex,
       .want_reference = Utc(2026, 11, 19, 1),
       .want_expires_at = Utc(2026, 11, 21)},
      {.name = "1d, the same adopted item without the lag: lifted",
       .immutable = true,
       .ctime = Utc(2026, 11, 18, 23),
       .duration = absl::Hours(24),
       .now = Utc(2026, 11, 20, 0, 30),
       .want = ActionKind::kLift,
       .want_reference = Utc(2026, 11, 18, 23),
       .want_expires_at = Utc(2026, 11, 20)},
      {.name = "a recorded item's reference is not raised again",
       .immutable = true,
       .ctime = kFresh,
       .record = Rec::kProtected,
       .record_reference = kOld,
       .clock_lag = absl::Hours(3),
       .want = ActionKind::kLift,
       .want_reference = kOld},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, DayBoundaries) {
  const absl::Time late = Utc(2026, 11, 2) - absl::Milliseconds(1);  // 2026-11-01T23:59:59.999Z
  const absl::Time midnight = Utc(2026, 11, 2);                      // 2026-11-02T00:00:00Z
  const absl::Time d2 = Utc(2026, 11, 3);
  const absl::Time d3 = Utc(2026, 11, 4);
  const absl::Duration day = absl::Hours(24);
  const std::vector<Case> cases = {
      {.name = "reference 23:59:59.999, 1d, 1ns before D+2: still protected",
       .immutable = true,
       .record = Rec::kProtected,
       .record_reference = late,
       .duration = day,
       .now = d2 - absl::Nanoseconds(1),
       .want = std::nullopt},
      {.name = "reference 23:59:59.999, 1d, at D+2 00:00:00: lift",
       .immutable = true,
       .record = Rec::kProtected,
       .record_reference = late,
       .duration = day,
       .now = d2,
       .want = ActionKind::kLift,
       // The index keeps whole seconds (rounded down: never into the next day).
       .want_reference = late - absl::Milliseconds(999),
       .want_expires_at = d2,
       .reason_has = {"2026-11-01", "2026-11-03T00:00:00Z"}},
      {.name = "reference 00:00:00 of D+1, 1d, at D+2 00:00:00: still protected",
       .immutable = true,
       .record = Rec::kProtected,
       .record_reference = midnight,
       .duration = day,
       .now = d2,
       .want = std::nullopt},
      {.name = "reference 00:00:00 of D+1, 1d, 1ns before D+3: still protected",
       .immutable = true,
       .record = Rec::kProtected,
       .record_reference = midnight,
       .duration = day,
       .now = d3 - absl::Nanoseconds(1),
       .want = std::nullopt},
      {.name = "reference 00:00:00 of D+1, 1d, at D+3 00:00:00: lift",
       .immutable = true,
       .record = Rec::kProtected,
       .record_reference = midnight,
       .duration = day,
       .now = d3,
       .want = ActionKind::kLift,
       .want_expires_at = d3,
       .reason_has = {"2026-11-02", "2026-11-04T00:00:00Z"}},
      {.name = "adopted, locked 23:59:59.999: expires at D+2",
       .immutable = true,
       .ctime = late,
       .duration = day,
       .now = d2,
       .want = ActionKind::kLift,
       .want_reference = late},
      {.name = "adopted, locked 00:00:00 of D+1: not at D+2",
       .immutable = true,
       .ctime = midnight,
       .duration = day,
       .now = d2,
       .want = ActionKind::kIndex,
       .want_reference = midnight,
       .want_expires_at = d3},
      {.name = "new item, last written 23:59:59.999: protected until D+2",
       .duration = day,
       .now = midnight + absl::Minutes(30),
       .unchanged_for = absl::Minutes(30) + absl::Milliseconds(1),
       .want = ActionKind::kProtect,
       .want_reference = late,
       .want_expires_at = d2,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "new item, last written 00:00:00 of D+1: protected until D+3",
       .duration = day,
       .now = midnight + absl::Minutes(30),
       .unchanged_for = absl::Minutes(30),
       .want = ActionKind::kProtect,
       .want_reference = midnight,
       .want_expires_at = d3,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "new item, last written 23:59:59.999, a lag of 1ms: the next day",
       .duration = day,
       .clock_lag = absl::Milliseconds(1),
       .now = midnight + absl::Minutes(30),
       .unchanged_for = absl::Minutes(30) + absl::Milliseconds(1),
       .want = ActionKind::kProtect,
       .want_reference = midnight,
       .want_expires_at = d3,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "never locked, written 23:59:59.999, 1ns before D+2: protected (overdue)",
       .duration = day,
       .now = d2 - absl::Nanoseconds(1),
       .unchanged_for = d2 - absl::Nanoseconds(1) - late,
       .want = ActionKind::kProtect,
       .want_reference = late,
       .want_expires_at = d2,
       .want_overdue = true,
       .changes_calls = 1,
       .run_calls = 1},
      {.name = "never locked, written 23:59:59.999, at D+2: left alone",
       .duration = day,
       .now = d2,
       .unchanged_for = d2 - late,
       .want = std::nullopt,
       .changes_calls = 1},
      {.name = "mutable drift 1ns before expiry: reprotect",
       .record = Rec::kProtected,
       .record_reference = late,
       .duration = day,
       .now = d2 - absl::Nanoseconds(1),
       .want = ActionKind::kReprotect},
      {.name = "mutable and protected at expiry: lift (finishing)",
       .record = Rec::kProtected,
       .record_reference = late,
       .duration = day,
       .now = d2,
       .want = ActionKind::kLift},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideTest, DurationZeroReleasesTheRemote) {
  const std::vector<Case> cases = {
      {.name = "immutable, protected: lift",
       .immutable = true,
       .record = Rec::kProtected,
       .duration = absl::ZeroDuration(),
       .want = ActionKind::kLift,
       .reason_has = {"immutability duration is 0"}},
      {.name = "immutable, protected with a reference in the future: lift",
       .immutable = true,
       .record = Rec::kProtected,
       .record_reference = kNow + absl::Hours(48),
       .duration = absl::ZeroDuration(),
       .want = ActionKind::kLift,
       .want_reference = kNow + absl::Hours(48)},
      {.name = "immutable, not indexed, locked a minute ago: lift",
       .immutable = true,
       .ctime = kNow - absl::Minutes(1),
       .duration = absl::ZeroDuration(),
       .want = ActionKind::kLift,
       .want_reference = kNow - absl::Minutes(1)},
      {.name = "immutable tree: every member born by its lock, none waited for",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .record = Rec::kProtected,
       .record_locked_at = kFresh + absl::Minutes(5),
       .duration = absl::ZeroDuration(),
       .want = ActionKind::kLift,
       .want_members_locked_by = kFresh + absl::Minutes(5),
       .want_members_expired_before = absl::InfiniteFuture()},
      {.name = "mutable, protected: finish the lift (never protect)",
       .record = Rec::kProtected,
       .duration = absl::ZeroDuration(),
       .want = ActionKind::kLift},
      // Nothing new is locked while the remote is released: mutable items without a protected
      // record get nothing, and no fact is asked.
      {.name = "mutable, not indexed, finished: left alone, nothing asked",
       .duration = absl::ZeroDuration(),
       .want = std::nullopt},
      {.name = "mutable, new and finished: left alone, nothing asked",
       .birth = kNow - absl::Hours(3),
       .duration = absl::ZeroDuration(),
       .unchanged_for = absl::Hours(3),
       .want = std::nullopt},
      {.name = "mutable, changed 5s ago: no settle wait, it will never be protected",
       .duration = absl::ZeroDuration(),
       .unchanged_for = absl::Seconds(5),
       .want = std::nullopt},
      {.name = "mutable, run not complete: no wait for the run",
       .duration = absl::ZeroDuration(),
       .run_complete = false,
       .want = std::nullopt},
      // A tree is looked into (once a run, while the remote is being released): for members XO's
      // daemon locked.
      {.name = "mutable tree with odd members: nothing, no warning",
       .tree = true,
       .nlink = 2,
       .duration = absl::ZeroDuration(),
       .odd_members = {{"t/fifo", "a FIFO"}},
       .want = std::nullopt,
       .changes_calls = 1},
      {.name = "mutable tree, members XO's daemon locked a minute ago: lifted",
       .tree = true,
       .nlink = 2,
       .duration = absl::ZeroDuration(),
       .locked_members = 2,
       .newest_lock = kNow - absl::Minutes(1),
       .want = ActionKind::kLift,
       .want_members_locked_by = kNow - absl::Minutes(1),
       .changes_calls = 1,
       .reason_has = {"being released", "2 members locked by XO's daemon"}},
      // A released remote keeps no records: a lifted one would keep its item unlocked for good
      // once a duration is set again (a lifted item at its path is left alone).
      {.name = "lifted record renamed to a new path: unindexed, not protected again",
       .record = Rec::kLifted,
       .record_path = kOtherPath,
       .duration = absl::ZeroDuration(),
       .want = ActionKind::kUnindex},
      {.name = "mutable, lifted record at its path: unindexed",
       .record = Rec::kLifted,
       .duration = absl::ZeroDuration(),
       .want = ActionKind::kUnindex,
       .reason_has = {"released", "record goes"}},
      {.name = "mutable hard link: nothing to refuse, it would not be locked",
       .nlink = 2,
       .duration = absl::ZeroDuration(),
       .want = std::nullopt},
      {.name = "mutable hard link with a protected record: its lift is finished, not refused",
       .nlink = 2,
       .record = Rec::kProtected,
       .duration = absl::ZeroDuration(),
       .want = ActionKind::kLift},
      {.name = "immutable, protected only in part: lifted",
       .immutable = true,
       .tree = true,
       .nlink = 3,
       .record = Rec::kProtected,
       .record_locked_at = kFresh + absl::Minutes(5),
       .record_complete = false,
       .duration = absl::ZeroDuration(),
       .want = ActionKind::kLift,
       .want_members_locked_by = kFresh + absl::Minutes(5),
       .want_members_expired_before = absl::InfiniteFuture()},
  };
  for (const Case& c : cases) RunCase(c);
}

}  // namespace
}  // namespace xoi
