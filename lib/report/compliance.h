// The compliance checks an auditor asks about, computed from what a run planned or did:
//   - every finished backup is immutable,
//   - no expired backup is still locked more than a day after it expired,
//   - the index agrees with the flags,
//   - immutability.json (and XO's files at the root) are as they must be,
//   - nothing is refused or left partly unlocked (a FIFO, symlink or hard link where a backup or
//     a member of one is expected: tampering, or a backup nobody can lock).
// `verify` computes them from a dry run; `run` from what it did. One result feeds the text, JSON
// and JUnit reports.
#ifndef XOI_LIB_REPORT_COMPLIANCE_H_
#define XOI_LIB_REPORT_COMPLIANCE_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "lib/report/run_report.h"

namespace xoi {

struct CheckResult {
  std::string id;                      // stable short name: "finished-locked", ...
  std::string description;             // what passing means, in words
  std::vector<std::string> offenders;  // remote-relative paths (or index entries), sorted
  // Offenders this run did not look at one by one (entries deferred to later runs): counted.
  uint64_t unnamed = 0;
  uint64_t count() const { return offenders.size() + unnamed; }
  bool passed() const { return count() == 0; }
};

// The five checks for one usable remote (state kDone), at `now`.
std::vector<CheckResult> ComplianceChecks(const RemoteReport& report, absl::Time now);

}  // namespace xoi

#endif  // XOI_LIB_REPORT_COMPLIANCE_H_
