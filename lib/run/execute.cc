#include "lib/run/execute.h"

#include "absl/strings/str_cat.h"
#include "lib/fs/executor.h"

namespace xoi {

void ExecutePlan(FileSystem& fs, const Plan& plan, RemoteSession& session,
                 const RemoteConfig& remote, const RunOptions& options, RemoteReport* report) {
  report->warnings.insert(report->warnings.end(), plan.warnings.begin(), plan.warnings.end());
  if (!plan.lifts_held.empty()) report->lifts_held = plan.lifts_held;
  Executor executor(fs, session.root.get(), session.index.get());
  bool all_lifted = report->errors.empty();
  bool applied = false;  // some action reached the executor (and maybe the index, the audit log)
  for (const Action& action : plan.actions) {
    ActionRecord record{action.kind, action.path, action.tree, action.reason};
    record.immutable = action.stat.immutable;
    record.expires_at = action.expires_at;
    record.overdue = action.overdue;
    if (!options.dry_run && IsEffect(action.kind)) {
      record.executed = true;
      if (action.requires_all_lifts && !all_lifted) {
        record.outcome = Outcome::kSkipped;
        record.detail = "not every item could be lifted: kept until they are";
      } else {
        const ActionResult result = executor.Apply(action);
        applied = true;
        record.outcome = result.outcome;
        record.detail = result.detail;
        if (result.outcome == Outcome::kFailed) {
          report->errors.push_back(Problem{action.path, result.detail});
        }
        if (action.kind == ActionKind::kLift) all_lifted &= result.outcome == Outcome::kDone;
        if (options.audit != nullptr && result.flags_changed > 0) {
          const absl::Status logged = options.audit->Append(
              AuditRecord{options.now, remote.id, absl::StrCat(remote.root, "/", action.path),
                          action.stat.ino, ActionKindName(action.kind),
                          result.outcome == Outcome::kDone
                              ? action.reason
                              : absl::StrCat(action.reason, " (partly: ", result.detail, ")")});
          if (!logged.ok()) {
            report->errors.push_back(Problem{action.path, std::string(logged.message())});
          }
        }
      }
    }
    Count(record, &report->counts);
    report->actions.push_back(std::move(record));
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
