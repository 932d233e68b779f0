#include "lib/fuzz/fuzz_targets.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "lib/core/config.h"
#include "lib/core/duration.h"
#include "lib/core/glob_set.h"
#include "lib/core/index_entry.h"

namespace xoi::fuzz {
namespace {

absl::string_view View(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

void Check(bool invariant) {
  if (!invariant) abort();
}

}  // namespace

void ConfigParser(const uint8_t* data, size_t size) {
  auto config = ParseConfig(View(data, size), "fuzz.json");
  if (!config.ok()) return;
  Check(!config->remotes.empty());
  for (const RemoteConfig& remote : config->remotes) {
    Check(!remote.root.empty() && remote.root[0] == '/');
    Check(GlobSet::Compile(remote.paths).ok());
  }
}

void DurationParser(const uint8_t* data, size_t size) {
  auto d = ParseDuration(View(data, size));
  if (!d.ok()) return;
  auto again = ParseDuration(DurationText(*d));
  Check(again.ok() && *again == *d);
}

// The first line holds paths to match (separated by '|'), the other lines are patterns.
void GlobCompiler(const uint8_t* data, size_t size) {
  const absl::string_view text = View(data, size);
  const size_t newline = text.find('\n');
  const absl::string_view paths = text.substr(0, newline);
  std::vector<std::string> patterns;
  if (newline != absl::string_view::npos) {
    patterns = absl::StrSplit(text.substr(newline + 1), '\n');
  }
  auto set = GlobSet::Compile(patterns);
  if (!set.ok()) return;
  std::vector<std::string> literals;
  for (absl::string_view path : absl::StrSplit(paths, '|')) {
    GlobSet::State state = set->Start();
    GlobSet::Step step;
    for (absl::string_view segment : absl::StrSplit(path, '/')) {
      set->LiteralChildren(state, &literals);
      set->Advance(state, segment, &step);
      if (!step.descend()) break;
      state = step.next;
    }
  }
}

void IndexEntryDecoder(const uint8_t* data, size_t size) {
  auto entry = DecodeIndexEntry(View(data, size));
  if (!entry.ok()) return;
  auto again = DecodeIndexEntry(EncodeIndexEntry(*entry));
  Check(again.ok() && again->path == entry->path && again->tree == entry->tree);
  if (entry->has_identity) {
    Check(again->ino == entry->ino && again->dev == entry->dev && again->birth == entry->birth);
  }
}

}  // namespace xoi::fuzz
