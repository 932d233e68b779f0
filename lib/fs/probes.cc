#include "lib/fs/probes.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "lib/core/config.h"
#include "lib/core/status.h"
#include "lib/fs/fd.h"
#include "lib/fs/file_system.h"

namespace xoi {

std::vector<std::string> MissingCapabilities() {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  std::vector<std::string> missing;
  if (syscall(SYS_capget, &header, data) != 0) return {"(capget failed)"};
  const std::pair<int, const char*> kNeeded[] = {
      {CAP_LINUX_IMMUTABLE, "CAP_LINUX_IMMUTABLE"},
      {CAP_FOWNER, "CAP_FOWNER"},
      {CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH"},
      {CAP_LEASE, "CAP_LEASE"},
  };
  for (const auto& [cap, name] : kNeeded) {
    if ((data[cap / 32].effective & (1u << (cap % 32))) == 0) missing.emplace_back(name);
  }
  return missing;
}

absl::StatusOr<std::string> ResolvedPath(int dir_fd) {
  const std::string link = absl::StrCat("/proc/self/fd/", dir_fd);
  char target[PATH_MAX];
  const ssize_t n = readlink(link.c_str(), target, sizeof(target));
  if (n < 0) return ErrnoError(errno, "readlink", link);
  if (static_cast<size_t>(n) >= sizeof(target)) return ErrnoError(ENAMETOOLONG, "readlink", link);
  return std::string(target, static_cast<size_t>(n));
}

std::string UnescapeMountinfo(absl::string_view field) {
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && octal(field[i + 1]) && octal(field[i + 2]) &&
        octal(field[i + 3])) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

absl::StatusOr<FilesystemPlace> PlaceInFilesystem(int dir_fd) {
  XOI_ASSIGN_OR_RETURN(const std::string path, ResolvedPath(dir_fd));
  // The mount the descriptor was opened through, by its id (fdinfo's mnt_id): a path's longest
  // mount point can name a mount that another one, mounted later over its parent, hides.
  const std::string fdinfo = absl::StrCat("/proc/self/fdinfo/", dir_fd);
  std::ifstream info(fdinfo);
  std::string line, mount_id;
  while (std::getline(info, line)) {
    absl::string_view field = line;
    if (absl::ConsumePrefix(&field, "mnt_id:")) {
      mount_id = std::string(absl::StripAsciiWhitespace(field));
      break;
    }
  }
  if (mount_id.empty()) return absl::NotFoundError(absl::StrCat(fdinfo, ": no mnt_id"));
  std::ifstream mounts("/proc/self/mountinfo");
  if (!mounts) return ErrnoError(errno, "open", "/proc/self/mountinfo");
  while (std::getline(mounts, line)) {
    const std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (f.size() < 5 || f[0] != mount_id) continue;
    const std::string mount_point = UnescapeMountinfo(f[4]);
    if (!IsSameOrBelow(path, mount_point)) break;
    const std::string root = UnescapeMountinfo(f[3]);
    const std::string below = mount_point == "/" ? path : path.substr(mount_point.size());
    return FilesystemPlace{std::string(f[2]),
                           root == "/" ? (below.empty() ? "/" : below) : absl::StrCat(root, below)};
  }
  return absl::NotFoundError(absl::StrCat(path, ": its mount ", mount_id, " is not in mountinfo"));
}

bool MayCreateFilesIn(int dir_fd) {
  return faccessat(dir_fd, ".", W_OK, AT_EACCESS) == 0 || errno != EACCES;
}

absl::Status CheckMountedReadWrite(int root_fd, const std::string& root) {
  struct statvfs sv;
  if (fstatvfs(root_fd, &sv) != 0) return ErrnoError(errno, "statvfs", root);
  if ((sv.f_flag & ST_RDONLY) == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      root, ": mounted read-only, no flag can be set or cleared there (a service unit without ",
      "ReadWritePaths= for it?)"));
}

absl::Status CheckImmutableSupport(FileSystem& fs, int root_fd, const std::string& root,
                                   bool read_only) {
  auto st = fs.StatFd(root_fd, root);
  if (!st.ok()) return st.status();
  if (!st->immutable_known) {
    return absl::FailedPreconditionError(absl::StrCat(
        root, ": the filesystem does not support the immutable attribute (statx reports none)"));
  }
  if (auto flags = fs.GetInodeFlags(root_fd, root); !flags.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(root, ": the filesystem does not support the immutable attribute (",
                     strerror(ErrnoOf(flags.status())), ")"));
  }
  if (read_only) return absl::OkStatus();
  auto probe = fs.CreateAt(root_fd, ".", O_TMPFILE | O_RDWR, 0600, root);
  if (!probe.ok()) {
    // No O_TMPFILE here (some network filesystems), a root this process may not create files in
    // (owned by another user, and no CAP_DAC_OVERRIDE), or a full filesystem (where setting the
    // flag on existing inodes still works, and the last backups written before it filled up need
    // it most): the read-only checks above have to do.
    const int err = ErrnoOf(probe.status());
    if (err == EOPNOTSUPP || err == EISDIR || err == EINVAL || err == EACCES || err == EROFS ||
        err == ENOSPC || err == EDQUOT) {
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(
        absl::StrCat(root, ": cannot create a test inode (", strerror(err), ")"));
  }
  auto set = SetImmutable(fs, probe->get(), true, absl::StrCat(root, " (test inode)"));
  if (!set.ok()) {
    const int err = ErrnoOf(set.status());
    return absl::FailedPreconditionError(absl::StrCat(
        root, ": ",
        err == EPERM ? "setting the immutable flag was refused (missing CAP_LINUX_IMMUTABLE?)"
                     : "the filesystem does not support the immutable attribute",
        " (", set.status().message(), ")"));
  }
  auto cleared = SetImmutable(fs, probe->get(), false, absl::StrCat(root, " (test inode)"));
  if (!cleared.ok()) return cleared.status();  // the inode is unnamed: it goes away on close
  return absl::OkStatus();
}

namespace {

// FS_IOC_GETFSUUID (Linux 6.5) is newer than Debian 12's kernel headers.
struct FsUuid2 {
  uint8_t len;
  uint8_t uuid[16];
};
constexpr unsigned long kGetFsUuid = _IOR(0x15, 0, FsUuid2);

}  // namespace

absl::StatusOr<FilesystemIdentity> IdentifyFilesystem(FileSystem& fs, int root_fd,
                                                      const std::string& root) {
  struct statfs sfs;
  if (fstatfs(root_fd, &sfs) != 0) return ErrnoError(errno, "statfs", root);
  XOI_ASSIGN_OR_RETURN(FileStat st, fs.StatFd(root_fd, root));
  const uint64_t type = static_cast<uint64_t>(sfs.f_type);
  FilesystemIdentity id;
  FsUuid2 uuid = {};
  const bool has_uuid =
      ioctl(root_fd, kGetFsUuid, &uuid) == 0 && uuid.len > 0 && uuid.len <= sizeof(uuid.uuid) &&
      std::any_of(uuid.uuid, uuid.uuid + uuid.len, [](uint8_t b) { return b != 0; });
  if (has_uuid) {
    id.current = absl::StrFormat("%x:uuid:", type);
    for (uint8_t i = 0; i < uuid.len; ++i) absl::StrAppendFormat(&id.current, "%02x", uuid.uuid[i]);
  } else {
    // No UUID to be had (older kernels, some filesystems; an all-zero one names nothing): the root
    // folder's own identity, which
    // survives reboots and renumbered disks, and is not the empty folder of the parent filesystem
    // that an unmounted disk leaves behind.
    id.current = absl::StrFormat("%x:root:%d:%d", type, st.ino, absl::ToUnixNanos(st.birth));
  }
  // What earlier versions recorded: f_fsid (XFS derives it from the device number, so it changes
  // when the disk is renumbered), or the device number where f_fsid is zero.
  int fsid[2];
  static_assert(sizeof(fsid) == sizeof(sfs.f_fsid));
  memcpy(fsid, &sfs.f_fsid, sizeof(fsid));
  id.legacy = fsid[0] == 0 && fsid[1] == 0
                  ? absl::StrFormat("%x:dev:%x", type, st.dev)
                  : absl::StrFormat("%x:fsid:%08x%08x", type, static_cast<uint32_t>(fsid[0]),
                                    static_cast<uint32_t>(fsid[1]));
  return id;
}

}  // namespace xoi
