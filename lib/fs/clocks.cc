#include "lib/fs/clocks.h"

#include <fcntl.h>
#include <time.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "lib/fs/file_system.h"

namespace xoi {
namespace {

std::string ReadTrimmed(const char* path) {
  auto content = RealFileSystem().ReadSmallFile(AT_FDCWD, path, 256, path);
  return content.ok() ? std::string(absl::StripAsciiWhitespace(*content)) : "";
}

absl::Duration Clock(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return absl::DurationFromTimespec(ts);
}

}  // namespace

absl::Time WallClockNow() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return absl::TimeFromTimespec(ts);
}

ClockReading ReadClocks() {
  ClockReading now;
  now.wall = WallClockNow();
  now.boottime = Clock(CLOCK_BOOTTIME);
  now.boot_id = ReadTrimmed("/proc/sys/kernel/random/boot_id");
  int64_t rtc_seconds = 0;
  if (absl::SimpleAtoi(ReadTrimmed("/sys/class/rtc/rtc0/since_epoch"), &rtc_seconds) &&
      rtc_seconds > 0) {
    now.rtc = absl::FromUnixSeconds(rtc_seconds);
  }
  return now;
}

Stopwatch::Stopwatch() : start_(Clock(CLOCK_MONOTONIC)) {}

absl::Duration Stopwatch::Elapsed() const { return Clock(CLOCK_MONOTONIC) - start_; }

}  // namespace xoi
