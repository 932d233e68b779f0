#include "lib/run/sweep.h"

#include "lib/core/rules.h"
#include "lib/run/facts.h"
#include "lib/run/pipeline.h"

namespace xoi {

RemoteReport SweepRemote(FileSystem& fs, const StateDir& state, const RemoteConfig& remote,
                         const RunOptions& options) {
  return RunPipeline(
      fs, state, remote, options,
      [&](RemoteSession& session, RemoteReport* report) {
        const SweepFacts facts =
            GatherSweepFacts(fs, session.root.get(), session.root_stat.dev, *session.index,
                             session.globs, &report->counts.seen, &report->errors);
        const Settings settings{remote.immutability_duration, remote.settle, remote.orphan_grace,
                                false, options.clock_lag};
        Plan plan;
        PlanSweep(facts, settings, options.now, &plan);
        return plan;
      },
      /*guard_mass_lift=*/false);
}

}  // namespace xoi
