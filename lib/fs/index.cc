#include "lib/fs/index.h"

#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <map>
#include <tuple>

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
// No record line is shorter (nine fields, eight tabs, a newline).
constexpr size_t kMinRecordBytes = 18;
// Day files are read in pieces of this size, whatever their size.
constexpr uint64_t kReadChunk = uint64_t{256} << 10;

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
  std::vector<absl::CivilDay> days;
  std::vector<std::string> old_folders, leftovers;
  XOI_RETURN_IF_ERROR(
      fs_.ListDir(dir_.get(), dir_path_, [&](absl::string_view name, unsigned char type) {
        absl::string_view stem = name;
        if ((absl::StartsWith(name, ".") && absl::StrContains(name, ".idx.tmp-")) ||
            (type == DT_REG && IsTemporaryOfAGoneProcess(name))) {
          leftovers.emplace_back(name);
        } else if (absl::ConsumeSuffix(&stem, ".idx")) {
          if (auto day = ParseDay(stem)) days.push_back(*day);
        } else if (ParseDay(name) && (type == DT_DIR || type == DT_UNKNOWN)) {
          old_folders.emplace_back(name);
        }
        return true;
      }));
  // The temporary file of a rewrite killed before its rename: never read (the day file it would
  // have replaced is intact), removed by whoever holds the remote's lock, so that they do not pile
  // up. So are the other state files' temporaries here (".holds.tmp-<pid>") of processes that are
  // gone: this is the one listing of the folder a run makes.
  if (writable_) {
    for (const std::string& name : leftovers) {
      (void)fs_.Unlink(dir_.get(), name.c_str(), 0, absl::StrCat(dir_path_, "/", name));
    }
  }
  for (absl::CivilDay day : days) LoadDay(day);
  // One summary an identity: a run killed between two rewrites can leave an inode in two days;
  // the later reference is the one its last protection set, and the stale day is rewritten.
  std::sort(loaded_.begin(), loaded_.end(), [](const RecordSummary& a, const RecordSummary& b) {
    return std::tuple(a.identity().ino, a.identity().birth_ns, a.reference()) <
           std::tuple(b.identity().ino, b.identity().birth_ns, b.reference());
  });
  size_t kept = 0;
  for (size_t i = 0; i < loaded_.size(); ++i) {
    if (i + 1 < loaded_.size() && loaded_[i + 1].identity() == loaded_[i].identity()) {
      Dirty(loaded_[i].day());
      continue;
    }
    loaded_[kept++] = loaded_[i];
  }
  loaded_.resize(kept);
  // Each day reserved what its header announced: a copy to give back the room of the few
  // duplicates would cost more (both copies at once) than it saves.
  if (loaded_.capacity() - kept > kept / 4) loaded_.shrink_to_fit();
  BuildBuckets();
  // A sorted vector of exactly their number, not a hash set: a remote whose every item was lifted
  // (a million junk files an attacker leaves in place) took 16 MB of hash table while it grew.
  lifted_paths_.reserve(static_cast<size_t>(std::count_if(
      loaded_.begin(), loaded_.end(), [](const RecordSummary& r) { return r.lifted(); })));
  for (const RecordSummary& r : loaded_) {
    if (r.lifted()) lifted_paths_.push_back(r.path_key());
  }
  std::sort(lifted_paths_.begin(), lifted_paths_.end());
  if (!old_folders.empty()) XOI_RETURN_IF_ERROR(Migrate(root, old_folders));
  return absl::OkStatus();
}

