// The guards that hold lifts back: HoldLifts, the mass-lift guard, and the clock: JudgeClock (time
// shifts and the clock lag) with its record.
#include "lib/core/guards.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/core/facts.h"
#include "lib/core/plan.h"
#include "lib/testing/utc.h"

namespace xoi {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

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
    } else if (kinds[i] == ActionKind::kRemoveMarker) {
      // Duration 0 under a moved clock: XO is not told the remote is mutable while items stay
      // locked.
      EXPECT_EQ(a.kind, ActionKind::kWait);
      EXPECT_EQ(a.reason, "kept while lifts are held back: the wall clock moved");
    } else {
      EXPECT_EQ(a.kind, kinds[i]);
      EXPECT_EQ(a.reason, "original reason");
    }
  }
  EXPECT_THAT(plan.lifts_held, IsEmpty()) << "HoldLifts leaves lifts_held to its caller";
  EXPECT_TRUE(plan.warnings.empty());
}

TEST(HoldLiftsTest, WithNoLiftTheMarkerRemovalStays) {
  Plan plan;
  plan.actions.push_back(MakeAction(ActionKind::kRemoveMarker, "immutability.json"));
  EXPECT_EQ(HoldLifts(&plan, "the wall clock moved"), 0u);
  EXPECT_EQ(plan.actions[0].kind, ActionKind::kRemoveMarker);
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
  int lifts;       // of locked items
  int others = 3;  // protect, unindex, wait: never counted, never touched
  // Lifts of files whose flag an interrupted lift already cleared: held with the others, never
  // counted. Lifts of trees whose directory is mutable: counted (members may still be locked).
  int already_mutable_files = 0;
  int mutable_trees = 0;
  // Lifts beyond the run's budget, left for the next run (Plan::deferred_lifts): counted.
  uint64_t deferred_lifts = 0;
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
  auto add_lifts = [&](int n, bool immutable, bool tree) {
    for (int i = 0; i < n; ++i) {
      Action lift = MakeAction(ActionKind::kLift, "lift");
      lift.stat.immutable = immutable;
      lift.tree = tree;
      plan.actions.push_back(std::move(lift));
    }
  };
  add_lifts(c.lifts, /*immutable=*/true, /*tree=*/false);
  add_lifts(c.already_mutable_files, /*immutable=*/false, /*tree=*/false);
  add_lifts(c.mutable_trees, /*immutable=*/false, /*tree=*/true);
  const int all_lifts = c.lifts + c.already_mutable_files + c.mutable_trees;
  plan.deferred_lifts = c.deferred_lifts;

  GuardMassLift(c.protected_items, c.max_fraction, &plan);

  EXPECT_EQ(!plan.lifts_held.empty(), c.want_held) << plan.lifts_held;
  if (!c.held_text.empty()) {
    EXPECT_EQ(plan.lifts_held, c.held_text);
  }
  ASSERT_EQ(plan.actions.size(), static_cast<size_t>(all_lifts + c.others));
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
  EXPECT_EQ(lifts, c.want_held ? 0 : all_lifts);
  EXPECT_EQ(held, c.want_held ? all_lifts : 0);
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
      // Taken a budget at a time, a mass lift would pass in slices: the deferred ones count.
      {.name = "101 items, 0.5: 10 lifts and 41 deferred trip",
       .protected_items = 101,
       .lifts = 10,
       .deferred_lifts = 41,
       .want_held = true,
       .held_text = "mass-lift guard: 51 of 101 protected items would be lifted at once (more "
                    "than 50%); run with --allow-mass-lift if that is intended"},
      {.name = "101 items, 0.5: 10 lifts and 40 deferred pass",
       .protected_items = 101,
       .lifts = 10,
       .deferred_lifts = 40,
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
      // The percentage in the message is the fraction as set, not truncated to an int (0.29 * 100
      // is 28.999...: truncated, it read "more than 28%"; 0.005 read "0%").
      {.name = "fraction 0.29: the message says 29%",
       .protected_items = 1000,
       .max_fraction = 0.29,
       .lifts = 291,
       .want_held = true,
       .held_text = "mass-lift guard: 291 of 1000 protected items would be lifted at once (more "
                    "than 29%); run with --allow-mass-lift if that is intended"},
      {.name = "fraction 0.005: the message says 0.5%",
       .protected_items = 1000,
       .max_fraction = 0.005,
       .lifts = 6,
       .want_held = true,
       .held_text = "mass-lift guard: 6 of 1000 protected items would be lifted at once (more "
                    "than 0.5%); run with --allow-mass-lift if that is intended"},
      {.name = "fraction 0.005: 5 of 1000 pass",
       .protected_items = 1000,
       .max_fraction = 0.005,
       .lifts = 5,
       .want_held = false},
      {.name = "fraction 0.29: 290 pass",
       .protected_items = 1000,
       .max_fraction = 0.29,
       .lifts = 290,
       .want_held = false},
      // A lift killed half-way cleared 3250 of 6500 flags; the next run finishes those and lifts
      // the rest. Only the 3250 still locked count.
      {.name = "half of a killed lift finished: only the locked half counts",
       .protected_items = 6500,
       .lifts = 3250,
       .already_mutable_files = 3250,
       .want_held = false},
      {.name = "already mutable files are held with the rest when the locked ones trip",
       .protected_items = 6500,
       .lifts = 3251,
       .already_mutable_files = 3000,
       .want_held = true,
       .held_text = "mass-lift guard: 3251 of 6500 protected items would be lifted at once (more "
                    "than 50%); run with --allow-mass-lift if that is intended"},
      {.name = "a tree whose directory is mutable counts: its members may be locked",
       .protected_items = 200,
       .lifts = 100,
       .mutable_trees = 1,
       .want_held = true},
  };
  for (const MassCase& c : cases) RunMassCase(c);
}

