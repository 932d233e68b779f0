// One run on one remote: lock, check, walk, decide, plan, execute, record.
#ifndef XOI_LIB_RECONCILE_H_
#define XOI_LIB_RECONCILE_H_

#include <string>

#include "absl/time/time.h"
#include "lib/config.h"
#include "lib/report.h"

namespace xoi {

struct RunOptions {
  bool dry_run = false;  // compute and report the plan; change nothing, write nothing
  int jobs = 2;          // walker threads
  bool deep = false;     // verify every member of protected trees too
  absl::Time now;        // the run's clock reading, the same for every remote
};

// Converges `remote` (whose index lives below `index_path`) and reports what was done. Never
// throws; every failure ends up in the report (unusable remote, lock held, per-item errors).
RemoteReport ReconcileRemote(const std::string& index_path, const RemoteConfig& remote,
                             const RunOptions& options);

// Step 2 alone, for `xo-immutable check`: an empty string when `remote` can be protected, else
// the reason. Writes nothing.
std::string CheckRemote(const std::string& index_path, const RemoteConfig& remote);

}  // namespace xoi

#endif  // XOI_LIB_RECONCILE_H_
