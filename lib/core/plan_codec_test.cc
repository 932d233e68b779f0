#include "lib/core/plan_codec.h"

#include <string>

#include "gtest/gtest.h"
#include "lib/testing/utc.h"

namespace xoi {
namespace {

// Every field set to something other than its default, so that a field the codec forgot fails.
PlanEntry Full() {
  PlanEntry e;
  Action& a = e.action;
  a.kind = ActionKind::kLift;
  a.path = std::string("xo-vm-backups/vm1/vdis/j\n\0\xff/d.vhd", 34);
  a.tree = true;
  a.stat.mode = 040755;
  a.stat.ino = 0xfedcba9876543210;
  a.stat.dev = 0x10302;
  a.stat.nlink = 3;
  a.stat.size = 1ull << 41;
  a.stat.ctime = Utc(2026, 11, 2, 3, 4, 5) + absl::Nanoseconds(6);
  a.stat.birth = Utc(1969, 12, 31, 23, 59, 59);  // before the epoch: negative nanoseconds
  a.stat.has_btime = true;
  a.stat.immutable = true;
  a.stat.immutable_known = true;
  a.stat.mount_root = true;
  a.indexed = false;
  a.reference = Utc(2026, 11, 1);
  a.clock_lag = absl::Hours(-3);
  a.locked_at = Utc(2026, 11, 1, 0, 0, 1);
  a.members_locked_by = absl::InfinitePast();
  a.members_expired_before = Utc(2026, 11, 15);
  a.expires_at = Utc(2026, 11, 16);
  a.reason = "expired since 2026-11-16T00:00:00Z";
  a.content = R"({"since":1,"immutable":true,"duration":2})";
  a.requires_all_lifts = true;
  a.overdue = true;
  a.forget_record = true;
  e.executed = true;
  e.outcome = Outcome::kSkipped;
  e.detail = "not every item could be lifted";
  return e;
}

void ExpectSame(const PlanEntry& got, const PlanEntry& want) {
  const Action& g = got.action;
  const Action& w = want.action;
  EXPECT_EQ(g.kind, w.kind);
  EXPECT_EQ(g.path, w.path);
  EXPECT_EQ(g.tree, w.tree);
  EXPECT_EQ(g.stat.mode, w.stat.mode);
  EXPECT_EQ(g.stat.ino, w.stat.ino);
  EXPECT_EQ(g.stat.dev, w.stat.dev);
  EXPECT_EQ(g.stat.nlink, w.stat.nlink);
  EXPECT_EQ(g.stat.size, w.stat.size);
  EXPECT_EQ(g.stat.ctime, w.stat.ctime);
  EXPECT_EQ(g.stat.birth, w.stat.birth);
  EXPECT_EQ(g.stat.has_btime, w.stat.has_btime);
  EXPECT_EQ(g.stat.immutable, w.stat.immutable);
  EXPECT_EQ(g.stat.immutable_known, w.stat.immutable_known);
  EXPECT_EQ(g.stat.mount_root, w.stat.mount_root);
  EXPECT_EQ(g.indexed, w.indexed);
  EXPECT_EQ(g.reference, w.reference);
  EXPECT_EQ(g.clock_lag, w.clock_lag);
  EXPECT_EQ(g.locked_at, w.locked_at);
  EXPECT_EQ(g.members_locked_by, w.members_locked_by);
  EXPECT_EQ(g.members_expired_before, w.members_expired_before);
  EXPECT_EQ(g.expires_at, w.expires_at);
  EXPECT_EQ(g.reason, w.reason);
  EXPECT_EQ(g.content, w.content);
  EXPECT_EQ(g.requires_all_lifts, w.requires_all_lifts);
  EXPECT_EQ(g.overdue, w.overdue);
  EXPECT_EQ(g.forget_record, w.forget_record);
  EXPECT_EQ(got.executed, want.executed);
  EXPECT_EQ(got.outcome, want.outcome);
  EXPECT_EQ(got.detail, want.detail);
}

TEST(PlanCodecTest, EveryFieldRoundTrips) {
  const PlanEntry full = Full();
  const std::optional<PlanEntry> back = DecodePlanEntry(EncodePlanEntry(full));
  ASSERT_TRUE(back.has_value());
  ExpectSame(*back, full);
}

TEST(PlanCodecTest, DefaultsRoundTrip) {
  // Defaults hold infinite times (members_locked_by, expires_at): kept infinite, not saturated.
  PlanEntry plain;
  plain.action.kind = ActionKind::kProtect;
  const std::optional<PlanEntry> back = DecodePlanEntry(EncodePlanEntry(plain));
  ASSERT_TRUE(back.has_value());
  ExpectSame(*back, plain);
  EXPECT_EQ(back->action.expires_at, absl::InfiniteFuture());
  EXPECT_EQ(back->action.locked_at, absl::InfinitePast());
}

// A spooled plan read back from disk is checked, never trusted to be whole.
TEST(PlanCodecTest, AnythingButOneWholeEntryIsRejected) {
  const std::string bytes = EncodePlanEntry(Full());
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodePlanEntry(bytes.substr(0, n)).has_value()) << "prefix of " << n;
  }
  EXPECT_FALSE(DecodePlanEntry(bytes + "x").has_value());
  std::string bad_kind = bytes;
  bad_kind[0] = 0x7f;  // no such ActionKind
  EXPECT_FALSE(DecodePlanEntry(bad_kind).has_value());
}

}  // namespace
}  // namespace xoi
