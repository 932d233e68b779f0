// The index: a day-bucketed ledger of what this program locked, keyed by inode identity.
//
//   <indexPath>/<remoteId>/<YYYY-MM-DD>.idx
//
// One file per day holds the records whose expiry counts from that day (lib/core/index_record.h),
// so that the records that may have expired are found by file name. A run holds in memory a
// 32-byte summary of each record (no path), sorted by identity, and the records it changed; the
// paths stay in the day files, which are read again, as streams, only for what needs them (the
// records the walk did not reach, the rewrite of a changed day, a dump). A day's file is rewritten
// (atomically: a temporary file, then rename) only when its set changed, and Flush() makes every
// rewrite durable with one syncfs. The executor records an item after its flag is set and turns it
// into a "lifted" record after its flag is cleared, and the run flushes at the end: a run killed
// before that leaves locked items without a record, which the next run adopts from their ctime
// (their lock time), and lifted items with a protected record, whose lift the next run finishes.
// Nothing is ever lifted because a record is missing.
//
// A day file that cannot be read or is damaged (truncated, a bad checksum, an unknown version) is
// kept aside as `<name>.damaged` and its records are left out: the walk re-indexes what is still
// locked, and nothing is lifted from it. One inode recorded in two day files (a run killed between
// two rewrites) keeps its later reference. Entries of the previous format (one file per item in
// day folders, this program's v0.1) are read and migrated.
//
// Thread safety: Find() and Slot() may run concurrently with each other (the walk's workers), and
// Put() and Remove() with each other (the executor's), never the ones with the others or Flush().
#ifndef XOI_LIB_FS_INDEX_H_
#define XOI_LIB_FS_INDEX_H_

#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/functional/function_ref.h"
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
  // and nothing is ever written (dry runs). Reads every day file once, as a stream.
  static absl::StatusOr<std::unique_ptr<Index>> Open(FileSystem& fs, const std::string& dir_path,
                                                     const std::string& root, bool create);

  // What opening found worth saying: damaged day files (kIndexEntryUnreadable), entries migrated
  // from the old format (kIndexNotice).
  const std::vector<Warning>& notices() const { return notices_; }

  // The record of the inode `id` as it stands (loaded, or as last Put), or nullptr. Valid until
  // the next Put or Remove.
  const RecordSummary* Find(const Identity& id) const;

  // The records loaded by Open() are numbered 0 .. loaded()-1; a record Put since has no number.
  static constexpr size_t kNoSlot = ~size_t{0};
  size_t loaded() const { return loaded_.size(); }
  size_t Slot(const RecordSummary& summary) const;

  // Calls `visit` with every record as it stands whose summary `wanted` accepts, reading only the
  // day files that hold one (none when none does). Records come day by day, by path within a day,
  // then those Put since Open. An error when a day file cannot be read again as it was loaded.
  absl::Status ForEach(absl::FunctionRef<bool(const RecordSummary&)> wanted,
                       absl::FunctionRef<void(const IndexRecord&)> visit) const;
  absl::Status ForEach(absl::FunctionRef<void(const IndexRecord&)> visit) const {
    return ForEach([](const RecordSummary&) { return true; }, visit);
  }

  // Records of items protected and not lifted.
  uint64_t protected_count() const;

  // Whether a loaded record of an item lifted once was made at `path` (whatever inode is there
  // now). Shares IsAt's chance of a false "yes" for each lifted record, 2^-32, keyed per run.
  bool LiftedAt(absl::string_view path) const {
    return std::binary_search(lifted_paths_.begin(), lifted_paths_.end(),
                              RecordSummary::PathKey(path));
  }

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
  // A record Put or Removed since Open (record empty: removed).
  struct Change {
    std::optional<IndexRecord> record;
    RecordSummary summary;
  };

  Index(FileSystem& fs, Fd dir, std::string dir_path)
      : fs_(fs), dir_(std::move(dir)), dir_path_(std::move(dir_path)) {}
  absl::Status Load(const std::string& root);
  // Streams day `day`'s file to `sink`; ENOENT when it is gone, InvalidArgument when damaged.
  // `announced`, if set, learns how many records the day's header announces before the first
  // record goes to `sink`.
  absl::Status ReadDay(absl::CivilDay day, std::function<void(IndexRecord)> sink,
                       std::function<void(size_t)> announced = nullptr) const;
  void LoadDay(absl::CivilDay day);
  void SetAside(absl::CivilDay day, absl::string_view why);
  // The old format: day folders of one file per item.
  absl::Status Migrate(const std::string& root, const std::vector<std::string>& folders);
  const RecordSummary* FindLoaded(const Identity& id) const;
  // Fills buckets_ from loaded_ (sorted).
  void BuildBuckets();
  // The loaded record `record` (read from day `day`) is the one its summary stands for, and no
  // change replaced it.
  const RecordSummary* Current(absl::CivilDay day, const IndexRecord& record) const;
  void Dirty(absl::CivilDay day) { dirty_.insert(day); }

  FileSystem& fs_;
  Fd dir_;  // invalid when the folder does not exist (and may not be created)
  bool writable_ = false;
  std::string dir_path_;
  std::vector<RecordSummary> loaded_;   // by identity, one per identity
  std::vector<uint32_t> lifted_paths_;  // path keys of the loaded lifted records, sorted
  // buckets_[b] is the first slot of loaded_ whose (inode number - bucket_base_) >> bucket_shift_
  // is b or more: a lookup searches one bucket (a few cache lines), not a million records (twenty
  // cache misses).
  std::vector<uint32_t> buckets_;
  uint64_t bucket_base_ = 0;
  int bucket_shift_ = 0;
  std::mutex changes_mu_;  // Put and Remove from several threads
  absl::node_hash_map<Identity, Change> changes_;
  std::set<absl::CivilDay> dirty_;
  std::set<absl::CivilDay> unreadable_;   // left out, and never rewritten, this run
  std::vector<std::string> old_folders_;  // migrated, removed after the next Flush
  std::vector<Warning> notices_;
};

}  // namespace xoi

#endif  // XOI_LIB_FS_INDEX_H_