// ---------------------------------------------------------------------------------------------
// JudgeClock

const absl::Time kWall = Utc(2026, 11, 20, 12);
const absl::Duration kThreshold = absl::Hours(24);

ClockReading Reading(absl::Time wall, absl::Duration boottime, std::string boot_id,
                     std::optional<absl::Time> rtc = std::nullopt) {
  return ClockReading{wall, boottime, std::move(boot_id), rtc};
}

// Boot "boot-a" started at kWall - 10h; its first run was at kWall - 9h (boot-time 1h), the last
// at kWall (boot-time 10h). Both clocks agree since: the wall clock is where the baseline puts it.
ClockRecord LastRun(absl::Time highest = kWall, absl::Time last_wall = kWall,
                    std::string boot_id = "boot-a") {
  return ClockRecord{Reading(last_wall, absl::Hours(10), std::move(boot_id)), highest,
                     kWall - absl::Hours(9), absl::Hours(1)};
}

struct ClockCase {
  std::string name;
  std::optional<ClockRecord> record = LastRun();
  ClockReading now;
  std::vector<std::string> want_has = {};  // empty: no shift
  absl::Duration want_lag = absl::ZeroDuration();
};

void RunClockCase(const ClockCase& c) {
  SCOPED_TRACE(c.name);
  const ClockVerdict got = JudgeClock(c.record, c.now, kThreshold);
  EXPECT_EQ(got.lag, c.want_lag) << got.lag << " vs " << c.want_lag;
  EXPECT_GE(got.lag, absl::ZeroDuration());
  if (c.want_has.empty()) {
    EXPECT_EQ(got.shift, "");
    return;
  }
  EXPECT_FALSE(got.shift.empty());
  for (const std::string& part : c.want_has) EXPECT_THAT(got.shift, HasSubstr(part));
}

