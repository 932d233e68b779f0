// The guards that hold lifts back: HoldLifts, the mass-lift guard, and the time-shift policy with
// its clock record.
#include "lib/core/guards.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/core/facts.h"
#include "lib/core/plan.h"

namespace xoi {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

absl::Time Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

Action MakeAction(ActionKind kind, std::string path) {
  Action a{kind, std::move(path), false, FileStat{}};
  a.reason = "original reason";
  return a;
}

// ---------------------------------------------------------------------------------------------
// HoldLifts

TEST(HoldLiftsTest, OnlyLiftsBecomeWaits) {
  Plan plan;
  const std::vector<ActionKind> kinds = {
      ActionKind::kLift,   ActionKind::kProtect,     ActionKind::kReprotect,
      ActionKind::kLift,   ActionKind::kIndex,       ActionKind::kUnindex,
      ActionKind::kWait,   ActionKind::kWriteMarker, ActionKind::kRemoveMarker,
      ActionKind::kRefuse, ActionKind::kLift,
  };
  for (size_t i = 0; i < kinds.size(); ++i) {
    plan.actions.push_back(MakeAction(kinds[i], "p" + std::to_string(i)));
  }
  EXPECT_EQ(HoldLifts(&plan, "the wall clock moved"), 3u);
  ASSERT_EQ(plan.actions.size(), kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i) {
    const Action& a = plan.actions[i];
    SCOPED_TRACE(a.path);
    EXPECT_EQ(a.path, "p" + std::to_string(i));
    if (kinds[i] == ActionKind::kLift) {
      EXPECT_EQ(a.kind, ActionKind::kWait);
      EXPECT_EQ(a.reason, "lift held back: the wall clock moved");
    } else {
      EXPECT_EQ(a.kind, kinds[i]);
      EXPECT_EQ(a.reason, "original reason");
    }
  }
  EXPECT_THAT(plan.lifts_held, IsEmpty()) << "HoldLifts leaves lifts_held to its caller";
  EXPECT_TRUE(plan.warnings.empty());
}

TEST(HoldLiftsTest, NothingToHold) {
  Plan empty;
  EXPECT_EQ(HoldLifts(&empty, "why"), 0u);
  Plan no_lift;
  no_lift.actions.push_back(MakeAction(ActionKind::kProtect, "a"));
  EXPECT_EQ(HoldLifts(&no_lift, "why"), 0u);
  EXPECT_EQ(no_lift.actions[0].kind, ActionKind::kProtect);
  // Held twice: the second call finds no lift left.
  Plan twice;
  twice.actions.push_back(MakeAction(ActionKind::kLift, "a"));
  EXPECT_EQ(HoldLifts(&twice, "first"), 1u);
  EXPECT_EQ(HoldLifts(&twice, "second"), 0u);
  EXPECT_EQ(twice.actions[0].reason, "lift held back: first");
}

// ---------------------------------------------------------------------------------------------
// GuardMassLift

struct MassCase {
  std::string name;
  uint64_t protected_items;
  double max_fraction = 0.5;
  int lifts;
  int others = 3;  // protect, unindex, wait: never counted, never touched
  bool want_held;
  std::string held_text = "";  // exact plan->lifts_held, when not empty
};

void RunMassCase(const MassCase& c) {
  SCOPED_TRACE(c.name);
  Plan plan;
  const ActionKind other_kinds[] = {ActionKind::kProtect, ActionKind::kUnindex, ActionKind::kWait};
  for (int i = 0; i < c.others; ++i) {
    plan.actions.push_back(MakeAction(other_kinds[i % 3], "other"));
  }
  for (int i = 0; i < c.lifts; ++i) plan.actions.push_back(MakeAction(ActionKind::kLift, "lift"));

  GuardMassLift(c.protected_items, c.max_fraction, &plan);

  EXPECT_EQ(!plan.lifts_held.empty(), c.want_held) << plan.lifts_held;
  if (!c.held_text.empty()) {
    EXPECT_EQ(plan.lifts_held, c.held_text);
  }
  ASSERT_EQ(plan.actions.size(), static_cast<size_t>(c.lifts + c.others));
  int lifts = 0, held = 0;
  for (const Action& a : plan.actions) {
    if (a.path == "other") {
      EXPECT_NE(a.kind, ActionKind::kLift);
      EXPECT_EQ(a.reason, "original reason");
    } else if (a.kind == ActionKind::kLift) {
      ++lifts;
      EXPECT_EQ(a.reason, "original reason");
    } else {
      ++held;
      EXPECT_EQ(a.kind, ActionKind::kWait);
      EXPECT_EQ(a.reason, "lift held back: " + plan.lifts_held);
    }
  }
  EXPECT_EQ(lifts, c.want_held ? 0 : c.lifts);
  EXPECT_EQ(held, c.want_held ? c.lifts : 0);
}

TEST(GuardMassLiftTest, Table) {
  const std::vector<MassCase> cases = {
      {.name = "100 protected items, all lifted: never trips (100 or fewer)",
       .protected_items = 100,
       .lifts = 100,
       .want_held = false},
      {.name = "100 protected items, fraction 0, more lifts than items: never trips",
       .protected_items = 100,
       .max_fraction = 0,
       .lifts = 150,
       .want_held = false},
      {.name = "0 protected items: never trips",
       .protected_items = 0,
       .lifts = 5,
       .want_held = false},
      {.name = "101 items, 0.5: 50 lifts pass",
       .protected_items = 101,
       .lifts = 50,
       .want_held = false},
      {.name = "101 items, 0.5: 51 lifts trip",
       .protected_items = 101,
       .lifts = 51,
       .want_held = true,
       .held_text = "mass-lift guard: 51 of 101 protected items would be lifted at once (more "
                    "than 50%); run with --allow-mass-lift if that is intended"},
      {.name = "200 items, 0.5: exactly half passes",
       .protected_items = 200,
       .lifts = 100,
       .want_held = false},
      {.name = "200 items, 0.5: one more trips",
       .protected_items = 200,
       .lifts = 101,
       .want_held = true},
      {.name = "1000 items, 0.1: 100 pass",
       .protected_items = 1000,
       .max_fraction = 0.1,
       .lifts = 100,
       .want_held = false},
      {.name = "1000 items, 0.1: 101 trip",
       .protected_items = 1000,
       .max_fraction = 0.1,
       .lifts = 101,
       .want_held = true,
       .held_text = "mass-lift guard: 101 of 1000 protected items would be lifted at once (more "
                    "than 10%); run with --allow-mass-lift if that is intended"},
      {.name = "fraction 1: everything may be lifted",
       .protected_items = 101,
       .max_fraction = 1,
       .lifts = 101,
       .want_held = false},
      {.name = "fraction 0, 101 items: no lift passes",
       .protected_items = 101,
       .max_fraction = 0,
       .lifts = 1,
       .want_held = true},
      {.name = "fraction 0, 101 items, no lift: nothing to hold",
       .protected_items = 101,
       .max_fraction = 0,
       .lifts = 0,
       .want_held = false},
      {.name = "only lifts count: 50 lifts among 200 other actions pass",
       .protected_items = 101,
       .lifts = 50,
       .others = 200,
       .want_held = false},
      // Current behaviour (reported as a suspected defect): the percentage in the message is
      // truncated from a double, so 0.29 reads "more than 28%".
      {.name = "fraction 0.29: the message truncates the percentage",
       .protected_items = 1000,
       .max_fraction = 0.29,
       .lifts = 291,
       .want_held = true,
       .held_text = "mass-lift guard: 291 of 1000 protected items would be lifted at once (more "
                    "than 28%); run with --allow-mass-lift if that is intended"},
      {.name = "fraction 0.29: 290 pass",
       .protected_items = 1000,
       .max_fraction = 0.29,
       .lifts = 290,
       .want_held = false},
  };
  for (const MassCase& c : cases) RunMassCase(c);
}

// ---------------------------------------------------------------------------------------------
// DetectTimeShift

const absl::Time kWall = Utc(2026, 11, 20, 12);
const absl::Duration kThreshold = absl::Hours(24);

ClockReading Reading(absl::Time wall, absl::Duration boottime, std::string boot_id,
                     std::optional<absl::Time> rtc = std::nullopt) {
  return ClockReading{wall, boottime, std::move(boot_id), rtc};
}

// The last run: at kWall, 10h after boot "boot-a"; the highest wall clock seen is kWall.
ClockRecord LastRun(absl::Time highest = kWall) {
  return ClockRecord{Reading(kWall, absl::Hours(10), "boot-a"), highest};
}

struct ShiftCase {
  std::string name;
  std::optional<ClockRecord> record = LastRun();
  ClockReading now;
  std::vector<std::string> want_has = {};  // empty: no shift ("")
};

void RunShiftCase(const ShiftCase& c) {
  SCOPED_TRACE(c.name);
  const std::string got = DetectTimeShift(c.record, c.now, kThreshold);
  if (c.want_has.empty()) {
    EXPECT_EQ(got, "");
    return;
  }
  EXPECT_FALSE(got.empty());
  for (const std::string& part : c.want_has) EXPECT_THAT(got, HasSubstr(part));
}

TEST(DetectTimeShiftTest, FirstRun) {
  const std::vector<ShiftCase> cases = {
      {.name = "first run: nothing to compare with",
       .record = std::nullopt,
       .now = Reading(kWall, absl::Hours(1), "boot-a")},
      {.name = "first run, years ahead of nothing: still nothing to compare with",
       .record = std::nullopt,
       .now = Reading(Utc(2040, 1, 1), absl::Hours(1), "boot-a")},
      {.name = "first run, but the RTC disagrees: shift",
       .record = std::nullopt,
       .now = Reading(kWall, absl::Hours(1), "boot-a", kWall - absl::Hours(48)),
       .want_has = {"disagrees with the hardware clock", "2026-11-18T12:00:00Z", "1d"}},
  };
  for (const ShiftCase& c : cases) RunShiftCase(c);
}

TEST(DetectTimeShiftTest, ForwardWithinOneBoot) {
  const std::vector<ShiftCase> cases = {
      {.name = "an hour later on both clocks",
       .now = Reading(kWall + absl::Hours(1), absl::Hours(11), "boot-a")},
      {.name = "a month later on both clocks (uptime)",
       .now = Reading(kWall + absl::Hours(24 * 30), absl::Hours(10 + 24 * 30), "boot-a")},
      {.name = "wall +48h, boot-time +1h: shift",
       .now = Reading(kWall + absl::Hours(48), absl::Hours(11), "boot-a"),
       .want_has = {"the wall clock moved 172800s since the last run (2026-11-20T12:00:00Z) but "
                    "the boot-time clock only 3600s"}},
      {.name = "wall ahead of boot-time by exactly the threshold: no shift",
       .now = Reading(kWall + absl::Hours(25), absl::Hours(11), "boot-a")},
      {.name = "wall ahead of boot-time by the threshold + 1ns: shift",
       .now = Reading(kWall + absl::Hours(25) + absl::Nanoseconds(1), absl::Hours(11), "boot-a"),
       .want_has = {"the wall clock moved"}},
      {.name = "wall behind boot-time (clock slowed, or stepped back a little): no shift",
       .now = Reading(kWall + absl::Hours(1), absl::Hours(40), "boot-a")},
  };
  for (const ShiftCase& c : cases) RunShiftCase(c);
}

TEST(DetectTimeShiftTest, AcrossReboots) {
  const std::vector<ShiftCase> cases = {
      {.name = "the same 48h jump across a reboot (another boot id): no shift",
       .now = Reading(kWall + absl::Hours(48), absl::Hours(1), "boot-b")},
      {.name = "a machine off for a month: no shift",
       .now = Reading(kWall + absl::Hours(24 * 30), absl::Minutes(5), "boot-b")},
      // Current behaviour: without a boot id the forward check cannot tell one boot from another.
      {.name = "no boot id now: the forward check is skipped",
       .record = ClockRecord{Reading(kWall, absl::Hours(10), ""), kWall},
       .now = Reading(kWall + absl::Hours(48), absl::Hours(11), "")},
      {.name = "back below the highest after a reboot: still a shift",
       .now = Reading(kWall - absl::Hours(48), absl::Hours(1), "boot-b"),
       .want_has = {"went back more than 1d"}},
  };
  for (const ShiftCase& c : cases) RunShiftCase(c);
}

TEST(DetectTimeShiftTest, Backwards) {
  const std::vector<ShiftCase> cases = {
      {.name = "back 25h below the highest: shift",
       .now = Reading(kWall - absl::Hours(25), absl::Hours(11), "boot-a"),
       .want_has = {"went back more than 1d below the highest time recorded "
                    "(2026-11-20T12:00:00Z)",
                    "2026-11-19T11:00:00Z"}},
      {.name = "back exactly the threshold: no shift",
       .now = Reading(kWall - kThreshold, absl::Hours(11), "boot-a")},
      {.name = "back the threshold + 1ns: shift",
       .now = Reading(kWall - kThreshold - absl::Nanoseconds(1), absl::Hours(11), "boot-a"),
       .want_has = {"went back"}},
      {.name = "back a little (NTP correction): no shift",
       .now = Reading(kWall - absl::Minutes(5), absl::Hours(11), "boot-a")},
      {.name = "the highest is remembered: after the last run was stepped back, a further step "
               "back trips",
       .record = LastRun(kWall + absl::Hours(20)),
       .now = Reading(kWall - absl::Hours(5), absl::Hours(10), "boot-a"),
       .want_has = {"went back", "2026-11-21T08:00:00Z"}},
  };
  for (const ShiftCase& c : cases) RunShiftCase(c);
}

TEST(DetectTimeShiftTest, HardwareClock) {
  const std::vector<ShiftCase> cases = {
      {.name = "RTC agrees",
       .now = Reading(kWall + absl::Hours(1), absl::Hours(11), "boot-a", kWall + absl::Hours(1))},
      {.name = "RTC 25h behind: shift",
       .now = Reading(kWall + absl::Hours(1), absl::Hours(11), "boot-a",
                      kWall + absl::Hours(1) - absl::Hours(25)),
       .want_has = {"the wall clock (2026-11-20T13:00:00Z) disagrees with the hardware clock "
                    "(2026-11-19T12:00:00Z) by more than 1d"}},
      {.name = "RTC 25h ahead: shift",
       .now = Reading(kWall + absl::Hours(1), absl::Hours(11), "boot-a", kWall + absl::Hours(26)),
       .want_has = {"disagrees with the hardware clock"}},
      {.name = "RTC off by exactly the threshold: no shift",
       .now = Reading(kWall + absl::Hours(1), absl::Hours(11), "boot-a",
                      kWall + absl::Hours(1) + kThreshold)},
      {.name = "RTC off by the threshold + 1ns: shift",
       .now = Reading(kWall + absl::Hours(1), absl::Hours(11), "boot-a",
                      kWall + absl::Hours(1) - kThreshold - absl::Nanoseconds(1)),
       .want_has = {"hardware clock"}},
      {.name = "RTC and wall moved together within one boot: the boot-time clock still catches it",
       .now = Reading(kWall + absl::Hours(48), absl::Hours(11), "boot-a", kWall + absl::Hours(48)),
       .want_has = {"the wall clock moved"}},
  };
  for (const ShiftCase& c : cases) RunShiftCase(c);
}

// ---------------------------------------------------------------------------------------------
// The clock record

void ExpectSameRecord(const ClockRecord& got, const ClockRecord& want) {
  EXPECT_EQ(got.last.wall, want.last.wall);
  EXPECT_EQ(got.last.boottime, want.last.boottime);
  EXPECT_EQ(got.last.boot_id, want.last.boot_id);
  EXPECT_EQ(got.last.rtc, want.last.rtc);
  EXPECT_EQ(got.highest_wall, want.highest_wall);
}

TEST(ClockRecordTest, RoundTrip) {
  const std::vector<ClockRecord> records = {
      ClockRecord{Reading(kWall + absl::Nanoseconds(123456789), absl::Nanoseconds(987654321),
                          "6f1c0d3a-0b7e-4a3c-9d2e-5f8a7b6c5d4e"),
                  kWall + absl::Hours(3)},
      ClockRecord{Reading(kWall, absl::Hours(10), "boot-a", kWall - absl::Seconds(2)), kWall},
      ClockRecord{Reading(Utc(1969, 12, 31), absl::ZeroDuration(), ""), Utc(1969, 12, 31)},
      ClockRecord{Reading(kWall, absl::Hours(1), "with \"quotes\" and \\ and \n"), kWall},
  };
  for (const ClockRecord& record : records) {
    const std::string text = EncodeClockRecord(record);
    SCOPED_TRACE(text);
    EXPECT_EQ(text.back(), '\n');
    const std::optional<ClockRecord> decoded = DecodeClockRecord(text);
    ASSERT_TRUE(decoded.has_value());
    ExpectSameRecord(*decoded, record);
  }
}

TEST(ClockRecordTest, Format) {
  const ClockRecord record{
      Reading(absl::FromUnixNanos(1795176000000000001), absl::Nanoseconds(36000000000000), "boot-a",
              absl::FromUnixNanos(1795176000000000002)),
      absl::FromUnixNanos(1795176000000000003)};
  EXPECT_EQ(EncodeClockRecord(record),
            R"({"wall_ns":1795176000000000001,"boottime_ns":36000000000000,"boot_id":"boot-a",)"
            R"("rtc_ns":1795176000000000002,"highest_wall_ns":1795176000000000003})"
            "\n");
  // The RTC is optional: without one, no key.
  ClockRecord no_rtc = record;
  no_rtc.last.rtc.reset();
  EXPECT_THAT(EncodeClockRecord(no_rtc), ::testing::Not(HasSubstr("rtc_ns")));
}

TEST(ClockRecordTest, GarbageIsNotARecord) {
  const std::vector<std::string> texts = {
      "",
      "garbage",
      "[]",
      "{}",
      "null",
      R"({"wall_ns":1,"boottime_ns":2,"boot_id":"a","highest_wall_ns":3)",  // truncated
      R"({"boottime_ns":2,"boot_id":"a","highest_wall_ns":3})",
      R"({"wall_ns":1,"boot_id":"a","highest_wall_ns":3})",
      R"({"wall_ns":1,"boottime_ns":2,"highest_wall_ns":3})",
      R"({"wall_ns":1,"boottime_ns":2,"boot_id":"a"})",
      R"({"wall_ns":"1","boottime_ns":2,"boot_id":"a","highest_wall_ns":3})",
      R"({"wall_ns":1.5,"boottime_ns":2,"boot_id":"a","highest_wall_ns":3})",
      R"({"wall_ns":1,"boottime_ns":2,"boot_id":7,"highest_wall_ns":3})",
      R"({"wall_ns":1,"boottime_ns":2,"boot_id":null,"highest_wall_ns":3})",
      R"({"wall_ns":18446744073709551615,"boottime_ns":2,"boot_id":"a","highest_wall_ns":3})",
  };
  for (const std::string& text : texts) {
    EXPECT_EQ(DecodeClockRecord(text), std::nullopt) << text;
  }
  // A NUL byte is no JSON.
  const std::string with_nul("{\"wall_ns\":1\0}", 14);
  EXPECT_EQ(DecodeClockRecord(with_nul), std::nullopt);
}

TEST(ClockRecordTest, MalformedRtcIsIgnored) {
  // Current behaviour: an RTC reading of the wrong type is dropped, the record kept.
  const std::optional<ClockRecord> r = DecodeClockRecord(
      R"({"wall_ns":1,"boottime_ns":2,"boot_id":"a","rtc_ns":"x","highest_wall_ns":3})");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->last.wall, absl::FromUnixNanos(1));
  EXPECT_EQ(r->last.boottime, absl::Nanoseconds(2));
  EXPECT_EQ(r->last.boot_id, "a");
  EXPECT_EQ(r->last.rtc, std::nullopt);
  EXPECT_EQ(r->highest_wall, absl::FromUnixNanos(3));
}

