// The index: a day-bucketed ledger of what this program locked, keyed by inode identity.
//
//   <indexPath>/<remoteId>/<YYYY-MM-DD>.idx
//
// One file per day holds the records whose expiry counts from that day (lib/core/index_record.h),
// so that the records that may have expired are found by file name. Records live in memory during
// a run; a day's file is rewritten (atomically: a temporary file, then rename) only when its set
// changed, and Flush() makes every rewrite durable with one syncfs. The executor records an item
// after its flag is set and turns it into a "lifted" record after its flag is cleared, and the run
// flushes at the end: a run killed before that leaves locked items without a record, which the next
// run adopts from their ctime (their lock time), and lifted items with a protected record, whose
// lift the next run finishes. Nothing is ever lifted because a record is missing.
//
// A day file that cannot be read or is damaged (truncated, a bad checksum, an unknown version) is
// kept aside as `<name>.damaged` and its records are left out: the walk re-indexes what is still
// locked, and nothing is lifted from it. Entries of the previous format (one file per item in day
// folders, this program's v0.1) are read and migrated.
//
// Thread safety: Find() and records() may run concurrently with each other, never with Put(),
// Remove() or Flush().
#ifndef XOI_LIB_FS_INDEX_H_
#define XOI_LIB_FS_INDEX_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "lib/core/index_record.h"
#include "lib/core/plan.h"
#include "lib/fs/fd.h"
#include "lib/fs/file_system.h"

namespace xoi {

class Index {
 public:
  // Opens the index folder `dir_path` (<indexPath>/<remoteId>) of the remote whose root is
  // `root`, creating it (0700) when `create`; without `create` a missing folder is an empty index
  // and nothing is ever written (dry runs). Loads every day file.
  static absl::StatusOr<std::unique_ptr<Index>> Open(FileSystem& fs, const std::string& dir_path,
                                                     const std::string& root, bool create);

  // What opening found worth saying: damaged day files (kIndexEntryUnreadable), entries migrated
  // from the old format (kIndexNotice).
  const std::vector<Warning>& notices() const { return notices_; }

  // The record of the inode `id`, or nullptr.
  const IndexRecord* Find(const Identity& id) const;
  // Every record, in no particular order (positions are stable until the next Put or Remove).
  const std::vector<IndexRecord>& records() const { return records_; }
  // Records of items protected and not lifted.
  uint64_t protected_count() const;

  // Adds `record`, or replaces the record of the same identity.
  void Put(IndexRecord record);
  // Forgets the record of `id` (nothing when there is none).
  void Remove(const Identity& id);

  // Rewrites the day files whose records changed since the last Flush and makes them durable with
  // one syncfs; no system call when nothing changed. The first successful Flush after a migration
  // also removes the old format's folders.
  absl::Status Flush();

  const std::string& dir_path() const { return dir_path_; }

 private:
  Index(FileSystem& fs, Fd dir, std::string dir_path)
      : fs_(fs), dir_(std::move(dir)), dir_path_(std::move(dir_path)) {}
  absl::Status Load(const std::string& root);
  absl::Status LoadDay(absl::CivilDay day, const std::string& name);
  // The old format: day folders of one file per item.
  absl::Status Migrate(const std::string& root, const std::vector<std::string>& folders);
  void Dirty(const IndexRecord& record) { dirty_.insert(RecordDay(record)); }

  FileSystem& fs_;
  Fd dir_;  // invalid when the folder does not exist (and may not be created)
  bool writable_ = false;
  std::string dir_path_;
  std::vector<IndexRecord> records_;
  absl::flat_hash_map<Identity, size_t> by_identity_;
  std::set<absl::CivilDay> dirty_;
  std::set<absl::CivilDay> unreadable_;   // left out, and never rewritten, this run
  std::vector<std::string> old_folders_;  // migrated, removed after the next Flush
  std::vector<Warning> notices_;
};

}  // namespace xoi

#endif  // XOI_LIB_FS_INDEX_H_
