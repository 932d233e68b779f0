// Gathers `xo-immutable status` (lib/core/backup_status.h) from a remote: read-only.
#ifndef XOI_LIB_RUN_STATUS_H_
#define XOI_LIB_RUN_STATUS_H_

#include <string>

#include "lib/core/backup_status.h"
#include "lib/core/config.h"
#include "lib/fs/file_system.h"
#include "lib/fs/state_dir.h"

namespace xoi {

// Reads the status of `remote` with `jobs` walker threads, and its holds from `state`; `vm`
// non-empty keeps only that VM.
RemoteStatus ReadBackupStatus(FileSystem& fs, const StateDir& state, const RemoteConfig& remote,
                              const std::string& vm, int jobs);

}  // namespace xoi

#endif  // XOI_LIB_RUN_STATUS_H_
