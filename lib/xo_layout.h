// What Xen Orchestra's remote layout says about whether an item's backup run is complete.
//
// XO writes a run's metadata last: `<dt>.json` in the VM folder for VM backups, `metadata.json` in
// the run's folder for config and pool metadata backups. An item whose marker exists belongs to a
// finished run; one whose marker is missing is still being written, or belongs to a run that failed
// (the caller then waits for orphanGrace).
#ifndef XOI_LIB_XO_LAYOUT_H_
#define XOI_LIB_XO_LAYOUT_H_

#include <string>
#include "absl/strings/string_view.h"

namespace xoi {

struct RunCheck {
  bool complete = false;
  // The marker that completes the run (remote-relative), or why none could be named. Empty when
  // the item needs no marker: it is one, or it lies outside XO's three backup folders.
  std::string marker;
};

// True for XO's run timestamps, "20261101T010000Z".
bool IsXoTimestamp(absl::string_view text);

// Checks the run of the item at `path` (remote-relative; `tree` for a VHD directory) below the
// remote root `root_fd`. Reads the folder's aliases for a VHD directory not named by timestamp.
RunCheck CheckRun(int root_fd, absl::string_view path, bool tree);

}  // namespace xoi

#endif  // XOI_LIB_XO_LAYOUT_H_
