// The narrow filesystem interface: every system call the engine makes on a remote goes through here.
//
// Paths are resolved relative to directory descriptors and never through a symlink or across a
// mount point: a writer who controls the remote can swap any component for a symlink at any time,
// and `chattr` by path would then follow it out of the remote. Functions return errors as values
// (absl::Status built by ErrnoError, so ErrnoOf() gives the errno); ENOENT means "vanished" and
// callers usually skip it quietly.
#ifndef XOI_LIB_FS_H_
#define XOI_LIB_FS_H_

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/fd.h"

namespace xoi {

// What statx tells about one inode, reduced to what the engine decides on.
struct FileStat {
  uint32_t mode = 0;  // type and permission bits (S_IFMT ...)
  uint64_t ino = 0;
  uint64_t dev = 0;  // makedev(stx_dev_major, stx_dev_minor)
  uint32_t nlink = 0;
  uint64_t size = 0;
  absl::Time ctime;
  absl::Time birth;        // stx_btime; ctime when the filesystem has no birth time
  bool has_btime = false;  // false: `birth` is the ctime
  bool immutable = false;
  bool immutable_known = false;  // stx_attributes_mask has the immutable bit

  bool is_regular() const { return S_ISREG(mode); }
  bool is_dir() const { return S_ISDIR(mode); }
  bool is_symlink() const { return S_ISLNK(mode); }
  // Same inode as `other`: inode number and birth time (device numbers can change on reboot).
  bool SameIdentity(const FileStat& other) const {
    return ino == other.ino && birth == other.birth;
  }
};

// A short description of a file type for messages: "regular file", "symlink", "FIFO", ...
absl::string_view FileTypeName(uint32_t mode);

// statx of `name` relative to `dirfd` (AT_FDCWD allowed), never following a symlink.
absl::StatusOr<FileStat> StatAt(int dirfd, const char* name, absl::string_view path_for_errors);

// statx of an open descriptor.
absl::StatusOr<FileStat> StatFd(int fd, absl::string_view path_for_errors);

// Opens `relative` below the directory `root_fd` with `flags` (O_CLOEXEC and O_NOFOLLOW are
// added). No component may be a symlink or `..`, and the path may not leave root_fd's mount
// (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV; on kernels without openat2,
// the same rules applied one component at a time). An empty `relative` opens root_fd's directory.
absl::StatusOr<Fd> OpenBeneath(int root_fd, absl::string_view relative, int flags);

// Opens a directory by absolute path, following nothing but what the administrator configured:
// the path itself may contain symlinks (the remote root may be a symlink to a mount), but the
// result must be a directory.
absl::StatusOr<Fd> OpenRootDir(const std::string& path);

// Sets (on=true) or clears inode flag `flag` (FS_IMMUTABLE_FL, FS_APPEND_FL, ...) of the open file
// `fd`, with a masked read-modify-write that leaves the other flags alone. Does nothing when the
// flag is already as asked; otherwise reads the flags back, because some filesystems ignore the
// request silently. Returns whether the flag changed.
absl::StatusOr<bool> SetInodeFlag(int fd, int flag, bool on, absl::string_view path_for_errors);

// SetInodeFlag(fd, FS_IMMUTABLE_FL, on, ...).
absl::StatusOr<bool> SetImmutable(int fd, bool on, absl::string_view path_for_errors);

// Takes a read lease on the regular file `fd` (opened read-only): fails with EAGAIN (Unavailable)
// while any process holds the file open for writing. The lease ends with ReleaseLease or close.
absl::Status TakeReadLease(int fd, absl::string_view path_for_errors);
void ReleaseLease(int fd);

// Lists the directory `dirfd` with large getdents64 reads, calling `fn(name, d_type)` for every
// entry but `.` and `..`. `fn` returns false to stop early.
absl::Status ListDir(int dirfd, absl::string_view path_for_errors,
                     const std::function<bool(absl::string_view name, unsigned char d_type)>& fn);

// Reads a small regular file (at most `max_bytes`) named `name` below `dirfd`, not following a
// symlink.
absl::StatusOr<std::string> ReadSmallFile(int dirfd, const char* name, size_t max_bytes,
                                          absl::string_view path_for_errors);

// Replaces `name` in `dirfd` with `content` atomically: a temporary dotfile, then rename. A kill
// leaves either the old or the new content. With `sync`, the file and the directory are fsync'ed
// too (durable against power loss); callers writing many files pass false and syncfs() once.
absl::Status WriteFileAtomic(int dirfd, const std::string& name, absl::string_view content,
                             mode_t mode, bool sync, absl::string_view path_for_errors);

// Creates directory `name` in `dirfd` with `mode` if missing (EEXIST is success).
absl::Status MakeDir(int dirfd, const char* name, mode_t mode, absl::string_view path_for_errors);

// The wall clock, read with clock_gettime(CLOCK_REALTIME) (what `faketime` moves in tests).
absl::Time WallClockNow();

}  // namespace xoi

#endif  // XOI_LIB_FS_H_
