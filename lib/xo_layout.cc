#include "lib/xo_layout.h"

#include <fcntl.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/fs.h"

namespace xoi {
namespace {

constexpr size_t kMaxAliasSize = 4096;

bool MarkerExists(int root_fd, const std::string& marker) {
  auto st = StatAt(root_fd, marker.c_str(), marker);
  return st.ok() && st->is_regular();
}

RunCheck ByMarker(int root_fd, std::string marker) {
  RunCheck check;
  check.complete = MarkerExists(root_fd, marker);
  check.marker = std::move(marker);
  return check;
}

absl::string_view Stem(absl::string_view name) { return name.substr(0, name.find('.')); }

// A VHD directory named by UUID (older XO): the run is the one whose alias points at it.
RunCheck ByAlias(int root_fd, const std::vector<absl::string_view>& parts) {
  const std::string vdi_dir = absl::StrJoin(parts.begin(), parts.begin() + 5, "/");
  const std::string target = absl::StrCat("data/", parts[6]);
  RunCheck check;
  check.marker = absl::StrCat("an alias in ", vdi_dir, " pointing at ", target);
  auto dir = OpenBeneath(root_fd, vdi_dir, O_RDONLY | O_DIRECTORY);
  if (!dir.ok()) return check;
  std::vector<std::string> aliases;
  (void)ListDir(dir->get(), vdi_dir, [&](absl::string_view name, unsigned char) {
    if (absl::EndsWith(name, ".alias.vhd") && name[0] != '.') aliases.emplace_back(name);
    return true;
  });
  for (const std::string& alias : aliases) {
    auto content = ReadSmallFile(dir->get(), alias.c_str(), kMaxAliasSize, alias);
    if (!content.ok()) continue;
    absl::string_view points_to = absl::StripAsciiWhitespace(*content);
    absl::ConsumePrefix(&points_to, "./");
    if (points_to != target) continue;
    RunCheck by_alias = ByMarker(
        root_fd, absl::StrCat(absl::StrJoin(parts.begin(), parts.begin() + 2, "/"), "/",
                              Stem(alias), ".json"));
    if (by_alias.complete) return by_alias;
    check.marker = by_alias.marker;
  }
  return check;
}

}  // namespace

bool IsXoTimestamp(absl::string_view t) {
  if (t.size() != 16 || t[8] != 'T' || t[15] != 'Z') return false;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && !absl::ascii_isdigit(t[i])) return false;
  }
  return true;
}

RunCheck CheckRun(int root_fd, absl::string_view path, bool tree) {
  const std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  const size_t n = parts.size();
  const absl::string_view name = parts.back();
  if (parts[0] == "xo-vm-backups" && n >= 3) {
    const std::string vm = absl::StrCat(parts[0], "/", parts[1]);
    if (n == 3 && !tree) {
      if (absl::EndsWith(name, ".json")) return RunCheck{true, ""};  // the marker itself
      return ByMarker(root_fd, absl::StrCat(vm, "/", Stem(name), ".json"));
    }
    if (n == 6 && parts[2] == "vdis" && !tree) {
      return ByMarker(root_fd, absl::StrCat(vm, "/", Stem(name), ".json"));
    }
    if (n == 7 && parts[2] == "vdis" && parts[5] == "data" && tree) {
      absl::string_view dir_name = name;
      if (absl::ConsumeSuffix(&dir_name, ".vhd") && IsXoTimestamp(dir_name)) {
        return ByMarker(root_fd, absl::StrCat(vm, "/", dir_name, ".json"));
      }
      return ByAlias(root_fd, parts);
    }
  }
  const bool config = parts[0] == "xo-config-backups" && n == 4 && !tree;
  const bool pool = parts[0] == "xo-pool-metadata-backups" && n == 5 && !tree;
  if (config || pool) {
    if (name == "metadata.json") return RunCheck{true, ""};
    return ByMarker(root_fd,
                    absl::StrCat(absl::StrJoin(parts.begin(), parts.end() - 1, "/"),
                                 "/metadata.json"));
  }
  return RunCheck{true, ""};  // outside XO's backup folders: no run to wait for
}

}  // namespace xoi
