#include "lib/run/reconcile.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "lib/core/expiry.h"
#include "lib/core/rules.h"
#include "lib/fs/walker.h"
#include "lib/run/facts.h"
#include "lib/run/pipeline.h"
#include "lib/run/xo_daemon.h"

namespace xoi {
namespace {

// Turns what the walk finds into plan entries, within the run's budget (ActionBudget); one slot
// per worker thread for the rest, merged after the walk.
class ItemPlanner : public WalkVisitor {
 public:
  ItemPlanner(FileSystem& fs, int jobs, int root_fd, const Index& index, const HoldSet& holds,
              const Settings& settings, absl::Time now, uint64_t max_entries, size_t room)
      : fs_(fs),
        holds_(holds),
        jobs_(jobs),
        slots_(static_cast<size_t>(jobs)),
        budget_(max_entries, room),
        reached_((index.loaded() + 63) / 64),
        root_fd_(root_fd),
        index_(index),
        runs_(fs, root_fd),
        settings_(settings),
        now_(now) {}

  void OnItem(int worker, Candidate item) override {
    Slot& slot = slots_[static_cast<size_t>(worker)];
    ++slot.seen;
    slot.locked += item.stat.immutable;
    const RecordSummary* record =
        index_.Find(Identity{item.stat.ino, absl::ToUnixNanos(item.stat.birth)});
    if (record != nullptr) {
      const size_t at = index_.Slot(*record);
      if (at != Index::kNoSlot) {
        reached_[at / 64].fetch_or(uint64_t{1} << (at % 64), std::memory_order_relaxed);
      }
    }
    RemoteItemFacts facts(fs_, root_fd_, runs_, item, jobs_, &index_);
    Decision decision = Decide(item, record, settings_, now_, facts);
    std::move(decision.warnings.begin(), decision.warnings.end(),
              std::back_inserter(slot.warnings));
    if (decision.action) Add(*std::move(decision.action));
  }

  void OnRefused(int, const std::string& path, const std::string& reason) override {
    Action refuse{ActionKind::kRefuse, path};
    refuse.reason = reason;
    Add(std::move(refuse));
  }

  // Only entries come here, never the steady state's items: the lock is taken for changes. A held
  // lift is a held entry before the budget sees it: it never takes a lift's place.
  void Add(Action action) {
    HoldLift(holds_, &action);
    std::lock_guard<std::mutex> lock(budget_mu_);
    budget_.Add(std::move(action));
  }

  void OnError(int worker, const std::string& path, const absl::Status& status) override {
    slots_[static_cast<size_t>(worker)].errors.push_back(
        Problem{path, std::string(status.message())});
  }

  // Moves everything found into `plan` (with the count of locked items and of the entries
  // deferred, and room for the constructor's `room` entries more) and `errors`; returns the items
  // seen.
  uint64_t Collect(Plan* plan, std::vector<Problem>* errors) {
    plan->actions = budget_.Take();
    plan->deferred = budget_.deferred();
    plan->deferred_lifts = budget_.deferred_lifts();
    plan->deferred_protections = budget_.deferred_protections();
    uint64_t seen = 0;
    for (Slot& slot : slots_) {
      seen += slot.seen;
      plan->locked_items += slot.locked;
      std::move(slot.warnings.begin(), slot.warnings.end(), std::back_inserter(plan->warnings));
      std::move(slot.errors.begin(), slot.errors.end(), std::back_inserter(*errors));
    }
    return seen;
  }

  // The walk reached the item of `record`, a record loaded by the index's Open.
  bool Reached(const RecordSummary& record) const {
    const size_t at = index_.Slot(record);
    return at == Index::kNoSlot ||
           ((reached_[at / 64].load(std::memory_order_relaxed) >> (at % 64)) & 1) != 0;
  }

 private:
  struct Slot {
    uint64_t seen = 0;
    uint64_t locked = 0;
    std::vector<Warning> warnings;
    std::vector<Problem> errors;
  };
  FileSystem& fs_;
  const HoldSet& holds_;
  const int jobs_;
  std::vector<Slot> slots_;
  std::mutex budget_mu_;
  ActionBudget budget_;
  // One bit a loaded record, set by whichever worker reaches its item.
  std::vector<std::atomic<uint64_t>> reached_;
  const int root_fd_;
  const Index& index_;
  RemoteRunFacts runs_;
  const Settings& settings_;
  const absl::Time now_;
};

Plan PlanRemote(FileSystem& fs, const StateDir& state, RemoteSession& session,
                const RemoteConfig& remote, const RunOptions& options, RemoteReport* report) {
  const int root_fd = session.root.get();
  const Settings settings{remote.immutability_duration,
                          remote.settle,
                          remote.orphan_grace,
                          options.deep,
                          options.clock_lag,
                          !options.lifting_suspended.empty()};
  const Index& index = *session.index;
  Plan plan;

  // Facts and rules, item by item, as the walk finds them. The plan keeps room for the remote's
  // own files and the few entries an import of XO's index usually adds (the one run that switches
  // from XO's daemon may add more, and grow the plan once).
  constexpr size_t kRoom = 64;
  ItemPlanner items(fs, options.jobs, root_fd, index, session.holds, settings, options.now,
                    options.max_entries, kRoom);
  report->walk = Walk(fs, root_fd, session.globs, options.jobs, &items);

  // The index records the walk did not reach, read back from their day files (none in the steady
  // state).
  // Within the same budget: a million records of files deleted at once are a million entries too.
  RemoteUnreachedFacts unreached(fs, root_fd);
  const absl::Status read =
      index.ForEach([&](const RecordSummary& record) { return !items.Reached(record); },
                    [&](const IndexRecord& record) {
                      Plan decided;
                      DecideUnreached(record, settings, options.now, unreached, &decided);
                      for (Action& action : decided.actions) items.Add(std::move(action));
                      std::move(decided.warnings.begin(), decided.warnings.end(),
                                std::back_inserter(plan.warnings));
                    });
  if (!read.ok()) {
    // What cannot be read again is not lifted: it waits for a run that can.
    report->errors.push_back(Problem{index.dir_path(), std::string(read.message())});
  }
  report->counts.seen = items.Collect(&plan, &report->errors);
  ImportXoDaemonIndex(fs, state, session, remote, settings, &plan);
  SortByPath(&plan.actions);
  std::sort(plan.warnings.begin(), plan.warnings.end(),
            [](const Warning& a, const Warning& b) { return a.path < b.path; });
  std::sort(report->errors.begin(), report->errors.end(),
            [](const Problem& a, const Problem& b) { return a.path < b.path; });

  // The remote's own files come last: immutability.json is removed after every lift.
  RemoteRootFacts root_facts(fs, root_fd);
  PlanRemoteFiles(settings, options.now, root_facts, &plan);
  return plan;
}

}  // namespace

RemoteReport ReconcileRemote(FileSystem& fs, const StateDir& state, const RemoteConfig& remote,
                             const RunOptions& options) {
  return RunPipeline(
      fs, state, remote, options,
      [&](RemoteSession& session, RemoteReport* report) {
        return PlanRemote(fs, state, session, remote, options, report);
      },
      /*guard_mass_lift=*/true);
}

}  // namespace xoi
