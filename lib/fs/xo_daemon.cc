#include "lib/fs/xo_daemon.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/core/expiry.h"
#include "lib/core/index_entry.h"
#include "lib/core/status.h"

namespace xoi {
namespace {

// The commands @xen-orchestra/immutable-backups installs: the daemon, and its lift tool, which
// stays running when `liftEvery` is set and changes flags as much as the daemon does.
constexpr absl::string_view kDaemonNames[] = {"xo-immutable-remote", "xo-lift-remote-immutability"};
// The scripts of @xen-orchestra/immutable-backups that node runs without the bin wrapper
// (`node node_modules/@xen-orchestra/immutable-backups/dist/protectRemotes.mjs`, the way its
// README starts it); the lift tool changes flags as much as the daemon does.
constexpr absl::string_view kDaemonScripts[] = {"protectRemotes.mjs", "liftProtection.mjs"};
constexpr char kDaemonUnit[] = "/xo-immutable-remote.service";
// An absolute path, written by XO's daemon: PATH_MAX is plenty.
constexpr size_t kMaxEntrySize = 4096;

std::string Basename(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path : path.substr(slash + 1));
}

// A small procfs file, whole; empty when it cannot be read (the process ended).
std::string ReadProcFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string XoDaemonIndexDir(const std::string& configured, const std::string& id) {
  if (!configured.empty()) return configured;
  const auto absolute = [](const char* value) { return value != nullptr && value[0] == '/'; };
  std::string base = "/root/.local/share";
  if (const char* xdg = getenv("XDG_DATA_HOME"); absolute(xdg)) {
    base = xdg;
  } else if (const char* home = getenv("HOME"); absolute(home)) {
    base = absl::StrCat(home, "/.local/share");
  }
  return absl::StrCat(base, "/xo-immutable-backups/", id);
}

absl::StatusOr<XoDaemonIndex> ReadXoDaemonIndex(FileSystem& fs, const std::string& dir) {
  absl::StatusOr<Fd> top = fs.OpenDirByPath(dir);
  if (!top.ok()) return top.status();
  std::vector<std::pair<absl::CivilDay, std::string>> days;
  XOI_RETURN_IF_ERROR(fs.ListDir(top->get(), dir, [&](absl::string_view name, unsigned char type) {
    if (auto day = ParseDay(name); day && (type == DT_DIR || type == DT_UNKNOWN)) {
      days.emplace_back(*day, std::string(name));
    }
    return true;
  }));
  XoDaemonIndex index;
  for (const auto& [day, name] : days) {
    const std::string day_path = absl::StrCat(dir, "/", name);
    absl::StatusOr<Fd> day_fd =
        fs.OpenAt(top->get(), name.c_str(), O_RDONLY | O_DIRECTORY, day_path);
    if (!day_fd.ok()) {
      if (ErrnoOf(day_fd.status()) != ENOTDIR) ++index.unreadable;
      continue;
    }
    std::vector<std::string> names;
    XOI_RETURN_IF_ERROR(
        fs.ListDir(day_fd->get(), day_path, [&](absl::string_view entry, unsigned char) {
          names.emplace_back(entry);
          return true;
        }));
    for (const std::string& entry : names) {
      auto content = fs.ReadSmallFile(day_fd->get(), entry.c_str(), kMaxEntrySize,
                                      absl::StrCat(day_path, "/", entry));
      auto decoded =
          content.ok() ? DecodeIndexEntry(*content) : absl::StatusOr<IndexEntry>(content.status());
      if (!decoded.ok() || decoded->has_identity) {
        ++index.unreadable;
        continue;
      }
      index.entries.push_back(XoIndexEntry{day, std::move(decoded->path)});
    }
  }
  return index;
}

std::vector<std::string> XoDaemonRunning(const std::string& proc) {
  std::vector<std::string> found;
  DIR* dir = opendir(proc.c_str());
  if (dir == nullptr) return found;
  const int self = getpid();
  while (const dirent* e = readdir(dir)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || pid == self) continue;
    const std::string base = absl::StrCat(proc, "/", e->d_name);
    const std::string comm(absl::StripTrailingAsciiWhitespace(ReadProcFile(base + "/comm")));
    // Its name, or the script an interpreter runs (`node /usr/bin/xo-immutable-remote`, `node
    // .../dist/protectRemotes.mjs`); not any argument, or `systemctl stop xo-immutable-remote`
    // would count.
    const std::vector<std::string> argv =
        absl::StrSplit(ReadProcFile(base + "/cmdline"), '\0', absl::SkipEmpty());
    const std::string command = argv.empty() ? "" : Basename(argv[0]);
    const std::string script =
        argv.size() > 1 && absl::StartsWith(command, "node") ? Basename(argv[1]) : "";
    // The kernel keeps the first 15 bytes of the program's name as its comm.
    const auto named = absl::c_find_if(kDaemonNames, [&](absl::string_view name) {
      return comm == name.substr(0, 15) || command == name || script == name;
    });
    const bool runs_script = absl::c_linear_search(kDaemonScripts, script);
    if (named != std::end(kDaemonNames)) {
      found.push_back(absl::StrCat("process ", pid, " (", *named, ")"));
    } else if (runs_script) {
      found.push_back(absl::StrCat("process ", pid, " (node ", script, ")"));
    } else if (absl::StrContains(ReadProcFile(base + "/cgroup"), kDaemonUnit)) {
      found.push_back(
          absl::StrCat("process ", pid, " of the active systemd unit ", kDaemonUnit + 1));
    }
  }
  closedir(dir);
  return found;
}

}  // namespace xoi
