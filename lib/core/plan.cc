#include "lib/core/plan.h"

namespace xoi {

absl::string_view ActionKindName(ActionKind kind) {
  switch (kind) {
    case ActionKind::kProtect:
      return "protect";
    case ActionKind::kReprotect:
      return "reprotect";
    case ActionKind::kLift:
      return "lift";
    case ActionKind::kIndex:
      return "index";
    case ActionKind::kFollow:
      return "follow";
    case ActionKind::kUnindex:
      return "unindex";
    case ActionKind::kWriteMarker:
      return "write-marker";
    case ActionKind::kRemoveMarker:
      return "remove-marker";
    case ActionKind::kWait:
      return "wait";
    case ActionKind::kRefuse:
      return "refuse";
    case ActionKind::kHold:
      return "hold";
  }
  return "?";
}

bool IsEffect(ActionKind kind) {
  return kind != ActionKind::kWait && kind != ActionKind::kRefuse && kind != ActionKind::kHold;
}

absl::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kDone:
      return "done";
    case Outcome::kWaiting:
      return "waiting";
    case Outcome::kRefused:
      return "refused";
    case Outcome::kVanished:
      return "vanished";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kSkipped:
      return "skipped";
  }
  return "?";
}

absl::string_view WarningKindName(WarningKind kind) {
  switch (kind) {
    case WarningKind::kIndexEntryUnreadable:
      return "index-entry-unreadable";
    case WarningKind::kIndexEntryOutsideRemote:
      return "index-entry-outside-remote";
    case WarningKind::kIndexedUnreachable:
      return "indexed-unreachable";
    case WarningKind::kIndexedMissing:
      return "indexed-missing";
    case WarningKind::kIndexedReplaced:
      return "indexed-replaced";
    case WarningKind::kLockedUnknown:
      return "locked-unknown";
    case WarningKind::kLockedMoved:
      return "locked-moved";
    case WarningKind::kMemberNotLockable:
      return "member-not-lockable";
    case WarningKind::kClock:
      return "clock";
    case WarningKind::kIndexNotice:
      return "index-notice";
  }
  return "?";
}

bool IsIndexDisagreement(WarningKind kind) {
  switch (kind) {
    case WarningKind::kIndexEntryUnreadable:
    case WarningKind::kIndexEntryOutsideRemote:
    case WarningKind::kIndexedUnreachable:
    case WarningKind::kIndexedMissing:
    case WarningKind::kIndexedReplaced:
    case WarningKind::kLockedUnknown:
    case WarningKind::kLockedMoved:
      return true;
    case WarningKind::kMemberNotLockable:
    case WarningKind::kClock:
    case WarningKind::kIndexNotice:
      return false;
  }
  return false;
}

}  // namespace xoi
