#include "lib/fs/executor.h"

#include <fcntl.h>
#include <linux/fs.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/core/status.h"
#include "lib/core/xo_layout.h"
#include "lib/fs/walker.h"

namespace xoi {
namespace {

constexpr int kOpenFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC;
// Outcome details name at most this many members one by one.
constexpr size_t kMaxNamed = 5;

ActionResult Result(Outcome outcome, std::string detail) {
  return ActionResult{outcome, std::move(detail), 0};
}

ActionResult FromStatus(const absl::Status& status) {
  if (absl::IsFailedPrecondition(status)) {
    return Result(Outcome::kRefused, std::string(status.message()));
  }
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
// skips the identity check.
absl::StatusOr<OpenInode> OpenChecked(FileSystem& fs, int dir_fd, absl::string_view name,
                                      absl::string_view path, const FileStat& expected,
                                      bool beneath) {
  absl::StatusOr<Fd> fd = beneath ? fs.OpenBeneath(dir_fd, name, kOpenFlags)
                                  : fs.OpenAt(dir_fd, std::string(name).c_str(), kOpenFlags, path);
  if (!fd.ok()) return ErrnoError(ErrnoOf(fd.status()), "open", path);
  XOI_ASSIGN_OR_RETURN(FileStat st, fs.StatFd(fd->get(), path));
  if ((st.mode & S_IFMT) != (expected.mode & S_IFMT) || (!st.is_regular() && !st.is_dir())) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": is now a ", FileTypeName(st.mode), ", not touched"));
  }
  if (st.mount_root) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": something is mounted here, not touched"));
  }
  if (expected.ino != 0 && !st.SameIdentity(expected)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": replaced by another inode since it was examined, not touched"));
  }
  return OpenInode{*std::move(fd), st};
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
  // The lease ends when the caller closes `fd`: a writer that opens meanwhile waits for that, then
  // finds the flag set. The flag is not read back here: the look below does that.
  auto changed = fs.SetInodeFlag(fd, FS_IMMUTABLE_FL, on, /*read_back=*/false, path);
  if (!changed.ok()) return changed;
  // A link made between the check above and the flag would lock the other name too (possibly
  // outside the remote). link(2) checks the flag before it takes the inode's lock, so a link that
  // passed that check may still be waiting for the lock our flag change held: taking the lock
  // once more lets it finish first. After that no link can be made, and one look settles it:
  // undo, and refuse.
  fs.WaitForInodeLock(fd, st.mode);
  auto after = fs.StatFd(fd, path);
  // A filesystem may accept the flag and ignore it. The look tells: statx reports the flag on every
  // filesystem a remote may be on (CheckImmutableSupport refuses the others), and the walks never
  // leave the remote's filesystem.
  if (after.ok() && !after->immutable) {
    return ErrnoError(EOPNOTSUPP, "set immutable flag (ignored by the filesystem) of", path);
  }
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

// "a, b, c and 4 more"
std::string Named(const std::vector<std::string>& paths) {
  if (paths.size() <= kMaxNamed) return absl::StrJoin(paths, ", ");
  return absl::StrCat(absl::StrJoin(paths.begin(), paths.begin() + kMaxNamed, ", "), " and ",
                      paths.size() - kMaxNamed, " more");
}

// Locks the members of a tree, top down: each folder is locked before it is listed, so that no
// entry can appear in it after its listing (a folder made inside the tree while its blocks are
// being locked would otherwise stay mutable), and a protection that stops half-way never leaves a
// mutable folder above a locked member (which a lift, which never enters mutable folders, could
// not reach). The folders are shared between `threads` threads (WalkTreeShared): a large full
// backup is one item, a VHD directory of up to a million blocks.
class TreeLocker {
 public:
  TreeLocker(FileSystem& fs, const Action& action)
      : fs_(fs),
        dev_(action.stat.dev),
        lag_(action.clock_lag),
        reference_(action.reference),
        locked_at_(action.stat.birth) {}

  // Locks every lockable member below the open, already locked folder `dir_fd`; stops at the
  // first failure (members being locked on other threads then still finish). `mostly_locked`: the
  // tree was locked before (a protection finished by a later run, a tree XO's daemon locked), so
  // its members are examined by name, which tells a locked one in one call, instead of being
  // opened and examined through the descriptor (three calls, which only pay for a member that
  // still has to be locked).
  void LockBelow(int dir_fd, const std::string& path, int threads, bool mostly_locked) {
    TreeVisit visit{[&](const Member& m) { return LockFile(m); },
                    [&](const std::string&, const absl::Status& status) { Fail(status); },
                    [&](const Member& m) { return LockFolder(m); }};
    if (!mostly_locked) {
      visit.regular_file = [&](int parent_fd, const char* name, const std::string& member_path) {
        return LockRegular(parent_fd, name, member_path);
      };
    }
    const absl::Status walked = WalkTreeShared(fs_, dir_fd, path, dev_, visit, threads);
    if (!walked.ok()) Fail(walked);
  }

