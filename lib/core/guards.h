// The guards that hold lifts back, and the clock they judge by. Pure policy: the clock readings and
// their record come from lib/fs (clocks.h, state_dir.h).
//
// Mass lift. One run never lifts more than a set share of a remote's protected items (as the index
// counts them, which a writer cannot shrink by hiding folders from the walk, or as the walk finds
// them locked where that is more: an index that lost a day) without --allow-mass-lift.
//
// Time shift. Expiry is judged by this machine's wall clock, so whoever moves it (a rogue NTP
// server, a compromised hypervisor) could make every backup expire at once. Within one boot the
// offset between the wall clock and the boot-time clock (which only the kernel advances) is fixed,
// so each run measures the wall clock against the first record of this boot: a drift of more than
// the threshold, however small each step was, is a time shift. Across a reboot the boot-time clock
// starts again and no drift can be measured: the wall clock may then not go back more than the
// threshold below the highest time ever recorded, and a new baseline starts (a machine can be off
// for any time, so a forward jump across a reboot is accepted). A wall clock that disagrees with
// the RTC by more than the threshold is a shift too. A shift is sticky: runs protect as usual but
// lift nothing until root clears it (`xo-immutable clear-time-shift`).
//
// Clock lag. A wall clock that is behind (stepped back by less than the threshold, or not yet
// corrected after a reboot) would make files written meanwhile look older than they are, and so
// expire early. The lag, how far the wall clock is behind what the records prove it must at least
// be, is added to the times an item's expiry counts from.
#ifndef XOI_LIB_CORE_GUARDS_H_
#define XOI_LIB_CORE_GUARDS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/core/plan.h"

namespace xoi {

// Turns every lift of `plan` into a wait whose reason says `why`, and when there was one, the
// removal of immutability.json too; returns how many lifts.
size_t HoldLifts(Plan* plan, absl::string_view why);

// The mass-lift guard: when `plan` would unlock more than `max_fraction` of the remote's
// `protected_items` (when there are more than 100), holds every lift back and says why in
// plan->lifts_held. Lifts of files already mutable (an interrupted lift's) unlock nothing and are
// not counted.
void GuardMassLift(uint64_t protected_items, double max_fraction, Plan* plan);

struct ClockReading {
  absl::Time wall;
  absl::Duration boottime;  // CLOCK_BOOTTIME: time since boot, suspend included
  std::string boot_id;
  std::optional<absl::Time> rtc;  // the hardware clock, where it is readable
};

// What the previous runs recorded.
struct ClockRecord {
  ClockReading last;        // the last run's reading
  absl::Time highest_wall;  // the highest wall clock any run has seen
  // The first reading of the boot `last` belongs to: the baseline drift is measured against.
  absl::Time boot_wall;
  absl::Duration boot_boottime;
};

std::string EncodeClockRecord(const ClockRecord& record);
// nullopt for content that is not a complete clock record (a caller must then fail closed).
std::optional<ClockRecord> DecodeClockRecord(absl::string_view text);

struct ClockVerdict {
  std::string shift;   // non-empty: the wall clock cannot be trusted, and why
  absl::Duration lag;  // how far the wall clock is behind what the record proves (never negative)
};

// Judges the clock reading `now` against `record` (nullopt: the first run ever).
ClockVerdict JudgeClock(const std::optional<ClockRecord>& record, const ClockReading& now,
                        absl::Duration threshold);

// Whether `record` holds a baseline for the boot `now` belongs to, so that a drift of the wall
// clock in this boot can be measured. Without one (after a reboot, or on the first run), the run
// starts it: a run that then cannot record the clocks must lift nothing, or every later run of
// the boot would start again and accept any forward jump.
bool HasBaseline(const std::optional<ClockRecord>& record, const ClockReading& now);

// The record to keep after a run that read `now`: a new boot starts a new baseline.
ClockRecord NextClockRecord(const std::optional<ClockRecord>& record, const ClockReading& now);

}  // namespace xoi

#endif  // XOI_LIB_CORE_GUARDS_H_
