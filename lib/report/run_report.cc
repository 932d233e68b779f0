#include "lib/report/run_report.h"

#include "lib/report/compliance.h"

namespace xoi {

absl::string_view RemoteStateName(RemoteState state) {
  switch (state) {
    case RemoteState::kDone:
      return "ok";
    case RemoteState::kUnusable:
      return "unusable";
    case RemoteState::kLocked:
      return "locked";
  }
  return "?";
}

int RunReport::ExitCode() const {
  bool unusable = false, errors = false, locked = false, held = !time_shift.empty();
  for (const RemoteReport& r : remotes) {
    held |= !r.lifts_held.empty();
    unusable |= r.state == RemoteState::kUnusable;
    if (command == "verify" && r.state == RemoteState::kDone) {
      for (const CheckResult& check : ComplianceChecks(r, started)) errors |= !check.passed();
    }
    locked |= r.state == RemoteState::kLocked;
    errors |= r.counts.errors > 0;
  }
  if (unusable) return kExitUnusable;
  if (held) return kExitLiftsHeld;
  if (errors) return kExitItemErrors;
  if (locked) return kExitLocked;
  return kExitOk;
}

HoldInForce InForce(const Hold& h) {
  return HoldInForce{h.id, h.selector, h.reason, h.who, h.when, h.pins.size()};
}

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
    if (a.outcome == Outcome::kWaiting || a.outcome == Outcome::kSkipped) ++c->waiting;
    if (a.outcome == Outcome::kRefused) ++c->refused;
    return;
  }
  switch (a.kind) {
    case ActionKind::kProtect:
    case ActionKind::kWriteMarker:
      ++c->protected_;
      break;
    case ActionKind::kReprotect:
      ++c->reprotected;
      break;
    case ActionKind::kLift:
      ++c->lifted;
      break;
    case ActionKind::kIndex:
      ++c->indexed;
      break;
    case ActionKind::kFollow:
      ++c->followed;
      break;
    case ActionKind::kUnindex:
      ++c->unindexed;
      break;
    default:
      break;
  }
}

bool Succeeded(const RemoteReport& r) {
  return r.state == RemoteState::kDone && r.counts.errors == 0 && r.lifts_held.empty();
}

}  // namespace xoi
