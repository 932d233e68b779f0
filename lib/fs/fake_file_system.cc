#include "lib/fs/fake_file_system.h"

#include <fcntl.h>
#include <linux/fs.h>

#include "lib/core/status.h"

namespace xoi {
namespace {

bool HasImmutableFlag(const std::map<std::pair<uint64_t, uint64_t>, int>& flags,
                      const FileStat& st) {
  auto it = flags.find({st.dev, st.ino});
  return it != flags.end() && (it->second & FS_IMMUTABLE_FL) != 0;
}

}  // namespace

void FakeFileSystem::Fail(Op op, std::string path_part, int err, int times) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(Fault{op, std::move(path_part), err, times, nullptr});
}

void FakeFileSystem::FailExactly(Op op, std::string path, int err, int times) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(Fault{op, std::move(path), err, times, nullptr, /*exact=*/true});
}

void FakeFileSystem::Before(Op op, std::string path_part, std::function<void()> strike, int times) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(Fault{op, std::move(path_part), 0, times, std::move(strike)});
}

void FakeFileSystem::HoldOpenForWriting(std::string path_part) {
  std::lock_guard<std::mutex> lock(mu_);
  busy_.push_back(std::move(path_part));
}

void FakeFileSystem::IgnoreFlagRequests(std::string path_part) {
  std::lock_guard<std::mutex> lock(mu_);
  ignored_.push_back(std::move(path_part));
}

bool FakeFileSystem::IsImmutable(const std::string& path) {
  auto st = real_.StatAt(AT_FDCWD, path.c_str(), path);
  if (!st.ok()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = flags_.find({st->dev, st->ino});
  return it != flags_.end() && (it->second & FS_IMMUTABLE_FL) != 0;
}

void FakeFileSystem::SetImmutableByPath(const std::string& path, bool on) {
  auto st = real_.StatAt(AT_FDCWD, path.c_str(), path);
  if (!st.ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  int& flags = flags_[{st->dev, st->ino}];
  flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
}

int FakeFileSystem::Calls(Op op) {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_[op];
}

absl::Status FakeFileSystem::Injected(Op op, absl::string_view path) {
  std::function<void()> strike;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_[op];
    for (Fault& fault : faults_) {
      const bool matches = fault.exact ? path == fault.path_part
                                       : path.find(fault.path_part) != absl::string_view::npos;
      if (fault.op != op || fault.times == 0 || !matches) {
        continue;
      }
      --fault.times;
      if (fault.err != 0) return ErrnoError(fault.err, "injected fault in", path);
      strike = fault.strike;
      break;
    }
  }
  if (strike) strike();  // outside the lock: it may use this filesystem
  return absl::OkStatus();
}

absl::StatusOr<FileStat> FakeFileSystem::WithFlags(absl::StatusOr<FileStat> st) {
  if (!st.ok()) return st;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = flags_.find({st->dev, st->ino});
  st->immutable_known = true;
  st->immutable = it != flags_.end() && (it->second & FS_IMMUTABLE_FL) != 0;
  return st;
}

absl::StatusOr<FileStat> FakeFileSystem::StatAt(int dirfd, const char* name,
                                                absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kStat, path_for_errors));
  return WithFlags(real_.StatAt(dirfd, name, path_for_errors));
}

absl::StatusOr<FileStat> FakeFileSystem::StatFd(int fd, absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kStat, path_for_errors));
  return WithFlags(real_.StatFd(fd, path_for_errors));
}

absl::StatusOr<Fd> FakeFileSystem::OpenBeneath(int root_fd, absl::string_view relative, int flags) {
  XOI_RETURN_IF_ERROR(Injected(Op::kOpen, relative));
  return real_.OpenBeneath(root_fd, relative, flags);
}

absl::StatusOr<Fd> FakeFileSystem::OpenAt(int dirfd, const char* name, int flags,
                                          absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kOpen, path_for_errors));
  return real_.OpenAt(dirfd, name, flags, path_for_errors);
}

absl::StatusOr<Fd> FakeFileSystem::CreateAt(int dirfd, const char* name, int flags, mode_t mode,
                                            absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kOpen, path_for_errors));
  return real_.CreateAt(dirfd, name, flags, mode, path_for_errors);
}

absl::StatusOr<Fd> FakeFileSystem::OpenDirByPath(const std::string& path) {
  XOI_RETURN_IF_ERROR(Injected(Op::kOpen, path));
  return real_.OpenDirByPath(path);
}

absl::Status FakeFileSystem::ListDir(int dirfd, absl::string_view path_for_errors,
                                     const ListFn& fn) {
  XOI_RETURN_IF_ERROR(Injected(Op::kList, path_for_errors));
  return real_.ListDir(dirfd, path_for_errors, fn);
}

