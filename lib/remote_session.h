// What every command that acts on a remote shares: steps 1-2 (lock, checks, index) before the
// plan, and applying a plan to the remote and into the report after it.
#ifndef XOI_LIB_REMOTE_SESSION_H_
#define XOI_LIB_REMOTE_SESSION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "lib/audit_log.h"
#include "lib/config.h"
#include "lib/fd.h"
#include "lib/glob_set.h"
#include "lib/index.h"
#include "lib/plan.h"
#include "lib/report.h"

namespace xoi {

struct RunOptions {
  bool dry_run = false;  // compute and report the plan; change nothing, write nothing
  int jobs = 2;          // walker threads
  bool deep = false;     // verify every member of protected trees too
  absl::Time now;        // the run's clock reading, the same for every remote
  // Non-empty: the wall clock cannot be trusted (time_guard.h); nothing is lifted.
  std::string lifting_suspended;
  bool allow_mass_lift = false;
  double max_lift_fraction = 0.5;  // of a remote's protected items, above 100 items
  AuditLog* audit = nullptr;       // every flag change is appended here (not in dry runs)
};

// Measures a run on the monotonic clock (which the wall-clock tests leave alone).
class Stopwatch {
 public:
  Stopwatch();
  absl::Duration Elapsed() const;

 private:
  absl::Duration start_;
};

// A remote that passed steps 1 and 2: locked (unless dry run), usable, index loaded.
struct RemoteSession {
  Fd lock;
  Fd root;
  std::unique_ptr<Index> index;
  GlobSet globs;  // the remote's patterns, compiled
};

// Creates the index folder (0700) unless `dry_run`, and checks it is safe to use: owned by this
// user, not writable by group or others. FailedPrecondition with the reason otherwise.
absl::Status PrepareIndexRoot(const std::string& index_path, bool dry_run);

// Steps 1-2. Names the remote in `report`; returns nullptr after setting report->state and the
// reason when the remote is locked by another run or unusable.
std::unique_ptr<RemoteSession> OpenRemote(const std::string& index_path,
                                          const RemoteConfig& remote, bool dry_run,
                                          RemoteReport* report);

// Step 2 alone, read-only: "" when `remote` can be protected, else the reason.
std::string CheckRemote(const std::string& index_path, const RemoteConfig& remote);

// Applies `plan` (unless options.dry_run), recording every action and its outcome in `report`
// and counting them. immutability.json is only removed once every lift succeeded.
void ExecutePlan(const std::vector<Action>& plan, RemoteSession& session,
                 const RemoteConfig& remote, const RunOptions& options, RemoteReport* report);

// Turns every lift of `plan` into a wait whose reason says `why`; returns how many.
size_t HoldLifts(std::vector<Action>* plan, const std::string& why);

}  // namespace xoi

#endif  // XOI_LIB_REMOTE_SESSION_H_
