#include "lib/fs/probes.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
    // No O_TMPFILE here (some network filesystems), or a root this process may not create files
    // in (owned by another user, and no CAP_DAC_OVERRIDE): the read-only checks above have to do.
    const int err = ErrnoOf(probe.status());
    if (err == EOPNOTSUPP || err == EISDIR || err == EINVAL || err == EACCES || err == EROFS) {
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

absl::StatusOr<std::string> FilesystemFingerprint(FileSystem& fs, int root_fd,
                                                  const std::string& root) {
  struct statfs sfs;
  if (fstatfs(root_fd, &sfs) != 0) return ErrnoError(errno, "statfs", root);
  int fsid[2];
  static_assert(sizeof(fsid) == sizeof(sfs.f_fsid));
  memcpy(fsid, &sfs.f_fsid, sizeof(fsid));
  // f_fsid comes from the filesystem UUID on ext4, XFS and btrfs: stable across reboots, unlike
  // st_dev. Where it is zero (some virtual filesystems) the device number has to do.
  if (fsid[0] == 0 && fsid[1] == 0) {
    auto st = fs.StatFd(root_fd, root);
    if (!st.ok()) return st.status();
    return absl::StrFormat("%x:dev:%x", static_cast<uint64_t>(sfs.f_type), st->dev);
  }
  return absl::StrFormat("%x:fsid:%08x%08x", static_cast<uint64_t>(sfs.f_type),
                         static_cast<uint32_t>(fsid[0]), static_cast<uint32_t>(fsid[1]));
}

}  // namespace xoi
