#include "lib/reconcile.h"

#include <fcntl.h>
#include <sys/file.h>
#include <time.h>

#include <algorithm>
#include <mutex>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/decide.h"
#include "lib/executor.h"
#include "lib/expiry.h"
#include "lib/fs.h"
#include "lib/glob_set.h"
#include "lib/index.h"
#include "lib/remote_check.h"
#include "lib/remote_marker.h"
#include "lib/status.h"
#include "lib/walker.h"
#include "lib/xo_layout.h"

namespace xoi {
namespace {

constexpr char kLockName[] = ".lock";
constexpr char kFingerprintName[] = "filesystem";

absl::Duration Elapsed(const struct timespec& start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return absl::DurationFromTimespec(now) - absl::DurationFromTimespec(start);
}

// The facts Decide() may ask about one walked item, read from the remote and the index.
class RemoteFacts : public ItemFacts {
 public:
  RemoteFacts(int root_fd, const Index& index, const Candidate& item, absl::CivilDay day,
              const std::string& name)
      : root_fd_(root_fd), index_(index), item_(item), day_(day), name_(name) {}

  bool IndexedSameIdentity() override {
    auto entry = index_.Read(day_, name_);
    return entry.ok() && entry->has_identity && entry->ino == item_.stat.ino &&
           entry->birth == item_.stat.birth;
  }

  ChangeFacts Changes() override {
    ChangeFacts facts{item_.stat.ctime, ""};
    if (!item_.tree) return facts;
    auto dir = OpenBeneath(root_fd_, item_.path, O_RDONLY | O_DIRECTORY);
    if (!dir.ok()) {
      facts.refusal = absl::StrCat("cannot open: ", dir.status().message());
      return facts;
    }
    const absl::Status walked = WalkTree(
        dir->get(), item_.path, item_.stat.dev,
        [&](const Member& m) {
          if (m.stat.dev != item_.stat.dev) {
            facts.refusal = absl::StrCat(m.path, " is on another filesystem");
          } else if (!m.stat.is_regular() && !m.stat.is_dir()) {
            facts.refusal = absl::StrCat(m.path, " is a ", FileTypeName(m.stat.mode));
          } else if (m.stat.is_regular() && m.stat.nlink > 1) {
            facts.refusal = absl::StrCat(m.path, " has ", m.stat.nlink, " hard links");
          } else if (!m.stat.immutable) {
            facts.newest_change = std::max(facts.newest_change, m.stat.ctime);
            ++facts.mutable_members;
          }
          return facts.refusal.empty();
        },
        [&](const std::string& path, const absl::Status& status) {
          // Unreadable member: treat it as just changed, so the tree waits rather than being
          // half-locked.
          facts.newest_change = absl::InfiniteFuture();
        });
    if (!walked.ok()) facts.newest_change = absl::InfiniteFuture();
    return facts;
  }

  RunCheck Run() override { return CheckRun(root_fd_, item_.path, item_.tree); }

 private:
  const int root_fd_;
  const Index& index_;
  const Candidate& item_;
  const absl::CivilDay day_;
  const std::string& name_;
};

// Turns what the walk finds into actions; one slot per worker thread, merged after the walk.
class Planner : public WalkVisitor {
 public:
  Planner(int jobs, int root_fd, const std::string& root, const Index& index,
          const Settings& settings, absl::Time now)
      : slots_(static_cast<size_t>(jobs)), root_fd_(root_fd), root_(root), index_(index),
        settings_(settings), now_(now) {}

  void OnItem(int worker, Candidate item) override {
    Slot& slot = slots_[static_cast<size_t>(worker)];
    ++slot.seen;
    const absl::CivilDay day = CreationDay(item.stat.birth);
    const std::string name = IndexEntryName(absl::StrCat(root_, "/", item.path));
    const bool indexed = index_.Contains(day, name);
    if (indexed) slot.seen_keys.push_back(absl::StrCat(FormatDay(day), "/", name));
    RemoteFacts facts(root_fd_, index_, item, day, name);
    std::optional<Action> action = Decide(item, indexed, settings_, now_, facts);
    if (!action) return;
    action->index_name = name;
    slot.actions.push_back(*std::move(action));
  }