TEST(NextClockRecordTest, KeepsTheHighestWall) {
  const ClockReading now = Reading(kWall + absl::Hours(1), absl::Hours(11), "boot-b",
                                   kWall + absl::Hours(1) + absl::Seconds(1));
  {
    SCOPED_TRACE("first run: the reading is the highest");
    const ClockRecord next = NextClockRecord(std::nullopt, now);
    ExpectSameRecord(next, ClockRecord{now, now.wall});
  }
  {
    SCOPED_TRACE("later than the highest: the reading becomes the highest");
    const ClockRecord next = NextClockRecord(LastRun(), now);
    ExpectSameRecord(next, ClockRecord{now, now.wall});
  }
  {
    SCOPED_TRACE("earlier than the highest: the highest is kept, the reading is the last");
    const ClockRecord next = NextClockRecord(LastRun(kWall + absl::Hours(20)), now);
    ExpectSameRecord(next, ClockRecord{now, kWall + absl::Hours(20)});
  }
  {
    SCOPED_TRACE("the clock went back: the highest is kept");
    const ClockReading back = Reading(kWall - absl::Hours(100), absl::Hours(11), "boot-a");
    const ClockRecord next = NextClockRecord(LastRun(), back);
    ExpectSameRecord(next, ClockRecord{back, kWall});
  }
}

