// The sweep: ReachedByRun (which locked inodes the regular run still reaches) and PlanSweep (what
// to do about the others, and about index records whose inode is nowhere).
#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/core/facts.h"
#include "lib/core/glob_set.h"
#include "lib/core/index_record.h"
#include "lib/core/plan.h"
#include "lib/core/rules.h"
#include "lib/testing/utc.h"

namespace xoi {
namespace {

using ::testing::HasSubstr;

FileStat Stat(uint32_t type, uint64_t ino = 1, absl::Time birth = Utc(2026, 10, 1, 10)) {
  FileStat st;
  st.mode = type | 0644;
  st.ino = ino;
  st.dev = 2049;
  st.nlink = type == S_IFDIR ? 2 : 1;
  st.birth = birth;
  st.has_btime = true;
  st.ctime = birth;
  st.immutable = true;
  st.immutable_known = true;
  return st;
}

// ---------------------------------------------------------------------------------------------
// ReachedByRun

struct ReachCase {
  std::string path;
  uint32_t type;  // S_IFREG, S_IFDIR, S_IFLNK, ...
  bool want;
};

const GlobSet& Defaults() {
  static const GlobSet* const kGlobs = [] {
    absl::StatusOr<GlobSet> globs = GlobSet::Compile(GlobSet::DefaultPatterns());
    return new GlobSet(*std::move(globs));
  }();
  return *kGlobs;
}

void RunReachCases(const std::vector<ReachCase>& cases) {
  for (const ReachCase& c : cases) {
    EXPECT_EQ(ReachedByRun(Defaults(), c.path, Stat(c.type)), c.want)
        << c.path << " (" << FileTypeName(c.type) << ")";
  }
}

constexpr char kVhdDir[] = "xo-vm-backups/vm-1/vdis/job-1/vdi-1/data/20261001T100000Z.vhd";

TEST(ReachedByRunTest, DefaultPatternsCompile) {
  ASSERT_TRUE(GlobSet::Compile(GlobSet::DefaultPatterns()).ok());
}

TEST(ReachedByRunTest, FileItems) {
  RunReachCases({
      {"xo-vm-backups/vm-1/20261001T100000Z.xva", S_IFREG, true},
      {"xo-vm-backups/vm-1/20261001T100000Z.json", S_IFREG, true},
      {"xo-vm-backups/vm-1/20261001T100000Z.xva.checksum", S_IFREG, true},
      {"xo-vm-backups/vm-1/vdis/job-1/vdi-1/20261001T100000Z.vhd", S_IFREG, true},
      {"xo-vm-backups/vm-1/vdis/job-1/vdi-1/20261001T100000Z.alias.vhd", S_IFREG, true},
      {"xo-config-backups/sched-1/20261001T100000Z/data", S_IFREG, true},
      {"xo-config-backups/sched-1/20261001T100000Z/data.json", S_IFREG, true},
      {"xo-config-backups/sched-1/20261001T100000Z/metadata.json", S_IFREG, true},
      {"xo-pool-metadata-backups/sched-1/pool-1/20261001T100000Z/data", S_IFREG, true},
      {"xo-pool-metadata-backups/sched-1/pool-1/20261001T100000Z/metadata.json", S_IFREG, true},
  });
}

TEST(ReachedByRunTest, TreeItemsAndTheirMembers) {
  RunReachCases({
      {kVhdDir, S_IFDIR, true},
      {std::string(kVhdDir) + "/bat", S_IFREG, true},
      {std::string(kVhdDir) + "/blocks", S_IFDIR, true},
      {std::string(kVhdDir) + "/blocks/0/17", S_IFREG, true},
      // Members are reached whatever their names: the tree is taken whole.
      {std::string(kVhdDir) + "/blocks/.tmp", S_IFREG, true},
      {"xo-vm-backups/vm-1/vdis/job-1/vdi-1/data/0a1b2c3d-uuid.vhd", S_IFDIR, true},
  });
}

TEST(ReachedByRunTest, RemoteFilesAtTheRoot) {
  RunReachCases({
      {"immutability.json", S_IFREG, true},
      {"encryption.json", S_IFREG, true},
      {"metadata.json", S_IFREG, true},
      // The remote's own files are PlanRemoteFiles' business, whatever their type.
      {"metadata.json", S_IFDIR, true},
      // Elsewhere they are ordinary names.
      {"xo-vm-backups/immutability.json", S_IFREG, false},
      {"xo-vm-backups/encryption.json", S_IFREG, false},
      {"other/metadata.json", S_IFREG, false},
  });
}

TEST(ReachedByRunTest, OutOfReach) {
  RunReachCases({
      // A VM folder renamed to a dot-name (hidden from the globs).
      {"xo-vm-backups/.hidden/x.xva", S_IFREG, false},
      {"xo-vm-backups/.hidden/vdis/job-1/vdi-1/data/20261001T100000Z.vhd", S_IFDIR, false},
      {"xo-vm-backups/.hidden/vdis/job-1/vdi-1/data/20261001T100000Z.vhd/bat", S_IFREG, false},
      // XO's temporary files and a renamed dot-tree.
      {"xo-vm-backups/vm-1/.20261001T100000Z.xva", S_IFREG, false},
      {"xo-vm-backups/vm-1/vdis/job-1/vdi-1/data/.20261001T100000Z.vhd", S_IFDIR, false},
      {"xo-vm-backups/vm-1/vdis/job-1/vdi-1/data/.20261001T100000Z.vhd/bat", S_IFREG, false},
      // One level too deep or too shallow, or another top folder.
      {"xo-vm-backups/vm-1/moved/20261001T100000Z.xva", S_IFREG, false},
      {"xo-vm-backups/20261001T100000Z.xva", S_IFREG, false},
      {"xo-vm-backups/vm-1", S_IFDIR, false},
      {"elsewhere/vm-1/20261001T100000Z.xva", S_IFREG, false},
      {"xo-vm-backups/vm-1/cache.json.gz", S_IFREG, false},
      {"", S_IFREG, false},
  });
}

TEST(ReachedByRunTest, BackupFoldersXosDaemonLockedWholeAreAdoptedByTheRun) {
  FileStat locked = Stat(S_IFDIR);
  locked.immutable = true;
  EXPECT_TRUE(ReachedByRun(Defaults(), "xo-config-backups/sched-1/20261001T100000Z", locked));
  EXPECT_TRUE(
      ReachedByRun(Defaults(), "xo-pool-metadata-backups/sched-1/pool-1/20261001T100000Z", locked));
  // Other levels, or other folders: not XO's leftovers, left alone.
  EXPECT_FALSE(ReachedByRun(Defaults(), "xo-config-backups/sched-1", locked));
  EXPECT_FALSE(ReachedByRun(Defaults(), "xo-pool-metadata-backups/sched-1/pool-1", locked));
  EXPECT_FALSE(ReachedByRun(Defaults(), "xo-vm-backups/vm-1/stranger", locked));
}

TEST(ReachedByRunTest, WrongType) {
  RunReachCases({
      // A directory where a file item is expected.
      {"xo-vm-backups/vm-1/20261001T100000Z.xva", S_IFDIR, false},
      {"xo-config-backups/sched-1/20261001T100000Z/data", S_IFDIR, false},
      // A regular file where a tree item is expected.
      {kVhdDir, S_IFREG, false},
      // Neither a file nor a directory.
      {"xo-vm-backups/vm-1/20261001T100000Z.xva", S_IFLNK, false},
      {"xo-vm-backups/vm-1/20261001T100000Z.xva", S_IFIFO, false},
      {kVhdDir, S_IFLNK, false},
  });
}

// ---------------------------------------------------------------------------------------------
// PlanSweep

const absl::Time kNow = Utc(2026, 11, 20, 12);
// With 14d: a reference on 2026-10-01 expired since 2026-10-16T00:00:00Z; one on 2026-11-19 is
// protected until 2026-12-04T00:00:00Z.
const absl::Time kOldReference = Utc(2026, 10, 1, 11);
const absl::Time kFreshReference = Utc(2026, 11, 19, 11);
const absl::Time kBirth = Utc(2026, 10, 1, 10);
// With 14d at kNow: members born before the start of 2026-11-06 expired.
const absl::Time kMembersExpiredBefore = Utc(2026, 11, 6);

struct Rec {
  std::string path;
  uint64_t ino;
  absl::Time reference = kOldReference;
  bool tree = false;
  bool found = true;
  bool lifted = false;
  absl::Time birth = kBirth;
  absl::Time locked_at = absl::InfinitePast();
};

SweptRecord Known(const Rec& r) {
  SweptRecord s;
  s.record.path = r.path;
  s.record.dev = 2049;
  s.record.ino = r.ino;
  s.record.birth = r.birth;
  s.record.tree = r.tree;
  s.record.reference = r.reference;
  s.record.locked_at = r.locked_at;
  s.record.lifted = r.lifted;
  s.found = r.found;
  return s;
}

LockedInode Locked(const std::string& path, uint64_t ino, bool dir = false,
                   absl::Time birth = kBirth) {
  return LockedInode{path, Stat(dir ? S_IFDIR : S_IFREG, ino, birth)};
}

struct WantAction {
  ActionKind kind;
  std::string path;
  bool tree = false;
  uint64_t ino = 0;
  absl::Time members_locked_by = absl::InfiniteFuture();
  absl::Time members_expired_before = absl::InfiniteFuture();
};

struct WantWarning {
  WarningKind kind;
  std::string path;
  std::string message_has = "";
};

struct SweepCase {
  std::string name;
  std::vector<Rec> indexed = {};
  std::vector<LockedInode> unreached = {};
  absl::Duration duration = absl::Hours(14 * 24);
  absl::Time now = kNow;
  std::vector<WantAction> actions = {};
  std::vector<WantWarning> warnings = {};
};

void RunSweepCase(const SweepCase& c) {
  SCOPED_TRACE(c.name);
  SweepFacts facts;
  for (const Rec& r : c.indexed) facts.indexed.push_back(Known(r));
  facts.unreached = c.unreached;
  Settings settings;
  settings.duration = c.duration;
  settings.settle = absl::Seconds(10);
  settings.orphan_grace = absl::Hours(1);

  Plan plan;
  PlanSweep(facts, settings, c.now, &plan);

  EXPECT_TRUE(plan.lifts_held.empty());
  std::string got_actions;
  for (const Action& a : plan.actions) {
    absl::StrAppend(&got_actions, ActionKindName(a.kind), " ", a.path, " (", a.reason, "); ");
  }
  ASSERT_EQ(plan.actions.size(), c.actions.size()) << got_actions;
  for (size_t i = 0; i < c.actions.size(); ++i) {
    const Action& a = plan.actions[i];
    const WantAction& w = c.actions[i];
    SCOPED_TRACE(a.path);
    EXPECT_EQ(a.kind, w.kind) << ActionKindName(a.kind) << " (" << a.reason << ")";
    EXPECT_EQ(a.path, w.path);
    EXPECT_EQ(a.tree, w.tree);
    EXPECT_EQ(a.stat.ino, w.ino);
    EXPECT_TRUE(a.indexed);
    EXPECT_FALSE(a.reason.empty());
    EXPECT_EQ(a.members_locked_by, w.members_locked_by);
    EXPECT_EQ(a.members_expired_before, w.members_expired_before);
    // Remote-relative, like every other rule's paths.
    EXPECT_FALSE(absl::StartsWith(a.path, "/")) << a.path;
    const Rec* known = nullptr;
    for (const Rec& r : c.indexed) {
      if (r.ino == a.stat.ino && r.birth == a.stat.birth && !r.lifted) known = &r;
    }
    if (a.kind == ActionKind::kLift) {
      // Only what the index knows by identity, and has not lifted, is ever lifted.
      EXPECT_TRUE(a.stat.immutable);
      ASSERT_NE(known, nullptr) << "lifted an inode the index does not know";
      EXPECT_EQ(a.reference, known->reference);
      EXPECT_EQ(a.expires_at, ItemExpiresAt(known->reference, settings));
      EXPECT_THAT(a.reason,
                  HasSubstr(known->path == a.path ? "indexed here" : "indexed as " + known->path));
    } else {
      // An unindex names the record it drops, by its identity, and what it says of the flag.
      EXPECT_EQ(a.kind, ActionKind::kUnindex);
      const Rec* dropped = nullptr;
      for (const Rec& r : c.indexed) {
        if (r.ino == a.stat.ino && r.birth == a.stat.birth) dropped = &r;
      }
      ASSERT_NE(dropped, nullptr) << "dropped a record the index does not hold";
      EXPECT_EQ(a.stat.immutable, !dropped->lifted);
    }
  }
  ASSERT_EQ(plan.warnings.size(), c.warnings.size());
  for (size_t i = 0; i < c.warnings.size(); ++i) {
    const Warning& got = plan.warnings[i];
    EXPECT_EQ(got.kind, c.warnings[i].kind) << WarningKindName(got.kind) << ": " << got.message;
    EXPECT_EQ(got.path, c.warnings[i].path);
    EXPECT_THAT(got.message, HasSubstr(c.warnings[i].message_has));
  }
}

constexpr char kHidden[] = "xo-vm-backups/.hidden/20261001T100000Z.xva";
constexpr char kWhere[] = "xo-vm-backups/vm-1/20261001T100000Z.xva";

TEST(PlanSweepTest, Nothing) {
  RunSweepCase({.name = "no records, nothing locked out of reach"});
  RunSweepCase({.name = "known, found, reached by the run: nothing",
                .indexed = {{.path = kWhere, .ino = 100}}});
  RunSweepCase({.name = "lifted, found: kept (it may still be where it was)",
                .indexed = {{.path = kWhere, .ino = 100, .lifted = true}}});
}

TEST(PlanSweepTest, LockedInodes) {
  const std::vector<SweepCase> cases = {
      {.name = "unknown to the index: warning, never a lift",
       .unreached = {Locked(kHidden, 100)},
       .warnings = {{WarningKind::kLockedUnknown, kHidden, "not in the index"}}},
      {.name = "unknown, even with duration 0: never a lift",
       .unreached = {Locked(kHidden, 100)},
       .duration = absl::ZeroDuration(),
       .warnings = {{WarningKind::kLockedUnknown, kHidden}}},
      {.name = "same inode number, another birth (reused inode): unknown, never lifted",
       .indexed = {{.path = kWhere, .ino = 100}},
       .unreached = {Locked(kHidden, 100, false, kBirth + absl::Nanoseconds(1))},
       .warnings = {{WarningKind::kLockedUnknown, kHidden}}},
      {.name = "same birth, another inode number: unknown, never lifted",
       .indexed = {{.path = kWhere, .ino = 100}},
       .unreached = {Locked(kHidden, 101)},
       .warnings = {{WarningKind::kLockedUnknown, kHidden}}},
      {.name = "a lifted record's inode, locked again by someone else: unknown, never lifted",
       .indexed = {{.path = kWhere, .ino = 100, .lifted = true}},
       .unreached = {Locked(kHidden, 100)},
       .duration = absl::ZeroDuration(),
       .warnings = {{WarningKind::kLockedUnknown, kHidden}}},
      {.name = "known and expired: lifted where it is now",
       .indexed = {{.path = kWhere, .ino = 100}},
       .unreached = {Locked(kHidden, 100)},
       .actions = {{ActionKind::kLift, kHidden, false, 100}}},
      {.name = "known, not expired: warning, not lifted",
       .indexed = {{.path = kWhere, .ino = 100, .reference = kFreshReference}},
       .unreached = {Locked(kHidden, 100)},
       .warnings = {{WarningKind::kLockedMoved, kHidden,
                     "indexed as xo-vm-backups/vm-1/20261001T100000Z.xva"}}},
      {.name = "known at this very path (the globs changed), not expired: nothing said moved",
       .indexed = {{.path = kHidden, .ino = 100, .reference = kFreshReference}},
       .unreached = {Locked(kHidden, 100)},
       .warnings = {{WarningKind::kLockedMoved, kHidden,
                     "locked item out of the globs' reach, indexed here; lifted here once "
                     "expired"}}},
      {.name = "known at this very path, expired: lifted",
       .indexed = {{.path = kHidden, .ino = 100}},
       .unreached = {Locked(kHidden, 100)},
       .actions = {{ActionKind::kLift, kHidden, false, 100}}},
      {.name = "expiry counts from the reference, not the inode's old birth",
       .indexed =
           {{.path = kWhere, .ino = 100, .reference = kFreshReference, .birth = Utc(2020, 1, 1)}},
       .unreached = {Locked(kHidden, 100, false, Utc(2020, 1, 1))},
       .warnings = {{WarningKind::kLockedMoved, kHidden}}},
      {.name = "known, not expired, duration 0: lifted",
       .indexed = {{.path = kWhere, .ino = 100, .reference = kFreshReference}},
       .unreached = {Locked(kHidden, 100)},
       .duration = absl::ZeroDuration(),
       .actions = {{ActionKind::kLift, kHidden, false, 100}}},
      {.name = "mixed, in the order of the locked inodes",
       .indexed = {{.path = kWhere, .ino = 100},
                   {.path = "b", .ino = 200, .reference = kFreshReference}},
       .unreached = {Locked("a/1", 300), Locked("a/2", 100), Locked("a/3", 200)},
       .actions = {{ActionKind::kLift, "a/2", false, 100}},
       .warnings = {{WarningKind::kLockedUnknown, "a/1"}, {WarningKind::kLockedMoved, "a/3"}}},
  };
  for (const SweepCase& c : cases) RunSweepCase(c);
}

TEST(PlanSweepTest, ExpiryBoundary) {
  // Reference 2026-11-01T23:59:59.999Z with 1d: expires at 2026-11-03T00:00:00Z.
  const absl::Time reference = Utc(2026, 11, 2) - absl::Milliseconds(1);
  const absl::Time expires = Utc(2026, 11, 3);
  const std::vector<SweepCase> cases = {
      {.name = "1ns before expiry: moved, kept",
       .indexed = {{.path = kWhere, .ino = 100, .reference = reference}},
       .unreached = {Locked(kHidden, 100)},
       .duration = absl::Hours(24),
       .now = expires - absl::Nanoseconds(1),
       .warnings = {{WarningKind::kLockedMoved, kHidden}}},
      {.name = "at expiry: lifted",
       .indexed = {{.path = kWhere, .ino = 100, .reference = reference}},
       .unreached = {Locked(kHidden, 100)},
       .duration = absl::Hours(24),
       .now = expires,
       .actions = {{ActionKind::kLift, kHidden, false, 100}}},
      {.name = "a reference at midnight: not at that time yet",
       .indexed = {{.path = kWhere, .ino = 100, .reference = Utc(2026, 11, 2)}},
       .unreached = {Locked(kHidden, 100)},
       .duration = absl::Hours(24),
       .now = expires,
       .warnings = {{WarningKind::kLockedMoved, kHidden}}},
      {.name = "nowhere, 1ns before expiry: kept silently",
       .indexed = {{.path = kWhere, .ino = 100, .reference = reference, .found = false}},
       .duration = absl::Hours(24),
       .now = expires - absl::Nanoseconds(1)},
      {.name = "nowhere, at expiry: unindexed",
       .indexed = {{.path = kWhere, .ino = 100, .reference = reference, .found = false}},
       .duration = absl::Hours(24),
       .now = expires,
       .actions = {{ActionKind::kUnindex, kWhere, false, 100}}},
  };
  for (const SweepCase& c : cases) RunSweepCase(c);
}

TEST(PlanSweepTest, Trees) {
  const std::string tree = "xo-vm-backups/.hidden/vdis/j/v/data/20261001T100000Z.vhd";
  const std::string was = "xo-vm-backups/vm-1/vdis/j/v/data/20261001T100000Z.vhd";
  const std::vector<SweepCase> cases = {
      {.name = "known tree, expired: lifted whole, its members not reported",
       .indexed = {{.path = was, .ino = 100, .tree = true, .locked_at = kOldReference}},
       .unreached = {Locked(tree, 100, true), Locked(tree + "/bat", 101),
                     Locked(tree + "/blocks", 102, true), Locked(tree + "/blocks/0/1", 103)},
       .actions = {{ActionKind::kLift, tree, true, 100, kOldReference, kMembersExpiredBefore}}},
      {.name = "known tree, locked_at unknown: the directory's ctime stands in",
       .indexed = {{.path = was, .ino = 100, .tree = true}},
       .unreached = {Locked(tree, 100, true)},
       .actions = {{ActionKind::kLift, tree, true, 100, kBirth, kMembersExpiredBefore}}},
      {.name = "known tree, duration 0: no member waits",
       .indexed = {{.path = was,
                    .ino = 100,
                    .reference = kFreshReference,
                    .tree = true,
                    .locked_at = kFreshReference}},
       .unreached = {Locked(tree, 100, true)},
       .duration = absl::ZeroDuration(),
       .actions = {{ActionKind::kLift, tree, true, 100, kFreshReference, absl::InfiniteFuture()}}},
      {.name = "known tree, not expired: one warning, members covered",
       .indexed = {{.path = was, .ino = 100, .reference = kFreshReference, .tree = true}},
       .unreached = {Locked(tree, 100, true), Locked(tree + "/bat", 101)},
       .warnings = {{WarningKind::kLockedMoved, tree}}},
      {.name = "the cover ends with the tree: a sibling after it is reported",
       .indexed = {{.path = "x.vhd", .ino = 100, .tree = true, .locked_at = kOldReference}},
       .unreached = {Locked(tree, 100, true), Locked(tree + "/bat", 101),
                     Locked("xo-vm-backups/.zzz/x.xva", 200)},
       .actions = {{ActionKind::kLift, tree, true, 100, kOldReference, kMembersExpiredBefore}},
       .warnings = {{WarningKind::kLockedUnknown, "xo-vm-backups/.zzz/x.xva"}}},
      {.name = "a name that merely starts like the tree is not covered",
       .indexed = {{.path = "x.vhd", .ino = 100, .tree = true, .locked_at = kOldReference}},
       .unreached = {Locked(tree, 100, true), Locked(tree + "-copy", 200),
                     Locked(tree + "-copy/bat", 201)},
       .actions = {{ActionKind::kLift, tree, true, 100, kOldReference, kMembersExpiredBefore}},
       .warnings = {{WarningKind::kLockedUnknown, tree + "-copy"},
                    {WarningKind::kLockedUnknown, tree + "-copy/bat"}}},
      {.name = "unknown tree: the directory and each member reported, none lifted",
       .unreached = {Locked(tree, 100, true), Locked(tree + "/bat", 101)},
       .warnings = {{WarningKind::kLockedUnknown, tree},
                    {WarningKind::kLockedUnknown, tree + "/bat"}}},
      {.name = "a known file is not a cover",
       .indexed = {{.path = kWhere, .ino = 100}},
       .unreached = {Locked("d/x", 100), Locked("d/x/y", 101)},
       .actions = {{ActionKind::kLift, "d/x", false, 100}},
       .warnings = {{WarningKind::kLockedUnknown, "d/x/y"}}},
      {.name = "two known trees interleaved by sort order (<tree>-copy between <tree> and "
               "<tree>/...): both covered",
       .indexed = {{.path = "a.vhd", .ino = 100, .tree = true, .locked_at = kOldReference},
                   {.path = "b.vhd", .ino = 200, .tree = true, .locked_at = kOldReference}},
       .unreached = {Locked(tree, 100, true), Locked(tree + "-copy", 200, true),
                     Locked(tree + "-copy/bat", 201), Locked(tree + "/bat", 101),
                     Locked(tree + "/blocks/0/1", 102)},
       .actions = {{ActionKind::kLift, tree, true, 100, kOldReference, kMembersExpiredBefore},
                   {ActionKind::kLift, tree + "-copy", true, 200, kOldReference,
                    kMembersExpiredBefore}}},
      {.name = "a known tree inside a known tree: covered by the outer one",
       .indexed = {{.path = "a", .ino = 100, .tree = true, .locked_at = kOldReference},
                   {.path = "b", .ino = 200, .tree = true, .locked_at = kOldReference}},
       .unreached = {Locked("d/t", 100, true), Locked("d/t/inner", 200, true),
                     Locked("d/t/inner/x", 201)},
       .actions = {{ActionKind::kLift, "d/t", true, 100, kOldReference, kMembersExpiredBefore}}},
      {.name = "a known tree whose own parent is covered by nothing: deep members covered",
       .indexed = {{.path = "a", .ino = 100, .tree = true, .locked_at = kOldReference}},
       .unreached = {Locked("p/q/t", 100, true), Locked("p/q/t/a/b/c/d", 101),
                     Locked("p/q/u", 300)},
       .actions = {{ActionKind::kLift, "p/q/t", true, 100, kOldReference, kMembersExpiredBefore}},
       .warnings = {{WarningKind::kLockedUnknown, "p/q/u"}}},
  };
  for (const SweepCase& c : cases) RunSweepCase(c);
}

TEST(PlanSweepTest, RecordsWhoseInodeIsNowhere) {
  const std::vector<SweepCase> cases = {
      {.name = "not found, expired: unindexed, by its remote-relative path",
       .indexed = {{.path = kWhere, .ino = 100, .found = false}},
       .actions = {{ActionKind::kUnindex, kWhere, false, 100}}},
      {.name = "not found, expired tree: unindexed as a tree",
       .indexed = {{.path = kWhere, .ino = 100, .tree = true, .found = false}},
       .actions = {{ActionKind::kUnindex, kWhere, true, 100}}},
      {.name = "not found, not expired: nothing (the regular run reports it)",
       .indexed = {{.path = kWhere, .ino = 100, .reference = kFreshReference, .found = false}}},
      {.name = "not found, duration 0: unindexed",
       .indexed = {{.path = kWhere, .ino = 100, .reference = kFreshReference, .found = false}},
       .duration = absl::ZeroDuration(),
       .actions = {{ActionKind::kUnindex, kWhere, false, 100}}},
      {.name = "lifted, not found: dropped, whatever its reference",
       .indexed = {{.path = kWhere,
                    .ino = 100,
                    .reference = kFreshReference,
                    .found = false,
                    .lifted = true}},
       .actions = {{ActionKind::kUnindex, kWhere, false, 100}}},
      {.name = "found somewhere, expired, not locked out of reach: nothing",
       .indexed = {{.path = kWhere, .ino = 100}}},
      {.name = "lifts first, then unindexes, in record order",
       .indexed = {{.path = "g1", .ino = 1, .found = false},
                   {.path = kWhere, .ino = 100},
                   {.path = "g2", .ino = 2, .found = false, .lifted = true}},
       .unreached = {Locked(kHidden, 100)},
       .actions = {{ActionKind::kLift, kHidden, false, 100},
                   {ActionKind::kUnindex, "g1", false, 1},
                   {ActionKind::kUnindex, "g2", false, 2}}},
  };
  for (const SweepCase& c : cases) RunSweepCase(c);
  // The reasons tell a lifted record from an expired one.
  SweepFacts facts;
  facts.indexed = {Known({.path = "a", .ino = 1, .found = false}),
                   Known({.path = "b", .ino = 2, .found = false, .lifted = true})};
  Settings settings;
  settings.duration = absl::Hours(24);
  Plan plan;
  PlanSweep(facts, settings, kNow, &plan);
  ASSERT_EQ(plan.actions.size(), 2u);
  EXPECT_EQ(plan.actions[0].reason, "expired, and its inode exists nowhere in the remote any more");
  EXPECT_EQ(plan.actions[1].reason, "lifted, and its inode exists nowhere in the remote any more");
}

TEST(PlanSweepTest, AppendsToThePlan) {
  SweepFacts facts;
  facts.unreached = {Locked(kHidden, 100)};
  Settings settings;
  settings.duration = absl::Hours(24);
  Plan plan;
  plan.warnings.push_back(Warning{WarningKind::kIndexedMissing, "before", "m"});
  plan.actions.push_back(Action{ActionKind::kProtect, "before", false, FileStat{}});
  PlanSweep(facts, settings, kNow, &plan);
  ASSERT_EQ(plan.warnings.size(), 2u);
  EXPECT_EQ(plan.warnings[0].path, "before");
  EXPECT_EQ(plan.warnings[1].kind, WarningKind::kLockedUnknown);
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].path, "before");
}

}  // namespace
}  // namespace xoi
