// Guards lifting against a wall clock that was moved.
//
// Expiry is judged by this machine's wall clock alone, so whoever moves it (a rogue NTP server, a
// compromised hypervisor) could make every backup expire at once. Each run records the wall clock,
// the boot-time clock (which only the kernel advances) and the boot id in <indexPath>/clock.json,
// and compares with the last record: the wall clock moving more than the threshold further than
// the boot-time clock within one boot, disagreeing with the RTC by more than the threshold, or
// going back more than the threshold below the highest time ever recorded is a time shift. A time
// shift writes the sticky marker <indexPath>/time-shift: from then on runs protect as usual but lift
// nothing, until root clears it (`xo-immutable clear-time-shift`).
#ifndef XOI_LIB_TIME_GUARD_H_
#define XOI_LIB_TIME_GUARD_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace xoi {

struct ClockReading {
  absl::Time wall;
  absl::Duration boottime;  // CLOCK_BOOTTIME: time since boot, suspend included
  std::string boot_id;
  std::optional<absl::Time> rtc;  // the hardware clock, where /sys/class/rtc/rtc0 is readable
};

// What the previous runs recorded.
struct ClockRecord {
  ClockReading last;
  absl::Time highest_wall;  // the highest wall clock any run has seen
};

// Reads the clocks now.
ClockReading ReadClocks();

// The reason `now` cannot be trusted given `record` (nullopt: first run), or "" when it can.
std::string DetectTimeShift(const std::optional<ClockRecord>& record, const ClockReading& now,
                            absl::Duration threshold);

class TimeGuard {
 public:
  // Reads <index_path>/clock.json and the marker (both may be missing).
  static absl::StatusOr<TimeGuard> Load(const std::string& index_path);

  // The reason lifting is suspended: the sticky marker's, or a shift detected now. "" when lifting
  // may go on.
  std::string Check(const ClockReading& now, absl::Duration threshold) const;

  // Records `now` (keeping the highest wall time seen) and, when `shift` is not empty, writes the
  // sticky marker if there is none yet. Atomic writes.
  absl::Status Record(const ClockReading& now, const std::string& shift) const;

  // Removes the marker and starts the record afresh from `now`.
  static absl::Status Clear(const std::string& index_path, const ClockReading& now);

  const std::string& marker_path() const { return marker_path_; }

 private:
  std::string index_path_;
  std::string marker_path_;
  std::optional<ClockRecord> record_;
  std::string marker_;  // the marker's content; empty when there is none
};

}  // namespace xoi

#endif  // XOI_LIB_TIME_GUARD_H_
