// The configuration file: which remotes to protect, for how long, and where the index lives.
//
// JSON with Xen Orchestra's key names (see README.md, "Configuration"); `//` and `/* */`
// comments and trailing commas are accepted. Loading validates
// everything before any remote is touched; every error names the file and the key.
#ifndef XOI_LIB_CONFIG_H_
#define XOI_LIB_CONFIG_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace xoi {

inline constexpr char kDefaultConfigPath[] = "/etc/xo-immutable-backups/config.json";
inline constexpr char kDefaultIndexPath[] = "/var/lib/xo-immutable-backups";

struct RemoteConfig {
  std::string id;    // the key under "remotes"; also the index sub-folder name
  std::string root;  // absolute, without trailing '/'
  // Zero means: lift everything on this remote and stop protecting it.
  absl::Duration immutability_duration;
  absl::Duration settle = absl::Seconds(10);
  absl::Duration orphan_grace = absl::Hours(1);
  std::vector<std::string> paths;  // glob patterns (GlobSet syntax); the default set if absent
};

struct Config {
  std::string source;      // the file it was read from
  std::string index_path;  // absolute, without trailing '/'
  std::vector<RemoteConfig> remotes;  // sorted by id
  // A wall clock that moves this much more than the boot-time clock (or disagrees this much with
  // the RTC) suspends lifting (time_guard.h).
  absl::Duration time_shift_threshold = absl::Hours(24);
  // A run lifts at most this fraction of a remote's protected items without --allow-mass-lift.
  double max_lift_fraction = 0.5;
  std::vector<std::string> notices;   // one line per legacy key accepted and ignored
};

// Reads and validates the file at `path`. InvalidArgument for every content error, NotFound or
// PermissionDenied when it cannot be read; each message names the file.
absl::StatusOr<Config> LoadConfig(const std::string& path);

// Validates JSON `text`; `source` names it in messages.
absl::StatusOr<Config> ParseConfig(absl::string_view text, absl::string_view source);

}  // namespace xoi

#endif  // XOI_LIB_CONFIG_H_
