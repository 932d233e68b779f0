#include "lib/executor.h"

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "lib/remote_marker.h"
#include "lib/status.h"
#include "lib/walker.h"

namespace xoi {
namespace {

constexpr int kOpenFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC;

ActionResult Result(Outcome outcome, std::string detail) {
  return ActionResult{outcome, std::move(detail), 0};
}

ActionResult FromStatus(const absl::Status& status) {
  switch (ErrnoOf(status)) {
    case ENOENT: return Result(Outcome::kVanished, std::string(status.message()));
    case ELOOP:
    case EXDEV:
      return Result(Outcome::kRefused,
                    absl::StrCat(status.message(), " (a symlink or mount point on the path)"));
    case EAGAIN: return Result(Outcome::kWaiting, "open for writing by another process");
    default: return Result(Outcome::kFailed, std::string(status.message()));
  }
}

// Opens one inode for a flag change and checks it is the one decided on. `expected.ino == 0`
// skips the identity check (an index entry without one never reaches here for a lift).
absl::StatusOr<Fd> OpenChecked(int dir_fd, absl::string_view name, absl::string_view path,
                               const FileStat& expected, bool beneath) {
  absl::StatusOr<Fd> fd =
      beneath ? OpenBeneath(dir_fd, name, kOpenFlags)
              : [&]() -> absl::StatusOr<Fd> {
                  Fd raw(openat(dir_fd, std::string(name).c_str(), kOpenFlags));
                  if (!raw.valid()) return ErrnoError(errno, "open", path);
                  return raw;
                }();
  if (!fd.ok()) return ErrnoError(ErrnoOf(fd.status()), "open", path);
  XOI_ASSIGN_OR_RETURN(FileStat st, StatFd(fd->get(), path));
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
absl::StatusOr<bool> ChangeFlag(int fd, const FileStat& st, bool on, absl::string_view path) {
  if (!on || !st.is_regular()) return SetImmutable(fd, on, path);
  if (st.nlink > 1) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": has ", st.nlink, " hard links"));
  }
  absl::Status lease = TakeReadLease(fd, path);
  if (!lease.ok() && ErrnoOf(lease) == EAGAIN) return lease;
  // EINVAL: the filesystem has no leases; the settle time is then the only guard against writers.
  if (!lease.ok() && ErrnoOf(lease) != EINVAL) return lease;
  auto changed = SetImmutable(fd, on, path);
  if (lease.ok()) ReleaseLease(fd);
  return changed;
}

}  // namespace

absl::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kDone: return "done";
    case Outcome::kWaiting: return "waiting";
    case Outcome::kRefused: return "refused";
    case Outcome::kVanished: return "vanished";
    case Outcome::kFailed: return "failed";
  }
  return "?";
}

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
  auto top = OpenChecked(root_fd_, action.path, action.path, action.stat, /*beneath=*/true);
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
        top->get(), action.path, action.stat.dev,
        [&](const Member& m) {
          if (!m.stat.is_regular() && !m.stat.is_dir()) {
            if (!on) return true;  // never locked by us: nothing to lift
            member_error = absl::FailedPreconditionError(
                absl::StrCat(m.path, ": a ", FileTypeName(m.stat.mode), " inside the tree"));
            return false;
          }
          auto fd = OpenChecked(m.parent_fd, m.name, m.path, m.stat, /*beneath=*/false);
          if (!fd.ok()) {
            if (ErrnoOf(fd.status()) == ENOENT) return true;
            member_error = fd.status();
            return false;
          }
          auto changed = ChangeFlag(fd->get(), m.stat, on, m.path);
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
  auto st = StatFd(top->get(), action.path);
  if (!st.ok()) return FromStatus(st.status());
  auto changed = ChangeFlag(top->get(), *st, on, action.path);
  if (!changed.ok()) {
    ActionResult failed = absl::IsFailedPrecondition(changed.status())
                              ? Result(Outcome::kRefused, std::string(changed.status().message()))
                              : FromStatus(changed.status());
    failed.flags_changed = result.flags_changed;
    return failed;
  }
  result.flags_changed += *changed ? 1 : 0;
  if (action.indexed) {
    absl::Status recorded =
        on ? Record(action) : index_->Remove(action.day, action.index_name);
    if (!recorded.ok()) {
      return ActionResult{Outcome::kFailed,
                          absl::StrCat("flag ", on ? "set" : "cleared", " but the index was not ",
                                       on ? "written" : "updated", " (the next run retries): ",
                                       recorded.message()),
                          result.flags_changed};
    }
  }
  return result;
}

ActionResult Executor::Marker(const Action& action) {
  // The marker may be immutable: unlock it first (a missing one is fine).
  Fd existing(openat(root_fd_, kMarkerName, kOpenFlags));
  if (existing.valid()) {
    auto st = StatFd(existing.get(), kMarkerName);
    if (!st.ok()) return FromStatus(st.status());
    if (!st->is_regular()) {
      return Result(Outcome::kRefused,
                    absl::StrCat(kMarkerName, " is a ", FileTypeName(st->mode), ", not touched"));
    }
    auto cleared = SetImmutable(existing.get(), false, kMarkerName);
    if (!cleared.ok()) return FromStatus(cleared.status());
  } else if (errno != ENOENT) {
    return FromStatus(ErrnoError(errno, "open", kMarkerName));
  }
  if (action.kind == ActionKind::kRemoveMarker) {
    if (unlinkat(root_fd_, kMarkerName, 0) != 0 && errno != ENOENT) {
      return FromStatus(ErrnoError(errno, "remove", kMarkerName));
    }
    return ActionResult{};
  }
  absl::Status written =
      WriteFileAtomic(root_fd_, kMarkerName, action.content, 0644, /*sync=*/true, kMarkerName);
  if (!written.ok() && ErrnoOf(written) == EACCES) {
    return Result(Outcome::kFailed,
                  absl::StrCat(written.message(),
                               ": the remote root belongs to another user; writing XO's "
                               "immutability.json there needs CAP_DAC_OVERRIDE (README: "
                               "\"Installing and scheduling it\")"));
  }
  if (!written.ok()) return FromStatus(written);
  Fd fresh(openat(root_fd_, kMarkerName, kOpenFlags));
  if (!fresh.valid()) return FromStatus(ErrnoError(errno, "open", kMarkerName));
  auto set = SetImmutable(fresh.get(), true, kMarkerName);
  if (!set.ok()) return FromStatus(set.status());
  return ActionResult{Outcome::kDone, "", 1};
}

}  // namespace xoi
