// The result of a run: per remote, the plan the rules made and what came of each entry. Every
// report format (text, JSON, JUnit, metrics, log lines, compliance) is built from this one value;
// adding a format adds a writer, nothing else.
#ifndef XOI_LIB_REPORT_RUN_REPORT_H_
#define XOI_LIB_REPORT_RUN_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "lib/core/facts.h"
#include "lib/core/hold.h"
#include "lib/core/plan.h"

namespace xoi {

// Exit codes (README.md, "Exit codes").
enum ExitCode : int {
  kExitOk = 0,
  kExitItemErrors = 1,
  kExitUsage = 2,
  kExitUnusable = 3,
  kExitLiftsHeld = 4,
  kExitLocked = 75,
};

enum class RemoteState { kDone, kUnusable, kLocked };

absl::string_view RemoteStateName(RemoteState state);

struct Counts {
  uint64_t seen = 0;         // items the walk found
  uint64_t protected_ = 0;   // newly protected
  uint64_t reprotected = 0;  // drift repaired
  uint64_t lifted = 0;
  uint64_t indexed = 0;    // immutable items recorded in the index
  uint64_t unindexed = 0;  // index entries removed with nothing to lift
  uint64_t waiting = 0;
  uint64_t refused = 0;
  uint64_t errors = 0;
  uint64_t held = 0;  // locked items a hold covers, as the run ends
  // Records that followed their item to where it was moved: bookkeeping, counted and never listed
  // one by one (renaming the folders above a million locked items must not make a report of a
  // million entries every minute).
  uint64_t followed = 0;
  // Entries beyond what one run takes on (maxEntriesPerRun): the next run goes on with them.
  uint64_t deferred = 0;
  // Of them, protections: finished backups not locked by this run (the compliance checks count
  // them as offenders they cannot name).
  uint64_t deferred_protections = 0;
};

// One entry of the plan and, after execution, what came of it.
struct ActionRecord {
  ActionKind kind;
  std::string path;  // remote-relative
  bool tree = false;
  std::string reason;
  bool executed = false;
  Outcome outcome = Outcome::kDone;
  std::string detail;
  // What the decision saw: the item's flag, and when it expires (InfiniteFuture when the action
  // is not about an indexed item, e.g. the remote's own files).
  bool immutable = false;
  absl::Time expires_at = absl::InfiniteFuture();
  bool overdue = false;  // a protection that, not done, leaves a finished backup unprotected
};

// An error on one item (or, with an empty path, on the remote as a whole); the run went on.
struct Problem {
  std::string path;
  std::string message;
};

// A hold in force on the remote (lib/core/hold.h), as reports show it.
struct HoldInForce {
  uint64_t id = 0;
  std::string selector;  // "" = the whole remote
  std::string reason;
  std::string who;
  absl::Time when;
  uint64_t pinned = 0;  // identities pinned
  uint64_t items = 0;   // locked items it covers, as the run ends
};

HoldInForce InForce(const Hold& hold);

struct RemoteReport {
  std::string id;
  std::string root;
  RemoteState state = RemoteState::kDone;
  std::string unusable_reason;  // kUnusable / kLocked: why
  Counts counts;
  std::vector<ActionRecord> actions;  // the plan, in its order, with outcomes
  std::vector<Warning> warnings;
  std::vector<Problem> errors;
  std::string lifts_held;  // non-empty: why this run lifted nothing
  std::vector<HoldInForce> holds;
  WalkStats walk;
  absl::Duration elapsed;
};

struct RunReport {
  std::string command = "run";  // run, sweep or verify
  bool dry_run = false;
  absl::Time started;
  std::string hostname;  // for reports read on another machine (JUnit)
  std::vector<std::string> notices;
  std::vector<RemoteReport> remotes;

  // Non-empty: the wall clock cannot be trusted, lifting is suspended (lib/core/guards.h).
  std::string time_shift;

  // The process exit code: 3 if a remote was unusable, else 4 if lifting was held back (time shift
  // or mass-lift guard), else 1 if any item had an error (verify: any compliance check failed),
  // else 75 if another run held a remote's lock, else 0.
  int ExitCode() const;
};

// Counts `record` in `counts` by what it is (not executed: a dry run) or by what came of it.
void Count(const ActionRecord& record, Counts* counts);

// Whether `r` counts as a success for the last-success record and its metric.
bool Succeeded(const RemoteReport& r);

}  // namespace xoi

#endif  // XOI_LIB_REPORT_RUN_REPORT_H_
