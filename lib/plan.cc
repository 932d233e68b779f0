#include "lib/plan.h"

namespace xoi {

absl::string_view ActionKindName(ActionKind kind) {
  switch (kind) {
    case ActionKind::kProtect: return "protect";
    case ActionKind::kReprotect: return "reprotect";
    case ActionKind::kLift: return "lift";
    case ActionKind::kIndex: return "index";
    case ActionKind::kUnindex: return "unindex";
    case ActionKind::kWriteMarker: return "write-marker";
    case ActionKind::kRemoveMarker: return "remove-marker";
    case ActionKind::kWait: return "wait";
    case ActionKind::kRefuse: return "refuse";
  }
  return "?";
}

bool IsEffect(ActionKind kind) { return kind != ActionKind::kWait && kind != ActionKind::kRefuse; }

}  // namespace xoi
