#include "lib/run/pipeline.h"

#include "lib/core/guards.h"
#include "lib/fs/clocks.h"
#include "lib/run/execute.h"

namespace xoi {

RemoteReport RunPipeline(FileSystem& fs, const StateDir& state, const RemoteConfig& remote,
                         const RunOptions& options, const Planner& planner) {
  const Stopwatch stopwatch;
  RemoteReport report;
  std::unique_ptr<RemoteSession> session = OpenRemote(fs, state, remote, options.dry_run, &report);
  if (session != nullptr) {
    Plan plan = planner(*session, &report);
    if (!options.lifting_suspended.empty() && HoldLifts(&plan, options.lifting_suspended) > 0) {
      plan.lifts_held = options.lifting_suspended;
    }
    ExecutePlan(fs, plan, *session, remote, options, &report);
  }
  report.elapsed = stopwatch.Elapsed();
  return report;
}

}  // namespace xoi
