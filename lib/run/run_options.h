// What a command asks of a run over its remotes.
#ifndef XOI_LIB_RUN_RUN_OPTIONS_H_
#define XOI_LIB_RUN_RUN_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "lib/core/config.h"
#include "lib/fs/audit_log.h"

namespace xoi {

struct RunOptions {
  bool dry_run = false;  // compute and report the plan; change nothing, write nothing
  int jobs = 2;          // walker threads
  bool deep = false;     // verify every member of protected trees too
  absl::Time now;        // the run's clock reading, the same for every remote
  // Non-empty: the wall clock cannot be trusted (lib/core/guards.h); nothing is lifted.
  std::string lifting_suspended;
  // How far the wall clock is behind what the clock record proves (lib/core/guards.h).
  absl::Duration clock_lag;
  bool allow_mass_lift = false;
  double max_lift_fraction = kDefaultMaxLiftFraction;  // of the protected items, above 100
  uint64_t max_entries = kDefaultMaxEntriesPerRun;     // plan entries a run takes on (ActionBudget)
  AuditLog* audit = nullptr;  // every flag change is appended here (not in dry runs)
};

}  // namespace xoi

#endif  // XOI_LIB_RUN_RUN_OPTIONS_H_
