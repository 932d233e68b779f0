#include "lib/backup_status.h"

#include <fcntl.h>

#include <algorithm>
#include <map>
#include <mutex>

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/expiry.h"
#include "lib/fs.h"
#include "lib/glob_set.h"
#include "lib/json_text.h"
#include "lib/report.h"
#include "lib/status.h"
#include "lib/walker.h"
#include "lib/xo_layout.h"

namespace xoi {
namespace {

namespace json = boost::json;

constexpr size_t kMaxMetadataSize = size_t{16} << 20;

std::string Iso(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// Collects the VM backup items the walk finds, by VM and by run timestamp.
class Collector : public WalkVisitor {
 public:
  Collector(int root_fd, absl::Duration duration, const std::string& only_vm)
      : root_fd_(root_fd), duration_(duration), only_vm_(only_vm) {}

  void OnItem(int, Candidate item) override {
    const std::vector<std::string> parts = absl::StrSplit(item.path, '/');
    if (parts.size() < 3 || parts[0] != "xo-vm-backups") return;
    if (!only_vm_.empty() && parts[1] != only_vm_) return;
    const std::string dt = RunOf(parts, item.tree);
    if (dt.empty()) return;
    BackupFile file{item.path + (item.tree ? "/" : ""), item.stat.immutable,
                    ExpiresAt(CreationDay(item.stat.birth), duration_)};
    std::lock_guard<std::mutex> lock(mu_);
    files_[parts[1]][dt].push_back(std::move(file));
  }
  void OnRefused(int, const std::string&, const std::string&) override {}
  void OnError(int, const std::string&, const absl::Status&) override {}

  std::map<std::string, std::map<std::string, std::vector<BackupFile>>>& files() { return files_; }

 private:
  // The run a file belongs to: the timestamp its name starts with, or for a VHD directory named by
  // UUID, the run of the alias that points at it.
  std::string RunOf(const std::vector<std::string>& parts, bool tree) const {
    absl::string_view name = parts.back();
    if (!tree) return std::string(name.substr(0, name.find('.')));
    absl::string_view stem = name;
    absl::ConsumeSuffix(&stem, ".vhd");
    if (IsXoTimestamp(stem)) return std::string(stem);
    const std::string vdi_dir = absl::StrJoin(parts.begin(), parts.end() - 2, "/");
    auto dir = OpenBeneath(root_fd_, vdi_dir, O_RDONLY | O_DIRECTORY);
    if (!dir.ok()) return "";
    std::string run;
    (void)ListDir(dir->get(), vdi_dir, [&](absl::string_view alias, unsigned char) {
      if (!absl::EndsWith(alias, ".alias.vhd")) return true;
      auto content = ReadSmallFile(dir->get(), std::string(alias).c_str(), 4096, alias);
      if (content.ok() && absl::StripAsciiWhitespace(*content) == absl::StrCat("data/", name)) {
        run = std::string(alias.substr(0, alias.find('.')));
        return false;
      }
      return true;
    });
    return run;
  }

  const int root_fd_;
  const absl::Duration duration_;
  const std::string only_vm_;
  std::mutex mu_;
  std::map<std::string, std::map<std::string, std::vector<BackupFile>>> files_;
};

// The run's kind from its metadata json.
void ReadKind(int root_fd, const std::string& metadata, BackupRun* run) {
  auto content = ReadSmallFile(root_fd, metadata.c_str(), kMaxMetadataSize, metadata);
  if (!content.ok()) {
    run->metadata_note = ErrnoOf(content.status()) == ENOENT ? "no metadata json (not finished?)"
                                                             : "metadata unreadable";
    return;
  }
  boost::system::error_code ec;
  const json::value doc = json::parse(*content, ec);
  if (ec || !doc.is_object()) {
    run->metadata_note = "metadata is not readable JSON (encrypted?): files only";
    return;
  }
  const json::value* mode = doc.as_object().if_contains("mode");
  const json::value* differencing = doc.as_object().if_contains("isVhdDifferencing");
  if (mode != nullptr && mode->is_string() && mode->as_string() == "full") {
    run->kind = BackupRun::Kind::kKey;
    return;
  }
  if (differencing != nullptr && differencing->is_object()) {
    bool any = false;
    for (const auto& [vdi, flag] : differencing->as_object()) any |= flag.is_bool() && flag.as_bool();
    run->kind = any ? BackupRun::Kind::kDelta : BackupRun::Kind::kKey;
    return;
  }
  run->metadata_note = "metadata has no mode/isVhdDifferencing";
}

void Summarise(VmStatus* vm) {
  // A delta run's chain goes back to the latest key run before it.
  bool chain_ok = false;
  bool chain_started = false;
  for (BackupRun& run : vm->runs) {
    if (run.kind != BackupRun::Kind::kDelta) {
      chain_ok = run.all_locked;
      chain_started = true;
    } else {
      chain_ok = chain_started && chain_ok && run.all_locked;
    }
    run.chain_locked = run.all_locked && chain_ok;
  }
  // The timeline: a space before each key run, brackets around the runs whose chain is locked.
  std::string line;
  bool open = false;
  for (size_t i = 0; i < vm->runs.size(); ++i) {
    const BackupRun& run = vm->runs[i];
    const char mark = run.kind == BackupRun::Kind::kKey     ? 'K'
                      : run.kind == BackupRun::Kind::kDelta ? 'd'
                                                             : '?';
    if (open && !run.chain_locked) {
      line += ']';
      open = false;
    }
    if (i > 0 && mark == 'K') line += ' ';
    if (!open && run.chain_locked) {
      line += '[';
      open = true;
    }
    line += mark;
    if (run.chain_locked) {
      ++vm->protected_runs;
      if (mark == 'K' || i == 0 || !vm->runs[i - 1].chain_locked) ++vm->protected_chains;
    }
  }
  if (open) line += ']';
  vm->timeline = line;
}

}  // namespace

RemoteStatus ReadBackupStatus(const RemoteConfig& remote, const std::string& vm, int jobs) {
  RemoteStatus status{remote.id, remote.root, "", {}};
  auto root = OpenRootDir(remote.root);
  if (!root.ok()) {
    status.error = std::string(root.status().message());
    return status;
  }
  auto globs = GlobSet::Compile(remote.paths);
  if (!globs.ok()) {
    status.error = std::string(globs.status().message());
    return status;
  }
  Collector collector(root->get(), remote.immutability_duration, vm);
  Walk(root->get(), *globs, jobs, &collector);
  for (auto& [uuid, runs] : collector.files()) {
    VmStatus vm_status;
    vm_status.uuid = uuid;
    for (auto& [dt, files] : runs) {
      BackupRun run;
      run.timestamp = dt;
      std::sort(files.begin(), files.end(),
                [](const BackupFile& a, const BackupFile& b) { return a.path < b.path; });
      run.files = std::move(files);
      run.all_locked = std::all_of(run.files.begin(), run.files.end(),
                                   [](const BackupFile& f) { return f.locked; });
      run.locked_until = absl::InfiniteFuture();
      for (const BackupFile& f : run.files) run.locked_until = std::min(run.locked_until, f.expires_at);
      ReadKind(root->get(), absl::StrCat("xo-vm-backups/", uuid, "/", dt, ".json"), &run);
      vm_status.runs.push_back(std::move(run));
    }
    Summarise(&vm_status);
    status.vms.push_back(std::move(vm_status));
  }
  return status;
}

std::string FormatStatusText(const std::vector<RemoteStatus>& status) {
  std::string out;
  for (const RemoteStatus& remote : status) {
    absl::StrAppend(&out, "remote ", remote.id, " (", remote.root, ")",
                    remote.error.empty() ? "" : absl::StrCat(": ", remote.error), "\n");
    for (const VmStatus& vm : remote.vms) {
      absl::StrAppend(&out, "  VM ", PrintablePath(vm.uuid), "\n    timeline: ", vm.timeline,
                      "    ", vm.protected_runs, " backups protected, ", vm.protected_chains,
                      " chain", vm.protected_chains == 1 ? "" : "s", "\n");
      for (const BackupRun& run : vm.runs) {
        const char* kind = run.kind == BackupRun::Kind::kKey     ? "key  "
                           : run.kind == BackupRun::Kind::kDelta ? "delta"
                                                                  : "?    ";
        absl::StrAppend(&out, "    ", PrintablePath(run.timestamp), "  ", kind, "  ",
                        run.all_locked ? absl::StrCat("locked until ", Iso(run.locked_until))
                                       : "NOT all locked",
                        run.kind == BackupRun::Kind::kDelta
                            ? (run.chain_locked ? ", chain locked" : ", chain NOT locked")
                            : "",
                        run.metadata_note.empty() ? "" : absl::StrCat(" (", run.metadata_note, ")"),
                        "\n");
        for (const BackupFile& f : run.files) {
          absl::StrAppend(&out, "      ", f.locked ? "locked   " : "unlocked ",
                          PrintablePath(f.path), "\n");
        }
      }
    }
  }
  return out;
}

std::string FormatStatusJson(const std::vector<RemoteStatus>& status) {
  json::array remotes;
  for (const RemoteStatus& remote : status) {
    json::object r;
    r["id"] = remote.id;
    PutText(r, "root", remote.root);
    if (!remote.error.empty()) PutText(r, "error", remote.error);
    json::array vms;
    for (const VmStatus& vm : remote.vms) {
      json::object v;
      PutText(v, "uuid", vm.uuid);
      v["timeline"] = vm.timeline;
      v["protectedBackups"] = vm.protected_runs;
      v["protectedChains"] = vm.protected_chains;
      json::array runs;
      for (const BackupRun& run : vm.runs) {
        json::object o;
        PutText(o, "timestamp", run.timestamp);
        o["kind"] = run.kind == BackupRun::Kind::kKey     ? "key"
                    : run.kind == BackupRun::Kind::kDelta ? "delta"
                                                           : "unknown";
        if (!run.metadata_note.empty()) o["note"] = run.metadata_note;
        o["allLocked"] = run.all_locked;
        if (run.all_locked) o["lockedUntil"] = Iso(run.locked_until);
        o["chainLocked"] = run.chain_locked;
        json::array files;
        for (const BackupFile& f : run.files) {
          json::object fo;
          PutText(fo, "path", f.path);
          fo["locked"] = f.locked;
          fo["expires"] = Iso(f.expires_at);
          files.push_back(std::move(fo));
        }
        o["files"] = std::move(files);
        runs.push_back(std::move(o));
      }
      v["runs"] = std::move(runs);
      vms.push_back(std::move(v));
    }
    r["vms"] = std::move(vms);
    remotes.push_back(std::move(r));
  }
  return json::serialize(json::object{{"remotes", std::move(remotes)}}) + "\n";
}

}  // namespace xoi
