#include "lib/core/duration.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace xoi {
namespace {

using ::testing::HasSubstr;

struct ParseCase {
  std::string text;
  absl::Duration want;
};

TEST(ParseDurationTest, AcceptsMsStyleSpellings) {
  const std::vector<ParseCase> cases = {
      // XO's usual spellings.
      {"14d", absl::Hours(14 * 24)},
      {"36h", absl::Hours(36)},
      {"90m", absl::Minutes(90)},
      {"10s", absl::Seconds(10)},
      {"500ms", absl::Milliseconds(500)},
      {"2w", absl::Hours(14 * 24)},
      {"1d", absl::Hours(24)},
      // Spaces and long unit names.
      {"7 days", absl::Hours(7 * 24)},
      {"7 day", absl::Hours(7 * 24)},
      {"1 week", absl::Hours(7 * 24)},
      {"3 weeks", absl::Hours(21 * 24)},
      // Years, which XO's config.toml may hold: `ms` counts 365.25 days.
      {"1y", absl::Hours(365 * 24 + 6)},
      {"1 year", absl::Hours(365 * 24 + 6)},
      {"2 years", absl::Hours(2 * (365 * 24 + 6))},
      {"1 yr", absl::Hours(365 * 24 + 6)},
      {"0.5yrs", absl::Hours((365 * 24 + 6) / 2)},
      {"2 hours", absl::Hours(2)},
      {"1 hr", absl::Hours(1)},
      {"5 hrs", absl::Hours(5)},
      {"30 minutes", absl::Minutes(30)},
      {"1 min", absl::Minutes(1)},
      {"2 mins", absl::Minutes(2)},
      {"1 minute", absl::Minutes(1)},
      {"45 seconds", absl::Seconds(45)},
      {"1 sec", absl::Seconds(1)},
      {"3 secs", absl::Seconds(3)},
      {"1 second", absl::Seconds(1)},
      {"250 milliseconds", absl::Milliseconds(250)},
      {"1 millisecond", absl::Milliseconds(1)},
      {"7 msec", absl::Milliseconds(7)},
      {"8 msecs", absl::Milliseconds(8)},
      // Units are case-insensitive; surrounding whitespace is ignored.
      {"14D", absl::Hours(14 * 24)},
      {"2 Hours", absl::Hours(2)},
      {"500MS", absl::Milliseconds(500)},
      {"  14d  ", absl::Hours(14 * 24)},
      {"\t36h\n", absl::Hours(36)},
      {"7   days", absl::Hours(7 * 24)},
      // Fractions.
      {"1.5h", absl::Minutes(90)},
      {"0.5d", absl::Hours(12)},
      {".5h", absl::Minutes(30)},
      {"2.5s", absl::Milliseconds(2500)},
      {"1.5 days", absl::Hours(36)},
      {"1.1h", absl::Minutes(66)},
      {"0.1s", absl::Milliseconds(100)},
      {"0.3h", absl::Minutes(18)},
      {"2.3d", absl::Minutes(3312)},
      {"0.7s", absl::Milliseconds(700)},
      {"1.001s", absl::Milliseconds(1001)},
      {"16.08d", absl::Seconds(1389312)},
      {"5.", absl::Milliseconds(5)},
      {"1.000000000000000000000001h", absl::Hours(1)},
      {"0.99999999999999999999999s", absl::Milliseconds(999)},
      {"0.0000001w", absl::Milliseconds(60)},
      {"0.000000001w", absl::ZeroDuration()},
      // A bare number is milliseconds, as in `ms`.
      {"0", absl::ZeroDuration()},
      {"1", absl::Milliseconds(1)},
      {"1500", absl::Milliseconds(1500)},
      {"86400000", absl::Hours(24)},
      {"0d", absl::ZeroDuration()},
      {"0ms", absl::ZeroDuration()},
      {"007d", absl::Hours(7 * 24)},
      // The largest accepted: 100 years of 365 days.
      {"36500d", absl::Hours(24 * 365 * 100)},
  };
  for (const ParseCase& c : cases) {
    SCOPED_TRACE(c.text);
    const absl::StatusOr<absl::Duration> got = ParseDuration(c.text);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, c.want) << absl::FormatDuration(*got);
  }
}

