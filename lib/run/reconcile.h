// `xo-immutable run` on one remote: the pipeline every minute's run goes through.
//
//   config ──► lock ─► check ─► facts ─────────► rules ─────────► plan ──► execute ──► record ──►
//   report
//              (session.h)      (facts.h: walk,  (core/rules.h:   (core/    (fs/        (fs/index,
//              (report/:
//                                statx, index,    pure, one call   plan.h:   executor:   audit log,
//                                text, json, root files,      per item, per    a value   fd-based
//                                state dir)   junit, metrics, aliases; lazily  unreached entry, the
//                                dry   flag ops)                log lines) as rules ask)    the
//                                root files;  run
//                                                 core/guards.h)   prints)
//
// The walk streams items to the rules from `jobs` threads; each worker collects its plan entries,
// which are merged and sorted by path after the walk, so that the plan does not depend on `jobs`.
// Then the index entries the walk did not reach, the remote's own files, and the guards. The plan
// is carried out exactly as made (execute.h): a dry run prints it and stops there.
#ifndef XOI_LIB_RUN_RECONCILE_H_
#define XOI_LIB_RUN_RECONCILE_H_

#include "lib/core/config.h"
#include "lib/fs/file_system.h"
#include "lib/fs/state_dir.h"
#include "lib/report/run_report.h"
#include "lib/run/run_options.h"

namespace xoi {

// Converges `remote` and reports what was done. Never throws; every failure ends up in the report
// (unusable remote, lock held, per-item errors). Lifts are held back (and the report says why)
// while options.lifting_suspended is set, or when they would release more than
// options.max_lift_fraction of the remote's protected items (more than 100) at once, unless
// options.allow_mass_lift or the duration is 0 (an explicit release).
RemoteReport ReconcileRemote(FileSystem& fs, const StateDir& state, const RemoteConfig& remote,
                             const RunOptions& options);

}  // namespace xoi

#endif  // XOI_LIB_RUN_RECONCILE_H_
