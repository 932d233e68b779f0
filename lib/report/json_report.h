// The JSON report, for programs: one document with the counts, every entry of the plan with its
// outcome, the warnings (typed), the errors, the holds in force and the compliance checks. File
// names that are not valid UTF-8 are written with invalid bytes replaced by U+FFFD, and their
// exact bytes in a sibling "<key>_base64" field.
#ifndef XOI_LIB_REPORT_JSON_REPORT_H_
#define XOI_LIB_REPORT_JSON_REPORT_H_

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "lib/report/run_report.h"

namespace xoi {

std::string FormatJson(const RunReport& report);

// The holds in force, as every JSON report lists them.
boost::json::array HoldsJson(const std::vector<HoldInForce>& holds);

}  // namespace xoi

#endif  // XOI_LIB_REPORT_JSON_REPORT_H_
