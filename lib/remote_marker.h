// The remote's own files: `immutability.json`, which tells XO the remote is protected, and XO's
// `encryption.json` / `metadata.json` at the root, kept immutable while the remote is protected.
#ifndef XOI_LIB_REMOTE_MARKER_H_
#define XOI_LIB_REMOTE_MARKER_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "lib/decide.h"
#include "lib/plan.h"

namespace xoi {

inline constexpr char kMarkerName[] = "immutability.json";

// XO's content: {"since":<ms>,"immutable":true,"duration":<ms>}.
std::string MarkerContent(absl::Time since, absl::Duration duration);

// Plans the remote's own files for the directory `root_fd`. Nothing is written into a root XO has
// not initialised yet (no `xo-*` folder, `encryption.json` or `metadata.json`): XO refuses to
// create an encrypted remote in a folder that holds anything.
std::vector<Action> PlanRemoteFiles(int root_fd, const Settings& settings, absl::Time now);

}  // namespace xoi

#endif  // XOI_LIB_REMOTE_MARKER_H_
