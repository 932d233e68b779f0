#include "lib/time_guard.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lib/duration.h"
#include "lib/fs.h"
#include "lib/status.h"

namespace xoi {
namespace {

namespace json = boost::json;

constexpr char kRecordName[] = "clock.json";
constexpr char kMarkerName[] = "time-shift";

std::string Iso(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string ReadTrimmed(const char* path) {
  auto content = ReadSmallFile(AT_FDCWD, path, 256, path);
  return content.ok() ? std::string(absl::StripAsciiWhitespace(*content)) : "";
}

std::string Encode(const ClockRecord& r) {
  json::object o;
  o["wall_ns"] = absl::ToUnixNanos(r.last.wall);
  o["boottime_ns"] = absl::ToInt64Nanoseconds(r.last.boottime);
  o["boot_id"] = r.last.boot_id;
  if (r.last.rtc) o["rtc_ns"] = absl::ToUnixNanos(*r.last.rtc);
  o["highest_wall_ns"] = absl::ToUnixNanos(r.highest_wall);
  return json::serialize(o) + "\n";
}

std::optional<ClockRecord> Decode(const std::string& text) {
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.get_object();
  auto number = [&](const char* key) -> std::optional<int64_t> {
    const json::value* n = o.if_contains(key);
    if (n == nullptr || !n->is_int64()) return std::nullopt;
    return n->get_int64();
  };
  const json::value* boot_id = o.if_contains("boot_id");
  if (!number("wall_ns") || !number("boottime_ns") || !number("highest_wall_ns") || !boot_id ||
      !boot_id->is_string()) {
    return std::nullopt;
  }
  ClockRecord r;
  r.last.wall = absl::FromUnixNanos(*number("wall_ns"));
  r.last.boottime = absl::Nanoseconds(*number("boottime_ns"));
  r.last.boot_id = std::string(boot_id->get_string());
  if (auto rtc = number("rtc_ns")) r.last.rtc = absl::FromUnixNanos(*rtc);
  r.highest_wall = absl::FromUnixNanos(*number("highest_wall_ns"));
  return r;
}

// The clock record is rewritten every run: atomic (a kill leaves the old or the new one) but not
// fsync'ed, since losing the last record to a power cut only makes the next check more lenient
// for one run. The sticky marker is made durable.
absl::Status WriteIn(const std::string& dir, const char* name, const std::string& content,
                     bool sync) {
  Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(errno, "open", dir);
  return WriteFileAtomic(fd.get(), name, content, 0600, sync, absl::StrCat(dir, "/", name));
}

}  // namespace

ClockReading ReadClocks() {
  ClockReading now;
  now.wall = WallClockNow();
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  now.boottime = absl::DurationFromTimespec(ts);
  now.boot_id = ReadTrimmed("/proc/sys/kernel/random/boot_id");
  int64_t rtc_seconds = 0;
  if (absl::SimpleAtoi(ReadTrimmed("/sys/class/rtc/rtc0/since_epoch"), &rtc_seconds) &&
      rtc_seconds > 0) {
    now.rtc = absl::FromUnixSeconds(rtc_seconds);
  }
  return now;
}

std::string DetectTimeShift(const std::optional<ClockRecord>& record, const ClockReading& now,
                            absl::Duration threshold) {
  if (now.rtc && absl::AbsDuration(now.wall - *now.rtc) > threshold) {
    return absl::StrCat("the wall clock (", Iso(now.wall), ") disagrees with the hardware clock (",
                        Iso(*now.rtc), ") by more than ", DurationText(threshold));
  }
  if (!record) return "";
  if (now.wall < record->highest_wall - threshold) {
    return absl::StrCat("the wall clock (", Iso(now.wall), ") went back more than ",
                        DurationText(threshold), " below the highest time recorded (",
                        Iso(record->highest_wall), ")");
  }
  if (!now.boot_id.empty() && now.boot_id == record->last.boot_id) {
    const absl::Duration wall_moved = now.wall - record->last.wall;
    const absl::Duration boot_moved = now.boottime - record->last.boottime;
    if (wall_moved - boot_moved > threshold) {
      const auto seconds = [](absl::Duration d) {
        return absl::StrCat(absl::ToInt64Seconds(d), "s");
      };
      return absl::StrCat("the wall clock moved ", seconds(wall_moved), " since the last run (",
                          Iso(record->last.wall), ") but the boot-time clock only ",
                          seconds(boot_moved));
    }
  }
  return "";
}

absl::StatusOr<TimeGuard> TimeGuard::Load(const std::string& index_path) {
  TimeGuard guard;
  guard.index_path_ = index_path;
  guard.marker_path_ = absl::StrCat(index_path, "/", kMarkerName);
  const std::string record_path = absl::StrCat(index_path, "/", kRecordName);
  auto record = ReadSmallFile(AT_FDCWD, record_path.c_str(), 4096, record_path);
  if (record.ok()) {
    guard.record_ = Decode(*record);
  } else if (ErrnoOf(record.status()) != ENOENT) {
    return record.status();
  }
  auto marker = ReadSmallFile(AT_FDCWD, guard.marker_path_.c_str(), size_t{64} << 10, guard.marker_path_);
  if (marker.ok()) {
    guard.marker_ = marker->empty() ? std::string("time shift recorded") : *marker;
  } else if (ErrnoOf(marker.status()) != ENOENT) {
    return marker.status();
  }
  return guard;
}

std::string TimeGuard::Check(const ClockReading& now, absl::Duration threshold) const {
  if (!marker_.empty()) {
    return absl::StrCat(absl::StripTrailingAsciiWhitespace(marker_), " (recorded in ",
                        marker_path_, ")");
  }
  return DetectTimeShift(record_, now, threshold);
}

absl::Status TimeGuard::Record(const ClockReading& now, const std::string& shift) const {
  if (!shift.empty() && marker_.empty()) {
    XOI_RETURN_IF_ERROR(WriteIn(index_path_, kMarkerName,
                                absl::StrCat("time shift detected at ", Iso(now.wall), ": ",
                                             shift, "\n"),
                                /*sync=*/true));
  }
  ClockRecord next;
  next.last = now;
  next.highest_wall = record_ ? std::max(record_->highest_wall, now.wall) : now.wall;
  return WriteIn(index_path_, kRecordName, Encode(next), /*sync=*/false);
}

absl::Status TimeGuard::Clear(const std::string& index_path, const ClockReading& now) {
  const std::string marker = absl::StrCat(index_path, "/", kMarkerName);
  if (unlink(marker.c_str()) != 0 && errno != ENOENT) return ErrnoError(errno, "remove", marker);
  ClockRecord fresh{now, now.wall};
  return WriteIn(index_path, kRecordName, Encode(fresh), /*sync=*/true);
}

}  // namespace xoi
