#include "lib/report/status_report.h"

#include <algorithm>
#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/core/iso_time.h"
#include "lib/core/json_text.h"
#include "lib/report/escape.h"
#include "lib/report/json_report.h"
#include "lib/report/text_report.h"

namespace xoi {

namespace json = boost::json;

namespace {

// The holds of `remote`, each with the locked items it covers.
std::vector<HoldInForce> Holds(const RemoteStatus& remote) {
  std::vector<HoldInForce> holds;
  for (const Hold& h : remote.holds.holds) {
    holds.push_back(InForce(h));
    if (auto it = remote.locked_items_held.find(h.id); it != remote.locked_items_held.end()) {
      holds.back().items = it->second;
    }
  }
  return holds;
}

}  // namespace

std::string FormatStatusText(const std::vector<RemoteStatus>& status) {
  std::string out;
  for (const RemoteStatus& remote : status) {
    absl::StrAppend(&out, "remote ", remote.id, " (", remote.root, ")",
                    remote.error.empty() ? "" : absl::StrCat(": ", remote.error), "\n");
    if (!remote.holds_error.empty()) {
      absl::StrAppend(
          &out, "  HOLDS UNREADABLE, nothing is lifted: ", Printable(remote.holds_error), "\n");
    }
    for (const HoldInForce& h : Holds(remote)) absl::StrAppend(&out, "  ", HoldLine(h), "\n");
    if (remote.error.empty() && !remote.only_vm.empty() && remote.vms.empty()) {
      absl::StrAppend(&out, "  no backup of VM ", PrintablePath(remote.only_vm),
                      " on this remote\n");
    }
    for (const VmStatus& vm : remote.vms) {
      absl::StrAppend(&out, "  VM ", PrintablePath(vm.uuid), "\n    timeline: ", vm.timeline,
                      "    ", vm.protected_runs, vm.protected_runs == 1 ? " backup" : " backups",
                      " protected, ", vm.protected_chains, " chain",
                      vm.protected_chains == 1 ? "" : "s", "\n");
      for (const BackupRun& run : vm.runs) {
        const char* kind = run.kind == BackupRun::Kind::kKey     ? "key  "
                           : run.kind == BackupRun::Kind::kDelta ? "delta"
                                                                 : "?    ";
        absl::StrAppend(&out, "    ", PrintablePath(run.timestamp), "  ", kind, "  ",
                        run.all_locked ? absl::StrCat("locked until ", IsoTime(run.locked_until))
                                       : "NOT all locked",
                        run.kind == BackupRun::Kind::kDelta
                            ? (run.chain_locked ? ", chain locked" : ", chain NOT locked")
                            : "",
                        run.metadata_note.empty() ? "" : absl::StrCat(" (", run.metadata_note, ")"),
                        "\n");
        for (const BackupFile& f : run.files) {
          absl::StrAppend(
              &out, "      ", f.locked ? "locked   " : "unlocked ", PrintablePath(f.path),
              f.held_by.empty()
                  ? ""
                  : absl::StrCat("  (held by hold ", absl::StrJoin(f.held_by, ", "), ")"),
              "\n");
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
    if (!remote.holds_error.empty()) PutText(r, "holdsError", remote.holds_error);
    r["holds"] = HoldsJson(Holds(remote));
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
        if (run.all_locked) o["lockedUntil"] = IsoTime(run.locked_until);
        o["chainLocked"] = run.chain_locked;
        json::array files;
        for (const BackupFile& f : run.files) {
          json::object fo;
          PutText(fo, "path", f.path);
          fo["locked"] = f.locked;
          fo["expires"] = IsoTime(f.expires_at);
          fo["heldBy"] = json::value_from(f.held_by);
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
