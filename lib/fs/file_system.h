// The narrow filesystem interface: every system call the engine makes on a remote or on its own
// state goes through a FileSystem, so that tests can run the same code on a fake that injects
// faults (fake_file_system.h) or for real.
//
// Paths are resolved relative to directory descriptors and never through a symlink or across a
// mount point: a writer who controls the remote can swap any component for a symlink at any time,
// and `chattr` by path would then follow it out of the remote. Every call returns errors as values
// (absl::Status built by ErrnoError, so ErrnoOf() gives the errno, and the message names the
// operation and the path); ENOENT means "vanished" and callers usually skip it quietly.
//
// Thread safety: every method may be called from several threads at once.
#ifndef XOI_LIB_FS_FILE_SYSTEM_H_
#define XOI_LIB_FS_FILE_SYSTEM_H_

#include <sys/types.h>

#include <functional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/core/facts.h"
#include "lib/fs/fd.h"

namespace xoi {

// Called for each directory entry with its name and getdents' d_type; returns false to stop.
using ListFn = std::function<bool(absl::string_view name, unsigned char d_type)>;

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // statx of `name` relative to `dirfd` (AT_FDCWD allowed), never following a symlink.
  virtual absl::StatusOr<FileStat> StatAt(int dirfd, const char* name,
                                          absl::string_view path_for_errors) = 0;

  // statx of an open descriptor.
  virtual absl::StatusOr<FileStat> StatFd(int fd, absl::string_view path_for_errors) = 0;

  // Opens `relative` below the directory `root_fd` with `flags` (O_CLOEXEC and O_NOFOLLOW are
  // added). No component may be a symlink or `..`, and the path may not leave root_fd's mount
  // (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV; on kernels without openat2,
  // the same rules applied one component at a time). An empty `relative` opens root_fd's
  // directory.
  virtual absl::StatusOr<Fd> OpenBeneath(int root_fd, absl::string_view relative, int flags) = 0;

  // openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC): one component, never a symlink.
  virtual absl::StatusOr<Fd> OpenAt(int dirfd, const char* name, int flags,
                                    absl::string_view path_for_errors) = 0;

  // openat(dirfd, name, flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode): creates the file if
  // missing (with O_TMPFILE in `flags`: an unnamed inode in the directory `name`).
  virtual absl::StatusOr<Fd> CreateAt(int dirfd, const char* name, int flags, mode_t mode,
                                      absl::string_view path_for_errors) = 0;

  // Opens a directory by absolute path, following nothing but what the administrator configured:
  // the path itself may contain symlinks (the remote root may be a symlink to a mount), but the
  // result must be a directory.
  virtual absl::StatusOr<Fd> OpenDirByPath(const std::string& path) = 0;

  // Lists the directory `dirfd` with large getdents64 reads, calling `fn` for every entry but `.`
  // and `..`.
  virtual absl::Status ListDir(int dirfd, absl::string_view path_for_errors, const ListFn& fn) = 0;

  // Reads a small regular file (at most `max_bytes`) named `name` below `dirfd`, not following a
  // symlink and never blocking on a FIFO or a device.
  virtual absl::StatusOr<std::string> ReadSmallFile(int dirfd, const char* name, size_t max_bytes,
                                                    absl::string_view path_for_errors) = 0;

  // Appends `content` to `fd` (opened O_APPEND) with a single write(2), so that lines of several
  // processes never interleave; a short write is an error (ENOSPC).
  virtual absl::Status Append(int fd, absl::string_view content,
                              absl::string_view path_for_errors) = 0;

  // Reads exactly `size` bytes at `offset` of `fd` into `buffer` (pread); a file that ends before
  // is an error (DataLoss).
  virtual absl::Status PRead(int fd, uint64_t offset, char* buffer, size_t size,
                             absl::string_view path_for_errors) = 0;

  // The inode flags of `fd` (FS_IOC_GETFLAGS): fails where the filesystem has none.
  virtual absl::StatusOr<int> GetInodeFlags(int fd, absl::string_view path_for_errors) = 0;

