// Holds: the legal hold of S3 Object Lock and SnapLock for XO remotes (`xo-immutable hold`,
// `release`). While a hold covers an item, nothing lifts it: not expiry, not a shorter duration,
// not duration 0, not the sweep. Locking is never held back.
//
// A hold's selector is a remote-relative path prefix: "" (the whole remote, `--all`),
// `xo-vm-backups/<uuid>` (`--vm`), or any path (`--path`). It covers every item at or below it, and
// the item a held path lies in (a member of a VHD directory holds the directory).
//
// A prefix alone is not enough: whoever writes the remote can rename a mutable VM folder, or move a
// locked file out of a mutable held folder, so that held items leave the prefix and are lifted at
// expiry. So each hold also pins the identities (inode number and birth time) of the items found
// under its selector, by `hold` itself and by every run after it, and an item whose identity a hold
// pinned stays held wherever it moves. A hold of the whole remote needs no pins.
//
// The holds of one remote are one file, <indexPath>/<id>/holds (lib/fs/state_dir.h):
//
//   xo-immutable-holds 1
//   next <next id>
//   hold <id> <unix seconds> <who> <selector> <reason>
//   pin <hold id> <inode, hex> <birth time, ns>
//   ...
//   end <SHA-256 of every line above, hex>
//
// Fields are separated by one tab; text fields are C-escaped (absl::CEscape), so that a tab or a
// newline in a reason cannot forge a field or a line. Anything else (truncated, a bad checksum,
// another version, a pin of no hold) is damaged: the caller must fail closed, lifting nothing.
// Pure: encoding, decoding and the plan transform only.
#ifndef XOI_LIB_CORE_HOLD_H_
#define XOI_LIB_CORE_HOLD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/core/index_record.h"
#include "lib/core/plan.h"

namespace xoi {

struct Hold {
  uint64_t id = 0;                     // monotonic per remote, never reused
  std::string selector;                // remote-relative path prefix; "" = the whole remote
  std::string reason;                  // never empty
  std::string who;                     // who set it (the login behind sudo, and the uid)
  absl::Time when;                     // when it was set
  absl::flat_hash_set<Identity> pins;  // items found under the selector, held wherever they move

  // True when this hold keeps the item at `path` (remote-relative) with identity `id` locked.
  bool Covers(absl::string_view path, const Identity& id) const;
};

// Every hold of one remote.
struct HoldSet {
  uint64_t next_id = 1;
  std::vector<Hold> holds;  // by id

  // The holds covering the item at `path` with identity `id`, by id.
  std::vector<const Hold*> Covering(absl::string_view path, const Identity& id) const;
};

// The selector of `--vm UUID`: xo-vm-backups/<uuid>. InvalidArgument unless `uuid` has the shape
// of a UUID (XO names VM folders by the VM's UUID).
absl::StatusOr<std::string> VmSelector(absl::string_view uuid);
// The selector of `--path PATH`: PATH itself, without trailing slashes. InvalidArgument, naming
// the problem, for an empty path, an absolute one, one with an empty, "." or ".." component or a
// NUL.
absl::StatusOr<std::string> PathSelector(absl::string_view path);

// How a selector is shown: "the whole remote" or the path.
std::string SelectorText(absl::string_view selector);

// The identity of an inode as the index keys it.
Identity IdentityOf(const FileStat& st);

std::string EncodeHolds(const HoldSet& holds);
// InvalidArgument, saying why, for anything that is not a complete, intact hold file.
absl::StatusOr<HoldSet> DecodeHolds(absl::string_view text);

// Turns `action`, when it is a lift a hold covers, into a kHold entry saying which holds keep it
// ("held by hold 3 (incident 42)"); returns whether. Done as entries are planned, so that a held
// lift never takes a lift's place in the run's budget (ActionBudget) nor counts for the guard.
bool HoldLift(const HoldSet& holds, Action* action);

// HoldLift over every entry of `plan`; when any entry is held (now or before), the removal of
// immutability.json too, since the remote is not released while something is held. Returns how
// many entries it held.
size_t ApplyHolds(const HoldSet& holds, Plan* plan);

// Pins identity `id` of the item at `path` in every hold of a path that covers it, so that the
// item stays held wherever it moves. Returns true when a pin was added.
bool Pin(absl::string_view path, const Identity& id, HoldSet* holds);

}  // namespace xoi

#endif  // XOI_LIB_CORE_HOLD_H_