absl::Status Index::ReadDay(absl::CivilDay day, std::function<void(IndexRecord)> sink,
                            std::function<void(size_t)> announced) const {
  const std::string name = DayFileName(day);
  const std::string path = absl::StrCat(dir_path_, "/", name);
  XOI_ASSIGN_OR_RETURN(Fd fd, fs_.OpenAt(dir_.get(), name.c_str(), O_RDONLY, path));
  XOI_ASSIGN_OR_RETURN(FileStat st, fs_.StatFd(fd.get(), path));
  if (!st.is_regular() || st.size > kMaxDayFileSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(FileTypeName(st.mode), " of ", st.size, " bytes: not a day file"));
  }
  bool told = announced == nullptr;
  DayFileDecoder decoder(day, [&](IndexRecord record) {
    // A damaged header announcing more records than the file can hold is found out by the
    // decoder; until then it must not make anyone reserve room for them.
    if (!told) announced(std::min<uint64_t>(decoder.announced(), st.size / kMinRecordBytes));
    told = true;
    sink(std::move(record));
  });
  std::string buffer(std::min<uint64_t>(st.size, kReadChunk), '\0');
  for (uint64_t offset = 0; offset < st.size;) {
    const size_t size = static_cast<size_t>(std::min<uint64_t>(st.size - offset, kReadChunk));
    XOI_RETURN_IF_ERROR(fs_.PRead(fd.get(), offset, buffer.data(), size, path));
    XOI_RETURN_IF_ERROR(decoder.Feed(absl::string_view(buffer.data(), size)));
    offset += size;
  }
  return decoder.Finish();
}

void Index::LoadDay(absl::CivilDay day) {
  const size_t before = loaded_.size();
  const absl::Status read = ReadDay(
      day, [&](IndexRecord record) { loaded_.emplace_back(record); },
      [&](size_t announced) {
        // Room for the whole day at once, not a doubling vector's two copies.
        const size_t wanted = before + announced;
        if (wanted > loaded_.capacity()) {
          loaded_.reserve(std::max(wanted, loaded_.capacity() + loaded_.capacity() / 2));
        }
      });
  if (read.ok()) return;
  loaded_.resize(before);  // nothing of a day that is not whole
  if (ErrnoOf(read) == ENOENT) return;
  if (read.code() == absl::StatusCode::kInvalidArgument || ErrnoOf(read) == ELOOP ||
      ErrnoOf(read) == EFBIG || ErrnoOf(read) == EINVAL) {
    SetAside(day, read.message());
    return;
  }
  // A day that cannot be read now (an I/O error) is left out, like a damaged one (nothing is
  // lifted from it, and what it holds that is still locked is adopted again), but it is neither
  // set aside nor ever rewritten from what little this run knows of it: the next run reads it.
  notices_.push_back(
      Warning{WarningKind::kIndexEntryUnreadable, "",
              absl::StrCat("index ", dir_path_, "/", DayFileName(day), " cannot be read now (",
                           read.message(), "): left out of this run, and not rewritten")});
  unreadable_.insert(day);
}

void Index::SetAside(absl::CivilDay day, absl::string_view why) {
  const std::string name = DayFileName(day);
  const std::string path = absl::StrCat(dir_path_, "/", name);
  // Never lifted from: what it held that is still locked is re-indexed from the walk. Kept aside
  // for whoever wants to look, and out of the way of the day's next rewrite.
  notices_.push_back(
      Warning{WarningKind::kIndexEntryUnreadable, "",
              absl::StrCat("index ", path, " is unusable (", why,
                           "): its items are re-indexed from the walk, never lifted from it")});
  if (!writable_) return;
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

absl::Status Index::Migrate(const std::string& root, const std::vector<std::string>& folders) {
  size_t migrated = 0, path_only = 0, dropped = 0;
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
      if (entry.ok() && !entry->has_identity) {
        ++path_only;
        continue;
      }
      if (!entry.ok() || !absl::ConsumePrefix(&relative, root + "/") || !IsRemotePath(relative) ||
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
      absl::StrCat(
          "index ", dir_path_, ": ", migrated,
          " entries of the old format (one file per item) migrated to day files",
          path_only > 0
              ? absl::StrCat(", ", path_only, " path-only ", path_only == 1 ? "entry" : "entries",
                             " of XO's daemon (its index is imported on its own) removed")
              : "",
          dropped > 0 ? absl::StrCat(", ", dropped,
                                     " unreadable, repeated or outside the remote: what they "
                                     "name is left to the walk")
                      : "")});
  return absl::OkStatus();
}

