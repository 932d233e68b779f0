#include "lib/core/guards.h"

#include <algorithm>
#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "lib/core/duration.h"
#include "lib/core/iso_time.h"

namespace xoi {
namespace {

namespace json = boost::json;

constexpr uint64_t kMassLiftMinimum = 100;

}  // namespace

size_t HoldLifts(Plan* plan, absl::string_view why) {
  size_t held = 0;
  for (Action& action : plan->actions) {
    if (action.kind != ActionKind::kLift) continue;
    action.kind = ActionKind::kWait;
    action.reason = absl::StrCat("lift held back: ", why);
    ++held;
  }
  return held;
}

void GuardMassLift(uint64_t protected_items, double max_fraction, Plan* plan) {
  const auto lifts = static_cast<uint64_t>(
      std::count_if(plan->actions.begin(), plan->actions.end(),
                    [](const Action& a) { return a.kind == ActionKind::kLift; }));
  if (protected_items <= kMassLiftMinimum || lifts <= max_fraction * protected_items) return;
  plan->lifts_held = absl::StrCat("mass-lift guard: ", lifts, " of ", protected_items,
                                  " protected items would be lifted at once (more than ",
                                  static_cast<int>(max_fraction * 100),
                                  "%); run with --allow-mass-lift if that is intended");
  HoldLifts(plan, plan->lifts_held);
}

std::string EncodeClockRecord(const ClockRecord& r) {
  json::object o;
  o["wall_ns"] = absl::ToUnixNanos(r.last.wall);
  o["boottime_ns"] = absl::ToInt64Nanoseconds(r.last.boottime);
  o["boot_id"] = r.last.boot_id;
  if (r.last.rtc) o["rtc_ns"] = absl::ToUnixNanos(*r.last.rtc);
  o["highest_wall_ns"] = absl::ToUnixNanos(r.highest_wall);
  return json::serialize(o) + "\n";
}

std::optional<ClockRecord> DecodeClockRecord(absl::string_view text) {
  boost::system::error_code ec;
  const json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
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

std::string DetectTimeShift(const std::optional<ClockRecord>& record, const ClockReading& now,
                            absl::Duration threshold) {
  if (now.rtc && absl::AbsDuration(now.wall - *now.rtc) > threshold) {
    return absl::StrCat("the wall clock (", IsoTime(now.wall),
                        ") disagrees with the hardware clock (", IsoTime(*now.rtc),
                        ") by more than ", DurationText(threshold));
  }
  if (!record) return "";
  if (now.wall < record->highest_wall - threshold) {
    return absl::StrCat("the wall clock (", IsoTime(now.wall), ") went back more than ",
                        DurationText(threshold), " below the highest time recorded (",
                        IsoTime(record->highest_wall), ")");
  }
  if (!now.boot_id.empty() && now.boot_id == record->last.boot_id) {
    const absl::Duration wall_moved = now.wall - record->last.wall;
    const absl::Duration boot_moved = now.boottime - record->last.boottime;
    if (wall_moved - boot_moved > threshold) {
      const auto seconds = [](absl::Duration d) {
        return absl::StrCat(absl::ToInt64Seconds(d), "s");
      };
      return absl::StrCat("the wall clock moved ", seconds(wall_moved), " since the last run (",
                          IsoTime(record->last.wall), ") but the boot-time clock only ",
                          seconds(boot_moved));
    }
  }
  return "";
}

ClockRecord NextClockRecord(const std::optional<ClockRecord>& record, const ClockReading& now) {
  ClockRecord next;
  next.last = now;
  next.highest_wall = record ? std::max(record->highest_wall, now.wall) : now.wall;
  return next;
}

}  // namespace xoi
