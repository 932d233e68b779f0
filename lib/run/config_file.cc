#include "lib/run/config_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "lib/core/facts.h"
#include "lib/core/status.h"
#include "lib/fs/fd.h"

namespace xoi {
namespace {

// Far more than a configuration of thousands of remotes; a file larger is a mistake, read whole.
constexpr int64_t kMaxConfigSize = int64_t{16} << 20;

}  // namespace

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
  // Not blocking on a FIFO: the type is looked at before anything is read.
  const Fd fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError(errno, "cannot read configuration file", path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoError(errno, "cannot read configuration file", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("configuration file ", path, " is a ",
                                                   FileTypeName(st.st_mode), ", not a file"));
  }
  if (st.st_size > kMaxConfigSize) {
    return absl::InvalidArgumentError(absl::StrCat("configuration file ", path, " is ", st.st_size,
                                                   " bytes: more than any configuration (",
                                                   kMaxConfigSize >> 20, " MiB)"));
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t have = 0;
  while (have < text.size()) {
    const ssize_t n = read(fd.get(), text.data() + have, text.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "cannot read configuration file", path);
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  text.resize(have);
  // Editors on Windows start UTF-8 files with a byte order mark, which is no JSON or TOML.
  absl::string_view content(text);
  absl::ConsumePrefix(&content, "\xEF\xBB\xBF");
  return absl::EndsWith(path, ".toml") ? ParseTomlConfig(content, path, DefaultIndexPath())
                                       : ParseConfig(content, path, DefaultIndexPath());
}

}  // namespace xoi
