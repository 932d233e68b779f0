#include "lib/run/holds.h"

#include <algorithm>
#include <iostream>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/fs/audit_log.h"
#include "lib/fs/walker.h"
#include "lib/report/escape.h"
#include "lib/report/log_lines.h"
#include "lib/report/run_report.h"
#include "lib/run/commands.h"
#include "lib/run/session.h"

namespace xoi {
namespace {

// Pins every item the walk finds below a hold's selector, whatever its flag: an item that is not
// locked yet stays held wherever it is moved before the run that locks it.
class PinVisitor : public WalkVisitor {
 public:
  explicit PinVisitor(HoldSet* holds) : holds_(holds) {}
  void OnItem(int, Candidate item) override {
    std::lock_guard<std::mutex> lock(mu_);
    Pin(item.path, IdentityOf(item.stat), holds_);
  }
  void OnRefused(int, const std::string&, const std::string&) override {}
  void OnError(int, const std::string&, const absl::Status&) override {}

 private:
  std::mutex mu_;
  HoldSet* holds_;
};

// Where a selector is on this server, for the audit log.
std::string Where(const RemoteConfig& remote, const std::string& selector) {
  return selector.empty() ? remote.root : absl::StrCat(remote.root, "/", selector);
}

void Say(const RemoteConfig& remote, const std::string& text) {
  std::cout << Printable(absl::StrCat(remote.id, ": ", text)) << "\n";
}

// Adds the requested holds to `session`'s and pins what is below them now. Returns the holds
// added; warns about those that match nothing yet.
std::vector<Hold> AddHolds(FileSystem& fs, const RemoteConfig& remote, const HoldRequest& request,
                           absl::Time now, RemoteSession& session) {
  HoldSet& set = session.holds;
  const size_t first = set.holds.size();
  for (const std::string& selector : request.selectors) {
    set.holds.push_back(Hold{set.next_id++, selector, request.reason, request.who, now, {}});
  }
  if (std::any_of(request.selectors.begin(), request.selectors.end(),
                  [](const std::string& s) { return !s.empty(); })) {
    PinVisitor pins(&set);
    Walk(fs, session.root.get(), session.globs, /*jobs=*/2, &pins);
    // Indexed items the walk no longer reaches (moved out of the globs' reach) are held too.
    const absl::Status read = session.index->ForEach(
        [&](const IndexRecord& record) { Pin(record.path, record.identity(), &set); });
    if (!read.ok()) {
      Log(Priority::kWarning, absl::StrCat(remote.id, ": the index could not be read whole (",
                                           read.message(), "): the next run pins what it records"));
    }
  }
  std::vector<Hold> added(set.holds.begin() + static_cast<ptrdiff_t>(first), set.holds.end());
  for (const Hold& h : added) {
    if (!h.selector.empty() && h.pins.empty()) {
      Log(Priority::kWarning,
          absl::StrCat(remote.id, ": hold ", h.id, ": ", h.selector,
                       " matches no backup yet: it applies to what appears there"));
    }
  }
  return added;
}

// Removes the requested holds from `session`'s; returns them.
std::vector<Hold> RemoveHolds(const HoldRequest& request, RemoteSession& session) {
  std::vector<Hold>& holds = session.holds.holds;
  auto requested = [&](const Hold& h) {
    return std::find(request.ids.begin(), request.ids.end(), h.id) != request.ids.end() ||
           std::find(request.selectors.begin(), request.selectors.end(), h.selector) !=
               request.selectors.end();
  };
  const auto kept = std::stable_partition(holds.begin(), holds.end(),
                                          [&](const Hold& h) { return !requested(h); });
  std::vector<Hold> removed(std::make_move_iterator(kept), std::make_move_iterator(holds.end()));
  holds.erase(kept, holds.end());
  return removed;
}

}  // namespace

absl::StatusOr<HoldSet> ReadHoldSet(const StateDir& state, const std::string& id) {
  auto text = state.ReadHolds(id);
  if (!text.ok()) return text.status();
  if (!text->has_value()) return HoldSet{};
  auto holds = DecodeHolds(**text);
  if (!holds.ok()) {
    return absl::DataLossError(absl::StrCat(state.HoldsPath(id), ": ", holds.status().message()));
  }
  return holds;
}

int HoldOrRelease(const Config& config, const std::vector<const RemoteConfig*>& remotes,
                  const HoldRequest& request) {
  FileSystem& fs = RealFileSystem();
  const StateDir state(fs, config.index_path);
  if (std::string why = PrepareIndex(fs, config, state, /*create=*/true); !why.empty()) {
    Log(Priority::kErr, absl::StrCat("index: ", why));
    return kExitUnusable;
  }
  const absl::Time now = absl::Now();
  auto audit = AuditLog::Open(fs, config.index_path);
  if (!audit.ok()) Log(Priority::kErr, absl::StrCat("audit log: ", audit.status().message()));
  const char* verb = request.release ? "release" : "hold";
  RunReport report;
  report.command = verb;
  bool changed_any = false;
  for (const RemoteConfig* remote : remotes) {
    RemoteReport& r = report.remotes.emplace_back();
    auto error = [&](std::string message) {
      Log(Priority::kErr, absl::StrCat(remote->id, ": ", verb, ": ", message));
      r.errors.push_back(Problem{"", std::move(message)});
      ++r.counts.errors;
    };
    std::unique_ptr<RemoteSession> session = OpenRemote(fs, state, *remote, false, &r);
    if (session == nullptr) {
      Log(r.state == RemoteState::kLocked ? Priority::kWarning : Priority::kErr,
          absl::StrCat(remote->id, ": nothing done: ", r.unusable_reason));
      continue;
    }
    if (!session->holds_unreadable.empty()) {
      error(absl::StrCat(session->holds_unreadable, "; repair or remove it as root, then ", verb,
                         " again"));
      continue;
    }
    const std::vector<Hold> changed = request.release
                                          ? RemoveHolds(request, *session)
                                          : AddHolds(fs, *remote, request, now, *session);
    if (changed.empty()) {
      Say(*remote, "no hold matches: nothing released");
      continue;
    }
    if (absl::Status written = state.WriteHolds(remote->id, EncodeHolds(session->holds));
        !written.ok()) {
      error(absl::StrCat("nothing changed: ", written.message()));
      continue;
    }
    changed_any = true;
    for (const Hold& h : changed) {
      const std::string what = absl::StrCat(request.release ? "released hold " : "hold ", h.id,
                                            " on ", SelectorText(h.selector), " (", h.reason, ")");
      Say(*remote,
          request.release || h.selector.empty()
              ? what
              : absl::StrCat(what, ": ", h.pins.size(), h.pins.size() == 1 ? " item" : " items",
                             " found and pinned"));
      const std::string why =
          absl::StrCat(what, " by ", request.who,
                       request.release && !request.reason.empty() ? ": " + request.reason : "");
      if (!audit.ok()) {
        error("the audit log could not be opened");
      } else if (absl::Status logged = (*audit)->Append(
                     AuditRecord{now, remote->id, Where(*remote, h.selector), 0, verb, why});
                 !logged.ok()) {
        error(std::string(logged.message()));
      }
    }
  }
  const int code = report.ExitCode();
  if (code == kExitOk && request.release && !changed_any) {
    Log(Priority::kErr, "release: no hold matched on any remote");
    return kExitItemErrors;
  }
  return code;
}

}  // namespace xoi