TEST(JudgeClockTest, FirstRun) {
  const std::vector<ClockCase> cases = {
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
  for (const ClockCase& c : cases) RunClockCase(c);
}

TEST(JudgeClockTest, WithinOneBoot) {
  const std::vector<ClockCase> cases = {
      {.name = "an hour later on both clocks",
       .now = Reading(kWall + absl::Hours(1), absl::Hours(11), "boot-a")},
      {.name = "a month later on both clocks (uptime)",
       .now = Reading(kWall + absl::Hours(24 * 30), absl::Hours(10 + 24 * 30), "boot-a")},
      {.name = "a single 25h jump: shift",
       .now = Reading(kWall + absl::Hours(26), absl::Hours(11), "boot-a"),
       .want_has = {"the wall clock (2026-11-21T14:00:00Z) is 90000s ahead of where the boot-time "
                    "clock puts it since this boot's first run (2026-11-20T13:00:00Z); it moved, "
                    "in one step or several"}},
      {.name = "ahead by exactly the threshold: no shift",
       .now = Reading(kWall + absl::Hours(25), absl::Hours(11), "boot-a")},
      {.name = "ahead by the threshold + 1ns: shift",
       .now = Reading(kWall + absl::Hours(25) + absl::Nanoseconds(1), absl::Hours(11), "boot-a"),
       .want_has = {"ahead of"}},
      {.name = "measured against the boot's first run, not the last: 20h ahead already, 5h more",
       .record = LastRun(kWall + absl::Hours(20), kWall + absl::Hours(20)),
       .now = Reading(kWall + absl::Hours(26), absl::Hours(11), "boot-a"),
       .want_has = {"ahead of", "since this boot's first run"}},
      {.name = "20h ahead of the baseline in all: no shift",
       .record = LastRun(kWall + absl::Hours(10), kWall + absl::Hours(10)),
       .now = Reading(kWall + absl::Hours(21), absl::Hours(11), "boot-a")},
      {.name = "5h behind the baseline: no shift, a lag of 5h",
       .now = Reading(kWall + absl::Hours(1), absl::Hours(16), "boot-a"),
       .want_lag = absl::Hours(5)},
      {.name = "29h behind the baseline, yet above the highest: shift",
       .now = Reading(kWall + absl::Hours(1), absl::Hours(40), "boot-a"),
       .want_has = {"is 104400s behind where the boot-time clock puts it"},
       .want_lag = absl::Hours(29)},
      {.name = "behind by exactly the threshold: no shift",
       .now = Reading(kWall + absl::Hours(1), absl::Hours(35), "boot-a"),
       .want_lag = absl::Hours(24)},
      {.name = "a 20h step back: no shift, a lag of 20h",
       .now = Reading(kWall + absl::Hours(1) - absl::Hours(20), absl::Hours(11), "boot-a"),
       .want_lag = absl::Hours(20)},
      {.name = "a 25h step back: exactly the threshold below the highest, but 25h behind the "
               "baseline: shift",
       .now = Reading(kWall + absl::Hours(1) - absl::Hours(25), absl::Hours(11), "boot-a"),
       .want_has = {"is 90000s behind where the boot-time clock puts it"},
       .want_lag = absl::Hours(25)},
      {.name = "a 26h step back: shift (below the highest; reported first), a lag of 26h",
       .now = Reading(kWall + absl::Hours(1) - absl::Hours(26), absl::Hours(11), "boot-a"),
       .want_has = {"went back more than 1d below the highest time recorded "
                    "(2026-11-20T12:00:00Z)"},
       .want_lag = absl::Hours(26)},
      {.name = "the lag is the larger of the baseline's and the highest's",
       .record = LastRun(kWall + absl::Hours(22)),
       .now = Reading(kWall + absl::Hours(1) - absl::Hours(3), absl::Hours(11), "boot-a"),
       .want_lag = absl::Hours(24)},
      {.name = "a clock ahead has no lag",
       .now = Reading(kWall + absl::Hours(3), absl::Hours(11), "boot-a")},
  };
  for (const ClockCase& c : cases) RunClockCase(c);
}

TEST(JudgeClockTest, AcrossReboots) {
  const std::vector<ClockCase> cases = {
      {.name = "a 48h jump across a reboot (another boot id): no shift",
       .now = Reading(kWall + absl::Hours(48), absl::Hours(1), "boot-b")},
      {.name = "a clock 30 days ahead after a reboot: accepted",
       .now = Reading(kWall + absl::Hours(24 * 30), absl::Minutes(5), "boot-b")},
      {.name = "a clock 2 days behind the highest after a reboot: shift",
       .now = Reading(kWall - absl::Hours(48), absl::Minutes(5), "boot-b"),
       .want_has = {"went back more than 1d below the highest time recorded"},
       .want_lag = absl::Hours(48)},
      {.name = "20h behind the highest after a reboot: no shift, a lag of 20h",
       .now = Reading(kWall - absl::Hours(20), absl::Minutes(5), "boot-b"),
       .want_lag = absl::Hours(20)},
      {.name = "exactly the threshold behind the highest: no shift",
       .now = Reading(kWall - kThreshold, absl::Minutes(5), "boot-b"),
       .want_lag = kThreshold},
      {.name = "the threshold + 1ns behind the highest: shift",
       .now = Reading(kWall - kThreshold - absl::Nanoseconds(1), absl::Minutes(5), "boot-b"),
       .want_has = {"went back"},
       .want_lag = kThreshold + absl::Nanoseconds(1)},
      {.name = "the old boot's baseline plays no part: far behind it, above the highest",
       .record = LastRun(kWall + absl::Hours(1)),
       .now = Reading(kWall + absl::Hours(2), absl::Hours(500), "boot-b")},
      {.name = "the highest is remembered across boots",
       .record = LastRun(kWall + absl::Hours(40)),
       .now = Reading(kWall + absl::Hours(2), absl::Minutes(5), "boot-b"),
       .want_has = {"went back", "2026-11-22T04:00:00Z"},
       .want_lag = absl::Hours(38)},
  };
  for (const ClockCase& c : cases) RunClockCase(c);
}

TEST(JudgeClockTest, EmptyBootIds) {
  const std::vector<ClockCase> cases = {
      {.name = "no boot ids, the boot-time clock went on: one boot, the drift is measured",
       .record = LastRun(kWall, kWall, ""),
       .now = Reading(kWall + absl::Hours(48), absl::Hours(11), ""),
       .want_has = {"ahead of"}},
      {.name = "no boot ids, one boot, 5h behind: a lag of 5h",
       .record = LastRun(kWall, kWall, ""),
       .now = Reading(kWall + absl::Hours(1), absl::Hours(16), ""),
       .want_lag = absl::Hours(5)},
      {.name = "no boot ids, the boot-time clock went back: a reboot, 30 days ahead accepted",
       .record = LastRun(kWall, kWall, ""),
       .now = Reading(kWall + absl::Hours(24 * 30), absl::Minutes(5), "")},
      {.name = "no boot ids, a reboot, 2 days behind the highest: shift",
       .record = LastRun(kWall, kWall, ""),
       .now = Reading(kWall - absl::Hours(48), absl::Minutes(5), ""),
       .want_has = {"went back"},
       .want_lag = absl::Hours(48)},
      {.name = "no boot ids, the same boot-time: one boot",
       .record = LastRun(kWall, kWall, ""),
       .now = Reading(kWall + absl::Hours(26), absl::Hours(10), ""),
       .want_has = {"ahead of"}},
      // Current behaviour: a boot id on one side only means another boot.
      {.name = "a boot id now, none recorded: another boot",
       .record = LastRun(kWall, kWall, ""),
       .now = Reading(kWall + absl::Hours(48), absl::Hours(11), "boot-a")},
      {.name = "no boot id now, one recorded: another boot",
       .now = Reading(kWall + absl::Hours(48), absl::Hours(11), "")},
  };
  for (const ClockCase& c : cases) RunClockCase(c);
}

TEST(JudgeClockTest, HardwareClock) {
  const std::vector<ClockCase> cases = {
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
      {.name = "RTC and wall moved together within one boot: the boot-time clock catches it",
       .now = Reading(kWall + absl::Hours(48), absl::Hours(11), "boot-a", kWall + absl::Hours(48)),
       .want_has = {"ahead of"}},
      {.name = "RTC disagrees and the clock is behind: the RTC's reason, the lag still measured",
       .now = Reading(kWall - absl::Hours(2), absl::Hours(11), "boot-a", kWall + absl::Hours(30)),
       .want_has = {"disagrees with the hardware clock"},
       .want_lag = absl::Hours(3)},
  };
  for (const ClockCase& c : cases) RunClockCase(c);
}

// A sequence of runs, each judged against the record the previous ones left.
struct ClockRun {
  ClockReading reading;
  bool want_shift;
  absl::Duration want_lag = absl::ZeroDuration();
};

void RunSequence(const std::vector<ClockRun>& runs) {
  std::optional<ClockRecord> record;
  for (size_t i = 0; i < runs.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("run ", i));
    const ClockVerdict verdict = JudgeClock(record, runs[i].reading, kThreshold);
    EXPECT_EQ(!verdict.shift.empty(), runs[i].want_shift) << verdict.shift;
    EXPECT_EQ(verdict.lag, runs[i].want_lag);
    record = NextClockRecord(record, runs[i].reading);
  }
}

