#include "lib/fs/index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "lib/core/expiry.h"
#include "lib/core/status.h"
#include "lib/fs/file_system.h"

namespace xoi {
namespace {

constexpr size_t kMaxEntrySize = size_t{64} << 10;

}  // namespace

std::string Index::KeyOf(absl::CivilDay day, absl::string_view name) {
  return absl::StrCat(FormatDay(day), "/", name);
}

absl::StatusOr<std::unique_ptr<Index>> Index::Open(FileSystem& fs, const std::string& index_path,
                                                   const std::string& remote_id, bool create) {
  const std::string dir_path = absl::StrCat(index_path, "/", remote_id);
  if (create) {
    // Create each missing level 0700: the ledger says what is locked and must not be writable by
    // anyone but root.
    std::string prefix;
    for (absl::string_view part : absl::StrSplit(dir_path, '/', absl::SkipEmpty())) {
      absl::StrAppend(&prefix, "/", part);
      XOI_RETURN_IF_ERROR(fs.MakeDir(AT_FDCWD, prefix.c_str(), 0700, prefix));
    }
  }
  absl::StatusOr<Fd> dir = fs.OpenDirByPath(dir_path);
  if (!dir.ok() && !(ErrnoOf(dir.status()) == ENOENT && !create)) {
    return ErrnoError(ErrnoOf(dir.status()), "open index folder", dir_path);
  }
  std::unique_ptr<Index> index(new Index(fs, dir.ok() ? *std::move(dir) : Fd(), dir_path));
  XOI_RETURN_IF_ERROR(index->Load(/*tidy=*/create));  // without create (dry run): no writes
  return index;
}

absl::Status Index::Load(bool tidy) {
  if (!dir_.valid()) return absl::OkStatus();
  std::vector<std::string> days;
  XOI_RETURN_IF_ERROR(
      fs_.ListDir(dir_.get(), dir_path_, [&](absl::string_view name, unsigned char) {
        if (ParseDay(name)) days.emplace_back(name);
        return true;
      }));
  for (const std::string& day : days) {
    const std::string day_path = absl::StrCat(dir_path_, "/", day);
    XOI_ASSIGN_OR_RETURN(Fd day_fd,
                         fs_.OpenAt(dir_.get(), day.c_str(), O_RDONLY | O_DIRECTORY, day_path));
    size_t entries = 0;
    XOI_RETURN_IF_ERROR(
        fs_.ListDir(day_fd.get(), day_path, [&](absl::string_view name, unsigned char) {
          if (name.size() == 64 && name.find_first_not_of("0123456789abcdef") == name.npos) {
            keys_.insert(absl::StrCat(day, "/", name));
            ++entries;
          }
          return true;
        }));
    // An empty day folder is left by an interrupted run; rmdir fails if it is not empty.
    if (tidy && entries == 0) (void)fs_.Unlink(dir_.get(), day.c_str(), AT_REMOVEDIR, day_path);
  }
  return absl::OkStatus();
}

bool Index::Contains(absl::CivilDay day, absl::string_view name) const {
  return keys_.contains(KeyOf(day, name));
}

absl::StatusOr<IndexEntry> Index::Read(absl::CivilDay day, absl::string_view name) const {
  const std::string key = KeyOf(day, name);
  auto content =
      fs_.ReadSmallFile(dir_.get(), key.c_str(), kMaxEntrySize, absl::StrCat(dir_path_, "/", key));
  if (!content.ok()) return content.status();
  auto entry = DecodeIndexEntry(*content);
  if (!entry.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir_path_, "/", key, ": ", entry.status().message()));
  }
  return entry;
}

absl::Status Index::Put(absl::CivilDay day, const IndexEntry& entry) {
  if (!dir_.valid()) return absl::FailedPreconditionError("index opened without create");
  const std::string day_name = FormatDay(day);
  const std::string day_path = absl::StrCat(dir_path_, "/", day_name);
  XOI_RETURN_IF_ERROR(fs_.MakeDir(dir_.get(), day_name.c_str(), 0700, day_path));
  XOI_ASSIGN_OR_RETURN(Fd day_fd,
                       fs_.OpenAt(dir_.get(), day_name.c_str(), O_RDONLY | O_DIRECTORY, day_path));
  const std::string name = IndexEntryName(entry.path);
  XOI_RETURN_IF_ERROR(fs_.WriteFileAtomic(day_fd.get(), name, EncodeIndexEntry(entry), 0600,
                                          /*sync=*/false, absl::StrCat(day_path, "/", name)));
  keys_.insert(KeyOf(day, name));
  dirty_ = true;
  return absl::OkStatus();
}

absl::Status Index::Remove(absl::CivilDay day, absl::string_view name) {
  const std::string key = KeyOf(day, name);
  const absl::Status removed =
      fs_.Unlink(dir_.get(), key.c_str(), 0, absl::StrCat(dir_path_, "/", key));
  if (!removed.ok() && ErrnoOf(removed) != ENOENT) return removed;
  keys_.erase(key);
  dirty_ = true;
  const std::string day_name = FormatDay(day);
  // Only succeeds once the day is empty.
  (void)fs_.Unlink(dir_.get(), day_name.c_str(), AT_REMOVEDIR, day_name);
  return absl::OkStatus();
}

std::vector<IndexKey> Index::Keys() const { return KeysExcept({}); }

std::vector<IndexKey> Index::KeysExcept(const absl::flat_hash_set<std::string>& except) const {
  // Filtered before sorting, through views: each run calls this once with every item the walk
  // reached, and copying and sorting the whole index (tens of thousands of keys) only to skip
  // nearly all of them was the largest cost of a run with nothing to do, after the walk.
  std::vector<absl::string_view> sorted;
  for (const std::string& key : keys_) {
    if (!except.contains(key)) sorted.push_back(key);
  }
  std::sort(sorted.begin(), sorted.end());
  std::vector<IndexKey> keys;
  keys.reserve(sorted.size());
  for (absl::string_view key : sorted) {
    keys.push_back(IndexKey{*ParseDay(key.substr(0, 10)), std::string(key.substr(11))});
  }
  return keys;
}

absl::Status Index::Sync() {
  if (!dirty_ || !dir_.valid()) return absl::OkStatus();
  XOI_RETURN_IF_ERROR(fs_.SyncFilesystem(dir_.get(), dir_path_));
  dirty_ = false;
  return absl::OkStatus();
}

}  // namespace xoi
