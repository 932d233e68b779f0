#include "lib/core/expiry.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "lib/testing/utc.h"

namespace xoi {
namespace {

struct DayCase {
  absl::Time birth;
  absl::CivilDay want;
};

TEST(CreationDayTest, UtcDayBoundaries) {
  const std::vector<DayCase> cases = {
      {Utc(2026, 11, 1, 23, 59, 59) + absl::Milliseconds(999), absl::CivilDay(2026, 11, 1)},
      {Utc(2026, 11, 2) - absl::Nanoseconds(1), absl::CivilDay(2026, 11, 1)},
      {Utc(2026, 11, 2), absl::CivilDay(2026, 11, 2)},
      {Utc(2026, 11, 2) + absl::Nanoseconds(1), absl::CivilDay(2026, 11, 2)},
      {Utc(2026, 11, 1, 12), absl::CivilDay(2026, 11, 1)},
      {Utc(2026, 12, 31, 23, 59, 59), absl::CivilDay(2026, 12, 31)},
      {Utc(2027, 1, 1), absl::CivilDay(2027, 1, 1)},
      {Utc(2028, 2, 29, 23, 59, 59), absl::CivilDay(2028, 2, 29)},
      {absl::UnixEpoch(), absl::CivilDay(1970, 1, 1)},
      // Before the epoch: floor, not truncation toward zero.
      {absl::UnixEpoch() - absl::Nanoseconds(1), absl::CivilDay(1969, 12, 31)},
      {absl::UnixEpoch() - absl::Hours(24), absl::CivilDay(1969, 12, 31)},
      {absl::UnixEpoch() - absl::Hours(24) - absl::Nanoseconds(1), absl::CivilDay(1969, 12, 30)},
  };
  for (const DayCase& c : cases) {
    SCOPED_TRACE(absl::FormatTime(c.birth, absl::UTCTimeZone()));
    EXPECT_EQ(CreationDay(c.birth), c.want);
  }
}

TEST(CreationDayTest, IndependentOfLocalTimeZone) {
  // 23:30 UTC is already the next day in Paris and still the same day in New
  // York: the day is UTC's whatever the machine's zone.
  const absl::Time birth = Utc(2026, 11, 1, 23, 30);
  EXPECT_EQ(CreationDay(birth), absl::CivilDay(2026, 11, 1));
  EXPECT_EQ(CreationDay(birth + absl::Hours(1)), absl::CivilDay(2026, 11, 2));
}

struct ExpiresCase {
  absl::CivilDay day;
  absl::Duration duration;
  absl::Time want;
};

TEST(ExpiresAtTest, StartOfNextUtcDayPlusDuration) {
  const std::vector<ExpiresCase> cases = {
      {absl::CivilDay(2026, 11, 1), absl::Hours(24), Utc(2026, 11, 3)},
      {absl::CivilDay(2026, 11, 1), absl::Hours(14 * 24), Utc(2026, 11, 16)},
      {absl::CivilDay(2026, 11, 1), absl::Hours(36), Utc(2026, 11, 3, 12)},
      {absl::CivilDay(2026, 11, 1), absl::Hours(24) + absl::Milliseconds(1),
       Utc(2026, 11, 3) + absl::Milliseconds(1)},
      {absl::CivilDay(2026, 11, 1), absl::ZeroDuration(), Utc(2026, 11, 2)},
      // Month, year and leap-day boundaries.
      {absl::CivilDay(2026, 11, 30), absl::Hours(24), Utc(2026, 12, 2)},
      {absl::CivilDay(2026, 12, 31), absl::Hours(24), Utc(2027, 1, 2)},
      {absl::CivilDay(2028, 2, 28), absl::Hours(24), Utc(2028, 3, 1)},
      {absl::CivilDay(2027, 2, 28), absl::Hours(24), Utc(2027, 3, 2)},
      {absl::CivilDay(2026, 1, 1), absl::Hours(365 * 24), Utc(2027, 1, 2)},
  };
  for (const ExpiresCase& c : cases) {
    SCOPED_TRACE(FormatDay(c.day) + " + " + absl::FormatDuration(c.duration));
    EXPECT_EQ(ExpiresAt(c.day, c.duration), c.want);
  }
}

TEST(ExpiresAtTest, NeverBeforeDurationAndAtMostOneDayLate) {
  // Whatever the instant of birth within its day, protection lasts at least
  // `duration` and at most one day more.
  const absl::Duration duration = absl::Hours(14 * 24);
  for (absl::Time birth = Utc(2026, 11, 1); birth < Utc(2026, 11, 3); birth += absl::Minutes(7)) {
    const absl::Time expires = ExpiresAt(CreationDay(birth), duration);
    EXPECT_GT(expires - birth, duration);
    EXPECT_LE(expires - birth, duration + absl::Hours(24));
  }
}

TEST(IsExpiredTest, ExactlyAtTheBoundaryInstant) {
  const absl::CivilDay day(2026, 11, 1);
  const absl::Duration duration = absl::Hours(24);
  const absl::Time boundary = Utc(2026, 11, 3);
  EXPECT_FALSE(IsExpired(day, duration, boundary - absl::Nanoseconds(1)));
  EXPECT_TRUE(IsExpired(day, duration, boundary));
  EXPECT_TRUE(IsExpired(day, duration, boundary + absl::Nanoseconds(1)));
  EXPECT_TRUE(IsExpired(day, duration, boundary + absl::Hours(24 * 365)));
  EXPECT_FALSE(IsExpired(day, duration, Utc(2026, 11, 1)));
  EXPECT_FALSE(IsExpired(day, duration, Utc(2026, 10, 1)));
  EXPECT_FALSE(IsExpired(day, duration, absl::InfinitePast()));
  EXPECT_TRUE(IsExpired(day, duration, absl::InfiniteFuture()));
}

TEST(IsExpiredTest, BornLastInstantOfTheDay) {
  // Born 23:59:59 UTC on D with 1d: protected until D+2 00:00:00, i.e. for just
  // over a day.
  const absl::Time birth = Utc(2026, 11, 1, 23, 59, 59);
  const absl::CivilDay day = CreationDay(birth);
  EXPECT_FALSE(IsExpired(day, absl::Hours(24), birth + absl::Hours(24)));
  EXPECT_FALSE(IsExpired(day, absl::Hours(24), Utc(2026, 11, 3) - absl::Nanoseconds(1)));
  EXPECT_TRUE(IsExpired(day, absl::Hours(24), Utc(2026, 11, 3)));
}

TEST(IsExpiredTest, ZeroDurationIsAlwaysExpired) {
  const absl::CivilDay day(2026, 11, 1);
  EXPECT_TRUE(IsExpired(day, absl::ZeroDuration(), absl::InfinitePast()));
  EXPECT_TRUE(IsExpired(day, absl::ZeroDuration(), Utc(2026, 10, 1)));
  EXPECT_TRUE(IsExpired(day, absl::ZeroDuration(), Utc(2026, 11, 1, 12)));
  EXPECT_TRUE(IsExpired(day, absl::ZeroDuration(), Utc(2026, 11, 2)));
  // A day in the future (a clock set wrong on the writer side) too.
  EXPECT_TRUE(IsExpired(absl::CivilDay(2099, 1, 1), absl::ZeroDuration(), Utc(2026, 11, 1)));
}

TEST(IsExpiredTest, FutureCreationDayIsNotExpired) {
  EXPECT_FALSE(IsExpired(absl::CivilDay(2099, 1, 1), absl::Hours(24), Utc(2026, 11, 1)));
}

TEST(FormatDayTest, ZeroPadded) {
  EXPECT_EQ(FormatDay(absl::CivilDay(2026, 11, 1)), "2026-11-01");
  EXPECT_EQ(FormatDay(absl::CivilDay(2026, 1, 5)), "2026-01-05");
  EXPECT_EQ(FormatDay(absl::CivilDay(2026, 12, 31)), "2026-12-31");
  EXPECT_EQ(FormatDay(absl::CivilDay(999, 3, 4)), "0999-03-04");
  EXPECT_EQ(FormatDay(absl::CivilDay(1970, 1, 1)), "1970-01-01");
}

TEST(ParseDayTest, RoundTrip) {
  const std::vector<absl::CivilDay> days = {
      absl::CivilDay(2026, 11, 1),  absl::CivilDay(2026, 1, 1),   absl::CivilDay(2026, 12, 31),
      absl::CivilDay(2028, 2, 29),  absl::CivilDay(2000, 2, 29),  absl::CivilDay(1970, 1, 1),
      absl::CivilDay(1969, 12, 31), absl::CivilDay(9999, 12, 31), absl::CivilDay(1, 1, 1),
  };
  for (const absl::CivilDay& day : days) {
    const std::string text = FormatDay(day);
    SCOPED_TRACE(text);
    const std::optional<absl::CivilDay> parsed = ParseDay(text);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, day);
  }
  // Every day of a leap year and the next.
  for (absl::CivilDay day(2028, 1, 1); day < absl::CivilDay(2030, 1, 1); ++day) {
    const std::optional<absl::CivilDay> parsed = ParseDay(FormatDay(day));
    ASSERT_TRUE(parsed.has_value()) << FormatDay(day);
    EXPECT_EQ(*parsed, day);
  }
}

TEST(ParseDayTest, Rejections) {
  const std::vector<std::string> cases = {
      "2026-02-30",  // not a real date (CivilDay would normalise it to March)
      "2026-02-29",  // not a leap year
      "2100-02-29",  // not a leap year (century)
      "2026-04-31",
      "2026-13-01",
      "2026-00-10",
      "2026-01-00",
      "2026-01-32",
      "2026-1-01",  // not zero-padded
      "2026-01-1",
      "26-11-01",
      "20261101",     // no dashes
      "2026-11-01x",  // trailing junk
      "x2026-11-01",
      " 2026-11-01",
      "2026-11-01 ",
      "2026-11-01\n",
      "2026/11/01",
      "2026-11-0a",
      "2026-1a-01",
      "+026-11-01",
      "-026-11-01",
      "2026-+1-01",
      "2026--1-01",
      "",
      "2026-11-01/",
      "2026-11-01T00:00:00Z",
      std::string("2026-11-01\0", 11),
      std::string("2026-11\0-01", 11),
  };
  for (const std::string& text : cases) {
    EXPECT_FALSE(ParseDay(text).has_value()) << "\"" << text << "\"";
  }
}

}  // namespace
}  // namespace xoi
