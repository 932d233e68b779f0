// One run on one remote: lock, check, walk, decide, plan, execute, record.
#ifndef XOI_LIB_RECONCILE_H_
#define XOI_LIB_RECONCILE_H_

#include <string>

#include "absl/time/time.h"
#include "lib/config.h"
#include "lib/remote_session.h"
#include "lib/report.h"

namespace xoi {

// Converges `remote` (whose index lives below `index_path`) and reports what was done. Never
// throws; every failure ends up in the report (unusable remote, lock held, per-item errors).
// Lifts are held back (and the report says why) while options.lifting_suspended is set, or when
// they would release more than options.max_lift_fraction of the remote's protected items (more
// than 100) at once, unless options.allow_mass_lift or the duration is 0 (an explicit release).
RemoteReport ReconcileRemote(const std::string& index_path, const RemoteConfig& remote,
                             const RunOptions& options);

}  // namespace xoi

#endif  // XOI_LIB_RECONCILE_H_
