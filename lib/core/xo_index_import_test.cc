// PlanXoIndexImport: what an entry of XO's daemon's v1 index becomes.
#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/core/rules.h"
#include "lib/testing/utc.h"

namespace xoi {
namespace {

using ::testing::HasSubstr;

constexpr char kRoot[] = "/srv/r1";
const absl::Time kLocked = Utc(2026, 11, 20, 10);

// What the remote holds, by path, and which inodes the index or the plan knows.
class FakeFacts : public XoIndexFacts {
 public:
  std::optional<FileStat> StatBeneath(const std::string& relative) override {
    auto it = paths.find(relative);
    if (it == paths.end()) return std::nullopt;
    return it->second;
  }
  bool Known(const FileStat& st) override { return !seen.insert(st.ino).second; }

  std::map<std::string, FileStat> paths;
  std::set<uint64_t> seen;
};

FileStat Inode(uint64_t ino, bool immutable, uint32_t type = S_IFREG) {
  FileStat st;
  st.mode = type | 0644;
  st.ino = ino;
  st.birth = kLocked - absl::Hours(1);
  st.ctime = kLocked;
  st.immutable = immutable;
  st.immutable_known = true;
  return st;
}

TEST(PlanXoIndexImportTest, ImportsOnlyWhatIsStillLockedAtItsPath) {
  FakeFacts facts;
  facts.paths["xo-vm-backups/vm/legacy"] = Inode(1, true);
  facts.paths["xo-vm-backups/vm/unlocked"] = Inode(2, false);
  facts.paths["xo-vm-backups/vm/known.json"] = Inode(3, true);
  facts.paths["xo-vm-backups/vm/fifo"] = Inode(4, true, S_IFIFO);
  facts.seen.insert(3);
  const absl::CivilDay long_ago(2025, 1, 1);  // its day is never a reason to lift
  const std::vector<XoIndexEntry> entries = {
      {long_ago, "/srv/r1/xo-vm-backups/vm/legacy"},
      {long_ago, "/srv/r1/xo-vm-backups/vm/legacy"},  // twice: imported once
      {long_ago, "/srv/r1/xo-vm-backups/vm/unlocked"},
      {long_ago, "/srv/r1/xo-vm-backups/vm/known.json"},
      {long_ago, "/srv/r1/xo-vm-backups/vm/fifo"},
      {long_ago, "/srv/r1/xo-vm-backups/vm/gone.xva"},
      {long_ago, "/srv/r1/xo-vm-backups/vm/vdis/j/v/data/x.vhd/bat"},  // a VHD directory's
      {long_ago, "/srv/r10/xo-vm-backups/vm/legacy"},                  // another remote's
      {long_ago, "/srv/r1/../etc/passwd"},
      {long_ago, "relative/path"},
  };
  absl::StatusOr<GlobSet> globs = GlobSet::Compile(GlobSet::DefaultPatterns());
  ASSERT_TRUE(globs.ok());
  Settings settings;
  settings.duration = absl::Hours(24 * 14);
  Plan plan;
  const XoIndexImport counts =
      PlanXoIndexImport(entries, kRoot, "/xo/index", *globs, settings, facts, &plan);

  EXPECT_EQ(counts.imported, 1u);
  EXPECT_EQ(counts.known, 2u);  // the one the walk adopted, and the duplicate
  EXPECT_EQ(counts.unlocked, 2u);
  EXPECT_EQ(counts.vanished, 1u);
  EXPECT_EQ(counts.within, 1u);
  EXPECT_EQ(counts.outside, 3u);
  ASSERT_EQ(plan.actions.size(), 1u);
  const Action& imported = plan.actions[0];
  EXPECT_EQ(imported.kind, ActionKind::kIndex);
  EXPECT_EQ(imported.path, "xo-vm-backups/vm/legacy");
  EXPECT_EQ(imported.stat.ino, 1u);
  EXPECT_EQ(imported.reference, kLocked) << "from its lock time, as any adopted item";
  EXPECT_EQ(imported.expires_at, Utc(2026, 12, 5));
  EXPECT_THAT(imported.reason, HasSubstr("2025-01-01"));
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_EQ(plan.warnings[0].kind, WarningKind::kIndexNotice);
  EXPECT_THAT(plan.warnings[0].message, HasSubstr("/xo/index read once: 10 entries; 1 still "
                                                  "locked, imported"));
  EXPECT_THAT(plan.warnings[0].message, HasSubstr("1 vanished, skipped"));
}

}  // namespace
}  // namespace xoi
