#include "lib/run/pipeline.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "lib/core/guards.h"
#include "lib/fs/clocks.h"
#include "lib/run/execute.h"

namespace xoi {
namespace {

// Keeps back the lifts of `plan` that must not happen: held ones first, so that a lift a hold
// keeps back counts for no guard; every lift when the holds cannot be read (any item may be
// held: fail closed; lifting is then held back on every run, whether or not anything is due,
// as for a time shift, until the file is repaired); then the guards.
void KeepLiftsBack(const RemoteSession& session, const RemoteConfig& remote,
                   const RunOptions& options, bool guard_mass_lift, Plan* plan,
                   RemoteReport* report) {
  if (!session.holds_unreadable.empty()) {
    report->errors.push_back(Problem{"", session.holds_unreadable});
    HoldLifts(plan, session.holds_unreadable);
    plan->lifts_held = session.holds_unreadable;
  } else {
    ApplyHolds(session.holds, plan);
  }
  // Judged against what the index says is protected, which hiding folders from the walk cannot
  // shrink, or what the walk found locked where that is more: an index that lost a day (damaged,
  // or moved away) would otherwise count nothing protected, and switch the guard off for the very
  // run that re-adopts and lifts that day's items.
  if (guard_mass_lift && options.lifting_suspended.empty() &&
      remote.immutability_duration != absl::ZeroDuration() && !options.allow_mass_lift) {
    GuardMassLift(std::max(session.index->protected_count(), plan->locked_items),
                  options.max_lift_fraction, plan);
  }
  if (!options.lifting_suspended.empty() && HoldLifts(plan, options.lifting_suspended) > 0) {
    plan->lifts_held = options.lifting_suspended;
  }
}

// One pass over the index for the holds: pins (unless `pin` is false: a dry run), in each hold of
// a path, every item the index now records below its selector, so that it stays held wherever it
// is moved, and writes the holds when a pin was added; then says what the holds cover: each hold
// with the locked items it covers into report->holds, and the locked items any hold covers into
// report->counts.held.
void PinAndSummariseHolds(const StateDir& state, const RemoteConfig& remote, bool pin,
                          RemoteSession& session, RemoteReport* report) {
  HoldSet& holds = session.holds;
  for (const Hold& h : holds.holds) report->holds.push_back(InForce(h));
  if (holds.holds.empty()) return;
  pin = pin && session.holds_unreadable.empty();
  bool added = false;
  const absl::Status read =
      session.index->ForEach([&](const RecordSummary& summary) { return pin || !summary.lifted(); },
                             [&](const IndexRecord& record) {
                               // A record's own pin comes first: whether a hold covers it may
                               // depend on it.
                               if (pin) added |= Pin(record.path, record.identity(), &holds);
                               if (record.lifted) return;
                               bool held = false;
                               for (size_t i = 0; i < holds.holds.size(); ++i) {
                                 if (!holds.holds[i].Covers(record.path, record.identity()))
                                   continue;
                                 ++report->holds[i].items;
                                 held = true;
                               }
                               report->counts.held += held;
                             });
  if (!read.ok()) {
    report->errors.push_back(Problem{session.index->dir_path(), std::string(read.message())});
    ++report->counts.errors;
  }
  if (!added) return;
  // The pins counted above are in the holds written now.
  for (size_t i = 0; i < holds.holds.size(); ++i)
    report->holds[i].pinned = holds.holds[i].pins.size();
  if (absl::Status written = state.WriteHolds(remote.id, EncodeHolds(holds)); !written.ok()) {
    report->errors.push_back(
        Problem{"", absl::StrCat("the holds' new pins were not written (the next run pins them): ",
                                 written.message())});
    ++report->counts.errors;
  }
}

}  // namespace

RemoteReport RunPipeline(FileSystem& fs, const StateDir& state, const RemoteConfig& remote,
                         const RunOptions& options, const Planner& planner, bool guard_mass_lift) {
  const Stopwatch stopwatch;
  RemoteReport report;
  std::unique_ptr<RemoteSession> session = OpenRemote(fs, state, remote, options.dry_run, &report);
  if (session != nullptr) {
    Plan plan = planner(*session, &report);
    KeepLiftsBack(*session, remote, options, guard_mass_lift, &plan, &report);
    const std::string xo_index_imported = std::move(plan.xo_index_imported);
    const bool recorded = ExecutePlan(fs, std::move(plan), *session, remote, options, &report);
    // Unwritten (a full disk), it is read again by the next run: importing is idempotent.
    if (recorded && !xo_index_imported.empty()) {
      (void)state.WriteXoIndexImported(remote.id, xo_index_imported);
    }
    PinAndSummariseHolds(state, remote, /*pin=*/!options.dry_run, *session, &report);
  }
  report.elapsed = stopwatch.Elapsed();
  return report;
}

}  // namespace xoi