  // The item's reference, raised to the newest change seen while locking.
  absl::Time reference() const { return reference_; }
  // Every member locked was born by then.
  absl::Time locked_at() const { return locked_at_; }
  const absl::Status& error() const { return error_; }
  uint64_t flags_changed() const { return flags_changed_; }

  // What the outcome says besides success: members left as they are.
  std::string Notes() const {
    return odd_.empty() ? "" : absl::StrCat("not lockable, left as they are: ", Named(odd_));
  }

 private:
  // Before a member folder is entered: locked first. False (not entered) when that failed.
  bool LockFolder(const Member& m) { return !failed() && Lock(m); }

  // Every member the walk examined (folders, and what getdents could not type), after the folder
  // holding it was entered; folders were locked on the way in.
  bool LockFile(const Member& m) {
    // A folder beyond reach is never entered, so not locked either: nothing below it would be.
    if (NotLockable(m.stat, m.path, m.beyond_reach)) return true;
    if (!m.stat.is_dir()) Lock(m);
    return !failed();
  }

  // A member getdents types as a regular file. Its folder was locked before it was listed, so the
  // name still holds that file (nothing can be renamed, linked or removed in a locked folder): it
  // is opened by name and examined through the descriptor, which leaves out the statx of the name
  // and the identity check after opening (one lookup and one call less for each block).
  bool LockRegular(int parent_fd, const char* name, const std::string& path) {
    if (failed()) return false;
    absl::StatusOr<Fd> fd = fs_.OpenAt(parent_fd, name, kOpenFlags, path);
    if (!fd.ok() && ErrnoOf(fd.status()) == ENOENT) return true;  // gone meanwhile
    absl::StatusOr<FileStat> st =
        fd.ok() ? fs_.StatFd(fd->get(), path) : ErrnoError(ErrnoOf(fd.status()), "open", path);
    if (!st.ok()) {
      Fail(st.status());
      return false;
    }
    if (NotLockable(*st, path)) return true;
    if (!st->is_regular()) {  // a folder, where the listing said a file: never skipped unlocked
      Fail(absl::FailedPreconditionError(
          absl::StrCat(path, ": is a ", FileTypeName(st->mode), " where a file was listed")));
      return false;
    }
    LockOpen(fd->get(), *st, path);
    return !failed();
  }

  // Whether a member can never be locked; then it is named in the outcome and left as it is.
  bool NotLockable(const FileStat& st, const std::string& path, bool beyond_reach = false) {
    const std::string why = WhyLeftAsItIs(st, beyond_reach, dev_);
    if (why.empty()) return false;
    std::lock_guard<std::mutex> lock(mu_);
    odd_.push_back(absl::StrCat(path, " (", why, ")"));
    return true;
  }

  bool Lock(const Member& m) {
    if (m.stat.immutable) return LockOpen(-1, m.stat, m.path);
    auto fd = OpenChecked(fs_, m.parent_fd, m.name, m.path, m.stat, /*beneath=*/false);
    if (!fd.ok() && ErrnoOf(fd.status()) == ENOENT) return false;  // gone meanwhile
    if (!fd.ok()) {
      Fail(fd.status());
      return false;
    }
    return LockOpen(fd->fd.get(), fd->stat, m.path);
  }

  // Locks the open inode `fd` whose statx is `st`, unless it is locked already (then `fd` may be
  // -1). False when that failed.
  bool LockOpen(int fd, const FileStat& st, const std::string& path) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      locked_at_ = std::max(locked_at_, st.birth);
      if (st.immutable) return true;
      reference_ = std::max(reference_, st.ctime + lag_);
    }
    absl::StatusOr<bool> changed = ChangeFlag(fs_, fd, st, true, path);
    if (!changed.ok()) {
      Fail(changed.status());
      return false;
    }
    if (*changed) ++flags_changed_;
    return true;
  }

  void Fail(const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.ok()) error_ = status;
    failed_ = true;
  }
  bool failed() const { return failed_.load(std::memory_order_relaxed); }

  FileSystem& fs_;
  const uint64_t dev_;
  const absl::Duration lag_;
  std::mutex mu_;  // guards what follows but the atomics
  absl::Time reference_;
  absl::Time locked_at_;
  absl::Status error_;
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> flags_changed_{0};
  std::vector<std::string> odd_;
};

}  // namespace

