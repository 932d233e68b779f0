#include "lib/core/plan.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <utility>

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

namespace {

// 0 is the most urgent.
int Urgency(ActionKind kind) {
  switch (kind) {
    case ActionKind::kProtect:
    case ActionKind::kReprotect:
      return 0;
    case ActionKind::kIndex:
    case ActionKind::kFollow:
    case ActionKind::kUnindex:
      return 1;
    case ActionKind::kLift:
      return 2;
    default:
      return 3;
  }
}

// The heap's order: true when `a` is more urgent than `b`.
bool MoreUrgent(const Action& a, const Action& b) {
  const int ua = Urgency(a.kind), ub = Urgency(b.kind);
  if (ua != ub) return ua < ub;
  if (a.reference != b.reference) return a.reference < b.reference;
  return a.path < b.path;
}

}  // namespace

bool UnlocksSomething(const Action& action) {
  return action.kind == ActionKind::kLift && (action.stat.immutable || action.tree);
}

void ActionBudget::Add(Action action) {
  // A limit raised far above what one run holds (a benchmark's) grows the vector past this.
  constexpr uint64_t kMostReservedAtOnce = uint64_t{1} << 20;
  if (heap_.capacity() == 0) {
    heap_.reserve(static_cast<size_t>(std::min(limit_, kMostReservedAtOnce)) + room_);
  }
  if (heap_.size() < limit_) {
    heap_.push_back(std::move(action));
    std::push_heap(heap_.begin(), heap_.end(), MoreUrgent);
    return;
  }
  // Full: the least urgent of the kept ones and the new one, whichever it is, is deferred.
  if (limit_ == 0 || !MoreUrgent(action, heap_.front())) {
    CountDeferred(action);
    return;
  }
  std::pop_heap(heap_.begin(), heap_.end(), MoreUrgent);
  CountDeferred(heap_.back());
  heap_.back() = std::move(action);
  std::push_heap(heap_.begin(), heap_.end(), MoreUrgent);
}

void ActionBudget::CountDeferred(const Action& action) {
  ++deferred_;
  deferred_lifts_ += UnlocksSomething(action);
  deferred_protections_ +=
      action.kind == ActionKind::kProtect || action.kind == ActionKind::kReprotect;
}

std::vector<Action> ActionBudget::Take() {
  std::vector<Action> kept;
  kept.swap(heap_);
  return kept;
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

void SortByPath(std::vector<Action>* actions) {
  std::vector<Action>& a = *actions;
  // order[k]: the entry that belongs at k. Sorted as 4-byte indices, then applied in place by
  // following each cycle of the permutation (no second vector of entries).
  std::vector<uint32_t> order(a.size());
  std::iota(order.begin(), order.end(), uint32_t{0});
  std::sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
    const int c = a[x].path.compare(a[y].path);
    return c != 0 ? c < 0 : x < y;
  });
  for (size_t start = 0; start < a.size(); ++start) {
    if (order[start] == start) continue;
    Action held = std::move(a[start]);
    size_t k = start;
    while (order[k] != start) {
      const size_t from = order[k];
      a[k] = std::move(a[from]);
      order[k] = static_cast<uint32_t>(k);
      k = from;
    }
    a[k] = std::move(held);
    order[k] = static_cast<uint32_t>(k);
  }
}

}  // namespace xoi