TEST(JudgeClockSequenceTest, ForwardCreepIsCaughtAtTheSecondStep) {
  // The attacker's NTP server moves the clock 20h ahead before each run (every minute): each step
  // stays under the threshold, the sum does not.
  std::vector<ClockRun> runs;
  for (int step = 0; step <= 8; ++step) {
    runs.push_back({Reading(kWall + step * (absl::Hours(20) + absl::Minutes(1)),
                            absl::Hours(1) + step * absl::Minutes(1), "boot-a"),
                    /*want_shift=*/step >= 2});
  }
  RunSequence(runs);
}

TEST(JudgeClockSequenceTest, BackwardCreepIsCaught) {
  std::vector<ClockRun> runs;
  for (int step = 0; step <= 3; ++step) {
    runs.push_back({Reading(kWall + step * (absl::Minutes(1) - absl::Hours(20)),
                            absl::Hours(1) + step * absl::Minutes(1), "boot-a"),
                    /*want_shift=*/step >= 2, step * absl::Hours(20)});
  }
  RunSequence(runs);
}

TEST(JudgeClockSequenceTest, StepBackThenCorrection) {
  RunSequence({
      {Reading(kWall, absl::Hours(1), "boot-a"), false},
      // 20h back: no shift, but the wall clock is known to be 20h behind.
      {Reading(kWall + absl::Hours(1) - absl::Hours(20), absl::Hours(2), "boot-a"), false,
       absl::Hours(20)},
      // NTP corrects it: no lag left.
      {Reading(kWall + absl::Hours(2), absl::Hours(3), "boot-a"), false},
      // Back again by 20h: judged against the baseline, not added to the first step.
      {Reading(kWall + absl::Hours(3) - absl::Hours(20), absl::Hours(4), "boot-a"), false,
       absl::Hours(20)},
      {Reading(kWall + absl::Hours(4), absl::Hours(5), "boot-a"), false},
  });
}

