#include "lib/core/backup_status.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>

#include "lib/core/status.h"

namespace xoi {

namespace json = boost::json;

void ReadRunKind(const absl::StatusOr<std::string>& metadata, BackupRun* run) {
  if (!metadata.ok()) {
    run->metadata_note = ErrnoOf(metadata.status()) == ENOENT ? "no metadata json (not finished?)"
                                                              : "metadata unreadable";
    return;
  }
  boost::system::error_code ec;
  const json::value doc = json::parse(*metadata, ec);
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
    for (const auto& [vdi, flag] : differencing->as_object())
      any |= flag.is_bool() && flag.as_bool();
    run->kind = any ? BackupRun::Kind::kDelta : BackupRun::Kind::kKey;
    return;
  }
  run->metadata_note = "metadata has no mode/isVhdDifferencing";
}

void Summarise(VmStatus* vm) {
  for (BackupRun& run : vm->runs) {
    run.all_locked = std::all_of(run.files.begin(), run.files.end(),
                                 [](const BackupFile& f) { return f.locked; });
    run.locked_until = absl::InfiniteFuture();
    for (const BackupFile& f : run.files)
      run.locked_until = std::min(run.locked_until, f.expires_at);
  }
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

}  // namespace xoi