  void OnRefused(int worker, const std::string& path, const std::string& reason) override {
    Action refuse{ActionKind::kRefuse, path};
    refuse.reason = reason;
    slots_[static_cast<size_t>(worker)].actions.push_back(std::move(refuse));
  }

  void OnError(int worker, const std::string& path, const absl::Status& status) override {
    slots_[static_cast<size_t>(worker)].errors.push_back(
        Problem{path, std::string(status.message())});
  }

  // Moves everything found into `actions`, `errors`, `seen_keys`; returns the items seen.
  uint64_t Collect(std::vector<Action>* actions, std::vector<Problem>* errors,
                   absl::flat_hash_set<std::string>* seen_keys) {
    uint64_t seen = 0;
    for (Slot& slot : slots_) {
      seen += slot.seen;
      std::move(slot.actions.begin(), slot.actions.end(), std::back_inserter(*actions));
      std::move(slot.errors.begin(), slot.errors.end(), std::back_inserter(*errors));
      seen_keys->insert(slot.seen_keys.begin(), slot.seen_keys.end());
    }
    return seen;
  }

 private:
  struct Slot {
    uint64_t seen = 0;
    std::vector<Action> actions;
    std::vector<Problem> errors;
    std::vector<std::string> seen_keys;
  };
  std::vector<Slot> slots_;
  const int root_fd_;
  const std::string& root_;
  const Index& index_;
  const Settings& settings_;
  const absl::Time now_;
};

// Index entries the walk did not reach: the item vanished, was moved out of the globs' reach, was
// replaced by another inode, or the globs changed. Never lifts an inode other than the indexed one.
void PlanUnseenEntries(int root_fd, const std::string& root, const Index& index,
                       const absl::flat_hash_set<std::string>& seen, const Settings& settings,
                       absl::Time now, std::vector<Action>* actions,
                       std::vector<Problem>* warnings) {
  for (const IndexKey& key : index.Keys()) {
    if (seen.contains(absl::StrCat(FormatDay(key.day), "/", key.name))) continue;
    const bool expired = IsExpired(key.day, settings.duration, now);
    const std::string entry_file =
        absl::StrCat(index.dir_path(), "/", FormatDay(key.day), "/", key.name);
    Action action{ActionKind::kUnindex, "", false, FileStat{}, key.day};
    action.index_name = key.name;
    auto entry = index.Read(key.day, key.name);
    if (!entry.ok()) {
      warnings->push_back(Problem{"", absl::StrCat("unreadable index entry kept: ",
                                                   entry.status().message())});
      continue;
    }
    action.tree = entry->tree;
    absl::string_view relative = entry->path;
    if (!absl::ConsumePrefix(&relative, root + "/") || relative.empty()) {
      warnings->push_back(Problem{"", absl::StrCat("index entry ", entry_file, " names ",
                                                   entry->path, ", outside this remote: kept")});
      continue;
    }
    action.path = std::string(relative);
    auto fd = OpenBeneath(root_fd, relative, O_PATH);
    auto st = fd.ok() ? StatFd(fd->get(), relative) : absl::StatusOr<FileStat>(fd.status());
    const bool gone = !st.ok();
    const bool same = !gone && entry->has_identity && st->ino == entry->ino &&
                      st->birth == entry->birth;
    if (same && expired && st->immutable) {
      action.kind = ActionKind::kLift;
      action.stat = *st;
      action.reason = "expired; indexed item outside the glob set's reach (same inode)";
      actions->push_back(std::move(action));
    } else if (expired && (gone || !st->immutable || (!same && entry->has_identity))) {
      action.reason = gone ? "expired; the indexed path is gone"
                           : (same ? "expired and already mutable"
                                   : "expired; the path now holds another inode, which is not "
                                     "lifted");
      actions->push_back(std::move(action));
    } else if (!same || !expired) {
      warnings->push_back(Problem{
          action.path,
          gone ? "indexed but missing (moved or deleted by root?): entry kept until it expires"
               : (same ? "indexed and locked, but no glob reaches it any more"
                       : "indexed, but the path now holds another inode (or the entry has no "
                         "identity): the indexed inode is not lifted")});
    }
  }
}

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
    if (a.outcome == Outcome::kFailed) ++c->errors;
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

RemoteReport ReconcileRemote(const std::string& index_path, const RemoteConfig& remote,
                             const RunOptions& options) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  RemoteReport report;
  report.id = remote.id;
  report.root = remote.root;
  const std::string index_dir = absl::StrCat(index_path, "/", remote.id);
  auto unusable = [&](std::string reason) {
    report.state = RemoteState::kUnusable;
    report.unusable_reason = std::move(reason);
    report.elapsed = Elapsed(start);
    return report;
  };

