#include "lib/core/hold.h"

#include <algorithm>
#include <optional>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/core/sha256.h"

namespace xoi {
namespace {

constexpr absl::string_view kMagic = "xo-immutable-holds";
constexpr int kVersion = 1;

// True when one of `a` and `b` is the other or a folder holding it. A hold on a member of a VHD
// directory holds the whole directory, which is lifted as one item.
bool OnOnePath(absl::string_view a, absl::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  return a.empty() || (absl::StartsWith(b, a) && (b.size() == a.size() || b[a.size()] == '/'));
}

absl::Status Damaged(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("hold file damaged: ", why));
}

std::optional<std::string> Text(absl::string_view field) {
  std::string out;
  if (!absl::CUnescape(field, &out)) return std::nullopt;
  return out;
}

}  // namespace

bool Hold::Covers(absl::string_view path, const Identity& id) const {
  return OnOnePath(selector, path) || pins.contains(id);
}

std::vector<const Hold*> HoldSet::Covering(absl::string_view path, const Identity& id) const {
  std::vector<const Hold*> out;
  for (const Hold& hold : holds) {
    if (hold.Covers(path, id)) out.push_back(&hold);
  }
  return out;
}

absl::StatusOr<std::string> VmSelector(absl::string_view uuid) {
  // 8-4-4-4-12 hex digits, as XO names VM folders.
  const std::vector<absl::string_view> groups = absl::StrSplit(uuid, '-');
  constexpr size_t kSizes[] = {8, 4, 4, 4, 12};
  bool ok = groups.size() == 5;
  for (size_t i = 0; ok && i < 5; ++i) {
    ok = groups[i].size() == kSizes[i] &&
         std::all_of(groups[i].begin(), groups[i].end(), absl::ascii_isxdigit);
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("--vm: \"", absl::CHexEscape(uuid),
                     "\" is not a VM UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"));
  }
  return absl::StrCat("xo-vm-backups/", uuid);
}

absl::StatusOr<std::string> PathSelector(absl::string_view path) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--path \"", absl::CHexEscape(path), "\": ", why));
  };
  if (path.find('\0') != absl::string_view::npos) return bad("contains a NUL byte");
  if (absl::StartsWith(path, "/")) return bad("must be relative to the remote root, not absolute");
  while (absl::ConsumeSuffix(&path, "/")) {
  }
  if (path.empty()) return bad("is empty (use --all for the whole remote)");
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return bad("may not contain \"..\": it must stay inside the remote");
    if (part.empty() || part == ".") return bad("has an empty or \".\" component");
  }
  return std::string(path);
}

std::string SelectorText(absl::string_view selector) {
  return selector.empty() ? "the whole remote" : std::string(selector);
}

Identity IdentityOf(const FileStat& st) { return Identity{st.ino, absl::ToUnixNanos(st.birth)}; }

std::string EncodeHolds(const HoldSet& set) {
  std::string out = absl::StrCat(kMagic, " ", kVersion, "\nnext\t", set.next_id, "\n");
  for (const Hold& h : set.holds) {
    absl::StrAppend(&out, "hold\t", h.id, "\t", absl::ToUnixSeconds(h.when), "\t",
                    absl::CEscape(h.who), "\t", absl::CEscape(h.selector), "\t",
                    absl::CEscape(h.reason), "\n");
    // Sorted, so that the same holds always make the same file.
    std::vector<Identity> pins(h.pins.begin(), h.pins.end());
    std::sort(pins.begin(), pins.end(), [](const Identity& a, const Identity& b) {
      return std::tie(a.ino, a.birth_ns) < std::tie(b.ino, b.birth_ns);
    });
    for (const Identity& pin : pins) {
      absl::StrAppend(&out, "pin\t", h.id, "\t", absl::Hex(pin.ino), "\t", pin.birth_ns, "\n");
    }
  }
  absl::StrAppend(&out, "end\t", Sha256Hex(out), "\n");
  return out;
}

