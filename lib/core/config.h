// The configuration: which remotes to protect, for how long, and where the index lives.
//
// JSON with Xen Orchestra's key names (see README.md, "Configuration"); `//` and `/* */`
// comments and trailing commas are accepted; TOML with the same keys (XO's own config.toml).
// Validation takes the text, never a file (lib/run/config_file.h reads it): everything is checked
// before any remote is touched, and every error names the file and the key.
#ifndef XOI_LIB_CORE_CONFIG_H_
#define XOI_LIB_CORE_CONFIG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace xoi {

inline constexpr char kDefaultConfigPath[] = "/etc/xo-immutable-backups/config.json";
// XO's daemon reads this one: used when config.json does not exist.
inline constexpr char kDefaultTomlConfigPath[] = "/etc/xo-immutable-backups/config.toml";
inline constexpr char kDefaultIndexPath[] = "/var/lib/xo-immutable-backups";

struct RemoteConfig {
  std::string id;    // the key under "remotes"; also the index sub-folder name
  std::string root;  // absolute, without trailing '/'
  // Zero means: lift everything on this remote and stop protecting it.
  absl::Duration immutability_duration;
  absl::Duration settle = absl::Seconds(10);
  absl::Duration orphan_grace = absl::Hours(1);
  std::vector<std::string> paths;  // glob patterns (GlobSet syntax); the default set if absent
  // `remotes.<id>.indexPath`, XO's daemon's key: where it kept this remote's index (read once, to
  // import what is still locked); empty: its default (lib/fs/xo_daemon.h).
  std::string xo_daemon_index;
};

// Defaults of the run's two bounds, shared with RunOptions (which tests build without a Config).
inline constexpr double kDefaultMaxLiftFraction = 0.5;
inline constexpr uint64_t kDefaultMaxEntriesPerRun = 15000;

struct Config {
  std::string source;                 // the file it was read from
  std::string index_path;             // absolute, without trailing '/'
  std::vector<RemoteConfig> remotes;  // sorted by id
  // A wall clock that moves this much more than the boot-time clock (or disagrees this much with
  // the RTC) suspends lifting (time_guard.h).
  absl::Duration time_shift_threshold = absl::Hours(24);
  // A run lifts at most this fraction of a remote's protected items without --allow-mass-lift.
  double max_lift_fraction = kDefaultMaxLiftFraction;
  // A run takes on at most this many plan entries per remote; the next run goes on with the rest
  // (lib/core/plan.h, ActionBudget). Bounds a run's memory.
  uint64_t max_entries_per_run = kDefaultMaxEntriesPerRun;
  std::vector<std::string> notices;  // one line per legacy key accepted and ignored
};

// Where the index goes when the configuration sets no indexPath, and where that came from (for
// the notice that says so).
struct IndexPathDefault {
  std::string path = kDefaultIndexPath;
  std::string origin = "default";
};

// Why the folder `path` (absolute, normalised, symlinks resolved where it matters) cannot be a
// remote's root, or "": it is `/`, a system folder or below one (/etc, /usr, /boot, /proc, /sys,
// /dev, /run, /bin, /sbin, /lib*), or /var, /home or /root themselves. A mistyped root must never
// have this program set flags among the system's own files.
std::string SystemFolderReason(absl::string_view path);

// `path` is `dir` or lies below it, by whole components (both absolute, normalised).
bool IsSameOrBelow(absl::string_view path, absl::string_view dir);

// Validates JSON `text`; `source` names it in messages. InvalidArgument for every content error.
absl::StatusOr<Config> ParseConfig(absl::string_view text, absl::string_view source,
                                   const IndexPathDefault& index_default = {});

// Validates TOML `text` (same keys as the JSON form).
absl::StatusOr<Config> ParseTomlConfig(absl::string_view text, absl::string_view source,
                                       const IndexPathDefault& index_default = {});

}  // namespace xoi

#endif  // XOI_LIB_CORE_CONFIG_H_
