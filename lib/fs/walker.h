// Parallel, pruned traversal of a remote with a GlobSet, and the walk of one tree item's members.
//
// The walker knows nothing about protection: it reports the items the glob set matches, with their
// statx, and names it refuses to follow. One more kind of item comes from XO's layout, not from the
// globs: a backup folder XO's daemon locked whole (IsXoBackupFolder, immutable) is reported as a
// tree and not entered. It never follows a symlink, never leaves the remote's
// filesystem, never lists a directory below which no pattern can match, and looks up literal
// segments (`vdis`, `data`) directly instead of listing their parent. Directories are shared out to
// `jobs` worker threads (a shared LIFO stack: depth-first, so memory stays proportional to the
// width of the walk, not the size of the remote); a large directory's entries are examined in
// shares of a few hundred, handed to whichever worker is idle, so that a folder of a million
// names (an attacker's, or a large VM folder) is not examined by one thread alone.
#ifndef XOI_LIB_FS_WALKER_H_
#define XOI_LIB_FS_WALKER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/core/facts.h"
#include "lib/core/glob_set.h"
#include "lib/fs/file_system.h"

namespace xoi {

// Receives what the walk finds. Called concurrently from the worker threads; `worker` (0..jobs-1)
// lets an implementation keep per-worker state without locks.
class WalkVisitor {
 public:
  virtual ~WalkVisitor() = default;
  virtual void OnItem(int worker, Candidate candidate) = 0;
  // A matched name that is not followed or not an item: symlink, FIFO, mount point, wrong type.
  virtual void OnRefused(int worker, const std::string& path, const std::string& reason) = 0;
  // A directory that could not be listed, a name that could not be examined (not ENOENT).
  virtual void OnError(int worker, const std::string& path, const absl::Status& status) = 0;
};

// Walks the directory `root_fd` (the remote root) with `jobs` threads (at least 1), through `fs`.
WalkStats Walk(FileSystem& fs, int root_fd, const GlobSet& globs, int jobs, WalkVisitor* visitor);

// How far a tree walk goes: folders at most this many levels below the tree's top, whose path in
// the remote is shorter than PATH_MAX (what the kernel opens by path). XO's VHD directories are two
// levels deep; a hostile chain of folders must not exhaust descriptors or stack, nor keep its tree
// from being walked at all.
inline constexpr int kMaxTreeDepth = 32;
// Why a folder beyond that is left as it is, for reports.
inline constexpr char kBeyondReach[] =
    "a folder beyond the walk's reach (more than 32 levels deep, or a path of 4096 bytes or more)";

// One member of a tree item, as WalkTree reports it.
struct Member {
  int parent_fd;     // the directory holding it, open for the duration of the call
  const char* name;  // its name in parent_fd
  std::string path;  // relative to the remote root
  const FileStat& stat;
  // A folder beyond the walk's reach (kMaxTreeDepth, PATH_MAX): visited, never entered (`enter`
  // is not asked), and its members are not visited.
  bool beyond_reach = false;
};

// Why a member of a tree is left as it is by whoever locks the tree, or "": a folder beyond reach,
// a member on another filesystem than `dev` (the tree's), anything but a file or a folder (a FIFO,
// a symlink, ...), a file with other hard links (locking it would lock its other names).
std::string WhyLeftAsItIs(const FileStat& member, bool beyond_reach, uint64_t dev);

// What WalkTree does with the members it finds.
struct TreeVisit {
  // Called for every member, children before the folder holding them; returns false to stop.
  std::function<bool(const Member&)> member;
  // Errors on single members (not ENOENT: vanished members are skipped); the walk goes on.
  std::function<void(const std::string& path, const absl::Status& status)> error;
  // Asked before a member folder (on the tree's filesystem, within reach) is entered; false: its
  // members are not visited, and `member` is still called for it. Null: every folder is entered.
  std::function<bool(const Member&)> enter;
  // When set, a member that getdents types as a regular file is handed here by name instead of
  // to `member`, without the walk's statx: for a caller that opens it and examines it through the
  // descriptor anyway (a lookup less for each block of a large backup). The type is the inode's
  // only while the name cannot be bound to another inode, as in a folder the caller locked before
  // it was listed (TreeLocker). Returns false to stop, as `member` does.
  std::function<bool(int parent_fd, const char* name, const std::string& path)> regular_file;
};

// Visits every member below the open directory `dir_fd` (whose remote-relative path is `path`),
// never following a symlink, entering a folder of another filesystem than `dev` or one beyond
// reach. Returns an error only for `dir_fd` itself.
absl::Status WalkTree(FileSystem& fs, int dir_fd, const std::string& path, uint64_t dev,
                      const TreeVisit& visit);

// WalkTree with `threads` threads for a large tree (a VHD directory of a million blocks): the same
// members, folders and errors, but the callbacks are called from several threads at once, and
// `member` may be called for a folder before its members. Once `member` returned false, no new
// member is visited (those being visited on other threads still finish).
absl::Status WalkTreeShared(FileSystem& fs, int dir_fd, const std::string& path, uint64_t dev,
                            const TreeVisit& visit, int threads);

}  // namespace xoi

#endif  // XOI_LIB_FS_WALKER_H_
