#include "lib/core/guards.h"

#include <algorithm>
#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/core/duration.h"
#include "lib/core/iso_time.h"

namespace xoi {
namespace {

namespace json = boost::json;

constexpr uint64_t kMassLiftMinimum = 100;

// Both readings belong to one boot: the same boot id or, where /proc gives none, a boot-time clock
// that did not go back.
bool SameBoot(const ClockReading& last, const ClockReading& now) {
  if (!now.boot_id.empty() || !last.boot_id.empty()) return now.boot_id == last.boot_id;
  return now.boottime >= last.boottime;
}

std::string Seconds(absl::Duration d) { return absl::StrCat(absl::ToInt64Seconds(d), "s"); }

}  // namespace

size_t HoldLifts(Plan* plan, absl::string_view why) {
  size_t held = 0;
  for (Action& action : plan->actions) {
    if (action.kind != ActionKind::kLift) continue;
    action.kind = ActionKind::kWait;
    action.reason = absl::StrCat("lift held back: ", why);
    ++held;
  }
  if (held == 0) return 0;
  // XO must not be told the remote is mutable (immutability.json removed, duration 0) while what
  // was held back is still locked.
  for (Action& action : plan->actions) {
    if (action.kind != ActionKind::kRemoveMarker) continue;
    action.kind = ActionKind::kWait;
    action.reason = absl::StrCat("kept while lifts are held back: ", why);
  }
  return held;
}

void GuardMassLift(uint64_t protected_items, double max_fraction, Plan* plan) {
  // A file whose flag is already clear (a lift killed between clearing it and dropping its
  // record) unlocks nothing: counting it would hold a remote hostage to its own interrupted run.
  // Lifts left for the next run count too: deferred, they would otherwise pass a few at a time.
  const auto lifts = static_cast<uint64_t>(std::count_if(plan->actions.begin(), plan->actions.end(),
                                                         UnlocksSomething)) +
                     plan->deferred_lifts;
  if (protected_items <= kMassLiftMinimum || lifts <= max_fraction * protected_items) return;
  plan->lifts_held = absl::StrCat("mass-lift guard: ", lifts, " of ", protected_items,
                                  " protected items would be lifted at once (more than ",
                                  absl::StrFormat("%g", max_fraction * 100),
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
  o["boot_wall_ns"] = absl::ToUnixNanos(r.boot_wall);
  o["boot_boottime_ns"] = absl::ToInt64Nanoseconds(r.boot_boottime);
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
  const std::optional<int64_t> wall = number("wall_ns"), boottime = number("boottime_ns"),
                               highest = number("highest_wall_ns"),
                               boot_wall = number("boot_wall_ns"),
                               boot_boottime = number("boot_boottime_ns");
  if (!wall || !boottime || !highest || boot_id == nullptr || !boot_id->is_string() ||
      (o.contains("boot_wall_ns") && !boot_wall) ||
      (o.contains("boot_boottime_ns") && !boot_boottime) ||
      o.contains("boot_wall_ns") != o.contains("boot_boottime_ns")) {
    return std::nullopt;
  }
  ClockRecord r;
  r.last.wall = absl::FromUnixNanos(*wall);
  r.last.boottime = absl::Nanoseconds(*boottime);
  r.last.boot_id = std::string(boot_id->get_string());
  if (auto rtc = number("rtc_ns")) r.last.rtc = absl::FromUnixNanos(*rtc);
  r.highest_wall = absl::FromUnixNanos(*highest);
  // Records of version 0.1 have no baseline: the last run's reading starts one.
  r.boot_wall = absl::FromUnixNanos(boot_wall.value_or(*wall));
  r.boot_boottime = absl::Nanoseconds(boot_boottime.value_or(*boottime));
  return r;
}

ClockVerdict JudgeClock(const std::optional<ClockRecord>& record, const ClockReading& now,
                        absl::Duration threshold) {
  ClockVerdict verdict;
  if (now.rtc && absl::AbsDuration(now.wall - *now.rtc) > threshold) {
    verdict.shift =
        absl::StrCat("the wall clock (", IsoTime(now.wall), ") disagrees with the hardware clock (",
                     IsoTime(*now.rtc), ") by more than ", DurationText(threshold));
  }
  if (!record) return verdict;
  // The wall clock cannot be earlier than the highest time any run saw.
  verdict.lag = std::max(absl::ZeroDuration(), record->highest_wall - now.wall);
  if (verdict.shift.empty() && now.wall < record->highest_wall - threshold) {
    verdict.shift = absl::StrCat("the wall clock (", IsoTime(now.wall), ") went back more than ",
                                 DurationText(threshold), " below the highest time recorded (",
                                 IsoTime(record->highest_wall), ")");
  }
  if (SameBoot(record->last, now)) {
    // Where this boot's baseline says the wall clock must be now.
    const absl::Time expected = record->boot_wall + (now.boottime - record->boot_boottime);
    const absl::Duration drift = now.wall - expected;
    verdict.lag = std::max(verdict.lag, -drift);
    if (verdict.shift.empty() && absl::AbsDuration(drift) > threshold) {
      verdict.shift = absl::StrCat(
          "the wall clock (", IsoTime(now.wall), ") is ", Seconds(absl::AbsDuration(drift)),
          drift > absl::ZeroDuration() ? " ahead of" : " behind",
          " where the boot-time clock puts it since this boot's first run (", IsoTime(expected),
          "); it moved, in one step or several");
    }
  }
  return verdict;
}

bool HasBaseline(const std::optional<ClockRecord>& record, const ClockReading& now) {
  return record && SameBoot(record->last, now);
}

ClockRecord NextClockRecord(const std::optional<ClockRecord>& record, const ClockReading& now) {
  ClockRecord next;
  next.last = now;
  next.highest_wall = record ? std::max(record->highest_wall, now.wall) : now.wall;
  if (record && SameBoot(record->last, now)) {
    next.boot_wall = record->boot_wall;
    next.boot_boottime = record->boot_boottime;
  } else {
    next.boot_wall = now.wall;
    next.boot_boottime = now.boottime;
  }
  return next;
}

}  // namespace xoi