TEST(JudgeClockSequenceTest, ARebootStartsANewBaseline) {
  RunSequence({
      {Reading(kWall, absl::Hours(1), "boot-a"), false},
      {Reading(kWall + absl::Hours(1), absl::Hours(2), "boot-a"), false},
      // Off for a month: accepted, and the new baseline.
      {Reading(kWall + absl::Hours(24 * 30), absl::Minutes(2), "boot-b"), false},
      {Reading(kWall + absl::Hours(24 * 30 + 20), absl::Minutes(3), "boot-b"), false},
      {Reading(kWall + absl::Hours(24 * 30 + 40), absl::Minutes(4), "boot-b"), true},
  });
}

TEST(HasBaselineTest, OnlyARecordOfThisBootIsOne) {
  EXPECT_FALSE(HasBaseline(std::nullopt, Reading(kWall, absl::Hours(1), "boot-a")));
  EXPECT_TRUE(HasBaseline(LastRun(), Reading(kWall + absl::Hours(1), absl::Hours(11), "boot-a")));
  EXPECT_FALSE(HasBaseline(LastRun(), Reading(kWall + absl::Hours(1), absl::Minutes(2), "boot-b")))
      << "after a reboot the baseline is the next record's";
}

TEST(JudgeClockSequenceTest, ARebootWithEmptyBootIds) {
  RunSequence({
      {Reading(kWall, absl::Hours(5), ""), false},
      {Reading(kWall + absl::Hours(20), absl::Hours(5) + absl::Minutes(1), ""), false},
      // The boot-time clock went back: a reboot, a new baseline.
      {Reading(kWall + absl::Hours(40), absl::Minutes(1), ""), false},
      {Reading(kWall + absl::Hours(60), absl::Minutes(2), ""), false},
      {Reading(kWall + absl::Hours(80), absl::Minutes(3), ""), true},
  });
}

// ---------------------------------------------------------------------------------------------
// NextClockRecord

void ExpectSameRecord(const ClockRecord& got, const ClockRecord& want) {
  EXPECT_EQ(got.last.wall, want.last.wall);
  EXPECT_EQ(got.last.boottime, want.last.boottime);
  EXPECT_EQ(got.last.boot_id, want.last.boot_id);
  EXPECT_EQ(got.last.rtc, want.last.rtc);
  EXPECT_EQ(got.highest_wall, want.highest_wall);
  EXPECT_EQ(got.boot_wall, want.boot_wall);
  EXPECT_EQ(got.boot_boottime, want.boot_boottime);
}

