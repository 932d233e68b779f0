// `xo-immutable status`: what is protected, per VM and per backup run, in the terms an XO user
// thinks in. For each VM: each run (<dt>) with its files, whether all of them are locked and until
// when; and for delta backups, whether the whole chain back to its key backup is locked (XO marks
// an incremental backup protected only then), drawn as the K/d timeline of XO's documentation:
//
//     Kdddddd [Kdddddd Kdd]     10 backups protected, 2 chains
//
// Runs in brackets are those whose whole chain is locked. A run's kind comes from its metadata
// json (`mode`, `isVhdDifferencing`); where that cannot be read (encrypted), it is said so and only
// the files are shown. Each file names the holds that keep it locked. The values and the pure
// parts: lib/run/status.h gathers them, lib/report/status_report.h prints them.
#ifndef XOI_LIB_CORE_BACKUP_STATUS_H_
#define XOI_LIB_CORE_BACKUP_STATUS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/core/hold.h"

namespace xoi {

struct BackupFile {
  std::string path;  // remote-relative; a VHD directory ends in '/'
  bool locked = false;
  absl::Time expires_at;
  std::vector<uint64_t> held_by;  // the holds covering it (lib/core/hold.h)
};

struct BackupRun {
  std::string timestamp;  // <dt>
  enum class Kind { kKey, kDelta, kUnknown } kind = Kind::kUnknown;
  std::string metadata_note;  // why the kind is unknown: "no metadata yet", "encrypted?", ...
  std::vector<BackupFile> files;
  bool all_locked = false;    // every file (metadata included) is immutable
  absl::Time locked_until;    // the earliest expiry among them (when all_locked)
  bool chain_locked = false;  // this run and every run back to its key backup are all_locked
};

struct VmStatus {
  std::string uuid;
  std::vector<BackupRun> runs;  // oldest first
  std::string timeline;         // "Kdddddd [Kdddddd Kdd]"
  int protected_runs = 0;       // runs with chain_locked
  int protected_chains = 0;
};

struct RemoteStatus {
  std::string id;
  std::string root;
  std::string error;  // non-empty: the remote could not be read
  HoldSet holds;
  std::string holds_error;  // non-empty: the holds could not be read (runs lift nothing)
  // By hold id: the locked items it covers anywhere on the remote (config and pool backups too,
  // which `vms` does not show).
  std::map<uint64_t, uint64_t> locked_items_held;
  std::string only_vm;  // non-empty: `vms` holds at most this VM (status --vm)
  std::vector<VmStatus> vms;
};

// Sets run->kind (or run->metadata_note) from the run's metadata json, as read (or not: ENOENT
// means the run has not finished).
void ReadRunKind(const absl::StatusOr<std::string>& metadata, BackupRun* run);

// Fills each run's all_locked and locked_until from its files, and chain_locked, the timeline and
// the counts of `vm` from its runs (oldest first).
void Summarise(VmStatus* vm);

}  // namespace xoi

#endif  // XOI_LIB_CORE_BACKUP_STATUS_H_
