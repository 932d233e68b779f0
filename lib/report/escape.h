// Text that came from the remote (file names, and reasons and messages that quote them), made
// safe to print: a newline in a file name must not forge a log line or a report line.
#ifndef XOI_LIB_REPORT_ESCAPE_H_
#define XOI_LIB_REPORT_ESCAPE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace xoi {

// A path for a line of text: control characters and bytes that are not printable ASCII are
// C-escaped.
std::string PrintablePath(absl::string_view path);

}  // namespace xoi

#endif  // XOI_LIB_REPORT_ESCAPE_H_
