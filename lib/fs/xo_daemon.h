// What XO's own immutability daemon (`xo-immutable-remote`, package
// @xen-orchestra/immutable-backups) leaves behind when a remote is switched to this program, and
// whether it still runs. Read-only.
//
// Its v1 index: one folder per remote (`remotes.<id>.indexPath` in its config.toml, else
// `$XDG_DATA_HOME/xo-immutable-backups/<id>`, else `~/.local/share/xo-immutable-backups/<id>`),
// holding `<YYYY-MM-DD of the file's birth, UTC>/<sha256 of its absolute path>`, each file holding
// the absolute path it locked. Nothing in it is trusted beyond naming a path to look at: it lives
// outside the remote, but it is a record of what another program believed.
#ifndef XOI_LIB_FS_XO_DAEMON_H_
#define XOI_LIB_FS_XO_DAEMON_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/core/rules.h"
#include "lib/fs/file_system.h"

namespace xoi {

struct XoDaemonIndex {
  std::vector<XoIndexEntry> entries;
  // Entries that are no v1 entry (too large, unreadable, not an absolute path, or this program's
  // own former per-file format, which lib/fs/index.h migrates): skipped.
  size_t unreadable = 0;
};

// Where XO's daemon kept the index of remote `id`, given its `indexPath` for that remote (empty:
// its XDG default, for the user running this program; root's when neither XDG_DATA_HOME nor HOME
// is set, as under systemd).
std::string XoDaemonIndexDir(const std::string& configured, const std::string& id);

// Reads every entry of the v1 index in `dir`. NotFound when `dir` does not exist; other errors
// (with the path) when it cannot be listed.
absl::StatusOr<XoDaemonIndex> ReadXoDaemonIndex(FileSystem& fs, const std::string& dir);

// The signs that XO's daemon still runs: a process named `xo-immutable-remote` or
// `xo-lift-remote-immutability` (its lift tool) (by name, or the script node runs: `node
// /usr/bin/xo-immutable-remote`), node running its package's
// `protectRemotes.mjs` or `liftProtection.mjs`, or a process in the cgroup of the systemd
// unit `xo-immutable-remote.service` (the unit is active). One line each, e.g. "process 1234
// (xo-immutable-remote)"; empty when none. `proc` is the procfs mount ("/proc"; tests use another
// folder). Processes that vanish while being read are skipped.
std::vector<std::string> XoDaemonRunning(const std::string& proc = "/proc");

}  // namespace xoi

#endif  // XOI_LIB_FS_XO_DAEMON_H_
