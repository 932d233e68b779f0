#include "lib/core/expiry.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"

namespace xoi {

absl::CivilDay CreationDay(absl::Time birth) {
  return absl::ToCivilDay(birth, absl::UTCTimeZone());
}

absl::Time ExpiresAt(absl::CivilDay day, absl::Duration duration) {
  return absl::FromCivil(day + 1, absl::UTCTimeZone()) + duration;
}

bool IsExpired(absl::CivilDay day, absl::Duration duration, absl::Time now) {
  return duration == absl::ZeroDuration() || now >= ExpiresAt(day, duration);
}

std::string FormatDay(absl::CivilDay day) {
  // By hand: this runs for every item of every run, and StrFormat costs more than the rest.
  const int64_t year = day.year();
  if (year < 0 || year > 9999) {
    return absl::StrFormat("%04d-%02d-%02d", year, day.month(), day.day());
  }
  std::string out = "0000-00-00";
  const auto put = [&](size_t at, int64_t value, int digits) {
    for (int i = digits - 1; i >= 0; --i, value /= 10)
      out[at + i] = static_cast<char>('0' + value % 10);
  };
  put(0, year, 4);
  put(5, day.month(), 2);
  put(8, day.day(), 2);
  return out;
}

std::optional<absl::CivilDay> ParseDay(absl::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!absl::ascii_isdigit(text[i])) return std::nullopt;
  }
  auto number = [&](size_t from, size_t len) {
    int n = 0;
    for (size_t i = from; i < from + len; ++i) n = n * 10 + (text[i] - '0');
    return n;
  };
  const absl::CivilDay day(number(0, 4), number(5, 2), number(8, 2));
  // CivilDay normalises 2026-02-30 to 2026-03-02: a real date survives the round trip.
  if (FormatDay(day) != text) return std::nullopt;
  return day;
}

}  // namespace xoi
