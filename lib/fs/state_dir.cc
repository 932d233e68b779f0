#include "lib/fs/state_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "lib/core/status.h"

namespace xoi {
namespace {

constexpr char kLockName[] = ".lock";
constexpr char kFingerprintName[] = "filesystem";
constexpr char kLastSuccessName[] = "last-success";
constexpr char kHoldsName[] = "holds";
// Pins make a hold file grow with the items held (some 30 bytes each).
constexpr size_t kMaxHoldsSize = size_t{256} << 20;
constexpr char kXoIndexImportedName[] = "xo-daemon-index-imported";
constexpr char kClockRecordName[] = "clock.json";
constexpr char kTimeShiftName[] = "time-shift";

// "" when `dir` is safe to keep the index in (or missing), else why not.
std::string UnsafeFolder(const std::string& dir) {
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    return errno == ENOENT ? "" : std::string(ErrnoError(errno, "stat", dir).message());
  }
  // A symlink is refused too: whoever can change where it leads chooses where the records go.
  if (S_ISLNK(st.st_mode)) {
    return absl::StrCat("index folder ", dir,
                        " is a symlink, not followed: make it a real folder (for indexPath itself, "
                        "give the folder it leads to)");
  }
  if (!S_ISDIR(st.st_mode)) return absl::StrCat("index folder ", dir, " is not a directory");
  if (st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
    return absl::StrFormat(
        "index folder %s is owned by uid %d with mode %04o: it must belong to uid %d and not be "
        "writable by group or others (chown %d %s; chmod 700 %s)",
        dir, st.st_uid, st.st_mode & 07777, geteuid(), geteuid(), dir, dir);
  }
  return "";
}

absl::Status MakeDirs(FileSystem& fs, const std::string& path) {
  std::string prefix;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&prefix, "/", part);
    XOI_RETURN_IF_ERROR(fs.MakeDir(AT_FDCWD, prefix.c_str(), 0700, prefix));
  }
  return absl::OkStatus();
}

}  // namespace

std::string StateDir::RemoteDir(const std::string& id) const {
  return absl::StrCat(index_path_, "/", id);
}

absl::Status StateDir::Prepare(bool create) const {
  if (create) XOI_RETURN_IF_ERROR(MakeDirs(fs_, index_path_));
  if (std::string why = UnsafeFolder(index_path_); !why.empty()) {
    return absl::FailedPreconditionError(why);
  }
  return absl::OkStatus();
}

absl::Status StateDir::PrepareRemote(const std::string& id, bool create) const {
  const std::string dir = RemoteDir(id);
  if (create) XOI_RETURN_IF_ERROR(MakeDirs(fs_, dir));
  for (const std::string& d : {index_path_, dir}) {
    if (std::string why = UnsafeFolder(d); !why.empty()) {
      return absl::FailedPreconditionError(why);
    }
  }
  return absl::OkStatus();
}

void StateDir::RemoveLeftoverTemporaries() const {
  absl::StatusOr<Fd> fd = fs_.OpenDirByPath(index_path_);
  if (!fd.ok()) return;
  std::vector<std::string> leftovers;
  (void)fs_.ListDir(fd->get(), index_path_, [&](absl::string_view name, unsigned char type) {
    if (type == DT_REG && IsTemporaryOfAGoneProcess(name)) leftovers.emplace_back(name);
    return true;
  });
  for (const std::string& name : leftovers) {
    (void)fs_.Unlink(fd->get(), name.c_str(), 0, absl::StrCat(index_path_, "/", name));
  }
}

absl::StatusOr<Fd> StateDir::LockRemote(const std::string& id) const {
  const std::string path = absl::StrCat(RemoteDir(id), "/", kLockName);
  absl::StatusOr<Fd> created = fs_.CreateAt(AT_FDCWD, path.c_str(), O_RDWR, 0600, path);
  // The index's filesystem remounted read-only (ext4's errors=remount-ro): a lock file there
  // still locks, read-only, so that the backups are locked all the same (their records are
  // written by a later run, as on a full disk).
  if (!created.ok() && ErrnoOf(created.status()) == EROFS) {
    created = fs_.OpenAt(AT_FDCWD, path.c_str(), O_RDONLY | O_NOFOLLOW, path);
  }
  XOI_ASSIGN_OR_RETURN(Fd fd, std::move(created));
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::UnavailableError(absl::StrCat("another xo-immutable run holds ", path));
    }
    return ErrnoError(errno, "lock", path);
  }
  return fd;
}

