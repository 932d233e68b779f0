// A plan: what one run will do to one remote, and why. Plans are data: the dry run prints them,
// the executor applies them, the reports list them.
#ifndef XOI_LIB_PLAN_H_
#define XOI_LIB_PLAN_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/time/civil_time.h"
#include "lib/fs.h"

namespace xoi {

enum class ActionKind {
  kProtect,       // set the flag on a finished item (a tree: every member, then the directory)
  kReprotect,     // an indexed item was made mutable before expiry: set it again at once (drift)
  kLift,          // clear the flag of an expired item (a tree: every member, then the directory)
  kIndex,         // immutable but not in the index: record it
  kUnindex,       // an index entry with nothing left to lift: remove it
  kWriteMarker,   // (re)write immutability.json at the remote root and lock it
  kRemoveMarker,  // unlock and remove immutability.json (duration 0, everything lifted)
  kWait,          // not finished yet: nothing done, reported with the reason
  kRefuse,        // never touched: wrong type, hard links, ... reported as a warning
};

absl::string_view ActionKindName(ActionKind kind);

// True for kinds the executor acts on (everything but kWait and kRefuse).
bool IsEffect(ActionKind kind);

struct Action {
  ActionKind kind;
  std::string path;  // remote-relative
  bool tree = false;
  // The inode decided on; the executor refuses to act on another one. Zero ino: not known (an
  // index entry without identity, or a file that does not exist yet).
  FileStat stat;
  absl::CivilDay day;     // index folder of the item (creation day)
  bool indexed = true;    // false for the remote's own metadata files, which the index ignores
  std::string index_name; // entry name for kIndex/kUnindex/kLift of unwalked entries
  std::string reason;
  std::string content;    // kWriteMarker: the new immutability.json
};

}  // namespace xoi

#endif  // XOI_LIB_PLAN_H_
