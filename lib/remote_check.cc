#include "lib/remote_check.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/fd.h"
#include "lib/fs.h"
#include "lib/status.h"

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

absl::Status CheckImmutableSupport(int root_fd, const std::string& root, bool read_only) {
  auto st = StatFd(root_fd, root);
  if (!st.ok()) return st.status();
  if (!st->immutable_known) {
    return absl::FailedPreconditionError(absl::StrCat(
        root, ": the filesystem does not support the immutable attribute (statx reports none)"));
  }
  int flags = 0;
  if (ioctl(root_fd, FS_IOC_GETFLAGS, &flags) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        root, ": the filesystem does not support the immutable attribute (", strerror(errno),
        ")"));
  }
  if (read_only) return absl::OkStatus();
  Fd probe(openat(root_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!probe.valid()) {
    // No O_TMPFILE here (some network filesystems), or a root this process may not create files
    // in (owned by another user, and no CAP_DAC_OVERRIDE): the read-only checks above have to do.
    if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL || errno == EACCES ||
        errno == EROFS) {
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(absl::StrCat(
        root, ": cannot create a test inode (", strerror(errno), ")"));
  }
  auto set = SetImmutable(probe.get(), true, absl::StrCat(root, " (test inode)"));
  if (!set.ok()) {
    const int err = ErrnoOf(set.status());
    return absl::FailedPreconditionError(absl::StrCat(
        root, ": ",
        err == EPERM ? "setting the immutable flag was refused (missing CAP_LINUX_IMMUTABLE?)"
                     : "the filesystem does not support the immutable attribute",
        " (", set.status().message(), ")"));
  }
  auto cleared = SetImmutable(probe.get(), false, absl::StrCat(root, " (test inode)"));
  if (!cleared.ok()) return cleared.status();  // the inode is unnamed: it goes away on close
  return absl::OkStatus();
}

absl::StatusOr<std::string> FilesystemFingerprint(int root_fd, const std::string& root) {
  struct statfs fs;
  if (fstatfs(root_fd, &fs) != 0) return ErrnoError(errno, "statfs", root);
  int fsid[2];
  static_assert(sizeof(fsid) == sizeof(fs.f_fsid));
  memcpy(fsid, &fs.f_fsid, sizeof(fsid));
  // f_fsid comes from the filesystem UUID on ext4, XFS and btrfs: stable across reboots, unlike
  // st_dev. Where it is zero (some virtual filesystems) the device number has to do.
  if (fsid[0] == 0 && fsid[1] == 0) {
    auto st = StatFd(root_fd, root);
    if (!st.ok()) return st.status();
    return absl::StrFormat("%x:dev:%x", static_cast<uint64_t>(fs.f_type), st->dev);
  }
  return absl::StrFormat("%x:fsid:%08x%08x", static_cast<uint64_t>(fs.f_type),
                         static_cast<uint32_t>(fsid[0]), static_cast<uint32_t>(fsid[1]));
}

}  // namespace xoi
