// JUnit XML, the report format CI servers (Jenkins, GitLab) display: one <testsuite> per remote,
// one <testcase> per compliance check, failures listing the offending paths (capped, with a
// count of the rest). An unusable remote is a suite with one erroring case; a remote whose lock
// was held is skipped.
#ifndef XOI_LIB_REPORT_JUNIT_H_
#define XOI_LIB_REPORT_JUNIT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "lib/report/run_report.h"

namespace xoi {

// At most this many paths are listed in one failure.
inline constexpr size_t kJunitMaxListed = 50;

// `command` names the run in the document ("run", "verify").
std::string FormatJunit(const RunReport& report, absl::string_view command);

}  // namespace xoi

#endif  // XOI_LIB_REPORT_JUNIT_H_
