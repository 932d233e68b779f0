// The result of a run, and the writers that turn it into text (for people) and JSON (for
// programs). Every format is built from this one value.
#ifndef XOI_LIB_REPORT_H_
#define XOI_LIB_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/executor.h"
#include "lib/plan.h"
#include "lib/walker.h"

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

struct Counts {
  uint64_t seen = 0;          // items the walk found
  uint64_t protected_ = 0;    // newly protected
  uint64_t reprotected = 0;   // drift repaired
  uint64_t lifted = 0;
  uint64_t indexed = 0;       // immutable items recorded in the index
  uint64_t unindexed = 0;     // index entries removed with nothing to lift
  uint64_t waiting = 0;
  uint64_t refused = 0;
  uint64_t errors = 0;
};

// One planned action and, after execution, what came of it.
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
};

struct Problem {
  std::string path;  // remote-relative, or empty for the remote as a whole
  std::string message;
};

struct RemoteReport {
  std::string id;
  std::string root;
  RemoteState state = RemoteState::kDone;
  std::string unusable_reason;  // kUnusable / kLocked: why
  Counts counts;
  std::vector<ActionRecord> actions;  // sorted by path
  std::vector<Problem> warnings;      // refusals, missing indexed items, ...
  std::vector<Problem> errors;        // per-item errors; the run went on
  std::string lifts_held;             // non-empty: why this run lifted nothing
  WalkStats walk;
  absl::Duration elapsed;
};

struct RunReport {
  std::string command = "run";  // run, sweep or verify
  bool dry_run = false;
  absl::Time started;
  std::vector<std::string> notices;
  std::vector<RemoteReport> remotes;

  // Non-empty: the wall clock cannot be trusted, lifting is suspended (time_guard.h).
  std::string time_shift;

  // The process exit code: 3 if a remote was unusable, else 4 if lifting was held back (time shift
  // or mass-lift guard), else 1 if any item had an error (verify: any compliance check failed),
  // else 75 if another run held a remote's lock, else 0.
  int ExitCode() const;
};

// A path for a line of text: control characters (a newline in a file name would forge a line)
// and bytes that are not printable ASCII are C-escaped.
std::string PrintablePath(absl::string_view path);

// The text report: per remote, the counts and the run time; every action with its reason in a dry
// run, and the actions that did not take effect otherwise; warnings and errors.
std::string FormatText(const RunReport& report);

// One JSON document with the same content. File names that are not valid UTF-8 are written with
// invalid bytes replaced by U+FFFD, and their exact bytes in a sibling "<key>_base64" field.
std::string FormatJson(const RunReport& report);

}  // namespace xoi

#endif  // XOI_LIB_REPORT_H_
