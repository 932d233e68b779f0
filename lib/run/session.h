// A remote opened for one command: steps 1-2 of a run (lock, checks, index) before any fact is
// gathered.
#ifndef XOI_LIB_RUN_SESSION_H_
#define XOI_LIB_RUN_SESSION_H_

#include <map>
#include <memory>
#include <string>

#include "lib/core/config.h"
#include "lib/core/glob_set.h"
#include "lib/core/hold.h"
#include "lib/fs/fd.h"
#include "lib/fs/file_system.h"
#include "lib/fs/index.h"
#include "lib/fs/state_dir.h"
#include "lib/report/run_report.h"

namespace xoi {

// A remote that passed steps 1 and 2: locked (unless dry run), usable, index and holds loaded.
struct RemoteSession {
  Fd lock;
  Fd root;
  FileStat root_stat;
  std::unique_ptr<Index> index;
  GlobSet globs;  // the remote's patterns, compiled
  HoldSet holds;
  // Non-empty: the hold file could not be read or is damaged, and why. Nothing may be lifted on
  // the remote (any item might be held) until it is repaired.
  std::string holds_unreadable;
};

// Steps 1-2. Names the remote in `report`; returns nullptr after setting report->state and the
// reason when the remote is locked by another run or unusable. A dry run takes no lock and writes
// nothing.
std::unique_ptr<RemoteSession> OpenRemote(FileSystem& fs, const StateDir& state,
                                          const RemoteConfig& remote, bool dry_run,
                                          RemoteReport* report);

// Step 0, over every remote of `config` (selected or not). The configuration compares the roots
// as written; a symlink or a bind mount can still make two roots one tree, and running both would
// let one remote's duration undo the other's ("0" lifts everything). By id, why each remote whose
// root, as it resolves now, is another's or lies inside or around it. Roots that cannot be opened
// are left to step 2.
std::map<std::string, std::string> OverlappingRoots(FileSystem& fs, const Config& config);

// "" unless the index folder, as it resolves now (a symlink anywhere on its path followed), lies
// inside a remote's root or holds one, where whoever writes the remote could remove the index,
// its holds and the time-shift record; then why.
std::string IndexInsideARemote(FileSystem& fs, const Config& config);

// Makes the index folder ready for a command that may write it (created when `create`), after
// checking it is not inside a remote (IndexInsideARemote): "" or why not.
std::string PrepareIndex(FileSystem& fs, const Config& config, const StateDir& state, bool create);

// Step 2 alone, read-only: "" when `remote` can be protected, else the reason. What would not stop
// protection but needs an administrator before the remote is handed over (a root this process
// cannot write immutability.json in) goes to `notes`.
std::string CheckRemote(FileSystem& fs, const StateDir& state, const RemoteConfig& remote,
                        std::vector<std::string>* notes);

}  // namespace xoi

#endif  // XOI_LIB_RUN_SESSION_H_
