#include "lib/run/execute.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/fs/executor.h"

namespace xoi {
namespace {

// One entry of the plan and what came of it.
struct Carried {
  ActionRecord record;
  std::vector<Problem> errors;
  bool applied = false;  // it reached the executor (and maybe the index, the audit log)
};

Carried Carry(const Action& action, Executor& executor, bool all_lifted, const RemoteConfig& remote,
              const RunOptions& options) {
  Carried c{ActionRecord{action.kind, action.path, action.tree, action.reason}};
  ActionRecord& record = c.record;
  record.immutable = action.stat.immutable;
  record.expires_at = action.expires_at;
  record.overdue = action.overdue;
  if (options.dry_run || !IsEffect(action.kind)) return c;
  record.executed = true;
  if (action.requires_all_lifts && !all_lifted) {
    record.outcome = Outcome::kSkipped;
    record.detail = "not every item could be lifted: kept until they are";
    return c;
  }
  const ActionResult result = executor.Apply(action);
  c.applied = true;
  record.outcome = result.outcome;
  record.detail = result.detail;
  if (result.outcome == Outcome::kFailed) c.errors.push_back(Problem{action.path, result.detail});
  if (options.audit != nullptr && result.flags_changed > 0) {
    const absl::Status logged = options.audit->Append(
        AuditRecord{options.now, remote.id, absl::StrCat(remote.root, "/", action.path),
                    action.stat.ino, ActionKindName(action.kind),
                    result.outcome == Outcome::kDone
                        ? action.reason
                        : absl::StrCat(action.reason, " (partly: ", result.detail, ")")});
    if (!logged.ok()) c.errors.push_back(Problem{action.path, std::string(logged.message())});
  }
  return c;
}

}  // namespace

void ExecutePlan(FileSystem& fs, const Plan& plan, RemoteSession& session,
                 const RemoteConfig& remote, const RunOptions& options, RemoteReport* report) {
  report->warnings.insert(report->warnings.end(), plan.warnings.begin(), plan.warnings.end());
  if (!plan.lifts_held.empty()) report->lifts_held = plan.lifts_held;
  Executor executor(fs, session.root.get(), session.index.get());
  const std::vector<Action>& actions = plan.actions;
  std::vector<Carried> carried(actions.size());

  // The items first, `jobs` at a time: each is its own inode (or tree), checked and changed on its
  // own, so they may go in any order. The remote's own files follow, in plan order, once every
  // lift is known (immutability.json goes only when every lift took effect).
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < actions.size();) {
      if (actions[i].indexed) carried[i] = Carry(actions[i], executor, true, remote, options);
    }
  };
  const size_t threads =
      std::min<size_t>(static_cast<size_t>(std::max(options.jobs, 1)), actions.size());
  std::vector<std::thread> workers;
  for (size_t t = 1; t < threads; ++t) workers.emplace_back(work);
  work();
  for (std::thread& worker : workers) worker.join();

  auto lifted = [&](size_t i) {
    return actions[i].kind != ActionKind::kLift || carried[i].record.outcome == Outcome::kDone;
  };
  bool all_lifted = report->errors.empty();
  for (size_t i = 0; i < actions.size(); ++i) all_lifted &= !actions[i].indexed || lifted(i);
  bool applied = false;
  for (size_t i = 0; i < actions.size(); ++i) {
    if (!actions[i].indexed) {
      carried[i] = Carry(actions[i], executor, all_lifted, remote, options);
      all_lifted &= lifted(i);
    }
    Carried& c = carried[i];
    applied |= c.applied;
    std::move(c.errors.begin(), c.errors.end(), std::back_inserter(report->errors));
    Count(c.record, &report->counts);
    report->actions.push_back(std::move(c.record));
  }
  report->counts.errors = report->errors.size();
  // The records of everything done, made durable with one syncfs (which flushes the whole
  // filesystem of the index, every other writer's dirty data included: a run that changed nothing,
  // the steady state every minute, writes and syncs nothing).
  if (!options.dry_run && applied) {
    if (absl::Status flushed = session.index->Flush(); !flushed.ok()) {
      report->errors.push_back(
          Problem{"", absl::StrCat("the index was not written (the next run re-indexes what is ",
                                   "locked): ", flushed.message())});
      ++report->counts.errors;
    }
  }
}

}  // namespace xoi
