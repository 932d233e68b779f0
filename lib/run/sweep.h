// `xo-immutable sweep` on one remote: finds locked inodes that no glob reaches any more.
//
// A writer can rename the mutable parent folder of a locked file (`xo-vm-backups/<vm>` to
// `.hidden`): the file stays immutable, but the regular run, which only walks where globs lead,
// never sees it again. The sweep walks the whole remote (still never following a symlink or
// leaving the filesystem), reports every immutable inode outside the globs' reach, and lifts those
// the index knows (same inode and birth time) once their creation day has expired. Index entries
// whose inode exists nowhere in the remote any more are dropped once expired (lib/core/rules.h,
// PlanSweep). Costly (every inode is examined): run daily.
#ifndef XOI_LIB_RUN_SWEEP_H_
#define XOI_LIB_RUN_SWEEP_H_

#include "lib/core/config.h"
#include "lib/fs/file_system.h"
#include "lib/fs/state_dir.h"
#include "lib/report/run_report.h"
#include "lib/run/run_options.h"

namespace xoi {

RemoteReport SweepRemote(FileSystem& fs, const StateDir& state, const RemoteConfig& remote,
                         const RunOptions& options);

}  // namespace xoi

#endif  // XOI_LIB_RUN_SWEEP_H_