  // 1. Lock: a manual run and the timer never act on one remote at once. A dry run changes
  //    nothing, so it neither needs nor creates the lock.
  Fd lock;
  if (!options.dry_run) {
    if (absl::Status made = MakeDirs(index_dir); !made.ok()) {
      return unusable(absl::StrCat("index folder: ", made.message()));
    }
    const std::string lock_path = absl::StrCat(index_dir, "/", kLockName);
    lock = Fd(open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!lock.valid()) {
      return unusable(std::string(ErrnoError(errno, "open lock", lock_path).message()));
    }
    if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
      report.state = RemoteState::kLocked;
      report.unusable_reason = absl::StrCat("another xo-immutable run holds ", lock_path);
      return report;
    }
  }

  // 2. Check.
  auto root = OpenRootDir(remote.root);
  if (!root.ok()) {
    return unusable(absl::StrCat("root missing or unreadable: ", root.status().message()));
  }
  const int root_fd = root->get();
  if (std::string why = Unusable(root_fd, remote, index_dir, options.dry_run); !why.empty()) {
    return unusable(why);
  }
  auto index = Index::Open(index_path, remote.id, /*create=*/!options.dry_run);
  if (!index.ok()) return unusable(absl::StrCat("index: ", index.status().message()));
  auto globs = GlobSet::Compile(remote.paths);
  if (!globs.ok()) return unusable(std::string(globs.status().message()));

  // 3-4. Walk and decide.
  const Settings settings{remote.immutability_duration, remote.settle, remote.orphan_grace,
                          options.deep};
  Planner planner(options.jobs, root_fd, remote.root, **index, settings, options.now);
  report.walk = Walk(root_fd, *globs, options.jobs, &planner);
  std::vector<Action> plan;
  absl::flat_hash_set<std::string> seen_keys;
  report.counts.seen = planner.Collect(&plan, &report.errors, &seen_keys);
  PlanUnseenEntries(root_fd, remote.root, **index, seen_keys, settings, options.now, &plan,
                    &report.warnings);
  std::sort(plan.begin(), plan.end(),
            [](const Action& a, const Action& b) { return a.path < b.path; });
  std::vector<Action> remote_files = PlanRemoteFiles(root_fd, settings, options.now);
  std::move(remote_files.begin(), remote_files.end(), std::back_inserter(plan));
  std::sort(report.errors.begin(), report.errors.end(),
            [](const Problem& a, const Problem& b) { return a.path < b.path; });

  // 5. Execute (unless dry run) and record.
  Executor executor(root_fd, remote.root, index->get());
  bool all_done = report.errors.empty();
  for (const Action& action : plan) {
    ActionRecord record{action.kind, action.path, action.tree, action.reason};
    const bool skip_marker_removal = action.kind == ActionKind::kRemoveMarker && !all_done;
    if (!options.dry_run && IsEffect(action.kind) && !skip_marker_removal) {
      const ActionResult result = executor.Apply(action);
      record.executed = true;
      record.outcome = result.outcome;
      record.detail = result.detail;
      if (result.outcome == Outcome::kFailed) {
        report.errors.push_back(Problem{action.path, result.detail});
      }
      all_done &= result.outcome == Outcome::kDone || action.kind != ActionKind::kLift;
    }
    if (skip_marker_removal) {
      record.kind = ActionKind::kWait;
      record.reason = "immutability.json is removed once every item is lifted";
    }
    Count(record, &report.counts);
    report.actions.push_back(std::move(record));
  }
  if (!options.dry_run) {
    if (absl::Status synced = (*index)->Sync(); !synced.ok()) {
      report.errors.push_back(Problem{"", std::string(synced.message())});
      ++report.counts.errors;
    }
  }
  report.elapsed = Elapsed(start);
  return report;
}

}  // namespace xoi
