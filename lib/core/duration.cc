#include "lib/core/duration.h"

#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/numeric/int128.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace xoi {
namespace {

struct Unit {
  absl::string_view names[5];
  absl::Duration size;
};

// Unit names `ms` understands, case-insensitively.
const Unit kUnits[] = {
    {{"ms", "msec", "msecs", "millisecond", "milliseconds"}, absl::Milliseconds(1)},
    {{"s", "sec", "secs", "second", "seconds"}, absl::Seconds(1)},
    {{"m", "min", "mins", "minute", "minutes"}, absl::Minutes(1)},
    {{"h", "hr", "hrs", "hour", "hours"}, absl::Hours(1)},
    {{"d", "day", "days", "", ""}, absl::Hours(24)},
    {{"w", "week", "weeks", "", ""}, absl::Hours(24 * 7)},
    // A Julian year, as `ms` has it: "1y" in XO's config.toml is 365.25 days.
    {{"y", "yr", "yrs", "year", "years"}, absl::Hours(24 * 365 + 6)},
};

const Unit* FindUnit(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (const Unit& unit : kUnits) {
    for (absl::string_view n : unit.names) {
      if (!n.empty() && n == lower) return &unit;
    }
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text) {
  const absl::string_view s = absl::StripAsciiWhitespace(text);
  size_t i = 0;
  while (i < s.size() && (absl::ascii_isdigit(s[i]) || s[i] == '.')) ++i;
  const std::string number(s.substr(0, i));
  if (number.empty() || number == "." || number.find('.') != number.rfind('.')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\" is not a duration (expected a number and a unit, e.g. \"14d\", \"36h\", ",
        "\"90m\", \"10s\")"));
  }
  const double value = std::strtod(number.c_str(), nullptr);
  const absl::string_view unit_name = absl::StripAsciiWhitespace(s.substr(i));
  absl::Duration unit = absl::Milliseconds(1);  // `ms` reads a bare number as milliseconds
  if (!unit_name.empty()) {
    const Unit* found = FindUnit(unit_name);
    if (found == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" has an unknown unit \"",
                                                     unit_name, "\" (use ms, s, m, h, d, w or y)"));
    }
    unit = found->size;
  }
  const absl::Duration d = value * unit;
  if (!std::isfinite(value) || d == absl::InfiniteDuration() || d > absl::Hours(24 * 365 * 100)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is too long a duration"));
  }
  // The value itself in exact decimal arithmetic (every unit is a whole number of milliseconds):
  // `value * unit` in binary floating point comes out a fraction of a microsecond short for some
  // fractions ("16.08d"), which truncation turned into one millisecond less.
  const size_t dot = number.find('.');
  int64_t whole = 0;
  if (dot != 0) (void)absl::SimpleAtoi(number.substr(0, dot), &whole);  // in range: checked above
  const std::string fraction = dot == std::string::npos ? "" : number.substr(dot + 1, 18);
  int64_t numerator = 0;
  absl::int128 denominator = 1;
  if (!fraction.empty()) (void)absl::SimpleAtoi(fraction, &numerator);
  for (size_t k = 0; k < fraction.size(); ++k) denominator *= 10;
  const int64_t unit_ms = absl::ToInt64Milliseconds(unit);
  return absl::Milliseconds(whole * unit_ms +
                            static_cast<int64_t>(absl::int128(numerator) * unit_ms / denominator));
}

std::string DurationText(absl::Duration d) {
  if (d == absl::ZeroDuration()) return "0";
  static const std::pair<absl::string_view, absl::Duration> kLargestFirst[] = {
      {"d", absl::Hours(24)},  {"h", absl::Hours(1)},         {"m", absl::Minutes(1)},
      {"s", absl::Seconds(1)}, {"ms", absl::Milliseconds(1)},
  };
  for (const auto& [name, size] : kLargestFirst) {
    absl::Duration rest;
    const int64_t count = absl::IDivDuration(d, size, &rest);
    if (rest == absl::ZeroDuration()) return absl::StrCat(count, name);
  }
  return absl::StrCat(absl::ToInt64Milliseconds(d), "ms");
}

}  // namespace xoi
