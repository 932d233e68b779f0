#include "lib/reconcile.h"

#include <fcntl.h>
#include <sys/file.h>
#include <time.h>

#include <algorithm>
#include <iterator>
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
    if (item.stat.immutable) ++slot.protected_items;
    const absl::CivilDay day = CreationDay(item.stat.birth);
    const std::string name = IndexEntryName(absl::StrCat(root_, "/", item.path));
    const bool indexed = index_.Contains(day, name);
    if (indexed) slot.seen_keys.push_back(Index::Key(day, name));
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

  // Moves everything found into `actions`, `errors`, `seen_keys`; returns the items seen and
  // counts those already immutable in `protected_items`.
  uint64_t Collect(std::vector<Action>* actions, std::vector<Problem>* errors,
                   absl::flat_hash_set<std::string>* seen_keys, uint64_t* protected_items) {
    uint64_t seen = 0;
    for (Slot& slot : slots_) {
      seen += slot.seen;
      *protected_items += slot.protected_items;
      std::move(slot.actions.begin(), slot.actions.end(), std::back_inserter(*actions));
      std::move(slot.errors.begin(), slot.errors.end(), std::back_inserter(*errors));
      seen_keys->insert(std::make_move_iterator(slot.seen_keys.begin()),
                        std::make_move_iterator(slot.seen_keys.end()));
    }
    return seen;
  }

 private:
  struct Slot {
    uint64_t seen = 0;
    uint64_t protected_items = 0;
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
  for (const IndexKey& key : index.KeysExcept(seen)) {
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
    } else if (same && expired) {
      action.reason = "expired and already mutable";
      actions->push_back(std::move(action));
    } else if (same) {
      warnings->push_back(
          Problem{action.path, "indexed and locked, but no glob reaches it any more"});
    } else {
      // The indexed inode may live on under another name (a writer can rename the mutable parent
      // folder of a locked file): the entry is kept for `xo-immutable sweep`, which finds the
      // inode by identity, lifts it once expired, and drops entries whose inode is gone.
      warnings->push_back(Problem{
          action.path,
          absl::StrCat(gone ? "indexed item missing (moved, or deleted by root?)"
                            : "the path now holds another inode (or the entry has no identity)",
                       expired ? ": expired; `xo-immutable sweep` resolves it"
                               : ": entry kept, the indexed inode is not touched")});
    }
  }
}

}  // namespace

RemoteReport ReconcileRemote(const std::string& index_path, const RemoteConfig& remote,
                             const RunOptions& options) {
  const Stopwatch stopwatch;
  RemoteReport report;
  std::unique_ptr<RemoteSession> session = OpenRemote(index_path, remote, options.dry_run, &report);
  if (session == nullptr) {
    report.elapsed = stopwatch.Elapsed();
    return report;
  }
  const int root_fd = session->root.get();

  // 3-4. Walk and decide, then plan.
  const Settings settings{remote.immutability_duration, remote.settle, remote.orphan_grace,
                          options.deep};
  Planner planner(options.jobs, root_fd, remote.root, *session->index, settings, options.now);
  report.walk = Walk(root_fd, session->globs, options.jobs, &planner);
  std::vector<Action> plan;
  absl::flat_hash_set<std::string> seen_keys;
  uint64_t protected_items = 0;
  report.counts.seen = planner.Collect(&plan, &report.errors, &seen_keys, &protected_items);
  PlanUnseenEntries(root_fd, remote.root, *session->index, seen_keys, settings, options.now,
                    &plan, &report.warnings);
  std::sort(plan.begin(), plan.end(),
            [](const Action& a, const Action& b) { return a.path < b.path; });
  std::vector<Action> remote_files = PlanRemoteFiles(root_fd, settings, options.now);
  std::move(remote_files.begin(), remote_files.end(), std::back_inserter(plan));
  std::sort(report.errors.begin(), report.errors.end(),
            [](const Problem& a, const Problem& b) { return a.path < b.path; });

  if (!options.lifting_suspended.empty()) {
    if (HoldLifts(&plan, options.lifting_suspended) > 0) {
      report.lifts_held = options.lifting_suspended;
    }
  } else if (settings.duration != absl::ZeroDuration() && !options.allow_mass_lift) {
    const auto lifts = static_cast<uint64_t>(std::count_if(
        plan.begin(), plan.end(), [](const Action& a) { return a.kind == ActionKind::kLift; }));
    if (protected_items > 100 && lifts > options.max_lift_fraction * protected_items) {
      report.lifts_held = absl::StrCat(
          "mass-lift guard: ", lifts, " of ", protected_items,
          " protected items would be lifted at once (more than ",
          static_cast<int>(options.max_lift_fraction * 100),
          "%); run with --allow-mass-lift if that is intended");
      HoldLifts(&plan, report.lifts_held);
    }
  }

  // 5. Execute (unless dry run) and record.
  ExecutePlan(plan, *session, remote, options, &report);
  report.elapsed = stopwatch.Elapsed();
  return report;
}

}  // namespace xoi