void Index::BuildBuckets() {
  buckets_.clear();
  if (loaded_.empty()) return;
  // About four records a bucket (one byte a record more, at most 2^18 buckets: 1 MiB): a lookup
  // reads two or three cache lines of the bucket's records. One a bucket cost 4 MiB at a million
  // items, as much as a run's margin under 64 MiB on the 10M-path remote.
  size_t count = 1;
  while (count * 4 < loaded_.size() && count < (size_t{1} << 18)) count <<= 1;
  // Over the span of inode numbers in use: a filesystem numbers the inodes of one folder, or of
  // one backup, close together, far from zero.
  bucket_base_ = loaded_.front().identity().ino;
  const uint64_t span = loaded_.back().identity().ino - bucket_base_;
  bucket_shift_ = 0;
  while (bucket_shift_ < 63 && (span >> bucket_shift_) >= count) ++bucket_shift_;
  buckets_.resize(count + 1);
  size_t slot = 0;
  for (size_t b = 0; b <= count; ++b) {
    while (slot < loaded_.size() &&
           ((loaded_[slot].identity().ino - bucket_base_) >> bucket_shift_) < b) {
      ++slot;
    }
    buckets_[b] = static_cast<uint32_t>(slot);
  }
}

const RecordSummary* Index::FindLoaded(const Identity& id) const {
  if (buckets_.empty() || id.ino < bucket_base_) return nullptr;
  const uint64_t b = (id.ino - bucket_base_) >> bucket_shift_;
  if (b + 1 >= buckets_.size()) return nullptr;  // beyond the largest inode number
  const auto first = loaded_.begin() + buckets_[b];
  const auto last = loaded_.begin() + buckets_[b + 1];
  auto it = std::lower_bound(first, last, id, [](const RecordSummary& s, const Identity& id) {
    const Identity a = s.identity();
    return std::tie(a.ino, a.birth_ns) < std::tie(id.ino, id.birth_ns);
  });
  return it != last && it->identity() == id ? &*it : nullptr;
}

const RecordSummary* Index::Find(const Identity& id) const {
  if (!changes_.empty()) {
    auto it = changes_.find(id);
    if (it != changes_.end()) return it->second.record ? &it->second.summary : nullptr;
  }
  return FindLoaded(id);
}

size_t Index::Slot(const RecordSummary& summary) const {
  if (loaded_.empty() || &summary < loaded_.data() || &summary >= loaded_.data() + loaded_.size()) {
    return kNoSlot;
  }
  return static_cast<size_t>(&summary - loaded_.data());
}

const RecordSummary* Index::Current(absl::CivilDay day, const IndexRecord& record) const {
  const Identity id = record.identity();
  if (changes_.contains(id)) return nullptr;
  const RecordSummary* summary = FindLoaded(id);
  return summary != nullptr && summary->day() == day && summary->IsAt(record.path) ? summary
                                                                                   : nullptr;
}

absl::Status Index::ForEach(absl::FunctionRef<bool(const RecordSummary&)> wanted,
                            absl::FunctionRef<void(const IndexRecord&)> visit) const {
  std::set<absl::CivilDay> days;
  for (const RecordSummary& summary : loaded_) {
    if (!changes_.contains(summary.identity()) && wanted(summary)) days.insert(summary.day());
  }
  for (absl::CivilDay day : days) {
    // The day was read whole and intact by Open; a record is passed on only when it is the one
    // its summary (taken then) stands for, so a file damaged since yields nothing it did not hold.
    XOI_RETURN_IF_ERROR(ReadDay(day, [&](const IndexRecord& record) {
      const RecordSummary* summary = Current(day, record);
      if (summary != nullptr && wanted(*summary)) visit(record);
    }));
  }
  for (const auto& [id, change] : changes_) {
    if (change.record && wanted(change.summary)) visit(*change.record);
  }
  return absl::OkStatus();
}

