#include "lib/fs/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/core/status.h"

namespace xoi {
namespace {

constexpr unsigned kStatxMask =
    STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_INO | STATX_SIZE | STATX_CTIME | STATX_BTIME;

absl::Time ToTime(const struct statx_timestamp& ts) {
  return absl::FromUnixSeconds(ts.tv_sec) + absl::Nanoseconds(ts.tv_nsec);
}

FileStat FromStatx(const struct statx& sx) {
  FileStat st;
  st.mode = sx.stx_mode;
  st.ino = sx.stx_ino;
  st.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  st.nlink = sx.stx_nlink;
  st.size = sx.stx_size;
  st.ctime = ToTime(sx.stx_ctime);
  st.has_btime = (sx.stx_mask & STATX_BTIME) != 0;
  st.birth = st.has_btime ? ToTime(sx.stx_btime) : st.ctime;
  st.immutable_known = (sx.stx_attributes_mask & STATX_ATTR_IMMUTABLE) != 0;
  st.immutable = (sx.stx_attributes & STATX_ATTR_IMMUTABLE) != 0;
  st.mount_root = (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  return st;
}

// Applies OpenBeneath's rules one component at a time, for kernels without openat2 (< 5.6).
absl::StatusOr<Fd> OpenBeneathByComponent(int root_fd, absl::string_view relative, int flags) {
  struct stat root_st;
  if (fstat(root_fd, &root_st) != 0) return ErrnoError(errno, "fstat", "(remote root)");
  std::vector<std::string> parts = absl::StrSplit(relative, '/', absl::SkipEmpty());
  Fd current(fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!current.valid()) return ErrnoError(errno, "dup", relative);
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    if (parts[i] == "..") return ErrnoError(EXDEV, "open", relative);
    const int f = last ? flags : (O_PATH | O_DIRECTORY);
    Fd next(openat(current.get(), parts[i].c_str(), f | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) return ErrnoError(errno == ENOTDIR ? ELOOP : errno, "open", relative);
    struct stat st;
    if (fstat(next.get(), &st) != 0) return ErrnoError(errno, "fstat", relative);
    if (st.st_dev != root_st.st_dev) return ErrnoError(EXDEV, "open", relative);
    current = std::move(next);
  }
  if (parts.empty() && (flags & O_PATH) == 0) {
    Fd reopened(openat(current.get(), ".", flags | O_CLOEXEC));
    if (!reopened.valid()) return ErrnoError(errno, "open", ".");
    return reopened;
  }
  return current;
}

class RealFs : public FileSystem {
 public:
  absl::StatusOr<FileStat> StatAt(int dirfd, const char* name,
                                  absl::string_view path_for_errors) override {
    struct statx sx;
    if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC | AT_NO_AUTOMOUNT, kStatxMask,
              &sx) != 0) {
      return ErrnoError(errno, "statx", path_for_errors);
    }
    return FromStatx(sx);
  }

