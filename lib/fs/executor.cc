#include "lib/fs/executor.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "lib/core/status.h"
#include "lib/core/xo_layout.h"
#include "lib/fs/walker.h"

namespace xoi {
namespace {

constexpr int kOpenFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC;

ActionResult Result(Outcome outcome, std::string detail) {
  return ActionResult{outcome, std::move(detail), 0};
}

ActionResult FromStatus(const absl::Status& status) {
  switch (ErrnoOf(status)) {
    case ENOENT:
      return Result(Outcome::kVanished, std::string(status.message()));
    case ELOOP:
    case EXDEV:
      return Result(Outcome::kRefused,
                    absl::StrCat(status.message(), " (a symlink or mount point on the path)"));
    case EAGAIN:
      return Result(Outcome::kWaiting, "open for writing by another process");
    default:
      return Result(Outcome::kFailed, std::string(status.message()));
  }
}

// Opens one inode for a flag change and checks it is the one decided on. `expected.ino == 0`
// skips the identity check (an index entry without one never reaches here for a lift).
absl::StatusOr<Fd> OpenChecked(FileSystem& fs, int dir_fd, absl::string_view name,
                               absl::string_view path, const FileStat& expected, bool beneath) {
  absl::StatusOr<Fd> fd = beneath ? fs.OpenBeneath(dir_fd, name, kOpenFlags)
                                  : fs.OpenAt(dir_fd, std::string(name).c_str(), kOpenFlags, path);
  if (!fd.ok()) return ErrnoError(ErrnoOf(fd.status()), "open", path);
  XOI_ASSIGN_OR_RETURN(FileStat st, fs.StatFd(fd->get(), path));
  if ((st.mode & S_IFMT) != (expected.mode & S_IFMT) || (!st.is_regular() && !st.is_dir())) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": is now a ", FileTypeName(st.mode), ", not touched"));
  }
  if (expected.ino != 0 && !st.SameIdentity(expected)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": replaced by another inode since it was examined, not touched"));
  }
  return fd;
}

// Sets or clears the flag of one open inode; a regular file being protected is first checked for
// writers with a read lease, held until the flag is set so no writer can sneak in between.
absl::StatusOr<bool> ChangeFlag(FileSystem& fs, int fd, const FileStat& st, bool on,
                                absl::string_view path) {
  if (!on || !st.is_regular()) return SetImmutable(fs, fd, on, path);
  if (st.nlink > 1) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": has ", st.nlink, " hard links"));
  }
  absl::Status lease = fs.TakeReadLease(fd, path);
  if (!lease.ok() && ErrnoOf(lease) == EAGAIN) return lease;
  // EINVAL: the filesystem has no leases; the settle time is then the only guard against writers.
  if (!lease.ok() && ErrnoOf(lease) != EINVAL) return lease;
  auto changed = SetImmutable(fs, fd, on, path);
  if (lease.ok()) fs.ReleaseLease(fd);
  if (!changed.ok()) return changed;
  // A link made between the check above and the flag would lock the other name too (possibly
  // outside the remote). link(2) checks the flag before it takes the inode's lock, so a link that
  // passed that check may still be waiting for the lock our flag change held: taking the lock
  // once more lets it finish first. After that no link can be made, and one look settles it:
  // undo, and refuse.
  fs.WaitForInodeLock(fd);
  auto after = fs.StatFd(fd, path);
  if (!after.ok() || after->nlink > 1) {
    absl::Status undone = SetImmutable(fs, fd, false, path).status();
    if (!after.ok()) return after.status();
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": a hard link appeared while it was being locked (", after->nlink,
                     " links): not locked",
                     undone.ok() ? "" : absl::StrCat("; undoing failed: ", undone.message())));
  }
  return changed;
}

}  // namespace

ActionResult Executor::Apply(const Action& action) {
  switch (action.kind) {
    case ActionKind::kProtect:
    case ActionKind::kReprotect:
      return SetFlag(action, true);
    case ActionKind::kLift:
      return SetFlag(action, false);
    case ActionKind::kIndex: {
      absl::Status recorded = Record(action);
      return recorded.ok() ? ActionResult{} : FromStatus(recorded);
    }
    case ActionKind::kUnindex: {
      absl::Status removed = index_->Remove(action.day, action.index_name);
      return removed.ok() ? ActionResult{} : FromStatus(removed);
    }
    case ActionKind::kWriteMarker:
    case ActionKind::kRemoveMarker:
      return Marker(action);
    case ActionKind::kWait:
    case ActionKind::kRefuse:
      return ActionResult{};
  }
  return Result(Outcome::kFailed, "unknown action");
}

absl::Status Executor::Record(const Action& action) {
  IndexEntry entry;
  entry.path = absl::StrCat(root_, "/", action.path);
  entry.has_identity = true;
  entry.dev = action.stat.dev;
  entry.ino = action.stat.ino;
  entry.birth = action.stat.birth;
  entry.tree = action.tree;
  return index_->Put(action.day, entry);
}

