// Instants written as a calendar reads them, in UTC, for tables of tests and benchmarks.
#ifndef XOI_LIB_TESTING_UTC_H_
#define XOI_LIB_TESTING_UTC_H_

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace xoi {

inline absl::Time Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

}  // namespace xoi

#endif  // XOI_LIB_TESTING_UTC_H_
