// A plan: what one run will do to one remote, and why. Plans are data: the rules (rules.h) make
// them, the dry run prints them, the executor (lib/fs/executor.h) carries out exactly their
// entries, and the reports list each entry beside its outcome.
#ifndef XOI_LIB_CORE_PLAN_H_
#define XOI_LIB_CORE_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/core/facts.h"

namespace xoi {

enum class ActionKind {
  kProtect,       // set the flag on a finished item (a tree: every member, then the directory)
  kReprotect,     // an indexed item was made mutable before expiry: set it again at once (drift)
  kLift,          // clear the flag of an expired item (a tree: every member, then the directory)
  kIndex,         // immutable but not in the index: record it
  kFollow,        // a protected item moved (renamed, or a folder above it): its record follows it
  kUnindex,       // an index entry with nothing left to lift: remove it
  kWriteMarker,   // (re)write immutability.json at the remote root and lock it
  kRemoveMarker,  // unlock and remove immutability.json (duration 0, everything lifted)
  kWait,          // not finished yet: nothing done, reported with the reason
  kRefuse,        // never touched: wrong type, hard links, ... reported as a warning
  kHold,          // a lift a hold (hold.h) keeps from happening: nothing done, reported
};

absl::string_view ActionKindName(ActionKind kind);

// True for kinds the executor acts on (everything but kWait, kRefuse and kHold).
bool IsEffect(ActionKind kind);

struct Action {
  ActionKind kind;
  std::string path;  // remote-relative
  bool tree = false;
  // The inode decided on; the executor refuses to act on another one. Zero ino: not known (a file
  // that does not exist yet).
  FileStat stat;
  bool indexed = true;  // false for the remote's own files, which the index ignores
  // kProtect, kReprotect, kIndex: what the item's expiry counts from, as its index record keeps it.
  // A protect raises it to the newest change the executor sees while locking (plus clock_lag).
  absl::Time reference;
  absl::Duration clock_lag;
  // kIndex of a tree: when its members were locked, as far as known (InfinitePast: its ctime).
  absl::Time locked_at = absl::InfinitePast();
  // kLift of a tree: the members born after `members_locked_by` came in after the tree was locked
  // (through a folder that was still mutable): not the item's, left as they are. Members born from
  // `members_expired_before` on have not expired yet: the lift waits for them (the directory and
  // the record stay). The executor descends only into member folders that are immutable.
  absl::Time members_locked_by = absl::InfiniteFuture();
  absl::Time members_expired_before = absl::InfiniteFuture();
  absl::Time expires_at = absl::InfiniteFuture();  // for reports; InfiniteFuture: not an item
  std::string reason;
  std::string content;  // kWriteMarker: the new immutability.json
  // kRemoveMarker: carried out only when every lift before it in the plan took effect (XO must not
  // be told the remote is mutable while something is still locked); otherwise skipped.
  bool requires_all_lifts = false;
  // kLift: the record goes with the flag instead of staying as lifted (a remote being released
  // keeps no records: a lifted record would keep its item unlocked once a duration is set again).
  bool forget_record = false;
  // kProtect: finished for longer than orphanGrace already, so that not getting it done (a writer
  // holding it open, an error) is no longer "not finished yet" but a backup left unprotected.
  bool overdue = false;
};

// What came of one entry of a plan.
enum class Outcome {
  kDone,      // the action took effect
  kWaiting,   // not done: the item is open for writing (a read lease could not be taken)
  kRefused,   // not done: the path changed since the decision (another inode, a symlink, ...)
  kVanished,  // not done: the item is gone
  kFailed,    // not done, or partly: an error (with the errno text)
  kSkipped,   // not done: its precondition in the plan did not hold (requires_all_lifts)
};

absl::string_view OutcomeName(Outcome outcome);

struct ActionResult {
  Outcome outcome = Outcome::kDone;
  std::string detail;          // what went wrong, with the path
  uint64_t flags_changed = 0;  // inodes whose flag this action changed
};

// Something a run noticed that needs a person's eye but is no action of its own. Typed, so that
// reports classify warnings by what they are, never by their text.
enum class WarningKind {
  kIndexEntryUnreadable,     // an index entry could not be read or decoded: kept
  kIndexEntryOutsideRemote,  // an index entry names a path outside this remote: kept
  kIndexedUnreachable,       // indexed and locked, but no glob reaches it any more
  kIndexedMissing,           // the indexed item is gone from its path (moved, or deleted by root)
  kIndexedReplaced,          // the indexed path now holds another inode
  kLockedUnknown,            // sweep: locked, out of the globs' reach, unknown to the index
  kLockedMoved,              // sweep: a locked item moved out of the globs' reach, not expired yet
  kMemberNotLockable,        // a member of a tree that cannot be locked (FIFO, hard link, ...)
  kClock,                    // the clock record could not be read or written
  kIndexNotice,              // the index was migrated from an older format
};

absl::string_view WarningKindName(WarningKind kind);

// True for warnings that mean the index and the flags disagree (the `index-agrees` check).
bool IsIndexDisagreement(WarningKind kind);

struct Warning {
  WarningKind kind;
  std::string path;  // remote-relative, or empty for the remote as a whole
  std::string message;
};

// Orders `actions` by path (ties keep their order), moving each entry at most twice: a plain
// sort of these large entries moves each about log2(n) times, which took seconds on a first
// protection of a few hundred thousand items.
void SortByPath(std::vector<Action>* actions);

// The entries one run takes on when the rules make more than `limit` (a first protection of a
// million items, or a million files an attacker made in a VM folder): the most urgent, those
// that lock backups first, then the index's bookkeeping, then lifts, then what only reports;
// within each, the oldest reference first, then by path, so that what was finished first is
// locked first and the choice is the same in a dry run. The others are counted, and the next run
// goes on with them: a run's memory is bounded by `limit`, not by what an attacker can create.
// Not thread-safe.
class ActionBudget {
 public:
  // `room`: entries the caller appends to what Take() returns. The kept entries' vector is sized
  // once, for the limit and the room, when the first entry comes: growing it by doubling would
  // leave up to half of it unused and hold two copies while it moves, the largest allocation of a
  // run that changes many items (its pages are resident only as entries fill them).
  explicit ActionBudget(uint64_t limit, size_t room = 0) : limit_(limit), room_(room) {}