TEST(NextClockRecordTest, Table) {
  const ClockReading same_boot = Reading(kWall + absl::Hours(1), absl::Hours(11), "boot-a",
                                         kWall + absl::Hours(1) + absl::Seconds(1));
  const ClockReading new_boot = Reading(kWall + absl::Hours(1), absl::Minutes(3), "boot-b");
  const ClockReading back = Reading(kWall - absl::Hours(100), absl::Hours(11), "boot-a");
  const struct {
    std::string name;
    std::optional<ClockRecord> record;
    ClockReading now;
    ClockRecord want;
  } cases[] = {
      {"first run: the reading is the highest and the baseline", std::nullopt, same_boot,
       ClockRecord{same_boot, same_boot.wall, same_boot.wall, same_boot.boottime}},
      {"same boot, later: the highest follows, the baseline is kept", LastRun(), same_boot,
       ClockRecord{same_boot, same_boot.wall, kWall - absl::Hours(9), absl::Hours(1)}},
      {"same boot, earlier than the highest: the highest and the baseline are kept",
       LastRun(kWall + absl::Hours(20)), same_boot,
       ClockRecord{same_boot, kWall + absl::Hours(20), kWall - absl::Hours(9), absl::Hours(1)}},
      {"same boot, the clock went back: the highest is kept", LastRun(), back,
       ClockRecord{back, kWall, kWall - absl::Hours(9), absl::Hours(1)}},
      {"a new boot: a new baseline", LastRun(), new_boot,
       ClockRecord{new_boot, new_boot.wall, new_boot.wall, new_boot.boottime}},
      {"a new boot below the highest: a new baseline, the highest kept",
       LastRun(kWall + absl::Hours(30)), new_boot,
       ClockRecord{new_boot, kWall + absl::Hours(30), new_boot.wall, new_boot.boottime}},
      {"no boot ids, boot-time went on: the baseline is kept", LastRun(kWall, kWall, ""),
       Reading(kWall + absl::Hours(1), absl::Hours(11), ""),
       ClockRecord{Reading(kWall + absl::Hours(1), absl::Hours(11), ""), kWall + absl::Hours(1),
                   kWall - absl::Hours(9), absl::Hours(1)}},
      {"no boot ids, boot-time went back: a new baseline", LastRun(kWall, kWall, ""),
       Reading(kWall + absl::Hours(1), absl::Hours(2), ""),
       ClockRecord{Reading(kWall + absl::Hours(1), absl::Hours(2), ""), kWall + absl::Hours(1),
                   kWall + absl::Hours(1), absl::Hours(2)}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectSameRecord(NextClockRecord(c.record, c.now), c.want);
  }
}

// ---------------------------------------------------------------------------------------------
// The clock record's text

TEST(ClockRecordTest, RoundTrip) {
  const std::vector<ClockRecord> records = {
      ClockRecord{Reading(kWall + absl::Nanoseconds(123456789), absl::Nanoseconds(987654321),
                          "6f1c0d3a-0b7e-4a3c-9d2e-5f8a7b6c5d4e"),
                  kWall + absl::Hours(3), kWall - absl::Hours(2), absl::Nanoseconds(5)},
      ClockRecord{Reading(kWall, absl::Hours(10), "boot-a", kWall - absl::Seconds(2)), kWall,
                  kWall - absl::Hours(9), absl::Hours(1)},
      ClockRecord{Reading(Utc(1969, 12, 31), absl::ZeroDuration(), ""), Utc(1969, 12, 31),
                  Utc(1969, 12, 30), absl::ZeroDuration()},
      ClockRecord{Reading(kWall, absl::Hours(1), "with \"quotes\" and \\ and \n"), kWall, kWall,
                  absl::Hours(1)},
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
      absl::FromUnixNanos(1795176000000000003), absl::FromUnixNanos(1795143600000000004),
      absl::Nanoseconds(3600000000005)};
  EXPECT_EQ(EncodeClockRecord(record),
            R"({"wall_ns":1795176000000000001,"boottime_ns":36000000000000,"boot_id":"boot-a",)"
            R"("rtc_ns":1795176000000000002,"highest_wall_ns":1795176000000000003,)"
            R"("boot_wall_ns":1795143600000000004,"boot_boottime_ns":3600000000005})"
            "\n");
  // The RTC is optional: without one, no key.
  ClockRecord no_rtc = record;
  no_rtc.last.rtc.reset();
  EXPECT_THAT(EncodeClockRecord(no_rtc), ::testing::Not(HasSubstr("rtc_ns")));
}

TEST(ClockRecordTest, OldFormatStartsTheBaselineAtItsLastReading) {
  const std::optional<ClockRecord> r = DecodeClockRecord(
      R"({"wall_ns":1795176000000000001,"boottime_ns":36000000000000,"boot_id":"boot-a",)"
      R"("highest_wall_ns":1795176000000000003})"
      "\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->last.wall, absl::FromUnixNanos(1795176000000000001));
  EXPECT_EQ(r->last.boottime, absl::Nanoseconds(36000000000000));
  EXPECT_EQ(r->last.boot_id, "boot-a");
  EXPECT_EQ(r->last.rtc, std::nullopt);
  EXPECT_EQ(r->highest_wall, absl::FromUnixNanos(1795176000000000003));
  EXPECT_EQ(r->boot_wall, absl::FromUnixNanos(1795176000000000001));
  EXPECT_EQ(r->boot_boottime, absl::Nanoseconds(36000000000000));
  // Judged from there: 20h ahead is no shift, 25h is.
  const ClockReading base = Reading(r->last.wall, r->last.boottime, "boot-a");
  const ClockReading plus20 =
      Reading(base.wall + absl::Hours(21), base.boottime + absl::Hours(1), "boot-a");
  const ClockReading plus25 =
      Reading(base.wall + absl::Hours(26), base.boottime + absl::Hours(1), "boot-a");
  EXPECT_EQ(JudgeClock(r, plus20, kThreshold).shift, "");
  EXPECT_THAT(JudgeClock(r, plus25, kThreshold).shift, HasSubstr("ahead of"));
  // And the record written after it has a baseline.
  EXPECT_THAT(EncodeClockRecord(NextClockRecord(r, plus20)), HasSubstr("boot_wall_ns"));
}

TEST(ClockRecordTest, HalfABaselineIsNotARecord) {
  // One of the two baseline fields without the other is no record this program wrote (it writes
  // both, or, in the old format, neither): the caller fails closed rather than pair it with the
  // last reading.
  EXPECT_EQ(DecodeClockRecord(R"({"wall_ns":100,"boottime_ns":20,"boot_id":"a",)"
                              R"("highest_wall_ns":300,"boot_wall_ns":7})"),
            std::nullopt);
  EXPECT_EQ(DecodeClockRecord(R"({"wall_ns":100,"boottime_ns":20,"boot_id":"a",)"
                              R"("highest_wall_ns":300,"boot_boottime_ns":7})"),
            std::nullopt);
  // Both, or neither: a record.
  const std::optional<ClockRecord> both =
      DecodeClockRecord(R"({"wall_ns":100,"boottime_ns":20,"boot_id":"a",)"
                        R"("highest_wall_ns":300,"boot_wall_ns":7,"boot_boottime_ns":8})");
  ASSERT_TRUE(both.has_value());
  EXPECT_EQ(both->boot_wall, absl::FromUnixNanos(7));
  EXPECT_EQ(both->boot_boottime, absl::Nanoseconds(8));
  const std::optional<ClockRecord> neither =
      DecodeClockRecord(R"({"wall_ns":100,"boottime_ns":20,"boot_id":"a","highest_wall_ns":300})");
  ASSERT_TRUE(neither.has_value());
  EXPECT_EQ(neither->boot_wall, absl::FromUnixNanos(100));
  EXPECT_EQ(neither->boot_boottime, absl::Nanoseconds(20));
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
      // A baseline field present but not an integer.
      R"({"wall_ns":1,"boottime_ns":2,"boot_id":"a","highest_wall_ns":3,"boot_wall_ns":"4",)"
      R"("boot_boottime_ns":5})",
      R"({"wall_ns":1,"boottime_ns":2,"boot_id":"a","highest_wall_ns":3,"boot_wall_ns":4,)"
      R"("boot_boottime_ns":5.5})",
      R"({"wall_ns":1,"boottime_ns":2,"boot_id":"a","highest_wall_ns":3,"boot_wall_ns":null,)"
      R"("boot_boottime_ns":5})",
      R"({"wall_ns":1,"boottime_ns":2,"boot_id":"a","highest_wall_ns":3,"boot_wall_ns":4,)"
      R"("boot_boottime_ns":18446744073709551615})",
      // Trailing garbage.
      R"({"wall_ns":1,"boottime_ns":2,"boot_id":"a","highest_wall_ns":3} x)",
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

}  // namespace
}  // namespace xoi
