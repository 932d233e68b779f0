#include "lib/run/config_file.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/core/status.h"

namespace xoi {

IndexPathDefault DefaultIndexPath() {
  const auto absolute = [](const char* value) { return value != nullptr && value[0] == '/'; };
  if (const char* state = getenv("STATE_DIRECTORY"); absolute(state)) {
    // systemd's StateDirectory=; several directories are separated by ':'.
    const absl::string_view all(state);
    return {std::string(all.substr(0, all.find(':'))), "$STATE_DIRECTORY"};
  }
  if (const char* xdg = getenv("XDG_DATA_HOME"); absolute(xdg)) {
    return {absl::StrCat(xdg, "/xo-immutable-backups"), "$XDG_DATA_HOME"};
  }
  if (const char* home = getenv("HOME"); absolute(home)) {
    return {absl::StrCat(home, "/.local/share/xo-immutable-backups"), "$HOME/.local/share"};
  }
  return IndexPathDefault{};
}

std::string DefaultConfigPath() {
  if (access(kDefaultConfigPath, F_OK) != 0 && access(kDefaultTomlConfigPath, F_OK) == 0) {
    return kDefaultTomlConfigPath;
  }
  return kDefaultConfigPath;
}

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError(errno, "cannot read configuration file", path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return ErrnoError(errno, "cannot read configuration file", path);
  return absl::EndsWith(path, ".toml") ? ParseTomlConfig(text.str(), path, DefaultIndexPath())
                                       : ParseConfig(text.str(), path, DefaultIndexPath());
}

}  // namespace xoi