absl::StatusOr<std::string> FakeFileSystem::ReadSmallFile(int dirfd, const char* name,
                                                          size_t max_bytes,
                                                          absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kRead, path_for_errors));
  return real_.ReadSmallFile(dirfd, name, max_bytes, path_for_errors);
}

absl::Status FakeFileSystem::Append(int fd, absl::string_view content,
                                    absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kWrite, path_for_errors));
  return real_.Append(fd, content, path_for_errors);
}

absl::Status FakeFileSystem::PRead(int fd, uint64_t offset, char* buffer, size_t size,
                                   absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kRead, path_for_errors));
  return real_.PRead(fd, offset, buffer, size, path_for_errors);
}

absl::StatusOr<int> FakeFileSystem::GetInodeFlags(int fd, absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kGetFlags, path_for_errors));
  XOI_ASSIGN_OR_RETURN(FileStat st, real_.StatFd(fd, path_for_errors));
  std::lock_guard<std::mutex> lock(mu_);
  return flags_[{st.dev, st.ino}];
}

absl::StatusOr<bool> FakeFileSystem::SetInodeFlag(int fd, int flag, bool on, bool read_back,
                                                  absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kSetFlag, path_for_errors));
  XOI_ASSIGN_OR_RETURN(FileStat st, real_.StatFd(fd, path_for_errors));
  if (!st.is_regular() && !st.is_dir()) {
    return ErrnoError(ENOTTY, "set flags of", path_for_errors);  // as for FIFOs and devices
  }
  std::lock_guard<std::mutex> lock(mu_);
  int& flags = flags_[{st.dev, st.ino}];
  if (((flags & flag) != 0) == on) return false;
  for (const std::string& part : ignored_) {
    if (path_for_errors.find(part) == absl::string_view::npos) continue;
    if (!read_back) return true;
    return ErrnoError(EOPNOTSUPP, "set flag (ignored by the filesystem) of", path_for_errors);
  }
  flags = on ? (flags | flag) : (flags & ~flag);
  return true;
}

absl::Status FakeFileSystem::TakeReadLease(int fd, absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kLease, path_for_errors));
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& part : busy_) {
    if (path_for_errors.find(part) != absl::string_view::npos) {
      return ErrnoError(EAGAIN, "take read lease on", path_for_errors);
    }
  }
  return absl::OkStatus();
}

void FakeFileSystem::WaitForInodeLock(int, mode_t) {}

absl::Status FakeFileSystem::WriteFileAtomicFrom(
    int dirfd, const std::string& name, absl::FunctionRef<absl::Status(ContentWriter)> produce,
    mode_t mode, bool sync, absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kWrite, path_for_errors));
  // As the kernel would: no entry is created in an immutable directory, and an immutable file is
  // not replaced.
  auto dir = real_.StatFd(dirfd, path_for_errors);
  auto target = real_.StatAt(dirfd, name.c_str(), path_for_errors);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if ((dir.ok() && HasImmutableFlag(flags_, *dir)) ||
        (target.ok() && HasImmutableFlag(flags_, *target))) {
      return ErrnoError(EPERM, "create", path_for_errors);
    }
  }
  return real_.WriteFileAtomicFrom(dirfd, name, produce, mode, sync, path_for_errors);
}

absl::Status FakeFileSystem::MakeDir(int dirfd, const char* name, mode_t mode,
                                     absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kMakeDir, path_for_errors));
  return real_.MakeDir(dirfd, name, mode, path_for_errors);
}

absl::Status FakeFileSystem::Unlink(int dirfd, const char* name, int flags,
                                    absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kUnlink, path_for_errors));
  // As the kernel would: nothing is removed from an immutable directory, nor an immutable inode.
  auto dir = real_.StatFd(dirfd, path_for_errors);
  auto target = real_.StatAt(dirfd, name, path_for_errors);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if ((dir.ok() && HasImmutableFlag(flags_, *dir)) ||
        (target.ok() && HasImmutableFlag(flags_, *target))) {
      return ErrnoError(EPERM, "remove", path_for_errors);
    }
  }
  return real_.Unlink(dirfd, name, flags, path_for_errors);
}

absl::Status FakeFileSystem::Rename(int dirfd, const char* from, const char* to,
                                    absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kUnlink, path_for_errors));
  return real_.Rename(dirfd, from, to, path_for_errors);
}

absl::Status FakeFileSystem::SyncFilesystem(int fd, absl::string_view path_for_errors) {
  XOI_RETURN_IF_ERROR(Injected(Op::kSync, path_for_errors));
  return real_.SyncFilesystem(fd, path_for_errors);
}

}  // namespace xoi
