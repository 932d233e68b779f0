// What Xen Orchestra's remote layout means: the names XO writes, and whether an item's backup run
// is complete. Pure: the facts that cost I/O (does a marker exist, which aliases point where) are
// asked for through RunFacts.
//
// XO writes a run's metadata last: `<dt>.json` in the VM folder for VM backups, `metadata.json` in
// the run's folder for config and pool metadata backups. An item whose marker exists belongs to a
// finished run; one whose marker is missing is still being written, or belongs to a run that failed
// (the caller then waits for orphanGrace).
#ifndef XOI_LIB_CORE_XO_LAYOUT_H_
#define XOI_LIB_CORE_XO_LAYOUT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace xoi {

// The file that tells XO the remote is immutable, at the remote root.
inline constexpr char kMarkerName[] = "immutability.json";
// XO's own files at the remote root, kept immutable while the remote is protected.
inline constexpr const char* kXoRootFiles[] = {"encryption.json", "metadata.json"};

// True for the remote's own files at its root: immutability.json and XO's root files.
bool IsRemoteFile(absl::string_view path);

// True for a folder at a level of XO's layout that holds one backup whole: a config backup's
// `xo-config-backups/<schedule>/<dt>` or a pool metadata backup's
// `xo-pool-metadata-backups/<schedule>/<pool>/<dt>` (no name XO never writes: dot-names, `.lock`).
// XO's daemon locks these folders whole and never unlocks them; this program never locks them (it
// locks the files in them), so an immutable one is XO's leftover, adopted as an item taken whole.
// (VHD directories, the other folders it locks, are items taken whole anyway.)
bool IsXoBackupFolder(absl::string_view path);

// True for XO's run timestamps, "20261101T010000Z".
bool IsXoTimestamp(absl::string_view text);

// The part of a file name before its first '.': a run's `<dt>` for XO's backup files.
absl::string_view RunStem(absl::string_view name);

// True for an alias file name, "<dt>.alias.vhd" (XO's dot-names are temporary files, never
// aliases).
bool IsAliasName(absl::string_view name);

// The VHD an alias's content points at, relative to the alias's folder ("data/<name>.vhd"), with
// the surrounding whitespace and a leading "./" removed; nullopt for content that cannot name one
// (empty, or encrypted bytes with a NUL).
std::optional<std::string> AliasTarget(absl::string_view content);

struct RunCheck {
  bool complete = false;
  // The marker that completes the run (remote-relative), or why none could be named. Empty when
  // the item needs no marker: it is one, or it lies outside XO's three backup folders.
  std::string marker;
};

// What CheckRun asks of the remote.
class RunFacts {
 public:
  virtual ~RunFacts() = default;
  // `marker` (remote-relative) exists and is a regular file.
  virtual bool MarkerExists(const std::string& marker) = 0;
  // The names of the aliases in `folder` (remote-relative) whose AliasTarget() is `target`, in
  // name order.
  virtual std::vector<std::string> AliasesPointingAt(const std::string& folder,
                                                     const std::string& target) = 0;
};

// Whether the run of the item at `path` (remote-relative; `tree` for a VHD directory) is complete.
// A VHD directory not named by a timestamp (older XO names them by UUID) belongs to the run of an
// alias pointing at it.
RunCheck CheckRun(absl::string_view path, bool tree, RunFacts& facts);

// The run (`<dt>`) a VM backup item belongs to, for `status`; "" when it belongs to none (not a VM
// backup, or a VHD directory no alias points at).
std::string RunOf(absl::string_view path, bool tree, RunFacts& facts);

}  // namespace xoi

#endif  // XOI_LIB_CORE_XO_LAYOUT_H_