TEST(ParseDurationTest, RejectsMalformedText) {
  const std::vector<std::string> cases = {
      "",     " ",     "abc",    "d",   "ms",  "10x",         "10 lightyears", "-1d", "-1",
      "+1d",  "1..5h", "1.5.2h", ".",   ".h",  "1h30m",       "14dd",          "1e3", "1e3ms",
      "0x10", "1,5h",  "14d 2h", "inf", "nan", "14 days ago", "d14",
  };
  for (const std::string& text : cases) {
    SCOPED_TRACE(text);
    const absl::StatusOr<absl::Duration> got = ParseDuration(text);
    ASSERT_FALSE(got.ok()) << "parsed as " << absl::FormatDuration(*got);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    // The message quotes the text (the caller adds the key).
    EXPECT_THAT(got.status().message(), HasSubstr("\"" + text + "\""));
  }
}

TEST(ParseDurationTest, UnknownUnitIsNamed) {
  const absl::StatusOr<absl::Duration> got = ParseDuration("10x");
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("unknown unit \"x\""));
}

TEST(ParseDurationTest, RejectsTooLong) {
  const std::vector<std::string> cases = {
      "36501d",
      "5300w",
      "1000000000h",
      "99999999999999999999999999999999999999w",
      std::string(400, '9') + "d",
      std::string(400, '9'),
  };
  for (const std::string& text : cases) {
    SCOPED_TRACE(text.substr(0, 40));
    const absl::StatusOr<absl::Duration> got = ParseDuration(text);
    ASSERT_FALSE(got.ok()) << "parsed as " << absl::FormatDuration(*got);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(got.status().message(), HasSubstr("too long"));
  }
}

// A fraction that is a whole number of milliseconds parses exactly (no
// floating-point loss truncated away to one millisecond less).
TEST(ParseDurationTest, FractionsOfWholeMillisecondsAreExact) {
  for (int i = 0; i <= 20000; ++i) {
    const std::string s = absl::StrFormat("%d.%03ds", i / 1000, i % 1000);
    ASSERT_EQ(ParseDuration(s).value(), absl::Milliseconds(i)) << s;
  }
  for (int i = 0; i <= 2000; ++i) {
    const std::string h = absl::StrFormat("%d.%dh", i / 10, i % 10);
    ASSERT_EQ(ParseDuration(h).value(), absl::Minutes(6 * i)) << h;
    const std::string d = absl::StrFormat("%d.%02dd", i / 100, i % 100);
    ASSERT_EQ(ParseDuration(d).value(), absl::Seconds(864 * i)) << d;
    const std::string m = absl::StrFormat("%d.%dm", i / 10, i % 10);
    ASSERT_EQ(ParseDuration(m).value(), absl::Seconds(6 * i)) << m;
  }
}

TEST(ParseDurationTest, SubMillisecondIsTruncated) {
  // `ms` works in milliseconds: nothing finer survives.
  EXPECT_EQ(*ParseDuration("1.5"), absl::Milliseconds(1));
  EXPECT_EQ(*ParseDuration("0.4ms"), absl::ZeroDuration());
}

struct TextCase {
  absl::Duration d;
  std::string want;
};