  void Add(Action action);
  // The entries kept, in no particular order, with capacity for `room` more; the budget is empty
  // afterwards.
  std::vector<Action> Take();
  uint64_t deferred() const { return deferred_; }
  // Deferred lifts of locked items: the mass-lift guard counts them with the plan's own.
  uint64_t deferred_lifts() const { return deferred_lifts_; }
  // Deferred protections: finished backups not locked yet, which the compliance checks count.
  uint64_t deferred_protections() const { return deferred_protections_; }

 private:
  const uint64_t limit_;
  const size_t room_;
  std::vector<Action> heap_;  // a max-heap: the least urgent on top
  uint64_t deferred_ = 0;
  uint64_t deferred_lifts_ = 0;
  uint64_t deferred_protections_ = 0;
  void CountDeferred(const Action& action);
};

// A lift of something still locked (a file already mutable is an interrupted lift's: it unlocks
// nothing; a tree is counted however its directory stands, its members may still be locked).
bool UnlocksSomething(const Action& action);

// Everything the rules decided for one remote.
struct Plan {
  std::vector<Action> actions;
  std::vector<Warning> warnings;
  std::string lifts_held;  // non-empty: a guard turned every lift into a wait, and why
  // Items the walk found immutable: what the mass-lift guard judges by when the index knows of
  // fewer (a damaged day file, an index that was lost or moved, a switch from XO's daemon).
  uint64_t locked_items = 0;
  // Non-empty: XO's daemon's index was read into this plan (the imported records are among its
  // entries); once they are durable, it is recorded as imported, with this text, and not read
  // again. Not before: XO's index may share our folder, whose old per-file entries the next
  // run's migration removes, so a run killed in between would lose them.
  std::string xo_index_imported;
  // Entries beyond the run's budget (ActionBudget), left for the next run, and of them the lifts
  // of locked items.
  uint64_t deferred = 0;
  uint64_t deferred_lifts = 0;
  uint64_t deferred_protections = 0;
};

}  // namespace xoi

#endif  // XOI_LIB_CORE_PLAN_H_
