// The log: one line per change a real run made, one per refusal and warning (the first 20 of each,
// then how many more), one per problem, and a summary line per remote, each with its syslog
// priority. Under systemd (JOURNAL_STREAM set) the priority is written as the
// journal's "<N>" prefix, so that `journalctl -p warning` finds the problems.
#ifndef XOI_LIB_REPORT_LOG_LINES_H_
#define XOI_LIB_REPORT_LOG_LINES_H_

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "lib/report/run_report.h"

namespace xoi {

enum class Priority { kErr = 3, kWarning = 4, kNotice = 5, kInfo = 6 };

struct LogLine {
  Priority priority;
  std::string text;
};

// The lines for one remote of a run, one at a time: a first protection of a million items is a
// million lines, not to be held at once. `unchanged_by`: what changed nothing, as the summary says
// it ("dry run", "verify"); empty for a run that acted.
void ForEachLogLine(const RemoteReport& remote, absl::string_view unchanged_by,
                    absl::FunctionRef<void(const LogLine&)> emit);

// `line` as written to stderr: with the journal's priority prefix when `journal`, and a newline.
std::string FormatLogLine(const LogLine& line, bool journal);

}  // namespace xoi

#endif  // XOI_LIB_REPORT_LOG_LINES_H_
