#include "lib/run/reconcile.h"

#include <algorithm>
#include <iterator>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "lib/core/expiry.h"
#include "lib/core/guards.h"
#include "lib/core/index_entry.h"
#include "lib/core/rules.h"
#include "lib/fs/walker.h"
#include "lib/run/facts.h"
#include "lib/run/pipeline.h"

namespace xoi {
namespace {

// Turns what the walk finds into plan entries; one slot per worker thread, merged after the walk.
class ItemPlanner : public WalkVisitor {
 public:
  ItemPlanner(FileSystem& fs, int jobs, int root_fd, const std::string& root, const Index& index,
              const Settings& settings, absl::Time now)
      : fs_(fs),
        slots_(static_cast<size_t>(jobs)),
        root_fd_(root_fd),
        root_(root),
        index_(index),
        runs_(fs, root_fd),
        settings_(settings),
        now_(now) {}

  void OnItem(int worker, Candidate item) override {
    Slot& slot = slots_[static_cast<size_t>(worker)];
    ++slot.seen;
    if (item.stat.immutable) ++slot.protected_items;
    const absl::CivilDay day = CreationDay(item.stat.birth);
    const std::string name = IndexEntryName(absl::StrCat(root_, "/", item.path));
    const bool indexed = index_.Contains(day, name);
    if (indexed) slot.seen_keys.push_back(Index::Key(day, name));
    RemoteItemFacts facts(fs_, root_fd_, index_, runs_, item, day, name);
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

  // Moves everything found into `plan`, `errors`, `seen_keys`; returns the items seen and counts
  // those already immutable in `protected_items`.
  uint64_t Collect(Plan* plan, std::vector<Problem>* errors,
                   absl::flat_hash_set<std::string>* seen_keys, uint64_t* protected_items) {
    uint64_t seen = 0;
    for (Slot& slot : slots_) {
      seen += slot.seen;
      *protected_items += slot.protected_items;
      std::move(slot.actions.begin(), slot.actions.end(), std::back_inserter(plan->actions));
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
  FileSystem& fs_;
  std::vector<Slot> slots_;
  const int root_fd_;
  const std::string& root_;
  const Index& index_;
  RemoteRunFacts runs_;
  const Settings& settings_;
  const absl::Time now_;
};

Plan PlanRemote(FileSystem& fs, RemoteSession& session, const RemoteConfig& remote,
                const RunOptions& options, RemoteReport* report) {
  const int root_fd = session.root.get();
  const Settings settings{remote.immutability_duration, remote.settle, remote.orphan_grace,
                          options.deep};
  Plan plan;

  // Facts and rules, item by item, as the walk finds them.
  ItemPlanner items(fs, options.jobs, root_fd, remote.root, *session.index, settings, options.now);
  report->walk = Walk(fs, root_fd, session.globs, options.jobs, &items);
  absl::flat_hash_set<std::string> seen_keys;
  uint64_t protected_items = 0;
  report->counts.seen = items.Collect(&plan, &report->errors, &seen_keys, &protected_items);

  // The index entries the walk did not reach.
  for (const IndexKey& key : session.index->KeysExcept(seen_keys)) {
    RemoteUnreachedFacts facts(fs, root_fd, *session.index, key);
    DecideUnreached(key, remote.root, settings, options.now, facts, &plan);
  }
  std::sort(plan.actions.begin(), plan.actions.end(),
            [](const Action& a, const Action& b) { return a.path < b.path; });
  std::sort(report->errors.begin(), report->errors.end(),
            [](const Problem& a, const Problem& b) { return a.path < b.path; });

  // The remote's own files come last: immutability.json is removed after every lift.
  RemoteRootFacts root_facts(fs, root_fd);
  PlanRemoteFiles(settings, options.now, root_facts, &plan);

  if (options.lifting_suspended.empty() && settings.duration != absl::ZeroDuration() &&
      !options.allow_mass_lift) {
    GuardMassLift(protected_items, options.max_lift_fraction, &plan);
  }
  return plan;
}

}  // namespace

RemoteReport ReconcileRemote(FileSystem& fs, const StateDir& state, const RemoteConfig& remote,
                             const RunOptions& options) {
  return RunPipeline(fs, state, remote, options, [&](RemoteSession& session, RemoteReport* report) {
    return PlanRemote(fs, session, remote, options, report);
  });
}

}  // namespace xoi
