// The index: a day-bucketed ledger of what this program locked, one small file per item.
//
//   <indexPath>/<remoteId>/<YYYY-MM-DD>/<sha256 hex of the item's absolute path>
//
// The day is the item's creation day (UTC), so the entries that may expire are found by folder
// name. An entry (lib/core/index_entry.h) records the item's absolute path and identity. Entries
// are written after the flag is set and removed after it is cleared; each write is an atomic
// rename. The set of entry names is loaded from the folder listings alone (no file is read in the
// steady state); contents are read only when a decision needs them.
#ifndef XOI_LIB_FS_INDEX_H_
#define XOI_LIB_FS_INDEX_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "lib/core/index_entry.h"
#include "lib/fs/fd.h"
#include "lib/fs/file_system.h"

namespace xoi {

class Index {
 public:
  // Opens the index of remote `remote_id` below `index_path`, creating the folders (0700) when
  // `create` is true; with `create` false a missing index is an empty one (dry runs write
  // nothing). Loads every entry name and removes empty day folders left by an interrupted run.
  static absl::StatusOr<std::unique_ptr<Index>> Open(FileSystem& fs, const std::string& index_path,
                                                     const std::string& remote_id, bool create);

  // Not thread-safe for writers: Contains() and Read() may run concurrently with each other,
  // never with Put() or Remove().
  bool Contains(absl::CivilDay day, absl::string_view name) const;
  absl::StatusOr<IndexEntry> Read(absl::CivilDay day, absl::string_view name) const;
  absl::Status Put(absl::CivilDay day, const IndexEntry& entry);
  absl::Status Remove(absl::CivilDay day, absl::string_view name);

  // Every entry known, sorted by day then name.
  std::vector<IndexKey> Keys() const;
  // The same without the entries whose Key() is in `except`: only those are copied and sorted
  // (after a walk that reached every item, none).
  std::vector<IndexKey> KeysExcept(const absl::flat_hash_set<std::string>& except) const;
  // An entry's key, "YYYY-MM-DD/<name>": what KeysExcept() compares with.
  static std::string Key(absl::CivilDay day, absl::string_view name) { return KeyOf(day, name); }
  size_t size() const { return keys_.size(); }

  // Makes every write so far durable (one syncfs instead of an fsync per entry); nothing to do,
  // and no system call, when nothing was written.
  absl::Status Sync();

  // The folder of this remote's index (<indexPath>/<remoteId>), -1 when it does not exist.
  int dir_fd() const { return dir_.get(); }
  const std::string& dir_path() const { return dir_path_; }

 private:
  Index(FileSystem& fs, Fd dir, std::string dir_path)
      : fs_(fs), dir_(std::move(dir)), dir_path_(std::move(dir_path)) {}
  // Loads the entry names; with `tidy`, also removes empty day folders.
  absl::Status Load(bool tidy);
  static std::string KeyOf(absl::CivilDay day, absl::string_view name);

  FileSystem& fs_;
  Fd dir_;
  std::string dir_path_;
  absl::flat_hash_set<std::string> keys_;  // "YYYY-MM-DD/<name>"
  bool dirty_ = false;                     // written since the last Sync()
};

}  // namespace xoi

#endif  // XOI_LIB_FS_INDEX_H_
