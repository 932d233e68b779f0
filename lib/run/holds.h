// `xo-immutable hold` and `release`: setting and releasing holds (lib/core/hold.h) on remotes,
// under each remote's lock, with a line in the audit log for each.
#ifndef XOI_LIB_RUN_HOLDS_H_
#define XOI_LIB_RUN_HOLDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/core/config.h"
#include "lib/core/hold.h"
#include "lib/fs/state_dir.h"

namespace xoi {

// The holds of remote `id`: none when there is no hold file. An error, naming the file, when it
// cannot be read or is damaged: the caller must then lift nothing on the remote.
absl::StatusOr<HoldSet> ReadHoldSet(const StateDir& state, const std::string& id);

struct HoldRequest {
  bool release = false;
  std::vector<std::string> selectors;  // validated selectors; "" = the whole remote
  std::vector<uint64_t> ids;           // release: these holds, whatever their selector
  std::string reason;                  // required to hold; optional to release
  std::string who;                     // for the holds and the audit log
};

// Sets one hold per selector on each of `remotes` (pinning the items found under it now), or
// releases the holds with exactly these selectors or ids. Prints what it did on stdout, problems
// on stderr; returns the exit code: 75 when a run holds a remote's lock (that remote is left as it
// was), 3 when a remote is unusable, 1 when a hold file is damaged or cannot be written, or when
// a release matched no hold on any remote.
int HoldOrRelease(const Config& config, const std::vector<const RemoteConfig*>& remotes,
                  const HoldRequest& request);

}  // namespace xoi

#endif  // XOI_LIB_RUN_HOLDS_H_
