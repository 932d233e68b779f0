// The rules: what to do with one item, from facts about it. No system calls here: facts that cost
// I/O are asked for through ItemFacts, and only when a rule needs them (an immutable, indexed,
// unexpired item, the steady state, costs none).
#ifndef XOI_LIB_DECIDE_H_
#define XOI_LIB_DECIDE_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "lib/plan.h"
#include "lib/walker.h"
#include "lib/xo_layout.h"

namespace xoi {

struct Settings {
  absl::Duration duration;  // zero: lift everything, protect nothing
  absl::Duration settle;
  absl::Duration orphan_grace;
  // Also verify every member of protected trees (steady state otherwise reads only the
  // directory's own flag), for operators who suspect tampering by root.
  bool deep = false;
};

// What changed last in a still-mutable item: for a file its ctime; for a tree the newest ctime of
// the directory and of its members that are not immutable yet (our own flag changes touch ctime
// too, so immutable members are left out).
struct ChangeFacts {
  absl::Time newest_change;
  std::string refusal;  // non-empty: a member that can never be locked (hard link, FIFO, ...)
  uint64_t mutable_members = 0;  // trees: members without the flag
};

// Facts that cost I/O, computed on demand.
class ItemFacts {
 public:
  virtual ~ItemFacts() = default;
  // The item's index entry (at its creation day) records this same inode and birth time.
  virtual bool IndexedSameIdentity() = 0;
  virtual ChangeFacts Changes() = 0;
  virtual RunCheck Run() = 0;
};

// Decides for `item`, found by the walk, whose index entry (creation day, path hash) exists when
// `indexed`. Returns nullopt when nothing is to be done or reported.
std::optional<Action> Decide(const Candidate& item, bool indexed, const Settings& settings,
                             absl::Time now, ItemFacts& facts);

}  // namespace xoi

#endif  // XOI_LIB_DECIDE_H_
