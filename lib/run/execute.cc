#include "lib/run/execute.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/fs/executor.h"
#include "lib/fs/helper_threads.h"

namespace xoi {
namespace {

// The audit lines of one worker, written a batch at a time: one write(2) for up to 64 KiB of lines
// instead of one for each flag change. A run killed mid-way may lose its last batch of lines (the
// flags stay as they were set, and the next run converges); nothing else can stop it in between.
class AuditBatch {
 public:
  explicit AuditBatch(AuditLog* log) : log_(log) {}

  void Add(const AuditRecord& record) {
    if (log_ != nullptr) lines_.append(AuditLog::Line(record));
  }
  bool full() const { return lines_.size() >= kBatchBytes; }

  // Writes what was added since the last flush; a failure becomes a problem in `errors`.
  void Flush(std::vector<Problem>* errors) {
    if (lines_.empty()) return;
    if (absl::Status written = log_->AppendLines(lines_); !written.ok()) {
      errors->push_back(Problem{log_->path(), std::string(written.message())});
    }
    lines_.clear();
  }

 private:
  static constexpr size_t kBatchBytes = size_t{64} << 10;
  AuditLog* const log_;
  std::string lines_;
};

// Carries out `action` (unless a dry run) into `record`; its path and reason move into the record,
// so that a plan of a million entries is not held twice. Returns whether it reached the executor
// (and maybe the index, the audit log); problems go to `errors`.
bool Carry(Action& action, Executor& executor, bool all_lifted, const RemoteConfig& remote,
           const RunOptions& options, ActionRecord* record, AuditBatch* audit,
           std::vector<Problem>* errors) {
  record->kind = action.kind;
  record->tree = action.tree;
  record->immutable = action.stat.immutable;
  record->expires_at = action.expires_at;
  record->overdue = action.overdue;
  bool applied = false;
  if (!options.dry_run && IsEffect(action.kind)) {
    record->executed = true;
    if (action.requires_all_lifts && !all_lifted) {
      record->outcome = Outcome::kSkipped;
      record->detail = "not every item could be lifted: kept until they are";
    } else {
      const ActionResult result = executor.Apply(action);
      applied = true;
      record->outcome = result.outcome;
      record->detail = result.detail;
      if (result.outcome == Outcome::kFailed) {
        errors->push_back(Problem{action.path, result.detail});
      }
      if (result.flags_changed > 0) {
        audit->Add(
            AuditRecord{options.now, remote.id, absl::StrCat(remote.root, "/", action.path),
                        action.stat.ino, ActionKindName(action.kind),
                        result.outcome == Outcome::kDone
                            ? action.reason
                            : absl::StrCat(action.reason, " (partly: ", result.detail, ")")});
      }
    }
  }
  record->path = std::move(action.path);
  record->reason = std::move(action.reason);
  return applied;
}

}  // namespace

bool ExecutePlan(FileSystem& fs, Plan plan, RemoteSession& session, const RemoteConfig& remote,
                 const RunOptions& options, RemoteReport* report) {
  report->warnings.insert(report->warnings.end(), plan.warnings.begin(), plan.warnings.end());
  if (!plan.lifts_held.empty()) report->lifts_held = plan.lifts_held;
  report->counts.deferred += plan.deferred;
  report->counts.deferred_protections += plan.deferred_protections;
  std::vector<Action>& actions = plan.actions;
  const size_t base = report->actions.size();
  report->actions.resize(base + actions.size());
  ActionRecord* records = report->actions.data() + base;
  // Each entry's problems, by its position: the report lists them in plan order.
  std::vector<std::pair<size_t, Problem>> problems;
  std::mutex problems_mu;
  std::atomic<bool> applied{false};
  auto carry = [&](size_t i, bool all_lifted, Executor& executor, AuditBatch& audit) {
    std::vector<Problem> errors;
    if (Carry(actions[i], executor, all_lifted, remote, options, &records[i], &audit, &errors)) {
      applied = true;
    }
    if (audit.full()) audit.Flush(&errors);
    if (errors.empty()) return;
    std::lock_guard<std::mutex> lock(problems_mu);
    for (Problem& p : errors) problems.emplace_back(i, std::move(p));
  };
  auto flush = [&](size_t i, AuditBatch& audit) {
    std::vector<Problem> errors;
    audit.Flush(&errors);
    std::lock_guard<std::mutex> lock(problems_mu);
    for (Problem& p : errors) problems.emplace_back(i, std::move(p));
  };

  // The items first, `jobs` at a time, each worker taking runs of neighbours (often in one folder,
  // which its executor keeps open): each item is its own inode (or tree), checked and changed on
  // its own, so they may go in any order. The remote's own files follow, in plan order, once every
  // lift is known (immutability.json goes only when every lift took effect).
  constexpr size_t kRun = 64;
  std::atomic<size_t> next{0};
  auto work = [&] {
    Executor executor(fs, session.root.get(), session.index.get(), options.jobs);
    AuditBatch audit(options.audit);
    size_t last = 0;
    for (size_t begin;
         (begin = next.fetch_add(kRun, std::memory_order_relaxed)) < actions.size();) {
      for (size_t i = begin; i < std::min(begin + kRun, actions.size()); ++i) {
        if (actions[i].indexed) carry(i, true, executor, audit);
        last = i;
      }
    }
    flush(last, audit);
  };
  const size_t threads =
      std::min<size_t>(static_cast<size_t>(std::max(options.jobs, 1)), actions.size());
  HelperThreads workers;
  for (size_t t = 1; t < threads; ++t) {
    if (!workers.Start(work)) break;  // refused: the items go on with the threads there are
  }
  work();
  workers.JoinAll();

  auto lifted = [&](size_t i) {
    return records[i].kind != ActionKind::kLift || records[i].outcome == Outcome::kDone;
  };
  bool all_lifted = report->errors.empty();
  for (size_t i = 0; i < actions.size(); ++i) all_lifted &= !actions[i].indexed || lifted(i);
  Executor executor(fs, session.root.get(), session.index.get());
  AuditBatch audit(options.audit);
  for (size_t i = 0; i < actions.size(); ++i) {
    if (actions[i].indexed) continue;
    carry(i, all_lifted, executor, audit);
    all_lifted &= lifted(i);
  }
  flush(actions.size(), audit);
  std::sort(problems.begin(), problems.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [i, p] : problems) report->errors.push_back(std::move(p));
  for (size_t i = 0; i < actions.size(); ++i) Count(records[i], &report->counts);
  report->counts.errors = report->errors.size();
  // Records that followed their items are counted, not listed (Counts::followed); one that could
  // not follow (never: an index record is written in memory) would stay listed.
  report->actions.erase(std::remove_if(report->actions.begin() + static_cast<std::ptrdiff_t>(base),
                                       report->actions.end(),
                                       [](const ActionRecord& r) {
                                         return r.kind == ActionKind::kFollow &&
                                                (!r.executed || r.outcome == Outcome::kDone);
                                       }),
                        report->actions.end());
  // Carried out: what is left of the entries (their paths and reasons moved into the report) goes
  // before the index encodes its changed days, the run's other large allocation.
  std::vector<Action>().swap(actions);
  // The records of everything done, made durable with one syncfs (which flushes the whole
  // filesystem of the index, every other writer's dirty data included: a run that changed nothing,
  // the steady state every minute, writes and syncs nothing).
  if (options.dry_run) return false;
  if (applied) {
    if (absl::Status flushed = session.index->Flush(); !flushed.ok()) {
      report->errors.push_back(
          Problem{"", absl::StrCat("the index was not written (the next run re-indexes what is ",
                                   "locked): ", flushed.message())});
      ++report->counts.errors;
      return false;
    }
  }
  return true;
}

}  // namespace xoi
