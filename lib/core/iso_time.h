// The one way times are written for people and programs: ISO 8601, UTC.
#ifndef XOI_LIB_CORE_ISO_TIME_H_
#define XOI_LIB_CORE_ISO_TIME_H_

#include <string>

#include "absl/time/time.h"

namespace xoi {

// "2026-11-30T06:21:47Z"
std::string IsoTime(absl::Time t);

// "2026-11-30T06:21:47.123Z"
std::string IsoTimeMillis(absl::Time t);

}  // namespace xoi

#endif  // XOI_LIB_CORE_ISO_TIME_H_