ActionResult Executor::Apply(const Action& action) {
  switch (action.kind) {
    case ActionKind::kProtect:
    case ActionKind::kReprotect:
      return Protect(action);
    case ActionKind::kLift:
      return Lift(action);
    case ActionKind::kIndex:
    case ActionKind::kFollow:
      // Only a lifted item follows its rename while mutable (XO's merge, rules.h).
      Record(action, action.reference,
             action.tree && action.locked_at == absl::InfinitePast() ? action.stat.ctime
                                                                     : action.locked_at,
             /*lifted=*/!action.stat.immutable);
      return ActionResult{};
    case ActionKind::kUnindex:
      index_->Remove(Identity{action.stat.ino, absl::ToUnixNanos(action.stat.birth)});
      return ActionResult{};
    case ActionKind::kWriteMarker:
    case ActionKind::kRemoveMarker:
      return Marker(action);
    case ActionKind::kWait:
    case ActionKind::kRefuse:
    case ActionKind::kHold:
      return ActionResult{};
  }
  return Result(Outcome::kFailed, "unknown action");
}

void Executor::Record(const Action& action, absl::Time reference, absl::Time locked_at, bool lifted,
                      bool complete) {
  if (!action.indexed) return;
  IndexRecord record = RecordOf(action.path, action.stat, action.tree, reference);
  record.locked_at = action.tree ? locked_at : absl::InfinitePast();
  record.lifted = lifted;
  record.complete = complete;
  index_->Put(std::move(record));
}

absl::StatusOr<OpenInode> Executor::OpenItem(const Action& action) {
  const size_t slash = action.path.rfind('/');
  const absl::string_view name =
      slash == std::string::npos ? "" : absl::string_view(action.path).substr(slash + 1);
  if (name.empty() || name == "." || name == "..") {
    return OpenChecked(fs_, root_fd_, action.path, action.path, action.stat, /*beneath=*/true);
  }
  const absl::string_view folder = absl::string_view(action.path).substr(0, slash);
  if (!folder_fd_.valid() || folder != folder_) {
    folder_fd_ = Fd();
    absl::StatusOr<Fd> opened = fs_.OpenBeneath(root_fd_, folder, O_PATH | O_DIRECTORY);
    if (!opened.ok()) return ErrnoError(ErrnoOf(opened.status()), "open", action.path);
    folder_fd_ = *std::move(opened);
    folder_.assign(folder.data(), folder.size());
  }
  return OpenChecked(fs_, folder_fd_.get(), name, action.path, action.stat, /*beneath=*/false);
}

ActionResult Executor::Protect(const Action& action) {
  auto top = OpenItem(action);
  if (!top.ok()) return FromStatus(top.status());
  const FileStat* top_stat = &top->stat;
  if (!action.tree) {
    const absl::Time reference =
        top_stat->immutable ? action.reference
                            : std::max(action.reference, top_stat->ctime + action.clock_lag);
    auto changed = ChangeFlag(fs_, top->fd.get(), *top_stat, true, action.path);
    if (!changed.ok()) return FromStatus(changed.status());
    Record(action, reference, absl::InfinitePast(), /*lifted=*/false);
    return ActionResult{Outcome::kDone, "", *changed ? 1u : 0u};
  }
  // The directory first, then each folder before what it holds (TreeLocker): nothing can be added
  // to a locked folder, so what was listed is all there is.
  TreeLocker locker(fs_, action);
  auto top_changed = ChangeFlag(fs_, top->fd.get(), *top_stat, true, action.path);
  if (top_changed.ok()) {
    locker.LockBelow(top->fd.get(), action.path, tree_threads_,
                     /*mostly_locked=*/top_stat->immutable);
  }
  const absl::Status failed = top_changed.ok() ? locker.error() : top_changed.status();
  const uint64_t changed = locker.flags_changed() + (top_changed.ok() && *top_changed ? 1 : 0);
  // Whatever was locked is recorded, even half-way (as incomplete: the next run finishes it), so
  // that it is lifted when it expires.
  const absl::Time reference =
      top_stat->immutable ? locker.reference()
                          : std::max(locker.reference(), top_stat->ctime + action.clock_lag);
  if (changed > 0 || failed.ok() || top_stat->immutable) {
    Record(action, reference, locker.locked_at(), /*lifted=*/false, /*complete=*/failed.ok());
  }
  ActionResult result =
      failed.ok() ? ActionResult{Outcome::kDone, locker.Notes(), 0} : FromStatus(failed);
  result.flags_changed = changed;
  return result;
}