  // Sets (on=true) or clears inode flag `flag` (FS_IMMUTABLE_FL, FS_APPEND_FL, ...) of the open
  // file `fd`, with a masked read-modify-write that leaves the other flags alone. Does nothing
  // when the flag is already as asked. Some filesystems ignore the request silently: with
  // `read_back`, the flags are read back after a change to catch that; a caller that stats the
  // inode after the change anyway passes false and checks FileStat::immutable itself (one system
  // call less for each block of a large backup). Returns whether the flag changed.
  virtual absl::StatusOr<bool> SetInodeFlag(int fd, int flag, bool on, bool read_back,
                                            absl::string_view path_for_errors) = 0;

  // Takes and releases the inode's own lock, so that operations which checked the inode before
  // and are waiting for its lock (link(2) checks the immutable flag before taking it) finish
  // first. It does so with fchmod(fd, mode), which the kernel refuses on an immutable inode only
  // once it holds that lock. `mode` is the inode's mode as last seen: where the flag did not take
  // (a filesystem the start-up probe refuses), the fchmod succeeds, sets that mode again and moves
  // the ctime, and the caller's look that follows reports the failure.
  virtual void WaitForInodeLock(int fd, mode_t mode) = 0;

  // Takes a read lease on the regular file `fd` (opened read-only): fails with EAGAIN
  // (Unavailable) while any process holds the file open for writing. The lease ends when `fd` is
  // closed.
  virtual absl::Status TakeReadLease(int fd, absl::string_view path_for_errors) = 0;

  // Replaces `name` in `dirfd` with `content` atomically: a temporary dotfile, then rename. A kill
  // leaves either the old or the new content. With `sync`, the file and the directory are fsync'ed
  // too (durable against power loss); callers writing many files pass false and sync once.
  absl::Status WriteFileAtomic(int dirfd, const std::string& name, absl::string_view content,
                               mode_t mode, bool sync, absl::string_view path_for_errors);

  // The same with the content written piece by piece: `produce` hands each piece to the function
  // it is given, in order, and returns OK once all were given. The file is replaced only then; a
  // failure (of `produce`, or of a write, which `produce` is told) leaves the old one.
  using ContentWriter = absl::FunctionRef<absl::Status(absl::string_view piece)>;
  virtual absl::Status WriteFileAtomicFrom(int dirfd, const std::string& name,
                                           absl::FunctionRef<absl::Status(ContentWriter)> produce,
                                           mode_t mode, bool sync,
                                           absl::string_view path_for_errors) = 0;

  // Creates directory `name` in `dirfd` with `mode` if missing (EEXIST is success).
  virtual absl::Status MakeDir(int dirfd, const char* name, mode_t mode,
                               absl::string_view path_for_errors) = 0;

  // renameat(dirfd, from, dirfd, to): within one folder.
  virtual absl::Status Rename(int dirfd, const char* from, const char* to,
                              absl::string_view path_for_errors) = 0;

  // unlinkat(dirfd, name, flags): AT_REMOVEDIR removes an (empty) directory.
  virtual absl::Status Unlink(int dirfd, const char* name, int flags,
                              absl::string_view path_for_errors) = 0;

  // syncfs() of the filesystem holding `fd`.
  virtual absl::Status SyncFilesystem(int fd, absl::string_view path_for_errors) = 0;
};

// The real filesystem (a process-wide instance).
FileSystem& RealFileSystem();

// fs.SetInodeFlag(fd, FS_IMMUTABLE_FL, on, ...).
absl::StatusOr<bool> SetImmutable(FileSystem& fs, int fd, bool on,
                                  absl::string_view path_for_errors);

// Writes `content` to the file at `path` (absolute or relative to the working directory)
// atomically and durably: reports, metrics, state files.
absl::Status WriteWholeFile(FileSystem& fs, const std::string& path, absl::string_view content,
                            mode_t mode);

// The folder holding `path` as written ("." for a bare name, "/" for one at the root).
std::string FolderOf(const std::string& path);

// Whether `name` is a temporary of WriteFileAtomicFrom (".<file>.tmp-<pid>[-<attempt>]") whose
// process is gone: a run killed before its rename left it, and nothing will rename it now.
bool IsTemporaryOfAGoneProcess(absl::string_view name);

}  // namespace xoi

#endif  // XOI_LIB_FS_FILE_SYSTEM_H_
