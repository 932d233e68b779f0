// The prologue and epilogue every command that acts on a remote shares: open the remote (lock,
// checks, index, holds), let the command gather facts and plan, keep back the lifts that holds
// cover and those the guards refuse, then carry the plan out, pin what the holds cover, and time
// the whole.
#ifndef XOI_LIB_RUN_PIPELINE_H_
#define XOI_LIB_RUN_PIPELINE_H_

#include <functional>

#include "lib/core/config.h"
#include "lib/core/plan.h"
#include "lib/fs/file_system.h"
#include "lib/fs/state_dir.h"
#include "lib/report/run_report.h"
#include "lib/run/run_options.h"
#include "lib/run/session.h"

namespace xoi {

// Gathers a remote's facts and returns the plan the rules make of them; may record counts, walk
// statistics and errors in the report.
using Planner = std::function<Plan(RemoteSession& session, RemoteReport* report)>;

// Runs `planner` on `remote` between the shared prologue and epilogue. Holds are applied to every
// plan, in this one place, before anything else judges its lifts; then, with `guard_mass_lift`,
// the mass-lift guard; then the time guard. Never throws; every failure ends up in the report
// (unusable remote, lock held, per-item errors).
RemoteReport RunPipeline(FileSystem& fs, const StateDir& state, const RemoteConfig& remote,
                         const RunOptions& options, const Planner& planner, bool guard_mass_lift);

}  // namespace xoi

#endif  // XOI_LIB_RUN_PIPELINE_H_