TEST(DurationTextTest, ShortestExactSpelling) {
  const std::vector<TextCase> cases = {
      {absl::ZeroDuration(), "0"},
      {absl::Hours(14 * 24), "14d"},
      {absl::Hours(24), "1d"},
      {absl::Hours(36), "36h"},
      {absl::Hours(48), "2d"},
      {absl::Hours(25), "25h"},
      {absl::Minutes(90), "90m"},
      {absl::Minutes(60), "1h"},
      {absl::Minutes(61), "61m"},
      {absl::Seconds(10), "10s"},
      {absl::Seconds(60), "1m"},
      {absl::Seconds(3601), "3601s"},
      {absl::Milliseconds(500), "500ms"},
      {absl::Milliseconds(1500), "1500ms"},
      {absl::Milliseconds(1000), "1s"},
      {absl::Milliseconds(1), "1ms"},
      {absl::Hours(24) + absl::Milliseconds(1), "86400001ms"},
      // Weeks are spelled in days.
      {absl::Hours(2 * 7 * 24), "14d"},
      {absl::Hours(24 * 365 * 100), "36500d"},
  };
  for (const TextCase& c : cases) {
    SCOPED_TRACE(absl::FormatDuration(c.d));
    EXPECT_EQ(DurationText(c.d), c.want);
  }
}

TEST(DurationTextTest, RoundTripsThroughParseDuration) {
  const std::vector<absl::Duration> cases = {
      absl::ZeroDuration(),
      absl::Milliseconds(1),
      absl::Milliseconds(999),
      absl::Milliseconds(1001),
      absl::Seconds(1),
      absl::Seconds(59),
      absl::Seconds(61),
      absl::Minutes(1),
      absl::Minutes(59),
      absl::Minutes(90),
      absl::Hours(1),
      absl::Hours(23),
      absl::Hours(36),
      absl::Hours(24),
      absl::Hours(24 * 14),
      absl::Hours(24 * 365),
      absl::Hours(24 * 365 * 100),
      absl::Hours(24) + absl::Seconds(1),
      absl::Hours(24 * 7) + absl::Milliseconds(3),
  };
  for (absl::Duration d : cases) {
    SCOPED_TRACE(absl::FormatDuration(d));
    const std::string text = DurationText(d);
    const absl::StatusOr<absl::Duration> back = ParseDuration(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status();
    EXPECT_EQ(*back, d) << text;
  }
}

TEST(DurationTextTest, RoundTripsForManyValues) {
  // Multiples of every unit and odd millisecond counts, up to the 100-year
  // limit.
  std::vector<absl::Duration> cases;
  uint64_t x = 88172645463325252u;  // xorshift64
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const int64_t limit_ms = int64_t{100} * 365 * 24 * 3600 * 1000;
    const absl::Duration units[] = {absl::Milliseconds(1), absl::Seconds(1), absl::Minutes(1),
                                    absl::Hours(1), absl::Hours(24)};
    const absl::Duration unit = units[i % 5];
    cases.push_back(unit * static_cast<int64_t>(x % (limit_ms / (unit / absl::Milliseconds(1)))));
  }
  for (absl::Duration d : cases) {
    const std::string text = DurationText(d);
    const absl::StatusOr<absl::Duration> back = ParseDuration(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status();
    ASSERT_EQ(*back, d) << text;
    // Shortest: the number has no trailing zero run that a larger unit would
    // absorb.
    if (absl::EndsWith(text, "ms")) {
      ASSERT_NE(d % absl::Seconds(1), absl::ZeroDuration()) << text;
    }
  }
}

TEST(DurationTextTest, TextRoundTripGivesCanonicalSpelling) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"2w", "14d"}, {"7 days", "7d"},      {"1.5h", "90m"}, {"1.5d", "36h"},    {"24h", "1d"},
      {"60m", "1h"}, {"3600s", "1h"},       {"1000", "1s"},  {"1500", "1500ms"}, {"0", "0"},
      {"0d", "0"},   {"120 minutes", "2h"}, {"14D", "14d"},  {"0.5s", "500ms"},  {"10s", "10s"},
  };
  for (const auto& [text, want] : cases) {
    SCOPED_TRACE(text);
    const absl::StatusOr<absl::Duration> d = ParseDuration(text);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(DurationText(*d), want);
  }
}

}  // namespace
}  // namespace xoi