absl::StatusOr<HoldSet> DecodeHolds(absl::string_view text) {
  const size_t end = text.rfind("end\t");
  if (end == absl::string_view::npos || (end > 0 && text[end - 1] != '\n')) {
    return Damaged("truncated (no end line)");
  }
  if (text.substr(end + 4) != absl::StrCat(Sha256Hex(text.substr(0, end)), "\n")) {
    return Damaged("the checksum does not match");
  }
  std::vector<absl::string_view> lines = absl::StrSplit(text.substr(0, end), '\n');
  lines.pop_back();  // the empty piece after the last newline
  if (lines.size() < 2 || lines[0] != absl::StrCat(kMagic, " ", kVersion)) {
    return Damaged("not a hold file of version 1");
  }
  HoldSet set;
  const std::vector<absl::string_view> next = absl::StrSplit(lines[1], '\t');
  if (next.size() != 2 || next[0] != "next" || !absl::SimpleAtoi(next[1], &set.next_id)) {
    return Damaged("no next id");
  }
  for (size_t i = 2; i < lines.size(); ++i) {
    const std::vector<absl::string_view> f = absl::StrSplit(lines[i], '\t');
    const std::string where = absl::StrCat("line ", i + 1);
    uint64_t id = 0;
    if (f.size() == 6 && f[0] == "hold") {
      Hold h;
      int64_t when = 0;
      std::optional<std::string> who = Text(f[3]), selector = Text(f[4]), reason = Text(f[5]);
      if (!absl::SimpleAtoi(f[1], &h.id) || !absl::SimpleAtoi(f[2], &when) || !who || !selector ||
          !reason || reason->empty() || (!selector->empty() && !IsRemotePath(*selector))) {
        return Damaged(absl::StrCat(where, ": not a valid hold"));
      }
      if (h.id >= set.next_id || (!set.holds.empty() && h.id <= set.holds.back().id)) {
        return Damaged(absl::StrCat(where, ": hold ids out of order"));
      }
      h.when = absl::FromUnixSeconds(when);
      h.who = *std::move(who);
      h.selector = *std::move(selector);
      h.reason = *std::move(reason);
      set.holds.push_back(std::move(h));
    } else if (f.size() == 4 && f[0] == "pin" && absl::SimpleAtoi(f[1], &id)) {
      Identity pin;
      if (set.holds.empty() || set.holds.back().id != id || !absl::SimpleHexAtoi(f[2], &pin.ino) ||
          !absl::SimpleAtoi(f[3], &pin.birth_ns)) {
        return Damaged(absl::StrCat(where, ": not a valid pin of the hold above it"));
      }
      set.holds.back().pins.insert(pin);
    } else {
      return Damaged(absl::StrCat(where, ": neither a hold nor a pin"));
    }
  }
  return set;
}

bool HoldLift(const HoldSet& set, Action* action) {
  if (set.holds.empty() || action->kind != ActionKind::kLift) return false;
  const std::vector<const Hold*> covering = set.Covering(action->path, IdentityOf(action->stat));
  if (covering.empty()) return false;
  std::vector<std::string> by;
  for (const Hold* h : covering) by.push_back(absl::StrCat("hold ", h->id, " (", h->reason, ")"));
  action->kind = ActionKind::kHold;
  action->reason =
      absl::StrCat("held by ", absl::StrJoin(by, ", "), "; would lift: ", action->reason);
  return true;
}

size_t ApplyHolds(const HoldSet& set, Plan* plan) {
  if (set.holds.empty()) return 0;
  size_t held = 0;
  bool any_held = false;
  for (Action& action : plan->actions) {
    held += HoldLift(set, &action);
    any_held |= action.kind == ActionKind::kHold;
  }
  if (!any_held) return 0;
  for (Action& action : plan->actions) {
    if (action.kind != ActionKind::kRemoveMarker) continue;
    action.kind = ActionKind::kHold;
    action.reason = "kept while items of the remote are held";
    ++held;
  }
  return held;
}

bool Pin(absl::string_view path, const Identity& id, HoldSet* set) {
  bool added = false;
  for (Hold& hold : set->holds) {
    if (!hold.selector.empty() && OnOnePath(hold.selector, path)) {
      added |= hold.pins.insert(id).second;
    }
  }
  return added;
}

}  // namespace xoi
