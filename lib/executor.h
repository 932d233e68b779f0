// Applies a plan's actions to a remote, one at a time, through descriptors resolved below the
// remote root (never through a symlink, never across a mount), checking before each flag change
// that the inode is the one the plan decided on.
//
// Ordering makes every kill safe: protect sets the flag, then writes the index entry (a tree: every
// member, then the directory, then the entry); lift clears the flags (members, then the
// directory), then removes the entry. A killed run leaves states the next run converges from.
#ifndef XOI_LIB_EXECUTOR_H_
#define XOI_LIB_EXECUTOR_H_

#include <string>

#include "lib/index.h"
#include "lib/plan.h"

namespace xoi {

enum class Outcome {
  kDone,     // the action took effect
  kWaiting,  // not done: the item is open for writing (a read lease could not be taken)
  kRefused,  // not done: the path changed since the decision (another inode, a symlink, ...)
  kVanished, // not done: the item is gone
  kFailed,   // not done, or partly: an error (with the errno text)
};

absl::string_view OutcomeName(Outcome outcome);

struct ActionResult {
  Outcome outcome = Outcome::kDone;
  std::string detail;      // what went wrong, with the path
  uint64_t flags_changed = 0;  // inodes whose flag this action changed
};

class Executor {
 public:
  // `root_fd` is the open remote root whose absolute path is `root`. `index` receives entries.
  Executor(int root_fd, std::string root, Index* index)
      : root_fd_(root_fd), root_(std::move(root)), index_(index) {}

  ActionResult Apply(const Action& action);

 private:
  ActionResult SetFlag(const Action& action, bool on);
  ActionResult Marker(const Action& action);
  absl::Status Record(const Action& action);

  const int root_fd_;
  const std::string root_;
  Index* const index_;
};

}  // namespace xoi

#endif  // XOI_LIB_EXECUTOR_H_
