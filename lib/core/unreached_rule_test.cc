// DecideUnreached: an index record the walk did not reach. The one rule that may lift an item the
// walk never saw, so every row also checks what it must never do: lift another inode.
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
#include "lib/testing/utc.h"

namespace xoi {
namespace {

using ::testing::HasSubstr;

// Returns fixed facts and records what it is asked for.
class FakeUnreachedFacts : public UnreachedFacts {
 public:
  std::optional<FileStat> now_there;

  std::vector<std::string> stat_asked;  // the paths StatBeneath() was asked for, in order

  std::optional<FileStat> StatBeneath(const std::string& relative) override {
    stat_asked.push_back(relative);
    return now_there;
  }
};

const absl::Time kNow = Utc(2026, 11, 20, 12);
constexpr char kPath[] = "xo-vm-backups/vm-1/20261001T100000Z.xva";
// Reference 2026-10-01: with 14d, expired since 2026-10-16T00:00:00Z.
const absl::Time kOldReference = Utc(2026, 10, 1, 10);
// Reference 2026-11-19: with 14d, protected until 2026-12-04T00:00:00Z.
const absl::Time kFreshReference = Utc(2026, 11, 19, 10);
const absl::Time kBirth = Utc(2026, 10, 1, 9);
// With 14d at kNow: members born before the start of 2026-11-06 expired.
const absl::Time kMembersExpiredBefore = Utc(2026, 11, 6);
constexpr uint64_t kIno = 4242;

struct Case {
  std::string name;
  // The index record.
  std::string path = kPath;
  absl::Time reference = kOldReference;
  uint64_t record_ino = kIno;
  absl::Time record_birth = kBirth;
  bool tree = false;
  absl::Time locked_at = absl::InfinitePast();
  bool lifted = false;
  // What the path holds now.
  bool present = true;
  uint64_t ino = kIno;
  absl::Time birth = kBirth;
  absl::Time ctime = kOldReference + absl::Hours(1);
  bool immutable = true;
  // Settings and clock.
  absl::Duration duration = absl::Hours(14 * 24);
  absl::Time now = kNow;
  // Expectations: at most one action and one warning.
  std::optional<ActionKind> want_action;
  std::optional<WarningKind> want_warning;
  std::vector<std::string> stat_asked = {kPath};
  std::string want_message;                  // exact warning message, when not empty
  std::vector<std::string> reason_has = {};  // in the action's reason or the warning's message
  absl::Time want_members_locked_by = absl::InfiniteFuture();
  absl::Time want_members_expired_before = absl::InfiniteFuture();
};

void RunCase(const Case& c) {
  SCOPED_TRACE(c.name);
  IndexRecord record;
  record.path = c.path;
  record.dev = 2049;
  record.ino = c.record_ino;
  record.birth = c.record_birth;
  record.tree = c.tree;
  record.reference = c.reference;
  record.locked_at = c.locked_at;
  record.lifted = c.lifted;

  FakeUnreachedFacts facts;
  FileStat st;
  if (c.present) {
    st.mode = c.tree ? (S_IFDIR | 0755) : (S_IFREG | 0644);
    st.ino = c.ino;
    st.dev = 2050;  // device numbers can change on reboot: never part of the identity
    st.nlink = c.tree ? 2 : 1;
    st.birth = c.birth;
    st.has_btime = true;
    st.ctime = c.ctime;
    st.immutable = c.immutable;
    st.immutable_known = true;
    facts.now_there = st;
  }

  Settings settings;
  settings.duration = c.duration;
  settings.settle = absl::Seconds(10);
  settings.orphan_grace = absl::Hours(1);

  Plan plan;
  DecideUnreached(record, settings, c.now, facts, &plan);

  EXPECT_EQ(facts.stat_asked, c.stat_asked) << "StatBeneath() calls";
  EXPECT_TRUE(plan.lifts_held.empty());

  std::vector<std::string> texts;
  if (c.want_action) {
    ASSERT_EQ(plan.actions.size(), 1u);
    const Action& a = plan.actions[0];
    EXPECT_EQ(a.kind, *c.want_action)
        << "got " << ActionKindName(a.kind) << " (" << a.reason << ")";
    EXPECT_EQ(a.path, c.path);
    EXPECT_EQ(a.tree, c.tree);
    EXPECT_TRUE(a.indexed);
    EXPECT_FALSE(a.requires_all_lifts);
    EXPECT_FALSE(a.reason.empty());
    EXPECT_EQ(a.members_locked_by, c.want_members_locked_by);
    EXPECT_EQ(a.members_expired_before, c.want_members_expired_before);
    if (a.kind == ActionKind::kLift) {
      // The lift names the inode found now, which the executor checks again before acting.
      EXPECT_EQ(a.stat.ino, st.ino);
      EXPECT_EQ(a.stat.birth, st.birth);
      EXPECT_EQ(a.stat.dev, st.dev);
      EXPECT_EQ(a.stat.mode, st.mode);
      EXPECT_TRUE(a.stat.immutable);
      // Never another inode than the indexed one.
      EXPECT_EQ(a.stat.ino, c.record_ino);
      EXPECT_EQ(a.stat.birth, c.record_birth);
      EXPECT_EQ(a.reference, c.reference);
      EXPECT_EQ(a.expires_at, ItemExpiresAt(c.reference, settings));
    } else {
      // An index-only action names the record's identity, never what the path holds.
      EXPECT_EQ(a.stat.ino, c.record_ino);
      EXPECT_EQ(a.stat.birth, c.record_birth);
      EXPECT_EQ(a.stat.dev, 2049u);
      EXPECT_EQ(a.stat.is_dir(), c.tree);
      EXPECT_EQ(a.stat.is_regular(), !c.tree);
      EXPECT_EQ(a.stat.immutable, !c.lifted) << "what the record says of the flag";
    }
    texts.push_back(a.reason);
  } else {
    EXPECT_TRUE(plan.actions.empty())
        << "got " << ActionKindName(plan.actions[0].kind) << " (" << plan.actions[0].reason << ")";
  }
  if (c.want_warning) {
    ASSERT_EQ(plan.warnings.size(), 1u);
    const Warning& w = plan.warnings[0];
    EXPECT_EQ(w.kind, *c.want_warning) << "got " << WarningKindName(w.kind) << ": " << w.message;
    EXPECT_EQ(w.path, c.path);
    if (!c.want_message.empty()) {
      EXPECT_EQ(w.message, c.want_message);
    }
    texts.push_back(w.message);
  } else {
    EXPECT_TRUE(plan.warnings.empty())
        << "got " << WarningKindName(plan.warnings[0].kind) << ": " << plan.warnings[0].message;
  }
  for (const std::string& part : c.reason_has) {
    ASSERT_FALSE(texts.empty());
    EXPECT_THAT(texts.back(), HasSubstr(part));
  }
}

TEST(DecideUnreachedTest, LiftedRecords) {
  const std::vector<Case> cases = {
      {.name = "lifted, gone: dropped without a stat",
       .lifted = true,
       .present = false,
       .want_action = ActionKind::kUnindex,
       .stat_asked = {},
       .reason_has = {"lifted, and no longer where it was"}},
      {.name = "a lifted backup folder XO's daemon locked whole: dropped, its files are items",
       .path = "xo-config-backups/sched/20261101T000000Z",
       .tree = true,
       .lifted = true,
       .want_action = ActionKind::kUnindex,
       .stat_asked = {},
       .reason_has = {"lifted with its files"}},
      {.name = "lifted, its path holding it still (globs changed): dropped without a stat",
       .lifted = true,
       .want_action = ActionKind::kUnindex,
       .stat_asked = {}},
      {.name = "lifted tree, not expired by its reference: dropped all the same",
       .reference = kFreshReference,
       .tree = true,
       .lifted = true,
       .want_action = ActionKind::kUnindex,
       .stat_asked = {}},
      {.name = "lifted, the path locked again: dropped, never lifted here",
       .lifted = true,
       .immutable = true,
       .duration = absl::ZeroDuration(),
       .want_action = ActionKind::kUnindex,
       .stat_asked = {}},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideUnreachedTest, SameInode) {
  const std::vector<Case> cases = {
      {.name = "same inode, expired, immutable: lift it",
       .want_action = ActionKind::kLift,
       .reason_has = {"expired: finished 2026-10-01", "2026-10-16T00:00:00Z", "same inode"}},
      {.name = "same tree, expired, immutable: lift it as a tree, members locked by locked_at",
       .tree = true,
       .locked_at = kOldReference + absl::Minutes(3),
       .want_action = ActionKind::kLift,
       .want_members_locked_by = kOldReference + absl::Minutes(3),
       .want_members_expired_before = kMembersExpiredBefore},
      {.name = "same tree, locked_at unknown: the directory's ctime stands in",
       .tree = true,
       .ctime = kOldReference + absl::Hours(7),
       .want_action = ActionKind::kLift,
       .want_members_locked_by = kOldReference + absl::Hours(7),
       .want_members_expired_before = kMembersExpiredBefore},
      {.name = "same inode, expired, already mutable: unindex",
       .immutable = false,
       .want_action = ActionKind::kUnindex,
       .reason_has = {"expired and already mutable"}},
      {.name = "same tree, expired, already mutable: unindex, no member limits",
       .tree = true,
       .locked_at = kOldReference,
       .immutable = false,
       .want_action = ActionKind::kUnindex},
      {.name = "same inode, not expired, immutable: warning, kept",
       .reference = kFreshReference,
       .want_warning = WarningKind::kIndexedUnreachable,
       .want_message = "indexed and locked, but no glob reaches it any more"},
      {.name = "same inode, not expired, mutable: warning, never re-protected here",
       .reference = kFreshReference,
       .immutable = false,
       .want_warning = WarningKind::kIndexedUnreachable},
      {.name = "expiry counts from the reference, not from an old birth",
       .reference = kFreshReference,
       .record_birth = Utc(2020, 1, 1),
       .birth = Utc(2020, 1, 1),
       .want_warning = WarningKind::kIndexedUnreachable},
      {.name = "expiry counts from the reference, not from a recent ctime",
       .ctime = kNow - absl::Minutes(1),
       .want_action = ActionKind::kLift},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideUnreachedTest, PathGone) {
  const std::vector<Case> cases = {
      {.name = "gone, expired: warning for the sweep, kept",
       .present = false,
       .want_warning = WarningKind::kIndexedMissing,
       .want_message = "indexed item missing (moved, or deleted by root?): expired; "
                       "`xo-immutable sweep` resolves it"},
      {.name = "gone, not expired: warning, kept",
       .reference = kFreshReference,
       .present = false,
       .want_warning = WarningKind::kIndexedMissing,
       .want_message = "indexed item missing (moved, or deleted by root?): record kept, the "
                       "indexed inode is not touched"},
      {.name = "gone tree, duration 0: the expired warning",
       .reference = kFreshReference,
       .tree = true,
       .present = false,
       .duration = absl::ZeroDuration(),
       .want_warning = WarningKind::kIndexedMissing,
       .reason_has = {": expired;"}},
  };
  for (const Case& c : cases) RunCase(c);
}

// The attacker's case: whoever writes on the remote replaces a locked path by another inode. That
// inode is never lifted, whatever it is and however old the record.
TEST(DecideUnreachedTest, AnotherInodeIsNeverLifted) {
  const std::vector<Case> cases = {
      {.name = "another inode number, expired, immutable",
       .ino = kIno + 1,
       .want_warning = WarningKind::kIndexedReplaced,
       .want_message = "the path now holds another inode: expired; `xo-immutable sweep` "
                       "resolves it"},
      {.name = "another inode number, not expired",
       .reference = kFreshReference,
       .ino = kIno + 1,
       .want_warning = WarningKind::kIndexedReplaced,
       .want_message = "the path now holds another inode: record kept, the indexed inode is not "
                       "touched"},
      {.name = "same inode number, another birth (inode number reused)",
       .birth = kBirth + absl::Nanoseconds(1),
       .want_warning = WarningKind::kIndexedReplaced},
      {.name = "same inode number, another birth, mutable: not unindexed either",
       .birth = kBirth - absl::Hours(24),
       .immutable = false,
       .want_warning = WarningKind::kIndexedReplaced},
      {.name = "another inode, duration 0: never lifted",
       .ino = kIno + 1,
       .duration = absl::ZeroDuration(),
       .want_warning = WarningKind::kIndexedReplaced},
      {.name = "another tree in place of the indexed tree",
       .tree = true,
       .ino = kIno + 7,
       .want_warning = WarningKind::kIndexedReplaced},
      {.name = "another inode, mutable, expired: the record is kept for the sweep",
       .ino = kIno + 1,
       .immutable = false,
       .want_warning = WarningKind::kIndexedReplaced},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideUnreachedTest, DurationZeroMakesEverythingExpired) {
  const std::vector<Case> cases = {
      {.name = "reference yesterday, immutable: lift",
       .reference = kFreshReference,
       .duration = absl::ZeroDuration(),
       .want_action = ActionKind::kLift,
       .reason_has = {"immutability duration is 0", "same inode"}},
      {.name = "reference in the future, immutable tree: lift, no member waits",
       .reference = Utc(2027, 1, 1),
       .tree = true,
       .locked_at = kOldReference,
       .duration = absl::ZeroDuration(),
       .want_action = ActionKind::kLift,
       .want_members_locked_by = kOldReference,
       .want_members_expired_before = absl::InfiniteFuture()},
      {.name = "reference in the future, mutable: unindex",
       .reference = Utc(2027, 1, 1),
       .immutable = false,
       .duration = absl::ZeroDuration(),
       .want_action = ActionKind::kUnindex},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideUnreachedTest, ExpiryBoundary) {
  // Reference 2026-11-01T23:59:59.999Z with 1d: expires at 2026-11-03T00:00:00Z.
  const absl::Time reference = Utc(2026, 11, 2) - absl::Milliseconds(1);
  const absl::Time expires = Utc(2026, 11, 3);
  const std::vector<Case> cases = {
      {.name = "1ns before expiry, immutable: kept",
       .reference = reference,
       .duration = absl::Hours(24),
       .now = expires - absl::Nanoseconds(1),
       .want_warning = WarningKind::kIndexedUnreachable},
      {.name = "exactly at expiry, immutable: lift",
       .reference = reference,
       .duration = absl::Hours(24),
       .now = expires,
       .want_action = ActionKind::kLift,
       .reason_has = {"2026-11-03T00:00:00Z"}},
      {.name = "a reference at midnight: a day later",
       .reference = Utc(2026, 11, 2),
       .duration = absl::Hours(24),
       .now = expires,
       .want_warning = WarningKind::kIndexedUnreachable},
      {.name = "1ns before expiry, mutable: kept",
       .reference = reference,
       .immutable = false,
       .duration = absl::Hours(24),
       .now = expires - absl::Nanoseconds(1),
       .want_warning = WarningKind::kIndexedUnreachable},
      {.name = "exactly at expiry, mutable: unindex",
       .reference = reference,
       .immutable = false,
       .duration = absl::Hours(24),
       .now = expires,
       .want_action = ActionKind::kUnindex},
      {.name = "gone, 1ns before expiry: the not-expired warning",
       .reference = reference,
       .present = false,
       .duration = absl::Hours(24),
       .now = expires - absl::Nanoseconds(1),
       .want_warning = WarningKind::kIndexedMissing,
       .reason_has = {"record kept"}},
      {.name = "gone, exactly at expiry: the expired warning",
       .reference = reference,
       .present = false,
       .duration = absl::Hours(24),
       .now = expires,
       .want_warning = WarningKind::kIndexedMissing,
       .reason_has = {": expired;"}},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideUnreachedTest, AppendsToThePlan) {
  // The rule adds to a plan that already holds other decisions: it never clears them.
  FakeUnreachedFacts facts;
  FileStat st;
  st.mode = S_IFREG | 0644;
  st.ino = kIno;
  st.birth = kBirth;
  st.immutable = true;
  facts.now_there = st;
  Settings settings;
  settings.duration = absl::Hours(24);
  IndexRecord record;
  record.path = kPath;
  record.ino = kIno;
  record.birth = kBirth;
  record.reference = kOldReference;

  Plan plan;
  plan.actions.push_back(Action{ActionKind::kProtect, "other", false, FileStat{}});
  plan.warnings.push_back(Warning{WarningKind::kLockedUnknown, "w", "m"});
  DecideUnreached(record, settings, kNow, facts, &plan);
  ASSERT_EQ(plan.actions.size(), 2u);
  EXPECT_EQ(plan.actions[0].path, "other");
  EXPECT_EQ(plan.actions[1].kind, ActionKind::kLift);
  EXPECT_EQ(plan.actions[1].path, kPath);
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_EQ(plan.warnings[0].path, "w");
}

// Records an earlier version made of the files in a backup folder XO's daemon locked whole: the
// walk now takes the folder as one item, so they are dropped, and nothing is lifted for them.
// Only while the recorded file is still there: a writer who moves the folder's mutable parents
// around must not make our records vanish.
class FolderFacts : public UnreachedFacts {
 public:
  std::optional<FileStat> file, folder;
  std::vector<std::string> stat_asked;
  std::optional<FileStat> StatBeneath(const std::string& relative) override {
    stat_asked.push_back(relative);
    return relative == kFolder ? folder : file;
  }
  static constexpr char kFolder[] = "xo-config-backups/sched-1/20261119T100000Z";
};

TEST(DecideUnreachedTest, AFileOfAnAdoptedBackupFolderLeavesItToTheFolder) {
  IndexRecord record;
  record.path = std::string(FolderFacts::kFolder) + "/data";
  record.ino = kIno;
  record.birth = kBirth;
  record.reference = kFreshReference;
  Settings settings;
  settings.duration = absl::Hours(14 * 24);
  FolderFacts facts;
  FileStat file;
  file.mode = S_IFREG | 0644;
  file.ino = kIno;
  file.birth = kBirth;
  file.immutable = true;
  FileStat folder;
  folder.mode = S_IFDIR | 0755;
  folder.ino = kIno + 1;
  folder.immutable = true;
  facts.file = file;
  facts.folder = folder;
  Plan plan;
  DecideUnreached(record, settings, kNow, facts, &plan);
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].kind, ActionKind::kUnindex);
  EXPECT_THAT(plan.actions[0].reason, HasSubstr("adopted as one item"));
  EXPECT_EQ(facts.stat_asked, (std::vector<std::string>{record.path, FolderFacts::kFolder}));

  // Another inode at the path (the folder's parents swapped): kept for the sweep, as ever.
  facts.file->ino = kIno + 2;
  Plan swapped;
  DecideUnreached(record, settings, kNow, facts, &swapped);
  EXPECT_TRUE(swapped.actions.empty());
  ASSERT_EQ(swapped.warnings.size(), 1u);
  EXPECT_EQ(swapped.warnings[0].kind, WarningKind::kIndexedReplaced);

  // A folder that is not locked: the record is judged as usual (locked, not expired: kept).
  facts.file->ino = kIno;
  facts.folder->immutable = false;
  Plan usual;
  DecideUnreached(record, settings, kNow, facts, &usual);
  EXPECT_TRUE(usual.actions.empty());
  ASSERT_EQ(usual.warnings.size(), 1u);
  EXPECT_EQ(usual.warnings[0].kind, WarningKind::kIndexedUnreachable);
}

}  // namespace
}  // namespace xoi
