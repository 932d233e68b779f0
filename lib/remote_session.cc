#include "lib/remote_session.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/executor.h"
#include "lib/expiry.h"
#include "lib/fs.h"
#include "lib/remote_check.h"
#include "lib/status.h"

namespace xoi {
namespace {

constexpr char kLockName[] = ".lock";
constexpr char kFingerprintName[] = "filesystem";

// Counts an action by what it is (dry run) or by what came of it.
void Count(const ActionRecord& a, Counts* c) {
  if (a.kind == ActionKind::kWait) {
    ++c->waiting;
    return;
  }
  if (a.kind == ActionKind::kRefuse) {
    ++c->refused;
    return;
  }
  if (a.executed && a.outcome != Outcome::kDone) {
    if (a.outcome == Outcome::kWaiting) ++c->waiting;
    if (a.outcome == Outcome::kRefused) ++c->refused;
    return;
  }
  switch (a.kind) {
    case ActionKind::kProtect:
    case ActionKind::kWriteMarker: ++c->protected_; break;
    case ActionKind::kReprotect: ++c->reprotected; break;
    case ActionKind::kLift: ++c->lifted; break;
    case ActionKind::kIndex: ++c->indexed; break;
    case ActionKind::kUnindex: ++c->unindexed; break;
    default: break;
  }
}


// Step 2: the reasons this remote cannot be protected now, or "".
std::string Unusable(int root_fd, const RemoteConfig& remote, const std::string& index_dir,
                     bool read_only) {
  const std::vector<std::string> missing = MissingCapabilities();
  if (!missing.empty()) {
    return absl::StrCat("missing capabilit", missing.size() > 1 ? "ies " : "y ",
                        absl::StrJoin(missing, ", "),
                        " (run as root, or grant them to the service)");
  }
  if (absl::Status s = CheckImmutableSupport(root_fd, remote.root, read_only); !s.ok()) {
    return std::string(s.message());
  }
  auto fingerprint = FilesystemFingerprint(root_fd, remote.root);
  if (!fingerprint.ok()) return std::string(fingerprint.status().message());
  const std::string record = absl::StrCat(index_dir, "/", kFingerprintName);
  auto seen = ReadSmallFile(AT_FDCWD, record.c_str(), 256, record);
  if (seen.ok() && *seen != *fingerprint) {
    return absl::StrCat("the root is not on the filesystem seen before (", *fingerprint,
                        ", was ", *seen, "): is the remote's disk mounted? If the remote really ",
                        "moved to another filesystem, remove ", record);
  }
  if (!seen.ok() && ErrnoOf(seen.status()) != ENOENT) return std::string(seen.status().message());
  if (!seen.ok() && !read_only) {
    Fd dir(open(index_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    absl::Status written = dir.valid() ? WriteFileAtomic(dir.get(), kFingerprintName,
                                                         *fingerprint, 0600, true, record)
                                       : ErrnoError(errno, "open", index_dir);
    if (!written.ok()) return std::string(written.message());
  }
  return "";
}


// The index says what is locked and what may be lifted: anyone who can write it could forge
// entries. Refuse a folder not owned by us or writable by group or others.
std::string UnsafeIndexFolder(const std::string& dir) {
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    return errno == ENOENT ? "" : std::string(ErrnoError(errno, "stat", dir).message());
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

absl::Status MakeDirs(const std::string& path) {
  std::string prefix;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&prefix, "/", part);
    XOI_RETURN_IF_ERROR(MakeDir(AT_FDCWD, prefix.c_str(), 0700, prefix));
  }
  return absl::OkStatus();
}

}  // namespace

std::string CheckRemote(const std::string& index_path, const RemoteConfig& remote) {
  auto root = OpenRootDir(remote.root);
  if (!root.ok()) return absl::StrCat("root missing or unreadable: ", root.status().message());
  return Unusable(root->get(), remote, absl::StrCat(index_path, "/", remote.id),
                  /*read_only=*/true);
}


absl::Status PrepareIndexRoot(const std::string& index_path, bool dry_run) {
  if (!dry_run) XOI_RETURN_IF_ERROR(MakeDirs(index_path));
  if (std::string why = UnsafeIndexFolder(index_path); !why.empty()) {
    return absl::FailedPreconditionError(why);
  }
  return absl::OkStatus();
}

Stopwatch::Stopwatch() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  start_ = absl::DurationFromTimespec(now);
}

absl::Duration Stopwatch::Elapsed() const {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return absl::DurationFromTimespec(now) - start_;
}

std::unique_ptr<RemoteSession> OpenRemote(const std::string& index_path,
                                          const RemoteConfig& remote, bool dry_run,
                                          RemoteReport* report) {
  report->id = remote.id;
  report->root = remote.root;
  const std::string index_dir = absl::StrCat(index_path, "/", remote.id);
  auto unusable = [&](std::string reason) -> std::unique_ptr<RemoteSession> {
    report->state = RemoteState::kUnusable;
    report->unusable_reason = std::move(reason);
    return nullptr;
  };
  auto session = std::make_unique<RemoteSession>();

  // 1. Lock: a manual run and the timer never act on one remote at once. A dry run changes
  //    nothing, so it neither needs nor creates the lock.
  if (!dry_run) {
    if (absl::Status made = MakeDirs(index_dir); !made.ok()) {
      return unusable(absl::StrCat("index folder: ", made.message()));
    }
  }
  for (const std::string& dir : {index_path, index_dir}) {
    if (std::string why = UnsafeIndexFolder(dir); !why.empty()) return unusable(why);
  }
  if (!dry_run) {
    const std::string lock_path = absl::StrCat(index_dir, "/", kLockName);
    session->lock = Fd(open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!session->lock.valid()) {
      return unusable(std::string(ErrnoError(errno, "open lock", lock_path).message()));
    }
    if (flock(session->lock.get(), LOCK_EX | LOCK_NB) != 0) {
      report->state = RemoteState::kLocked;
      report->unusable_reason = absl::StrCat("another xo-immutable run holds ", lock_path);
      return nullptr;
    }
  }

  // 2. Check.
  auto root = OpenRootDir(remote.root);
  if (!root.ok()) {
    return unusable(absl::StrCat("root missing or unreadable: ", root.status().message()));
  }
  session->root = *std::move(root);
  if (std::string why = Unusable(session->root.get(), remote, index_dir, dry_run); !why.empty()) {
    return unusable(why);
  }
  auto index = Index::Open(index_path, remote.id, /*create=*/!dry_run);
  if (!index.ok()) return unusable(absl::StrCat("index: ", index.status().message()));
  session->index = *std::move(index);
  auto globs = GlobSet::Compile(remote.paths);  // validated with the configuration already
  if (!globs.ok()) return unusable(std::string(globs.status().message()));
  session->globs = *std::move(globs);
  return session;
}

void ExecutePlan(const std::vector<Action>& plan, RemoteSession& session,
                 const RemoteConfig& remote, const RunOptions& options, RemoteReport* report) {
  Executor executor(session.root.get(), remote.root, session.index.get());
  bool all_lifted = report->errors.empty();
  bool applied = false;  // some action reached the executor (and maybe the index, the audit log)
  for (const Action& action : plan) {
    ActionRecord record{action.kind, action.path, action.tree, action.reason};
    record.immutable = action.stat.immutable;
    if (action.indexed && action.stat.ino != 0) {
      record.expires_at = ExpiresAt(action.day, remote.immutability_duration);
    }
    const bool hold_marker_removal = action.kind == ActionKind::kRemoveMarker && !all_lifted;
    if (hold_marker_removal) {
      record.kind = ActionKind::kWait;
      record.reason = "immutability.json is removed once every item is lifted";
    }
    if (!options.dry_run && IsEffect(record.kind)) {
      const ActionResult result = executor.Apply(action);
      applied = true;
      record.executed = true;
      record.outcome = result.outcome;
      record.detail = result.detail;
      if (result.outcome == Outcome::kFailed) {
        report->errors.push_back(Problem{action.path, result.detail});
      }
      if (action.kind == ActionKind::kLift) all_lifted &= result.outcome == Outcome::kDone;
      if (options.audit != nullptr && result.flags_changed > 0) {
        const absl::Status logged = options.audit->Append(AuditRecord{
            options.now, remote.id, absl::StrCat(remote.root, "/", action.path), action.stat.ino,
            ActionKindName(action.kind),
            result.outcome == Outcome::kDone
                ? action.reason
                : absl::StrCat(action.reason, " (partly: ", result.detail, ")")});
        if (!logged.ok()) report->errors.push_back(Problem{action.path, std::string(logged.message())});
      }
    }
    Count(record, &report->counts);
    report->actions.push_back(std::move(record));
  }
  report->counts.errors = report->errors.size();
  // syncfs() flushes the whole filesystem of the index, every other writer's dirty data included
  // (a backup being written there, say). A run that applied nothing (the steady state, every
  // minute) has nothing of its own to make durable: it skips it.
  if (!options.dry_run && applied) {
    if (absl::Status synced = session.index->Sync(); !synced.ok()) {
      report->errors.push_back(Problem{"", std::string(synced.message())});
      ++report->counts.errors;
    }
  }
}

size_t HoldLifts(std::vector<Action>* plan, const std::string& why) {
  size_t held = 0;
  for (Action& action : *plan) {
    if (action.kind != ActionKind::kLift) continue;
    action.kind = ActionKind::kWait;
    action.reason = absl::StrCat("lift held back: ", why);
    ++held;
  }
  return held;
}

}  // namespace xoi
