// A sequence of records that may not fit in memory: a plan over a million items, their outcomes.
// Records are kept in memory up to a budget; beyond it they are sorted and written out in runs to
// unnamed temporary files (O_TMPFILE: nothing is left behind, whatever ends the process), and read
// back in key order by merging the runs, so that memory stays bounded by the budget, however many
// records there are.
//
// Thread safety: Add() may be called from several threads at once; ForEach() only once adding is
// over.
#ifndef XOI_LIB_FS_SPOOL_H_
#define XOI_LIB_FS_SPOOL_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "lib/fs/fd.h"
#include "lib/fs/file_system.h"

namespace xoi {

class Spool {
 public:
  // Spills into unnamed files in the folder `dir` (one of the program's own, on a disk: a spool
  // that spills to tmpfs only moves the memory elsewhere).
  Spool(FileSystem& fs, std::string dir, size_t memory_budget = size_t{8} << 20);

  // Adds a record. Records with equal keys come back in the order they were added.
  absl::Status Add(absl::string_view key, absl::string_view value);

  // Calls `fn` for every record in key order; `fn` returns false to stop. Can be called again.
  absl::Status ForEach(
      const std::function<bool(absl::string_view key, absl::string_view value)>& fn);

  uint64_t size() const { return count_; }
  // Runs written to disk so far (for tests and benchmarks).
  size_t runs() const { return runs_.size(); }

 private:
  struct Run {
    Fd fd;
    uint64_t bytes = 0;
  };
  absl::Status SpillLocked();

  FileSystem& fs_;
  const std::string dir_;
  Fd dir_fd_;  // opened at the first spill, kept for the next ones
  const size_t budget_;
  std::mutex mu_;
  // Keys carry the order of addition (8 bytes, big-endian) so that equal keys stay in order.
  std::vector<std::pair<std::string, std::string>> buffer_;
  size_t buffered_bytes_ = 0;
  uint64_t count_ = 0;
  std::vector<Run> runs_;
};

}  // namespace xoi

#endif  // XOI_LIB_FS_SPOOL_H_
