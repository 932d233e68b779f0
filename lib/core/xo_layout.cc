#include "lib/core/xo_layout.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/core/glob_set.h"

namespace xoi {
namespace {

RunCheck ByMarker(RunFacts& facts, std::string marker) {
  RunCheck check;
  check.complete = facts.MarkerExists(marker);
  check.marker = std::move(marker);
  return check;
}

// The pieces of a VHD directory's path `xo-vm-backups/<vm>/vdis/<job>/<vdi>/data/<name>.vhd` that
// alias resolution needs.
struct VhdDir {
  std::string vm_dir;   // xo-vm-backups/<vm>
  std::string vdi_dir;  // xo-vm-backups/<vm>/vdis/<job>/<vdi>
  std::string target;   // data/<name>.vhd, as an alias names it
};

VhdDir VhdDirOf(const std::vector<absl::string_view>& parts) {
  return VhdDir{absl::StrJoin(parts.begin(), parts.begin() + 2, "/"),
                absl::StrJoin(parts.begin(), parts.begin() + 5, "/"),
                absl::StrCat("data/", parts[6])};
}

bool IsVmFile(const std::vector<absl::string_view>& parts, bool tree) {
  return parts[0] == "xo-vm-backups" && !tree &&
         (parts.size() == 3 || (parts.size() == 6 && parts[2] == "vdis"));
}

bool IsVhdDir(const std::vector<absl::string_view>& parts, bool tree) {
  return parts[0] == "xo-vm-backups" && tree && parts.size() == 7 && parts[2] == "vdis" &&
         parts[5] == "data";
}

// The timestamp a VHD directory is named by, or "" (named by UUID).
absl::string_view TimestampName(absl::string_view dir_name) {
  return absl::ConsumeSuffix(&dir_name, ".vhd") && IsXoTimestamp(dir_name) ? dir_name
                                                                           : absl::string_view();
}

}  // namespace

bool IsRemoteFile(absl::string_view path) {
  if (path == kMarkerName) return true;
  for (const char* name : kXoRootFiles) {
    if (path == name) return true;
  }
  return false;
}

bool IsXoBackupFolder(absl::string_view path) {
  // The walker asks for every folder it descends into: most are no such thing.
  if (!absl::StartsWith(path, "xo-config-backups/") &&
      !absl::StartsWith(path, "xo-pool-metadata-backups/")) {
    return false;
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  for (absl::string_view part : parts) {
    if (part.empty() || GlobSet::IsExcludedName(part)) return false;
  }
  return (parts[0] == "xo-config-backups" && parts.size() == 3) ||
         (parts[0] == "xo-pool-metadata-backups" && parts.size() == 4);
}

bool IsXoTimestamp(absl::string_view t) {
  if (t.size() != 16 || t[8] != 'T' || t[15] != 'Z') return false;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && !absl::ascii_isdigit(t[i])) return false;
  }
  return true;
}

absl::string_view RunStem(absl::string_view name) { return name.substr(0, name.find('.')); }

bool IsAliasName(absl::string_view name) {
  return !name.empty() && name[0] != '.' && absl::EndsWith(name, ".alias.vhd");
}

std::optional<std::string> AliasTarget(absl::string_view content) {
  absl::string_view target = absl::StripAsciiWhitespace(content);
  absl::ConsumePrefix(&target, "./");
  if (target.empty() || target.find('\0') != absl::string_view::npos) return std::nullopt;
  return std::string(target);
}

RunCheck CheckRun(absl::string_view path, bool tree, RunFacts& facts) {
  const std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  const absl::string_view name = parts.back();
  if (IsVmFile(parts, tree)) {
    if (parts.size() == 3 && absl::EndsWith(name, ".json")) return RunCheck{true, ""};
    return ByMarker(facts, absl::StrCat(parts[0], "/", parts[1], "/", RunStem(name), ".json"));
  }
  if (IsVhdDir(parts, tree)) {
    const VhdDir vhd = VhdDirOf(parts);
    if (absl::string_view dt = TimestampName(name); !dt.empty()) {
      return ByMarker(facts, absl::StrCat(vhd.vm_dir, "/", dt, ".json"));
    }
    RunCheck check{false, absl::StrCat("an alias in ", vhd.vdi_dir, " pointing at ", vhd.target)};
    for (const std::string& alias : facts.AliasesPointingAt(vhd.vdi_dir, vhd.target)) {
      RunCheck by_alias = ByMarker(facts, absl::StrCat(vhd.vm_dir, "/", RunStem(alias), ".json"));
      if (by_alias.complete) return by_alias;
      check.marker = std::move(by_alias.marker);
    }
    return check;
  }
  const size_t n = parts.size();
  const bool config = parts[0] == "xo-config-backups" && n == 4 && !tree;
  const bool pool = parts[0] == "xo-pool-metadata-backups" && n == 5 && !tree;
  if (config || pool) {
    if (name == "metadata.json") return RunCheck{true, ""};
    return ByMarker(
        facts, absl::StrCat(absl::StrJoin(parts.begin(), parts.end() - 1, "/"), "/metadata.json"));
  }
  return RunCheck{true, ""};  // outside XO's backup folders: no run to wait for
}

std::string RunOf(absl::string_view path, bool tree, RunFacts& facts) {
  const std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  if (IsVmFile(parts, tree)) return std::string(RunStem(parts.back()));
  if (!IsVhdDir(parts, tree)) return "";
  if (absl::string_view dt = TimestampName(parts.back()); !dt.empty()) return std::string(dt);
  const VhdDir vhd = VhdDirOf(parts);
  const std::vector<std::string> aliases = facts.AliasesPointingAt(vhd.vdi_dir, vhd.target);
  return aliases.empty() ? "" : std::string(RunStem(aliases.front()));
}

}  // namespace xoi