  absl::StatusOr<FileStat> StatFd(int fd, absl::string_view path_for_errors) override {
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, kStatxMask, &sx) != 0) {
      return ErrnoError(errno, "statx", path_for_errors);
    }
    return FromStatx(sx);
  }

  absl::StatusOr<Fd> OpenBeneath(int root_fd, absl::string_view relative, int flags) override {
    if (has_openat2_.load(std::memory_order_relaxed)) {
      struct open_how how = {};
      how.flags = static_cast<uint64_t>(flags | O_CLOEXEC | O_NOFOLLOW);
      how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS;
      const std::string path = relative.empty() ? std::string(".") : std::string(relative);
      const long fd = syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof(how));
      if (fd >= 0) return Fd(static_cast<int>(fd));
      if (errno != ENOSYS) return ErrnoError(errno, "open", relative);
      has_openat2_.store(false, std::memory_order_relaxed);
    }
    return OpenBeneathByComponent(root_fd, relative, flags);
  }

  absl::StatusOr<Fd> OpenAt(int dirfd, const char* name, int flags,
                            absl::string_view path_for_errors) override {
    Fd fd(openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError(errno, "open", path_for_errors);
    return fd;
  }

  absl::StatusOr<Fd> CreateAt(int dirfd, const char* name, int flags, mode_t mode,
                              absl::string_view path_for_errors) override {
    const int create = (flags & O_TMPFILE) == O_TMPFILE ? 0 : O_CREAT;
    Fd fd(openat(dirfd, name, flags | create | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd.valid()) return ErrnoError(errno, "create", path_for_errors);
    return fd;
  }

  absl::StatusOr<Fd> OpenDirByPath(const std::string& path) override {
    Fd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError(errno, "open", path);
    return fd;
  }

  absl::Status ListDir(int dirfd, absl::string_view path_for_errors, const ListFn& fn) override {
    // 64 KiB holds about two thousand entries: one system call for most XO folders.
    constexpr size_t kBufferSize = size_t{64} << 10;
    auto buffer = std::make_unique<char[]>(kBufferSize);
    if (lseek(dirfd, 0, SEEK_SET) != 0) return ErrnoError(errno, "rewind", path_for_errors);
    for (;;) {
      const ssize_t n = getdents64(dirfd, buffer.get(), kBufferSize);
      if (n < 0) return ErrnoError(errno, "list", path_for_errors);
      if (n == 0) return absl::OkStatus();
      for (ssize_t offset = 0; offset < n;) {
        const auto* entry = reinterpret_cast<const struct dirent64*>(buffer.get() + offset);
        offset += entry->d_reclen;
        const absl::string_view name(entry->d_name);
        if (name == "." || name == "..") continue;
        if (!fn(name, entry->d_type)) return absl::OkStatus();
      }
    }
  }

  absl::StatusOr<std::string> ReadSmallFile(int dirfd, const char* name, size_t max_bytes,
                                            absl::string_view path_for_errors) override {
    // The type is checked before anything is opened: opening a FIFO, a socket or a device a writer
    // planted (a tape rewinds when it is opened) could block or do harm; after opening, the inode
    // must still be the one checked.
    XOI_ASSIGN_OR_RETURN(FileStat before, StatAt(dirfd, name, path_for_errors));
    if (!before.is_regular()) {
      return ErrnoError(EINVAL, "read (not a regular file)", path_for_errors);
    }
    Fd fd(openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError(errno, "open", path_for_errors);
    XOI_ASSIGN_OR_RETURN(FileStat st, StatFd(fd.get(), path_for_errors));
    if (!st.is_regular() || !st.SameIdentity(before)) {
      return ErrnoError(EINVAL, "read (replaced while being opened)", path_for_errors);
    }
    if (st.size > max_bytes) return ErrnoError(EFBIG, "read", path_for_errors);
    // Sized by what statx said (a day file's limit is large, and zero-filling it for every read
    // is not free), growing up to one byte past the limit for a file that grew meanwhile.
    std::string content(std::min<size_t>(st.size, max_bytes) + 1, '\0');
    size_t total = 0;
    for (;;) {
      if (total == content.size()) {
        if (content.size() > max_bytes) break;
        content.resize(std::min(content.size() * 2, max_bytes + 1));
      }
      const ssize_t n = read(fd.get(), content.data() + total, content.size() - total);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError(errno, "read", path_for_errors);
      if (n == 0) break;
      total += static_cast<size_t>(n);
    }
    if (total > max_bytes) return ErrnoError(EFBIG, "read", path_for_errors);
    content.resize(total);
    return content;
  }

  absl::Status Append(int fd, absl::string_view content,
                      absl::string_view path_for_errors) override {
    const ssize_t n = write(fd, content.data(), content.size());
    if (n < 0) return ErrnoError(errno, "append to", path_for_errors);
    if (static_cast<size_t>(n) != content.size()) {
      return ErrnoError(ENOSPC, "append to", path_for_errors);
    }
    return absl::OkStatus();
  }

  absl::Status PRead(int fd, uint64_t offset, char* buffer, size_t size,
                     absl::string_view path_for_errors) override {
    for (size_t done = 0; done < size;) {
      const ssize_t n = pread(fd, buffer + done, size - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError(errno, "read", path_for_errors);
      if (n == 0)
        return absl::DataLossError(absl::StrCat("read ", path_for_errors, ": ends early"));
      done += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int> GetInodeFlags(int fd, absl::string_view path_for_errors) override {
    int flags = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
      return ErrnoError(errno, "get flags of", path_for_errors);
    }
    return flags;
  }

  absl::StatusOr<bool> SetInodeFlag(int fd, int flag, bool on, bool read_back,
                                    absl::string_view path_for_errors) override {
    const absl::string_view name = flag == FS_IMMUTABLE_FL ? "immutable" : "append-only";
    int flags = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
      return ErrnoError(errno, "get flags of", path_for_errors);
    }
    if (((flags & flag) != 0) == on) return false;
    const int wanted = on ? (flags | flag) : (flags & ~flag);
    if (ioctl(fd, FS_IOC_SETFLAGS, &wanted) != 0) {
      return ErrnoError(errno, absl::StrCat(on ? "set " : "clear ", name, " flag of"),
                        path_for_errors);
    }
    if (!read_back) return true;
    int after = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &after) != 0) {
      return ErrnoError(errno, "get flags of", path_for_errors);
    }
    if (((after & flag) != 0) != on) {
      return ErrnoError(
          EOPNOTSUPP,
          absl::StrCat(on ? "set " : "clear ", name, " flag (ignored by the filesystem) of"),
          path_for_errors);
    }
    return true;
  }

  void WaitForInodeLock(int fd, mode_t mode) override { (void)fchmod(fd, mode & 07777); }

  absl::Status TakeReadLease(int fd, absl::string_view path_for_errors) override {
    if (fcntl(fd, F_SETLEASE, F_RDLCK) != 0) {
      return ErrnoError(errno, "take read lease on", path_for_errors);
    }
    return absl::OkStatus();
  }

  absl::Status WriteFileAtomicFrom(int dirfd, const std::string& name,
                                   absl::FunctionRef<absl::Status(ContentWriter)> produce,
                                   mode_t mode, bool sync,
                                   absl::string_view path_for_errors) override {
    // The temporary name is created exclusively: in a folder a writer controls (the remote root),
    // a hard link or symlink planted under that name must never be truncated, followed, or renamed
    // into place. A name that is taken is skipped.
    std::string temp;
    Fd fd;
    for (int attempt = 0; !fd.valid(); ++attempt) {
      temp = absl::StrCat(".", name, ".tmp-", getpid(),
                          attempt == 0 ? "" : absl::StrCat("-", attempt));
      fd = Fd(
          openat(dirfd, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
      if (!fd.valid() && (errno != EEXIST || attempt == 99)) {
        return ErrnoError(errno, "create", path_for_errors);
      }
    }
    auto fail = [&](int err, absl::string_view op) {
      unlinkat(dirfd, temp.c_str(), 0);
      return ErrnoError(err, op, path_for_errors);
    };
    const absl::Status produced = produce([&](absl::string_view piece) -> absl::Status {
      for (size_t done = 0; done < piece.size();) {
        const ssize_t n = write(fd.get(), piece.data() + done, piece.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ErrnoError(errno, "write", path_for_errors);
        done += static_cast<size_t>(n);
      }
      return absl::OkStatus();
    });
    if (!produced.ok()) {
      unlinkat(dirfd, temp.c_str(), 0);
      return produced;
    }
    if (fchmod(fd.get(), mode) != 0) return fail(errno, "chmod");
    if (sync && fsync(fd.get()) != 0) return fail(errno, "fsync");
    if (close(fd.Release()) != 0) return fail(errno, "close");
    if (renameat(dirfd, temp.c_str(), dirfd, name.c_str()) != 0) {
      return fail(errno, "rename onto");
    }
    if (sync && fsync(dirfd) != 0) return ErrnoError(errno, "fsync directory of", path_for_errors);
    return absl::OkStatus();
  }

  absl::Status MakeDir(int dirfd, const char* name, mode_t mode,
                       absl::string_view path_for_errors) override {
    if (mkdirat(dirfd, name, mode) != 0 && errno != EEXIST) {
      return ErrnoError(errno, "create directory", path_for_errors);
    }
    return absl::OkStatus();
  }

  absl::Status Rename(int dirfd, const char* from, const char* to,
                      absl::string_view path_for_errors) override {
    if (renameat(dirfd, from, dirfd, to) != 0) return ErrnoError(errno, "rename", path_for_errors);
    return absl::OkStatus();
  }

  absl::Status Unlink(int dirfd, const char* name, int flags,
                      absl::string_view path_for_errors) override {
    if (unlinkat(dirfd, name, flags) != 0) return ErrnoError(errno, "remove", path_for_errors);
    return absl::OkStatus();
  }

  absl::Status SyncFilesystem(int fd, absl::string_view path_for_errors) override {
    if (syncfs(fd) != 0) return ErrnoError(errno, "syncfs", path_for_errors);
    return absl::OkStatus();
  }

 private:
  // Cleared once, by whichever thread first meets a kernel without openat2.
  std::atomic<bool> has_openat2_{true};
};

}  // namespace

absl::Status FileSystem::WriteFileAtomic(int dirfd, const std::string& name,
                                         absl::string_view content, mode_t mode, bool sync,
                                         absl::string_view path_for_errors) {
  return WriteFileAtomicFrom(
      dirfd, name, [&](ContentWriter write) { return write(content); }, mode, sync,
      path_for_errors);
}

FileSystem& RealFileSystem() {
  static RealFs* const fs = new RealFs();
  return *fs;
}

absl::StatusOr<bool> SetImmutable(FileSystem& fs, int fd, bool on,
                                  absl::string_view path_for_errors) {
  return fs.SetInodeFlag(fd, FS_IMMUTABLE_FL, on, /*read_back=*/true, path_for_errors);
}

std::string FolderOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

absl::Status WriteWholeFile(FileSystem& fs, const std::string& path, absl::string_view content,
                            mode_t mode) {
  const std::string dir = FolderOf(path);
  const size_t slash = path.rfind('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  XOI_ASSIGN_OR_RETURN(Fd dir_fd, fs.OpenDirByPath(dir));
  return fs.WriteFileAtomic(dir_fd.get(), name, content, mode, /*sync=*/true, path);
}

bool IsTemporaryOfAGoneProcess(absl::string_view name) {
  if (!absl::StartsWith(name, ".")) return false;
  const size_t at = name.rfind(".tmp-");
  if (at == absl::string_view::npos) return false;
  absl::string_view digits = name.substr(at + 5);
  digits = digits.substr(0, digits.find('-'));
  int pid = 0;
  if (!absl::SimpleAtoi(digits, &pid) || pid <= 0) return false;
  return kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace xoi