ActionResult Executor::Lift(const Action& action) {
  auto top = OpenItem(action);
  if (!top.ok()) return FromStatus(top.status());
  ActionResult result;
  std::vector<std::string> foreign, unexpired, mutable_folders, linked;
  // A backup folder XO's daemon locked whole is an item only while it is locked: once lifted, the
  // walk reaches its files as items of their own again, and their ctime, which the lift moved,
  // would make them look like a new backup, locked for a whole duration more (XO's retention
  // held back that long). They are recorded as lifted with it.
  const bool members_are_items = action.tree && action.indexed && IsXoBackupFolder(action.path);
  std::vector<IndexRecord> lifted_members;
  auto lifted_member = [&](const Member& m) {
    if (!members_are_items || !m.stat.is_regular()) return;
    IndexRecord record = RecordOf(m.path, m.stat, /*tree=*/false, action.reference);
    record.lifted = true;
    lifted_members.push_back(std::move(record));
  };
  if (action.tree) {
    absl::Status failed;
    auto belongs = [&](const Member& m) { return m.stat.birth <= action.members_locked_by; };
    const absl::Status walked = WalkTree(
        fs_, top->fd.get(), action.path, action.stat.dev,
        TreeVisit{
            [&](const Member& m) {
              // Never locked.
              if ((!m.stat.is_regular() && !m.stat.is_dir()) || m.stat.mount_root) return true;
              if (!m.stat.immutable) {
                // Beyond reach: left mutable by the protection, not tampered with.
                if (m.stat.is_dir() && !m.beyond_reach) mutable_folders.push_back(m.path);
                // Unlocked by an earlier lift of it that stopped half-way.
                if (belongs(m)) lifted_member(m);
                return true;
              }
              if (!belongs(m)) {
                foreign.push_back(m.path);
                return true;
              }
              if (m.stat.birth >= action.members_expired_before) {
                unexpired.push_back(m.path);
                return true;
              }
              // Not locked by the protection (refused); unlocking it would unlock its other
              // names too.
              if (m.stat.is_regular() && m.stat.nlink > 1) {
                linked.push_back(m.path);
                return true;
              }
              auto fd = OpenChecked(fs_, m.parent_fd, m.name, m.path, m.stat, /*beneath=*/false);
              if (!fd.ok() && ErrnoOf(fd.status()) == ENOENT) return true;
              absl::StatusOr<bool> changed = fd.ok()
                                                 ? SetImmutable(fs_, fd->fd.get(), false, m.path)
                                                 : absl::StatusOr<bool>(fd.status());
              if (!changed.ok()) {
                failed = changed.status();
                return false;
              }
              result.flags_changed += *changed ? 1 : 0;
              lifted_member(m);
              return true;
            },
            [&](const std::string&, const absl::Status& status) {
              if (failed.ok()) failed = status;
            },
            // Only into folders that are the item's and locked: a mutable folder inside a locked
            // tree was tampered with, and whatever was moved into it is not the item's.
            [&](const Member& m) { return m.stat.immutable && belongs(m); }});
    if (!walked.ok() && failed.ok()) failed = walked;
    if (!failed.ok()) {
      ActionResult partly = FromStatus(failed);
      partly.flags_changed = result.flags_changed;
      return partly;
    }
    if (!unexpired.empty()) {
      // The directory and its record stay until these have expired too (a later run).
      result.detail =
          absl::StrCat("partly: members not expired yet, lifted later: ", Named(unexpired));
      result.outcome = Outcome::kWaiting;
      return result;
    }
  }
  auto cleared = SetImmutable(fs_, top->fd.get(), false, action.path);
  if (!cleared.ok()) {
    ActionResult partly = FromStatus(cleared.status());
    partly.flags_changed = result.flags_changed;
    return partly;
  }
  result.flags_changed += *cleared ? 1 : 0;
  if (action.forget_record) {
    // Its members' records, lifted earlier, go when the walk reaches them (rules.h).
    if (action.indexed)
      index_->Remove(Identity{action.stat.ino, absl::ToUnixNanos(action.stat.birth)});
  } else {
    Record(action, action.reference, action.members_locked_by, /*lifted=*/true);
    for (IndexRecord& member : lifted_members) index_->Put(std::move(member));
  }
  std::vector<std::string> notes;
  if (!foreign.empty()) {
    notes.push_back(
        absl::StrCat("left locked, not the item's (born after it was locked): ", Named(foreign)));
  }
  if (!linked.empty()) {
    notes.push_back(absl::StrCat(
        "left locked, hard-linked (its other names would be unlocked too): ", Named(linked)));
  }
  if (!mutable_folders.empty()) {
    notes.push_back(absl::StrCat("mutable folders inside it (tampering?) were not entered: ",
                                 Named(mutable_folders)));
  }
  result.detail = absl::StrJoin(notes, "; ");
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
  // The old one, unlocked for the rewrite, is locked again: a remote kept full (which XO's user
  // can do) would otherwise leave it deletable for as long as the rewrite fails.
  if (!written.ok() && existing.ok()) {
    if (absl::StatusOr<bool> relocked = SetImmutable(fs_, existing->get(), true, kMarkerName);
        !relocked.ok()) {
      written = absl::Status(written.code(),
                             absl::StrCat(written.message(), "; locking the old one again failed: ",
                                          relocked.status().message()));
    }
  }
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
