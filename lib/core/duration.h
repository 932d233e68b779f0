// Durations written the way Xen Orchestra writes them (the `ms` package): "14d", "36h", "90m",
// "10s", "500ms", "2w", also with a space or a long unit ("7 days"), and bare numbers, which `ms`
// reads as milliseconds. Fractions ("1.5h") are accepted; negative values are not.
#ifndef XOI_LIB_CORE_DURATION_H_
#define XOI_LIB_CORE_DURATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace xoi {

// Parses `text`. Errors (InvalidArgument) say what was expected; they do not name a key, the
// caller adds that.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);

// The shortest exact `ms`-style spelling of `d` ("14d", "36h", "1500ms"); "0" for zero.
std::string DurationText(absl::Duration d);

}  // namespace xoi

#endif  // XOI_LIB_CORE_DURATION_H_