absl::StatusOr<std::optional<std::string>> StateDir::ReadOptional(const std::string& path,
                                                                  size_t max_bytes) const {
  auto content = fs_.ReadSmallFile(AT_FDCWD, path.c_str(), max_bytes, path);
  if (content.ok()) return std::optional<std::string>(*std::move(content));
  if (ErrnoOf(content.status()) == ENOENT) return std::optional<std::string>();
  return content.status();
}

absl::Status StateDir::WriteIn(const std::string& dir, const char* name, const std::string& content,
                               mode_t mode, bool sync) const {
  XOI_ASSIGN_OR_RETURN(Fd fd, fs_.OpenDirByPath(dir));
  return fs_.WriteFileAtomic(fd.get(), name, content, mode, sync, absl::StrCat(dir, "/", name));
}

absl::StatusOr<std::optional<std::string>> StateDir::ReadFingerprint(const std::string& id) const {
  return ReadOptional(absl::StrCat(RemoteDir(id), "/", kFingerprintName), 256);
}

absl::Status StateDir::WriteFingerprint(const std::string& id,
                                        const std::string& fingerprint) const {
  return WriteIn(RemoteDir(id), kFingerprintName, fingerprint, 0600, /*sync=*/true);
}

std::optional<absl::Time> StateDir::ReadLastSuccess(const std::string& id) const {
  auto recorded = ReadOptional(absl::StrCat(RemoteDir(id), "/", kLastSuccessName), 64);
  int64_t seconds = 0;
  if (!recorded.ok() || !recorded->has_value() ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(**recorded), &seconds)) {
    return std::nullopt;
  }
  return absl::FromUnixSeconds(seconds);
}

absl::Status StateDir::WriteLastSuccess(const std::string& id, absl::Time when) const {
  return WriteIn(RemoteDir(id), kLastSuccessName, absl::StrCat(absl::ToUnixSeconds(when), "\n"),
                 0644, /*sync=*/true);
}

absl::StatusOr<std::optional<std::string>> StateDir::ReadHolds(const std::string& id) const {
  return ReadOptional(HoldsPath(id), kMaxHoldsSize);
}

absl::Status StateDir::WriteHolds(const std::string& id, const std::string& text) const {
  return WriteIn(RemoteDir(id), kHoldsName, text, 0600, /*sync=*/true);
}

std::string StateDir::HoldsPath(const std::string& id) const {
  return absl::StrCat(RemoteDir(id), "/", kHoldsName);
}

bool StateDir::XoIndexImported(const std::string& id) const {
  auto recorded = ReadOptional(absl::StrCat(RemoteDir(id), "/", kXoIndexImportedName), 4096);
  // Unreadable counts as done: reading XO's whole index every minute is what the marker prevents.
  return !recorded.ok() || recorded->has_value();
}

absl::Status StateDir::WriteXoIndexImported(const std::string& id, const std::string& text) const {
  return WriteIn(RemoteDir(id), kXoIndexImportedName, text, 0600, /*sync=*/true);
}

absl::StatusOr<std::optional<std::string>> StateDir::ReadClockRecord() const {
  return ReadOptional(absl::StrCat(index_path_, "/", kClockRecordName), 4096);
}

absl::Status StateDir::WriteClockRecord(const std::string& text, bool sync) const {
  return WriteIn(index_path_, kClockRecordName, text, 0600, sync);
}

absl::StatusOr<std::optional<std::string>> StateDir::ReadTimeShift() const {
  return ReadOptional(TimeShiftPath(), size_t{64} << 10);
}

absl::Status StateDir::WriteTimeShift(const std::string& text) const {
  return WriteIn(index_path_, kTimeShiftName, text, 0600, /*sync=*/true);
}

absl::Status StateDir::RemoveTimeShift() const {
  const std::string path = TimeShiftPath();
  absl::Status removed = fs_.Unlink(AT_FDCWD, path.c_str(), 0, path);
  return removed.ok() || ErrnoOf(removed) == ENOENT ? absl::OkStatus() : removed;
}

std::string StateDir::TimeShiftPath() const {
  return absl::StrCat(index_path_, "/", kTimeShiftName);
}

}  // namespace xoi
