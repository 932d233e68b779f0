// The guards that hold lifts back: nothing is lifted while the wall clock cannot be trusted, nor
// when one run would lift an unusual share of a remote's protected items at once. Pure policy: the
// clock readings and their record come from lib/fs (clocks.h, state_dir.h).
//
// Time shift. Expiry is judged by this machine's wall clock alone, so whoever moves it (a rogue NTP
// server, a compromised hypervisor) could make every backup expire at once. Each run records the
// wall clock, the boot-time clock (which only the kernel advances) and the boot id, and compares
// with the last record: the wall clock moving more than the threshold further than the boot-time
// clock within one boot, disagreeing with the RTC by more than the threshold, or going back more
// than the threshold below the highest time ever recorded is a time shift. A shift is sticky:
// runs protect as usual but lift nothing until root clears it (`xo-immutable clear-time-shift`).
#ifndef XOI_LIB_CORE_GUARDS_H_
#define XOI_LIB_CORE_GUARDS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/core/plan.h"

namespace xoi {

// Turns every lift of `plan` into a wait whose reason says `why`; returns how many.
size_t HoldLifts(Plan* plan, absl::string_view why);

// The mass-lift guard: when `plan` would lift more than `max_fraction` of `protected_items` (and
// there are more than 100), holds every lift back and says why in plan->lifts_held.
void GuardMassLift(uint64_t protected_items, double max_fraction, Plan* plan);

struct ClockReading {
  absl::Time wall;
  absl::Duration boottime;  // CLOCK_BOOTTIME: time since boot, suspend included
  std::string boot_id;
  std::optional<absl::Time> rtc;  // the hardware clock, where it is readable
};

// What the previous runs recorded.
struct ClockRecord {
  ClockReading last;
  absl::Time highest_wall;  // the highest wall clock any run has seen
};

std::string EncodeClockRecord(const ClockRecord& record);
// nullopt for content that is not a clock record.
std::optional<ClockRecord> DecodeClockRecord(absl::string_view text);

// The reason `now` cannot be trusted given `record` (nullopt: first run), or "" when it can.
std::string DetectTimeShift(const std::optional<ClockRecord>& record, const ClockReading& now,
                            absl::Duration threshold);

// The record to keep after a run that read `now`.
ClockRecord NextClockRecord(const std::optional<ClockRecord>& record, const ClockReading& now);

}  // namespace xoi

#endif  // XOI_LIB_CORE_GUARDS_H_