TEST(NextClockRecordTest, FeedsTheNextDetection) {
  // A sequence of runs: the record each leaves is what the next compares with.
  std::optional<ClockRecord> record;
  const ClockReading run1 = Reading(kWall, absl::Hours(1), "boot-a");
  EXPECT_EQ(DetectTimeShift(record, run1, kThreshold), "");
  record = NextClockRecord(record, run1);
  // Someone sets the clock 20h ahead: under the threshold, not a shift.
  const ClockReading run2 = Reading(kWall + absl::Hours(21), absl::Hours(2), "boot-a");
  EXPECT_EQ(DetectTimeShift(record, run2, kThreshold), "");
  record = NextClockRecord(record, run2);
  // Then back to the truth: 20h back, under the threshold.
  const ClockReading run3 = Reading(kWall + absl::Hours(2), absl::Hours(3), "boot-a");
  EXPECT_EQ(DetectTimeShift(record, run3, kThreshold), "");
  record = NextClockRecord(record, run3);
  EXPECT_EQ(record->highest_wall, kWall + absl::Hours(21));
  // Then 20h ahead again: measured from the last run, not from the highest.
  const ClockReading run4 = Reading(kWall + absl::Hours(23), absl::Hours(4), "boot-a");
  EXPECT_EQ(DetectTimeShift(record, run4, kThreshold), "");
  // Back more than the threshold below the highest ever seen trips, however it got there.
  const ClockReading run5 = Reading(kWall - absl::Hours(4), absl::Hours(5), "boot-a");
  EXPECT_THAT(DetectTimeShift(record, run5, kThreshold), HasSubstr("went back"));
}

// Current behaviour (reported as a suspected defect): the forward check compares each run with the
// previous run only, so a clock pushed ahead by a little less than the threshold at every run
// (every minute with the timer) drifts without bound within one boot and is never a shift.
TEST(NextClockRecordTest, CreepBelowTheThresholdAtEachRunIsNotDetected) {
  std::optional<ClockRecord> record;
  absl::Time wall = kWall;
  absl::Duration boottime = absl::Hours(1);
  std::vector<std::string> shifts;
  for (int run = 0; run < 30; ++run) {
    const ClockReading now = Reading(wall, boottime, "boot-a");
    const std::string shift = DetectTimeShift(record, now, kThreshold);
    if (!shift.empty()) shifts.push_back(shift);
    record = NextClockRecord(record, now);
    wall += absl::Hours(23) + absl::Minutes(1);  // the attacker's step, plus the minute
    boottime += absl::Minutes(1);
  }
  EXPECT_THAT(shifts, IsEmpty());
  EXPECT_GT(record->last.wall - kWall, absl::Hours(24 * 27)) << "weeks ahead in 30 minutes";
}

}  // namespace
}  // namespace xoi
