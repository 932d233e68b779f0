// Carries out a plan's entries on a remote, one at a time, through descriptors resolved below the
// remote root (never through a symlink, never across a mount), checking before each flag change
// that the inode is the one the plan decided on. It never decides: what it cannot do becomes the
// entry's outcome.
//
// Protecting a tree locks it top down: the directory first, then each folder before it is listed
// and what it holds, so that nothing can appear in a folder after its listing (a folder made while
// the blocks are being locked cannot stay mutable inside a locked tree). Members that can never be
// locked (FIFOs, symlinks, files with other hard links, another filesystem) are left as they are
// and named in the outcome. The item's record (lib/fs/index.h) is written once its flags are set,
// even when a member failed half-way (marked incomplete: the next run finishes the job), so that
// nothing this program locked is ever left without a record.
//
// Lifting a tree clears only the members the plan says belong to it (born before
// Action::members_born_before), descends only into member folders that are immutable, then the
// directory; its record becomes a "lifted" record.
#ifndef XOI_LIB_FS_EXECUTOR_H_
#define XOI_LIB_FS_EXECUTOR_H_

#include <string>

#include "absl/status/statusor.h"
#include "lib/core/plan.h"
#include "lib/fs/file_system.h"
#include "lib/fs/index.h"

namespace xoi {

// An inode opened for a flag change, and what statx says of it once open.
struct OpenInode {
  Fd fd;
  FileStat stat;
};

// Not thread-safe: one Executor a thread. It keeps the folder of its last item open, so that the
// next item in the same folder (plans are sorted by path) is opened with one lookup instead of a
// walk from the root; the identity check after each open is what makes that safe when the folder
// was moved meanwhile.
class Executor {
 public:
  // `root_fd` is the open remote root. `index` receives records (in memory: the caller flushes it;
  // Index::Put may be called from several threads). Every system call goes through `fs`. A tree
  // is locked by `tree_threads` threads of its own.
  Executor(FileSystem& fs, int root_fd, Index* index, int tree_threads = 1)
      : fs_(fs), root_fd_(root_fd), index_(index), tree_threads_(tree_threads) {}

  // Carries out `action` exactly as planned; what cannot be done is the result's outcome, never a
  // different action.
  ActionResult Apply(const Action& action);

 private:
  ActionResult Protect(const Action& action);
  ActionResult Lift(const Action& action);
  ActionResult Marker(const Action& action);
  void Record(const Action& action, absl::Time reference, absl::Time locked_at, bool lifted,
              bool complete = true);
  // Opens the item of `action` for a flag change, checked to be the inode decided on.
  absl::StatusOr<OpenInode> OpenItem(const Action& action);

  FileSystem& fs_;
  const int root_fd_;
  Index* const index_;
  const int tree_threads_;
  Fd folder_fd_;        // O_PATH, opened beneath the root
  std::string folder_;  // remote-relative path folder_fd_ was opened by
};

}  // namespace xoi

#endif  // XOI_LIB_FS_EXECUTOR_H_
