// Reading the machine's clocks: the wall clock (what expiry is judged by, and what `faketime` moves
// in tests), the boot-time clock that only the kernel advances, the boot id and the hardware clock.
#ifndef XOI_LIB_FS_CLOCKS_H_
#define XOI_LIB_FS_CLOCKS_H_

#include "absl/time/time.h"
#include "lib/core/guards.h"

namespace xoi {

// clock_gettime(CLOCK_REALTIME).
absl::Time WallClockNow();

// Reads every clock now (the RTC only where /sys/class/rtc/rtc0 is readable).
ClockReading ReadClocks();

// Measures a run on the monotonic clock (which the wall-clock tests leave alone).
class Stopwatch {
 public:
  Stopwatch();
  absl::Duration Elapsed() const;

 private:
  absl::Duration start_;
};

}  // namespace xoi

#endif  // XOI_LIB_FS_CLOCKS_H_
