// Reading the configuration file (lib/core/config.h validates its text).
#ifndef XOI_LIB_RUN_CONFIG_FILE_H_
#define XOI_LIB_RUN_CONFIG_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "lib/core/config.h"

namespace xoi {

// The configuration file to read without --config: config.json, or XO's config.toml when only that
// one exists.
std::string DefaultConfigPath();

// Where the index goes when the configuration sets no indexPath: $STATE_DIRECTORY (systemd's
// StateDirectory=), else $XDG_DATA_HOME/xo-immutable-backups, else
// $HOME/.local/share/xo-immutable-backups, else kDefaultIndexPath.
IndexPathDefault DefaultIndexPath();

// Reads and validates the file at `path`: TOML when its name ends in ".toml" (XO's daemon's
// format, same keys), JSON otherwise. InvalidArgument for every content error, NotFound or
// PermissionDenied when it cannot be read; each message names the file.
absl::StatusOr<Config> LoadConfig(const std::string& path);

}  // namespace xoi

#endif  // XOI_LIB_RUN_CONFIG_FILE_H_
