#include "lib/fs/index.h"

#include <dirent.h>
#include <fcntl.h>

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/core/expiry.h"
#include "lib/core/index_entry.h"
#include "lib/core/status.h"

namespace xoi {
namespace {

constexpr size_t kMaxEntrySize = size_t{64} << 10;
// A day of a million items is about 100 MB; anything larger is not a day file of ours.
constexpr size_t kMaxDayFileSize = size_t{1} << 30;

}  // namespace

absl::StatusOr<std::unique_ptr<Index>> Index::Open(FileSystem& fs, const std::string& dir_path,
                                                   const std::string& root, bool create) {
  if (create) {
    // Each missing level 0700: the ledger says what is locked and must not be writable by anyone
    // but root.
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
  index->writable_ = create;
  XOI_RETURN_IF_ERROR(index->Load(root));
  return index;
}

absl::Status Index::Load(const std::string& root) {
  if (!dir_.valid()) return absl::OkStatus();
  std::vector<std::pair<absl::CivilDay, std::string>> days;
  std::vector<std::string> old_folders;
  XOI_RETURN_IF_ERROR(
      fs_.ListDir(dir_.get(), dir_path_, [&](absl::string_view name, unsigned char type) {
        absl::string_view stem = name;
        if (absl::ConsumeSuffix(&stem, ".idx")) {
          if (auto day = ParseDay(stem)) days.emplace_back(*day, std::string(name));
        } else if (ParseDay(name) && (type == DT_DIR || type == DT_UNKNOWN)) {
          old_folders.emplace_back(name);
        }
        return true;
      }));
  for (const auto& [day, name] : days) XOI_RETURN_IF_ERROR(LoadDay(day, name));
  if (!old_folders.empty()) XOI_RETURN_IF_ERROR(Migrate(root, old_folders));
  return absl::OkStatus();
}

absl::Status Index::LoadDay(absl::CivilDay day, const std::string& name) {
  const std::string path = absl::StrCat(dir_path_, "/", name);
  absl::StatusOr<std::string> text =
      fs_.ReadSmallFile(dir_.get(), name.c_str(), kMaxDayFileSize, path);
  if (!text.ok() && ErrnoOf(text.status()) == ENOENT) return absl::OkStatus();
  // A day that cannot be read now (an I/O error) is left out, like a damaged one (nothing is
  // lifted from it, and what it holds that is still locked is adopted again), but it is neither
  // set aside nor ever rewritten from what little this run knows of it: the next run reads it.
  if (!text.ok() && ErrnoOf(text.status()) != EFBIG && ErrnoOf(text.status()) != EINVAL) {
    notices_.push_back(
        Warning{WarningKind::kIndexEntryUnreadable, "",
                absl::StrCat("index ", path, " cannot be read now (", text.status().message(),
                             "): left out of this run, and not rewritten")});
    unreadable_.insert(day);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<IndexRecord>> records =
      text.ok() ? DecodeDayFile(day, *text)
                : absl::StatusOr<std::vector<IndexRecord>>(text.status());
  if (!records.ok()) {
    // Never lifted from: what it held that is still locked is re-indexed from the walk. Kept
    // aside for whoever wants to look, and out of the way of the day's next rewrite.
    notices_.push_back(
        Warning{WarningKind::kIndexEntryUnreadable, "",
                absl::StrCat("index ", path, " is unusable (", records.status().message(),
                             "): its items are re-indexed from the walk, never "
                             "lifted from it")});
    if (writable_) {
      for (int n = 1; n < 100; ++n) {
        const std::string aside =
            n == 1 ? absl::StrCat(name, ".damaged") : absl::StrCat(name, ".damaged.", n);
        if (fs_.StatAt(dir_.get(), aside.c_str(), aside).ok()) continue;  // an earlier one: kept
        if (fs_.Rename(dir_.get(), name.c_str(), aside.c_str(), path).ok()) {
          absl::StrAppend(&notices_.back().message, "; kept as ", aside);
        }
        break;
      }
    }
    return absl::OkStatus();
  }
  for (IndexRecord& record : *records) {
    const Identity id = record.identity();
    if (by_identity_.contains(id)) continue;  // one record an inode; a later copy is stale
    by_identity_[id] = records_.size();
    records_.push_back(std::move(record));
  }
  return absl::OkStatus();
}

absl::Status Index::Migrate(const std::string& root, const std::vector<std::string>& folders) {
  size_t migrated = 0, dropped = 0;
  for (const std::string& folder : folders) {
    const std::string folder_path = absl::StrCat(dir_path_, "/", folder);
    absl::StatusOr<Fd> opened =
        fs_.OpenAt(dir_.get(), folder.c_str(), O_RDONLY | O_DIRECTORY, folder_path);
    if (!opened.ok() && ErrnoOf(opened.status()) == ENOTDIR) continue;  // a file: not ours
    XOI_ASSIGN_OR_RETURN(Fd day_fd, std::move(opened));
    std::vector<std::string> names;
    XOI_RETURN_IF_ERROR(
        fs_.ListDir(day_fd.get(), folder_path, [&](absl::string_view name, unsigned char) {
          names.emplace_back(name);
          return true;
        }));
    for (const std::string& name : names) {
      auto content = fs_.ReadSmallFile(day_fd.get(), name.c_str(), kMaxEntrySize,
                                       absl::StrCat(folder_path, "/", name));
      auto entry =
          content.ok() ? DecodeIndexEntry(*content) : absl::StatusOr<IndexEntry>(content.status());
      absl::string_view relative = entry.ok() ? absl::string_view(entry->path) : "";
      // Entries without an identity (XO's v1, path only) cannot be keyed: the walk adopts what is
      // still locked.
      if (!entry.ok() || !entry->has_identity || !absl::ConsumePrefix(&relative, root + "/") ||
          !IsRemotePath(relative) ||
          Find(Identity{entry->ino, absl::ToUnixNanos(entry->birth)}) != nullptr) {
        ++dropped;
        continue;
      }
      // The old format counted expiry from the birth time; migrated items keep what they were
      // promised.
      IndexRecord record;
      record.path = std::string(relative);
      record.dev = entry->dev;
      record.ino = entry->ino;
      record.birth = entry->birth;
      record.tree = entry->tree;
      record.reference = entry->birth;
      Put(std::move(record));
      ++migrated;
    }
    old_folders_.push_back(folder);
  }
  notices_.push_back(Warning{
      WarningKind::kIndexNotice, "",
      absl::StrCat("index ", dir_path_, ": ", migrated,
                   " entries of the old format (one file per item) migrated to day files",
                   dropped > 0 ? absl::StrCat(", ", dropped,
                                              " without identity or outside the remote left to "
                                              "the walk")
                               : "")});
  return absl::OkStatus();
}

const IndexRecord* Index::Find(const Identity& id) const {
  auto it = by_identity_.find(id);
  return it == by_identity_.end() ? nullptr : &records_[it->second];
}

uint64_t Index::protected_count() const {
  return static_cast<uint64_t>(std::count_if(records_.begin(), records_.end(),
                                             [](const IndexRecord& r) { return !r.lifted; }));
}

void Index::Put(IndexRecord record) {
  const Identity id = record.identity();
  Dirty(record);
  auto it = by_identity_.find(id);
  if (it == by_identity_.end()) {
    by_identity_[id] = records_.size();
    records_.push_back(std::move(record));
    return;
  }
  Dirty(records_[it->second]);
  records_[it->second] = std::move(record);
}

void Index::Remove(const Identity& id) {
  auto it = by_identity_.find(id);
  if (it == by_identity_.end()) return;
  const size_t at = it->second;
  Dirty(records_[at]);
  by_identity_.erase(it);
  if (at + 1 != records_.size()) {
    records_[at] = std::move(records_.back());
    by_identity_[records_[at].identity()] = at;
  }
  records_.pop_back();
}

absl::Status Index::Flush() {
  if (dirty_.empty() && old_folders_.empty()) return absl::OkStatus();
  if (!writable_) return absl::FailedPreconditionError("index opened without create");
  std::map<absl::CivilDay, std::vector<IndexRecord>> days;
  for (absl::CivilDay day : dirty_) days[day];
  for (const IndexRecord& record : records_) {
    auto it = days.find(RecordDay(record));
    if (it != days.end()) it->second.push_back(record);
  }
  std::vector<std::string> not_written;
  for (auto& [day, records] : days) {
    const std::string name = DayFileName(day);
    const std::string path = absl::StrCat(dir_path_, "/", name);
    if (unreadable_.contains(day)) {
      not_written.push_back(path);
      continue;
    }
    if (records.empty()) {
      absl::Status removed = fs_.Unlink(dir_.get(), name.c_str(), 0, path);
      if (!removed.ok() && ErrnoOf(removed) != ENOENT) return removed;
      continue;
    }
    XOI_RETURN_IF_ERROR(fs_.WriteFileAtomic(
        dir_.get(), name, EncodeDayFile(day, std::move(records)), 0600, /*sync=*/false, path));
  }
  XOI_RETURN_IF_ERROR(fs_.SyncFilesystem(dir_.get(), dir_path_));
  dirty_.clear();
  // The old format goes only once its records are durable in the new one.
  for (const std::string& folder : old_folders_) {
    const std::string folder_path = absl::StrCat(dir_path_, "/", folder);
    auto day_fd = fs_.OpenAt(dir_.get(), folder.c_str(), O_RDONLY | O_DIRECTORY, folder_path);
    if (!day_fd.ok()) continue;
    std::vector<std::string> names;
    (void)fs_.ListDir(day_fd->get(), folder_path, [&](absl::string_view name, unsigned char) {
      names.emplace_back(name);
      return true;
    });
    for (const std::string& name : names) (void)fs_.Unlink(day_fd->get(), name.c_str(), 0, name);
    (void)fs_.Unlink(dir_.get(), folder.c_str(), AT_REMOVEDIR, folder_path);
  }
  old_folders_.clear();
  if (!not_written.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "not rewritten, being unreadable (their new records are written by a later run): ",
        absl::StrJoin(not_written, ", ")));
  }
  return absl::OkStatus();
}

}  // namespace xoi
