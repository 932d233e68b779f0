// Applies a plan's actions to a remote, one at a time, through descriptors resolved below the
// remote root (never through a symlink, never across a mount), checking before each flag change
// that the inode is the one the plan decided on.
//
// Ordering makes every kill safe: protect sets the flag, then writes the index entry (a tree: every
// member, then the directory, then the entry); lift clears the flags (members, then the
// directory), then removes the entry. A killed run leaves states the next run converges from.
#ifndef XOI_LIB_FS_EXECUTOR_H_
#define XOI_LIB_FS_EXECUTOR_H_

#include <string>

#include "lib/core/plan.h"
#include "lib/fs/file_system.h"
#include "lib/fs/index.h"

namespace xoi {

class Executor {
 public:
  // `root_fd` is the open remote root whose absolute path is `root`. `index` receives entries.
  // Every system call goes through `fs`.
  Executor(FileSystem& fs, int root_fd, std::string root, Index* index)
      : fs_(fs), root_fd_(root_fd), root_(std::move(root)), index_(index) {}

  // Carries out `action` exactly as planned; what cannot be done is the result's outcome, never a
  // different action.
  ActionResult Apply(const Action& action);

 private:
  ActionResult SetFlag(const Action& action, bool on);
  ActionResult Marker(const Action& action);
  absl::Status Record(const Action& action);

  FileSystem& fs_;
  const int root_fd_;
  const std::string root_;
  Index* const index_;
};

}  // namespace xoi

#endif  // XOI_LIB_FS_EXECUTOR_H_
