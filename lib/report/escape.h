// Text that came from the remote (file names, and reasons and messages that quote them), made
// safe to print on one line: a newline in a file name must not forge a log line or a report line,
// and a journal priority prefix ("<3>") can then only start a line the program wrote itself.
#ifndef XOI_LIB_REPORT_ESCAPE_H_
#define XOI_LIB_REPORT_ESCAPE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace xoi {

// `text` with control characters C-escaped ("\n", "\t", "\r", "\x1b"), bytes that are not
// printable ASCII written "\xNN", and the backslash doubled, so that the escaping is unambiguous.
// Everything else, quotes included, is kept.
std::string Printable(absl::string_view text);

// Printable(), for a path.
inline std::string PrintablePath(absl::string_view path) { return Printable(path); }

}  // namespace xoi

#endif  // XOI_LIB_REPORT_ESCAPE_H_
