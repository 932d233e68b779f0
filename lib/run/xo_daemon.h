// Switching a remote from XO's own daemon (`xo-immutable-remote`): importing the index it kept,
// once, into a run's plan. (What it locked on the remote itself is adopted by the walk and the
// rules: lib/core/rules.h.)
#ifndef XOI_LIB_RUN_XO_DAEMON_H_
#define XOI_LIB_RUN_XO_DAEMON_H_

#include "lib/core/config.h"
#include "lib/core/plan.h"
#include "lib/core/rules.h"
#include "lib/fs/file_system.h"
#include "lib/fs/state_dir.h"
#include "lib/run/session.h"

namespace xoi {

// Unless the remote's state folder says it was done already: reads XO's daemon's index of
// `remote` (lib/fs/xo_daemon.h) and adds to `plan` an index action for each entry still locked
// that neither the index nor the plan knows (PlanXoIndexImport), and a notice with the counts;
// plan->xo_index_imported says what the pipeline records once the plan's records are durable,
// so that later runs never read it again. No index there: nothing, and nothing recorded (an
// administrator may still point indexPath at it).
void ImportXoDaemonIndex(FileSystem& fs, const StateDir& state, RemoteSession& session,
                         const RemoteConfig& remote, const Settings& settings, Plan* plan);

}  // namespace xoi

#endif  // XOI_LIB_RUN_XO_DAEMON_H_