ActionResult Executor::SetFlag(const Action& action, bool on) {
  auto top = OpenChecked(fs_, root_fd_, action.path, action.path, action.stat, /*beneath=*/true);
  if (!top.ok()) {
    if (absl::IsFailedPrecondition(top.status())) {
      return Result(Outcome::kRefused, std::string(top.status().message()));
    }
    return FromStatus(top.status());
  }
  ActionResult result;
  if (action.tree) {
    // Members first, the directory last: the directory's flag says "all of it is done".
    absl::Status member_error;
    absl::Status walked = WalkTree(
        fs_, top->get(), action.path, action.stat.dev,
        [&](const Member& m) {
          if (!m.stat.is_regular() && !m.stat.is_dir()) {
            if (!on) return true;  // never locked by us: nothing to lift
            member_error = absl::FailedPreconditionError(
                absl::StrCat(m.path, ": a ", FileTypeName(m.stat.mode), " inside the tree"));
            return false;
          }
          auto fd = OpenChecked(fs_, m.parent_fd, m.name, m.path, m.stat, /*beneath=*/false);
          if (!fd.ok()) {
            if (ErrnoOf(fd.status()) == ENOENT) return true;
            member_error = fd.status();
            return false;
          }
          auto changed = ChangeFlag(fs_, fd->get(), m.stat, on, m.path);
          if (!changed.ok()) {
            member_error = changed.status();
            return false;
          }
          result.flags_changed += *changed ? 1 : 0;
          return true;
        },
        [&](const std::string&, const absl::Status& status) {
          if (member_error.ok()) member_error = status;
        });
    if (!walked.ok()) return FromStatus(walked);
    if (!member_error.ok()) {
      ActionResult failed = absl::IsFailedPrecondition(member_error)
                                ? Result(Outcome::kRefused, std::string(member_error.message()))
                                : FromStatus(member_error);
      failed.flags_changed = result.flags_changed;
      return failed;
    }
  }
  auto st = fs_.StatFd(top->get(), action.path);
  if (!st.ok()) return FromStatus(st.status());
  auto changed = ChangeFlag(fs_, top->get(), *st, on, action.path);
  if (!changed.ok()) {
    ActionResult failed = absl::IsFailedPrecondition(changed.status())
                              ? Result(Outcome::kRefused, std::string(changed.status().message()))
                              : FromStatus(changed.status());
    failed.flags_changed = result.flags_changed;
    return failed;
  }
  result.flags_changed += *changed ? 1 : 0;
  if (action.indexed) {
    absl::Status recorded = on ? Record(action) : index_->Remove(action.day, action.index_name);
    if (!recorded.ok()) {
      return ActionResult{
          Outcome::kFailed,
          absl::StrCat("flag ", on ? "set" : "cleared", " but the index was not ",
                       on ? "written" : "updated", " (the next run retries): ", recorded.message()),
          result.flags_changed};
    }
  }
  return result;
}

ActionResult Executor::Marker(const Action& action) {
  // The marker may be immutable: unlock it first (a missing one is fine).
  auto existing = fs_.OpenAt(root_fd_, kMarkerName, kOpenFlags, kMarkerName);
  if (existing.ok()) {
    auto st = fs_.StatFd(existing->get(), kMarkerName);
    if (!st.ok()) return FromStatus(st.status());
    if (!st->is_regular()) {
      return Result(Outcome::kRefused,
                    absl::StrCat(kMarkerName, " is a ", FileTypeName(st->mode), ", not touched"));
    }
    auto cleared = SetImmutable(fs_, existing->get(), false, kMarkerName);
    if (!cleared.ok()) return FromStatus(cleared.status());
  } else if (ErrnoOf(existing.status()) != ENOENT) {
    return FromStatus(existing.status());
  }
  if (action.kind == ActionKind::kRemoveMarker) {
    absl::Status removed = fs_.Unlink(root_fd_, kMarkerName, 0, kMarkerName);
    if (!removed.ok() && ErrnoOf(removed) != ENOENT) return FromStatus(removed);
    return ActionResult{};
  }
  absl::Status written =
      fs_.WriteFileAtomic(root_fd_, kMarkerName, action.content, 0644, /*sync=*/true, kMarkerName);
  if (!written.ok() && ErrnoOf(written) == EACCES) {
    return Result(Outcome::kFailed,
                  absl::StrCat(written.message(),
                               ": the remote root belongs to another user; writing XO's "
                               "immutability.json there needs CAP_DAC_OVERRIDE (README: "
                               "\"Installing and scheduling it\")"));
  }
  if (!written.ok()) return FromStatus(written);
  auto fresh = fs_.OpenAt(root_fd_, kMarkerName, kOpenFlags, kMarkerName);
  if (!fresh.ok()) return FromStatus(fresh.status());
  auto set = SetImmutable(fs_, fresh->get(), true, kMarkerName);
  if (!set.ok()) return FromStatus(set.status());
  return ActionResult{Outcome::kDone, "", 1};
}

}  // namespace xoi
