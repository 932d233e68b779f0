// `xo-immutable sweep`: finds locked inodes that no glob reaches any more.
//
// A writer can rename the mutable parent folder of a locked file (`xo-vm-backups/<vm>` to
// `.hidden`): the file stays immutable, but the regular run, which only walks where globs lead,
// never sees it again. The sweep walks the whole remote (still never following a symlink or
// leaving the filesystem), reports every immutable inode outside the globs' reach, and lifts those
// the index knows (same inode and birth time) once their creation day has expired. Index entries
// whose inode exists nowhere in the remote any more are dropped once expired. Costly (every inode
// is examined): run daily.
#ifndef XOI_LIB_SWEEP_H_
#define XOI_LIB_SWEEP_H_

#include <string>

#include "lib/config.h"
#include "lib/remote_session.h"
#include "lib/report.h"

namespace xoi {

RemoteReport SweepRemote(const std::string& index_path, const RemoteConfig& remote,
                         const RunOptions& options);

}  // namespace xoi

#endif  // XOI_LIB_SWEEP_H_
