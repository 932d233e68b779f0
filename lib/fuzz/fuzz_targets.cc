#include "lib/fuzz/fuzz_targets.h"

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "lib/core/backup_status.h"
#include "lib/core/config.h"
#include "lib/core/duration.h"
#include "lib/core/expiry.h"
#include "lib/core/glob_set.h"
#include "lib/core/guards.h"
#include "lib/core/hold.h"
#include "lib/core/index_entry.h"
#include "lib/core/index_record.h"
#include "lib/core/rules.h"
#include "lib/core/xo_layout.h"

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

void MarkerParser(const uint8_t* data, size_t size) {
  const MarkerFields fields = ParseMarker(View(data, size));
  // What the program writes must read back as written.
  const absl::Time since = fields.since.value_or(absl::UnixEpoch());
  const MarkerFields again =
      ParseMarker(MarkerContent(absl::FromUnixMillis(absl::ToUnixMillis(since)),
                                absl::Milliseconds(fields.duration_ms.value_or(0) & 0xffffffffff)));
  Check(again.immutable && again.since.has_value() && again.duration_ms.has_value());
}

void AliasParser(const uint8_t* data, size_t size) {
  const std::optional<std::string> target = AliasTarget(View(data, size));
  if (target) Check(!target->empty() && target->find('\0') == std::string::npos);
  Check(!IsAliasName(".") && !IsAliasName(".x.alias.vhd"));
}

void RunMetadataParser(const uint8_t* data, size_t size) {
  BackupRun run;
  ReadRunKind(std::string(View(data, size)), &run);
  Check(run.kind != BackupRun::Kind::kUnknown || !run.metadata_note.empty());
}

void ClockRecordDecoder(const uint8_t* data, size_t size) {
  const std::optional<ClockRecord> record = DecodeClockRecord(View(data, size));
  if (!record) return;
  const std::optional<ClockRecord> again = DecodeClockRecord(EncodeClockRecord(*record));
  Check(again.has_value() && again->last.wall == record->last.wall &&
        again->highest_wall == record->highest_wall && again->boot_wall == record->boot_wall);
  ClockReading now = record->last;
  now.wall += absl::Hours(1);
  (void)JudgeClock(record, now, absl::Hours(24));
}

// The first 10 bytes name the day ("YYYY-MM-DD"), the rest is the day file.
void DayFileDecoder(const uint8_t* data, size_t size) {
  if (size < 10) return;
  const std::optional<absl::CivilDay> day = ParseDay(View(data, 10));
  if (!day) return;
  auto records = DecodeDayFile(*day, View(data + 10, size - 10));
  if (!records.ok()) return;
  auto again = DecodeDayFile(*day, EncodeDayFile(*day, *records));
  Check(again.ok() && again->size() == records->size());
}

void HoldFileDecoder(const uint8_t* data, size_t size) {
  auto holds = DecodeHolds(View(data, size));
  if (!holds.ok()) return;
  const std::string text = EncodeHolds(*holds);
  auto again = DecodeHolds(text);
  Check(again.ok() && EncodeHolds(*again) == text);
}

}  // namespace xoi::fuzz
