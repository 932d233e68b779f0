#include "lib/report/compliance.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "lib/core/xo_layout.h"

namespace xoi {
namespace {

// Lifting may lag expiry by up to a day (day-granular expiry, a timer that was down for a while).
constexpr absl::Duration kLiftTolerance = absl::Hours(24);

// True when the action is still to be done: planned only (a dry run, a held lift), or executed
// without taking effect.
bool Outstanding(const ActionRecord& a) { return !a.executed || a.outcome != Outcome::kDone; }

}  // namespace

std::vector<CheckResult> ComplianceChecks(const RemoteReport& report, absl::Time now) {
  CheckResult locked{"finished-locked", "every finished backup is immutable", {}};
  CheckResult lifted{
      "expired-unlocked", "no expired backup is still locked more than a day after it expired", {}};
  CheckResult index{"index-agrees", "the index agrees with the flags", {}};
  CheckResult marker{
      "immutability-json", "immutability.json and XO's files at the root are as they must be", {}};
  CheckResult refused{"nothing-refused",
                      "no backup is refused or left partly unlocked (symlinks, FIFOs, hard links "
                      "where a backup is expected)",
                      {}};
  for (const ActionRecord& a : report.actions) {
    if (IsRemoteFile(a.path)) {
      const bool marker_action = a.kind == ActionKind::kWriteMarker ||
                                 a.kind == ActionKind::kRemoveMarker ||
                                 a.kind == ActionKind::kProtect || a.kind == ActionKind::kLift;
      if (marker_action && Outstanding(a)) marker.offenders.push_back(a.path);
      continue;
    }
    switch (a.kind) {
      case ActionKind::kProtect:
      case ActionKind::kReprotect:
        // Waiting for a writer means not finished: not a failure of this check, until the item
        // has been finished for longer than orphanGrace and still cannot be locked.
        if (Outstanding(a) && (a.overdue || !(a.executed && a.outcome == Outcome::kWaiting))) {
          locked.offenders.push_back(a.path);
        }
        if (a.kind == ActionKind::kReprotect && Outstanding(a)) index.offenders.push_back(a.path);
        break;
      case ActionKind::kIndex:
        if (Outstanding(a)) index.offenders.push_back(a.path);
        break;
      case ActionKind::kUnindex:
        // The record of an item lifted already (deleted by XO's retention since, or moved out of
        // reach by the sweep's lift) disagrees with no flag: dropping it is bookkeeping.
        if (Outstanding(a) && a.immutable) index.offenders.push_back(a.path);
        break;
      case ActionKind::kRefuse:
        refused.offenders.push_back(a.path);
        break;
      default:
        break;
    }
    const bool lifted_now =
        a.kind == ActionKind::kLift && a.executed && a.outcome == Outcome::kDone;
    // A held item is locked past its expiry on purpose.
    if (a.kind != ActionKind::kHold && a.immutable && !lifted_now &&
        a.expires_at + kLiftTolerance <= now) {
      lifted.offenders.push_back(a.path);
    }
  }
  // A finished backup the run's budget left for later is not locked yet.
  locked.unnamed = report.counts.deferred_protections;
  for (const Warning& w : report.warnings) {
    if (IsIndexDisagreement(w.kind)) index.offenders.push_back(w.path);
    if (w.kind == WarningKind::kMemberNotLockable) refused.offenders.push_back(w.path);
  }
  std::vector<CheckResult> checks = {std::move(locked), std::move(lifted), std::move(index),
                                     std::move(marker), std::move(refused)};
  for (CheckResult& c : checks) std::sort(c.offenders.begin(), c.offenders.end());
  return checks;
}

}  // namespace xoi
