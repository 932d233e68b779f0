// When an item expires: creation day (UTC day of its birth time) and immutability duration.
//
// An item created on day D stays protected until (start of day D+1, UTC) + duration: never lifted
// before its duration has fully passed, at most one day after. Birth time, not mtime or the file
// name, because a writer controls those.
#ifndef XOI_LIB_CORE_EXPIRY_H_
#define XOI_LIB_CORE_EXPIRY_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace xoi {

absl::CivilDay CreationDay(absl::Time birth);

// The first instant at which an item created on `day` may be lifted.
absl::Time ExpiresAt(absl::CivilDay day, absl::Duration duration);

// True when an item created on `day` is past its protection at `now`. A zero duration means the
// remote is no longer protected: everything is expired.
bool IsExpired(absl::CivilDay day, absl::Duration duration, absl::Time now);

// "YYYY-MM-DD", the name of an index day folder.
std::string FormatDay(absl::CivilDay day);
// Parses exactly "YYYY-MM-DD" (a real date); nullopt otherwise.
std::optional<absl::CivilDay> ParseDay(absl::string_view text);

}  // namespace xoi

#endif  // XOI_LIB_CORE_EXPIRY_H_
