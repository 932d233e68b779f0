// Carrying out a plan on a remote and recording what came of each entry.
#ifndef XOI_LIB_RUN_EXECUTE_H_
#define XOI_LIB_RUN_EXECUTE_H_

#include "lib/core/config.h"
#include "lib/core/plan.h"
#include "lib/fs/file_system.h"
#include "lib/report/run_report.h"
#include "lib/run/run_options.h"
#include "lib/run/session.h"

namespace xoi {

// Records every entry of `plan` in `report` in order (its warnings too), and, unless
// options.dry_run, carries each effect out through the executor exactly as planned: the outcome
// (done, waiting, refused, vanished, failed, skipped) goes beside the entry, flag changes into the
// audit log. An entry that requires every earlier lift to have taken effect is skipped when one
// did not. Makes the index durable once at the end when anything was applied; returns whether
// the index now holds every record the plan made (false: not carried out, or not written).
// The plan is consumed: its entries' paths and reasons move into the report.
bool ExecutePlan(FileSystem& fs, Plan plan, RemoteSession& session, const RemoteConfig& remote,
                 const RunOptions& options, RemoteReport* report);

}  // namespace xoi

#endif  // XOI_LIB_RUN_EXECUTE_H_
