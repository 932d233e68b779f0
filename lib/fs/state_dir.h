// The one owner of the program's state folder, `indexPath`:
//
//   <indexPath>/clock.json           the clock record of the time guard (lib/core/guards.h)
//   <indexPath>/time-shift           the sticky time-shift marker, while lifting is suspended
//   <indexPath>/audit.log            the audit log (audit_log.h)
//   <indexPath>/<id>/                one remote: its index (index.h) and
//   <indexPath>/<id>/.lock           the lock a run holds on the remote (flock)
//   <indexPath>/<id>/filesystem      the fingerprint of the remote's filesystem, from its first run
//   <indexPath>/<id>/last-success    when a run last converged on the remote without errors
//   <indexPath>/<id>/holds           the holds on the remote (lib/core/hold.h)
//   <indexPath>/<id>/xo-daemon-index-imported   XO's daemon's index was read (lib/fs/xo_daemon.h)
//
// The index says what is locked and what may be lifted: anyone who could write it could forge
// entries, so every folder is created 0700 and refused when it belongs to another user or is
// writable by group or others.
#ifndef XOI_LIB_FS_STATE_DIR_H_
#define XOI_LIB_FS_STATE_DIR_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/fs/fd.h"
#include "lib/fs/file_system.h"

namespace xoi {

class StateDir {
 public:
  StateDir(FileSystem& fs, std::string index_path) : fs_(fs), index_path_(std::move(index_path)) {}

  const std::string& path() const { return index_path_; }
  // <indexPath>/<id>
  std::string RemoteDir(const std::string& id) const;

  // Creates <indexPath> (each missing level 0700) when `create`, then checks it is safe to use:
  // FailedPrecondition with the reason (and the commands that fix it) otherwise.
  absl::Status Prepare(bool create) const;
  // The same for <indexPath>/<id> (which a dry run may find missing: that is fine).
  absl::Status PrepareRemote(const std::string& id, bool create) const;

  // Takes the remote's lock without waiting: the descriptor holds it until closed. Unavailable
  // when another process holds it.
  absl::StatusOr<Fd> LockRemote(const std::string& id) const;

  // The filesystem fingerprint recorded on the remote's first run; nullopt when there is none.
  absl::StatusOr<std::optional<std::string>> ReadFingerprint(const std::string& id) const;
  absl::Status WriteFingerprint(const std::string& id, const std::string& fingerprint) const;

  // When a run last converged on the remote; nullopt when unknown.
  std::optional<absl::Time> ReadLastSuccess(const std::string& id) const;
  absl::Status WriteLastSuccess(const std::string& id, absl::Time when) const;

  // The hold file's text; nullopt when there is none. Written atomically and durably.
  absl::StatusOr<std::optional<std::string>> ReadHolds(const std::string& id) const;
  absl::Status WriteHolds(const std::string& id, const std::string& text) const;
  std::string HoldsPath(const std::string& id) const;
  // XO's daemon's index of the remote was read once already (or the marker cannot be read).
  bool XoIndexImported(const std::string& id) const;
  // Records that it was read: `text` says where from and what came of it.
  absl::Status WriteXoIndexImported(const std::string& id, const std::string& text) const;

  // Removes what a run killed before a rename left in <indexPath> (".clock.json.tmp-<pid>", ...):
  // only files of processes that are gone, since a live one may be about to rename its own. Best
  // effort: nothing reads them. Those in a remote's own folder go when its index loads, in the
  // listing it makes anyway (Index::Open).
  void RemoveLeftoverTemporaries() const;

  // The clock record's text; nullopt when there is none yet.
  absl::StatusOr<std::optional<std::string>> ReadClockRecord() const;
  absl::Status WriteClockRecord(const std::string& text, bool sync) const;

  // The time-shift marker's text; nullopt when there is none. Written durably.
  absl::StatusOr<std::optional<std::string>> ReadTimeShift() const;
  absl::Status WriteTimeShift(const std::string& text) const;
  absl::Status RemoveTimeShift() const;
  std::string TimeShiftPath() const;

 private:
  absl::StatusOr<std::optional<std::string>> ReadOptional(const std::string& path,
                                                          size_t max_bytes) const;
  absl::Status WriteIn(const std::string& dir, const char* name, const std::string& content,
                       mode_t mode, bool sync) const;

  FileSystem& fs_;
  std::string index_path_;
};

}  // namespace xoi

#endif  // XOI_LIB_FS_STATE_DIR_H_
