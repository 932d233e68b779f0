// The text report, for people: per remote, the counts and the run time; every entry of the plan
// with its reason in a dry run, and the entries that did not take effect otherwise; warnings and
// errors; the holds in force. `verify` prints its compliance checks instead of the plan.
#ifndef XOI_LIB_REPORT_TEXT_REPORT_H_
#define XOI_LIB_REPORT_TEXT_REPORT_H_

#include <string>

#include "lib/report/run_report.h"

namespace xoi {

std::string FormatText(const RunReport& report);

// One hold in force, as every text report shows it:
// "HOLD 3 on xo-vm-backups/<uuid>: <reason> (by <who>, <when>; 12 locked items held)".
std::string HoldLine(const HoldInForce& hold);

}  // namespace xoi

#endif  // XOI_LIB_REPORT_TEXT_REPORT_H_