uint64_t Index::protected_count() const {
  uint64_t count = 0;
  for (const RecordSummary& summary : loaded_) {
    if (!summary.lifted() && !changes_.contains(summary.identity())) ++count;
  }
  for (const auto& [id, change] : changes_) {
    if (change.record && !change.record->lifted) ++count;
  }
  return count;
}

void Index::Put(IndexRecord record) {
  const Identity id = record.identity();
  std::lock_guard<std::mutex> lock(changes_mu_);
  if (const RecordSummary* before = Find(id)) Dirty(before->day());
  Dirty(RecordDay(record));
  RecordSummary summary(record);
  changes_[id] = Change{std::move(record), summary};
}

void Index::Remove(const Identity& id) {
  std::lock_guard<std::mutex> lock(changes_mu_);
  const RecordSummary* before = Find(id);
  if (before == nullptr) return;
  Dirty(before->day());
  changes_[id] = Change{std::nullopt, RecordSummary()};
}

absl::Status Index::Flush() {
  if (dirty_.empty() && old_folders_.empty()) return absl::OkStatus();
  if (!writable_) return absl::FailedPreconditionError("index opened without create");
  std::map<absl::CivilDay, std::vector<const IndexRecord*>> changed;
  for (const auto& [id, change] : changes_) {
    if (change.record && dirty_.contains(RecordDay(*change.record))) {
      changed[RecordDay(*change.record)].push_back(&*change.record);
    }
  }
  std::vector<std::string> not_written;
  for (absl::CivilDay day : dirty_) {
    const std::string name = DayFileName(day);
    const std::string path = absl::StrCat(dir_path_, "/", name);
    if (unreadable_.contains(day)) {
      not_written.push_back(path);
      continue;
    }
    // What the day holds now: its records that no change replaced, merged as a stream with the
    // changes of it (a run's changes are bounded by its budget; a day's records are not). The
    // day file is read twice, to count what is kept for the header and then to write it, never
    // held.
    std::vector<const IndexRecord*> changes = std::move(changed[day]);
    std::sort(changes.begin(), changes.end(),
              [](const IndexRecord* a, const IndexRecord* b) { return DayFileOrder(*a, *b); });
    size_t kept = 0;
    absl::Status read =
        ReadDay(day, [&](IndexRecord record) { kept += Current(day, record) != nullptr; });
    // Gone, or damaged and left in place (its records were left out at Open): the changes alone.
    if (!read.ok() && ErrnoOf(read) != ENOENT &&
        read.code() != absl::StatusCode::kInvalidArgument) {
      return read;
    }
    const bool merge = read.ok();
    if (!merge) kept = 0;
    if (kept + changes.size() == 0) {
      absl::Status removed = fs_.Unlink(dir_.get(), name.c_str(), 0, path);
      if (!removed.ok() && ErrnoOf(removed) != ENOENT) return removed;
      continue;
    }
    XOI_RETURN_IF_ERROR(fs_.WriteFileAtomicFrom(
        dir_.get(), name,
        [&](FileSystem::ContentWriter write) -> absl::Status {
          constexpr size_t kPiece = size_t{64} << 10;
          DayFileEncoder encoder(day, kept + changes.size());
          absl::Status written;
          auto add = [&](const IndexRecord& record) {
            encoder.Add(record);
            if (written.ok() && encoder.pending() >= kPiece) written = write(encoder.TakeBytes());
          };
          size_t next = 0;
          if (merge) {
            XOI_RETURN_IF_ERROR(ReadDay(day, [&](IndexRecord record) {
              if (Current(day, record) == nullptr) return;
              while (next < changes.size() && DayFileOrder(*changes[next], record)) {
                add(*changes[next++]);
              }
              add(record);
            }));
          }
          while (next < changes.size()) add(*changes[next++]);
          XOI_RETURN_IF_ERROR(written);
          XOI_RETURN_IF_ERROR(write(encoder.TakeBytes()));
          XOI_ASSIGN_OR_RETURN(std::string last, encoder.Finish());
          return write(last);
        },
        0600, /*sync=*/false, path));
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
