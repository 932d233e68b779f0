// DecideUnreached: an index entry the walk did not reach. The one rule that may lift an item the
// walk never saw, so every row also checks what it must never do: lift another inode.
#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/core/expiry.h"
#include "lib/core/facts.h"
#include "lib/core/index_entry.h"
#include "lib/core/plan.h"
#include "lib/core/rules.h"

namespace xoi {
namespace {

using ::testing::HasSubstr;

absl::Time Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

// Returns fixed facts and counts how often each is asked for.
class FakeUnreachedFacts : public UnreachedFacts {
 public:
  absl::StatusOr<IndexEntry> entry = IndexEntry{};
  std::optional<FileStat> now_there;

  int entry_calls = 0;
  std::vector<std::string> stat_asked;  // the paths StatBeneath() was asked for, in order

  absl::StatusOr<IndexEntry> Entry() override {
    ++entry_calls;
    return entry;
  }
  std::optional<FileStat> StatBeneath(const std::string& relative) override {
    stat_asked.push_back(relative);
    return now_there;
  }
};

const absl::Time kNow = Utc(2026, 11, 20, 12);
constexpr char kRoot[] = "/srv/remote";
constexpr char kRelative[] = "xo-vm-backups/vm-1/20261001T100000Z.xva";
constexpr char kAbsolute[] = "/srv/remote/xo-vm-backups/vm-1/20261001T100000Z.xva";
constexpr char kName[] = "0f3a5c0ffee0000000000000000000000000000000000000000000000000beef";
// Indexed 2026-10-01: with 14d, expired since 2026-10-16T00:00:00Z.
const absl::CivilDay kOldDay(2026, 10, 1);
// Indexed 2026-11-19: with 14d, protected until 2026-12-04T00:00:00Z.
const absl::CivilDay kFreshDay(2026, 11, 19);
const absl::Time kBirth = Utc(2026, 10, 1, 10);
constexpr uint64_t kIno = 4242;

struct Case {
  std::string name;
  // The index entry.
  absl::CivilDay day = kOldDay;
  std::string root = kRoot;
  bool unreadable = false;
  std::string entry_path = kAbsolute;
  bool has_identity = true;
  uint64_t entry_ino = kIno;
  absl::Time entry_birth = kBirth;
  bool tree = false;
  // What the path holds now.
  bool present = true;
  uint64_t ino = kIno;
  absl::Time birth = kBirth;
  bool immutable = true;
  // Settings and clock.
  absl::Duration duration = absl::Hours(14 * 24);
  absl::Time now = kNow;
  // Expectations: at most one action and one warning.
  std::optional<ActionKind> want_action;
  std::optional<WarningKind> want_warning;
  std::vector<std::string> stat_asked = {kRelative};
  std::string want_path = kRelative;         // of the action or the warning
  std::string want_message;                  // exact warning message, when not empty
  std::vector<std::string> reason_has = {};  // in the action's reason or the warning's message
};

void RunCase(const Case& c) {
  SCOPED_TRACE(c.name);
  FakeUnreachedFacts facts;
  if (c.unreadable) {
    facts.entry = absl::InvalidArgumentError("not an index entry");
  } else {
    IndexEntry entry;
    entry.path = c.entry_path;
    entry.has_identity = c.has_identity;
    entry.dev = 2049;
    entry.ino = c.entry_ino;
    entry.birth = c.entry_birth;
    entry.tree = c.tree;
    facts.entry = entry;
  }
  FileStat st;
  if (c.present) {
    st.mode = c.tree ? (S_IFDIR | 0755) : (S_IFREG | 0644);
    st.ino = c.ino;
    st.dev = 2050;  // device numbers can change on reboot: never part of the identity
    st.nlink = c.tree ? 2 : 1;
    st.birth = c.birth;
    st.has_btime = true;
    st.ctime = c.birth + absl::Hours(1);
    st.immutable = c.immutable;
    st.immutable_known = true;
    facts.now_there = st;
  }

  Settings settings;
  settings.duration = c.duration;
  settings.settle = absl::Seconds(10);
  settings.orphan_grace = absl::Hours(1);
  const IndexKey key{c.day, kName};

  Plan plan;
  DecideUnreached(key, c.root, settings, c.now, facts, &plan);

  EXPECT_EQ(facts.entry_calls, 1) << "Entry() calls";
  EXPECT_EQ(facts.stat_asked, c.stat_asked) << "StatBeneath() calls";
  EXPECT_TRUE(plan.lifts_held.empty());

  std::vector<std::string> texts;
  if (c.want_action) {
    ASSERT_EQ(plan.actions.size(), 1u);
    const Action& a = plan.actions[0];
    EXPECT_EQ(a.kind, *c.want_action)
        << "got " << ActionKindName(a.kind) << " (" << a.reason << ")";
    EXPECT_EQ(a.path, c.want_path);
    EXPECT_EQ(a.tree, c.tree);
    EXPECT_EQ(a.day, c.day);
    EXPECT_EQ(a.index_name, kName);
    EXPECT_TRUE(a.indexed);
    EXPECT_FALSE(a.requires_all_lifts);
    EXPECT_FALSE(a.reason.empty());
    if (a.kind == ActionKind::kLift) {
      // The lift names the inode found now, which the executor checks again before acting.
      EXPECT_EQ(a.stat.ino, st.ino);
      EXPECT_EQ(a.stat.birth, st.birth);
      EXPECT_EQ(a.stat.dev, st.dev);
      EXPECT_EQ(a.stat.mode, st.mode);
      EXPECT_TRUE(a.stat.immutable);
      // Never another inode than the indexed one.
      EXPECT_TRUE(c.has_identity);
      EXPECT_EQ(a.stat.ino, c.entry_ino);
      EXPECT_EQ(a.stat.birth, c.entry_birth);
    } else {
      EXPECT_EQ(a.stat.ino, 0u) << "an unindex names no inode";
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
    EXPECT_EQ(w.path, c.want_path);
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

TEST(DecideUnreachedTest, EntryUnusable) {
  const std::vector<Case> cases = {
      {.name = "unreadable entry: kept with a warning, nothing planned, nothing stat'ed",
       .unreadable = true,
       .want_warning = WarningKind::kIndexEntryUnreadable,
       .stat_asked = {},
       .want_path = "",
       .want_message = "unreadable index entry kept: not an index entry"},
      {.name = "unreadable and expired by duration 0: still only a warning",
       .unreadable = true,
       .duration = absl::ZeroDuration(),
       .want_warning = WarningKind::kIndexEntryUnreadable,
       .stat_asked = {},
       .want_path = ""},
      {.name = "entry names a path outside the remote root",
       .entry_path = "/etc/shadow",
       .want_warning = WarningKind::kIndexEntryOutsideRemote,
       .stat_asked = {},
       .want_path = "",
       .want_message = "index entry 2026-10-01/" + std::string(kName) +
                       " names /etc/shadow, outside this remote: kept"},
      {.name = "entry names the remote root itself",
       .entry_path = kRoot,
       .want_warning = WarningKind::kIndexEntryOutsideRemote,
       .stat_asked = {},
       .want_path = "",
       .reason_has = {"names /srv/remote,"}},
      {.name = "entry names the remote root with a trailing slash",
       .entry_path = std::string(kRoot) + "/",
       .want_warning = WarningKind::kIndexEntryOutsideRemote,
       .stat_asked = {},
       .want_path = ""},
      {.name = "entry names a sibling root sharing a prefix (/srv/a vs /srv/ab/x)",
       .root = "/srv/a",
       .entry_path = "/srv/ab/x",
       .want_warning = WarningKind::kIndexEntryOutsideRemote,
       .stat_asked = {},
       .want_path = "",
       .reason_has = {"names /srv/ab/x"}},
      {.name = "entry names a relative path",
       .entry_path = kRelative,
       .want_warning = WarningKind::kIndexEntryOutsideRemote,
       .stat_asked = {},
       .want_path = ""},
      {.name = "a root of /srv/a does accept /srv/a/x",
       .root = "/srv/a",
       .entry_path = "/srv/a/x",
       .want_action = ActionKind::kLift,
       .stat_asked = {"x"},
       .want_path = "x"},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideUnreachedTest, SameInode) {
  const std::vector<Case> cases = {
      {.name = "same inode, expired, immutable: lift it",
       .want_action = ActionKind::kLift,
       .reason_has = {"expired", "same inode"}},
      {.name = "same tree, expired, immutable: lift it as a tree",
       .tree = true,
       .want_action = ActionKind::kLift},
      {.name = "same inode, expired, already mutable: unindex",
       .immutable = false,
       .want_action = ActionKind::kUnindex,
       .reason_has = {"already mutable"}},
      {.name = "same inode, not expired, immutable: warning, kept",
       .day = kFreshDay,
       .want_warning = WarningKind::kIndexedUnreachable,
       .want_message = "indexed and locked, but no glob reaches it any more"},
      {.name = "same inode, not expired, mutable: warning, never re-protected here",
       .day = kFreshDay,
       .immutable = false,
       .want_warning = WarningKind::kIndexedUnreachable},
      {.name = "expiry comes from the index day, not from the inode's birth",
       .day = kFreshDay,
       .entry_birth = Utc(2020, 1, 1),
       .birth = Utc(2020, 1, 1),
       .want_warning = WarningKind::kIndexedUnreachable},
      {.name = "device number changed (reboot): still the same inode",
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
       .day = kFreshDay,
       .present = false,
       .want_warning = WarningKind::kIndexedMissing,
       .want_message = "indexed item missing (moved, or deleted by root?): entry kept, the "
                       "indexed inode is not touched"},
      {.name = "gone, v1 entry: same warning",
       .has_identity = false,
       .entry_ino = 0,
       .entry_birth = absl::UnixEpoch(),
       .present = false,
       .want_warning = WarningKind::kIndexedMissing,
       .reason_has = {"`xo-immutable sweep` resolves it"}},
  };
  for (const Case& c : cases) RunCase(c);
}

// The attacker's case: whoever writes on the remote replaces a locked path by another inode. That
// inode is never lifted, whatever it is and however old the entry.
TEST(DecideUnreachedTest, AnotherInodeIsNeverLifted) {
  const std::vector<Case> cases = {
      {.name = "another inode number, expired, immutable",
       .ino = kIno + 1,
       .want_warning = WarningKind::kIndexedReplaced,
       .want_message = "the path now holds another inode (or the entry has no identity): "
                       "expired; `xo-immutable sweep` resolves it"},
      {.name = "another inode number, not expired",
       .day = kFreshDay,
       .ino = kIno + 1,
       .want_warning = WarningKind::kIndexedReplaced,
       .want_message = "the path now holds another inode (or the entry has no identity): "
                       "entry kept, the indexed inode is not touched"},
      {.name = "same inode number, another birth (inode number reused)",
       .birth = kBirth + absl::Nanoseconds(1),
       .want_warning = WarningKind::kIndexedReplaced},
      {.name = "same inode number, another birth, mutable: not unindexed either",
       .birth = kBirth - absl::Hours(24),
       .immutable = false,
       .want_warning = WarningKind::kIndexedReplaced},
      {.name = "v1 entry (no identity), expired, immutable",
       .has_identity = false,
       .entry_ino = 0,
       .entry_birth = absl::UnixEpoch(),
       .want_warning = WarningKind::kIndexedReplaced,
       .reason_has = {"no identity"}},
      {.name = "v1 entry whose empty identity equals the stat's: still not the same inode",
       .has_identity = false,
       .entry_ino = 0,
       .entry_birth = absl::UnixEpoch(),
       .ino = 0,
       .birth = absl::UnixEpoch(),
       .want_warning = WarningKind::kIndexedReplaced},
      {.name = "v1 entry, duration 0: still never lifted",
       .has_identity = false,
       .entry_ino = 0,
       .entry_birth = absl::UnixEpoch(),
       .duration = absl::ZeroDuration(),
       .want_warning = WarningKind::kIndexedReplaced},
      {.name = "another inode, duration 0: never lifted",
       .ino = kIno + 1,
       .duration = absl::ZeroDuration(),
       .want_warning = WarningKind::kIndexedReplaced},
      {.name = "another tree in place of the indexed tree",
       .tree = true,
       .ino = kIno + 7,
       .want_warning = WarningKind::kIndexedReplaced},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideUnreachedTest, DurationZeroMakesEverythingExpired) {
  const std::vector<Case> cases = {
      {.name = "indexed yesterday, immutable: lift",
       .day = kFreshDay,
       .duration = absl::ZeroDuration(),
       .want_action = ActionKind::kLift},
      {.name = "indexed today, immutable: lift",
       .day = absl::CivilDay(2026, 11, 20),
       .duration = absl::ZeroDuration(),
       .want_action = ActionKind::kLift},
      {.name = "indexed in the future, mutable: unindex",
       .day = absl::CivilDay(2027, 1, 1),
       .immutable = false,
       .duration = absl::ZeroDuration(),
       .want_action = ActionKind::kUnindex},
      {.name = "gone: the expired warning",
       .day = kFreshDay,
       .present = false,
       .duration = absl::ZeroDuration(),
       .want_warning = WarningKind::kIndexedMissing,
       .reason_has = {": expired;"}},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideUnreachedTest, ExpiryBoundary) {
  // Indexed on 2026-11-01 with 1d: expires at 2026-11-03T00:00:00Z.
  const absl::CivilDay day(2026, 11, 1);
  const absl::Time expires = Utc(2026, 11, 3);
  ASSERT_EQ(ExpiresAt(day, absl::Hours(24)), expires);
  const std::vector<Case> cases = {
      {.name = "1ns before expiry, immutable: kept",
       .day = day,
       .duration = absl::Hours(24),
       .now = expires - absl::Nanoseconds(1),
       .want_warning = WarningKind::kIndexedUnreachable},
      {.name = "exactly at expiry, immutable: lift",
       .day = day,
       .duration = absl::Hours(24),
       .now = expires,
       .want_action = ActionKind::kLift},
      {.name = "1ns before expiry, mutable: kept",
       .day = day,
       .immutable = false,
       .duration = absl::Hours(24),
       .now = expires - absl::Nanoseconds(1),
       .want_warning = WarningKind::kIndexedUnreachable},
      {.name = "exactly at expiry, mutable: unindex",
       .day = day,
       .immutable = false,
       .duration = absl::Hours(24),
       .now = expires,
       .want_action = ActionKind::kUnindex},
      {.name = "gone, 1ns before expiry: the not-expired warning",
       .day = day,
       .present = false,
       .duration = absl::Hours(24),
       .now = expires - absl::Nanoseconds(1),
       .want_warning = WarningKind::kIndexedMissing,
       .reason_has = {"entry kept"}},
      {.name = "gone, exactly at expiry: the expired warning",
       .day = day,
       .present = false,
       .duration = absl::Hours(24),
       .now = expires,
       .want_warning = WarningKind::kIndexedMissing,
       .reason_has = {": expired;"}},
  };
  for (const Case& c : cases) RunCase(c);
}

TEST(DecideUnreachedTest, AppendsToThePlan) {
  // The rule adds to a plan that already holds other remotes' decisions: it never clears them.
  FakeUnreachedFacts facts;
  IndexEntry entry;
  entry.path = kAbsolute;
  entry.has_identity = true;
  entry.ino = kIno;
  entry.birth = kBirth;
  facts.entry = entry;
  FileStat st;
  st.mode = S_IFREG | 0644;
  st.ino = kIno;
  st.birth = kBirth;
  st.immutable = true;
  facts.now_there = st;
  Settings settings;
  settings.duration = absl::Hours(24);

  Plan plan;
  plan.actions.push_back(Action{ActionKind::kProtect, "other", false, FileStat{}});
  plan.warnings.push_back(Warning{WarningKind::kLockedUnknown, "w", "m"});
  DecideUnreached(IndexKey{kOldDay, kName}, kRoot, settings, kNow, facts, &plan);
  ASSERT_EQ(plan.actions.size(), 2u);
  EXPECT_EQ(plan.actions[0].path, "other");
  EXPECT_EQ(plan.actions[1].kind, ActionKind::kLift);
  EXPECT_EQ(plan.actions[1].path, kRelative);
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_EQ(plan.warnings[0].path, "w");
}

}  // namespace
}  // namespace xoi
