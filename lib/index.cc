#include "lib/index.h"

#include <fcntl.h>
#include <openssl/sha.h>
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
#include "lib/expiry.h"
#include "lib/fs.h"
#include "lib/status.h"

namespace xoi {
namespace {

constexpr absl::string_view kMagic = "xo-immutable-index 2\n";
constexpr size_t kMaxEntrySize = size_t{64} << 10;

// Paths are bytes: control characters and '%' are percent-escaped so that an entry stays one
// field per line whatever the file name holds.
std::string EscapePath(absl::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f || c == '%') {
      absl::StrAppendFormat(&out, "%%%02X", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::optional<std::string> UnescapePath(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size() || !absl::ascii_isxdigit(text[i + 1]) ||
        !absl::ascii_isxdigit(text[i + 2])) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

absl::Status Corrupt(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("index entry: ", why));
}

}  // namespace

std::string EncodeIndexEntry(const IndexEntry& entry) {
  const int64_t ns = absl::ToUnixNanos(entry.birth);
  return absl::StrCat(kMagic, "path ", EscapePath(entry.path), "\n", "dev ", entry.dev, "\n",
                      "ino ", entry.ino, "\n", "birth_ns ", ns, "\n", "kind ",
                      entry.tree ? "tree" : "file", "\n");
}

absl::StatusOr<IndexEntry> DecodeIndexEntry(absl::string_view content) {
  IndexEntry entry;
  if (!absl::StartsWith(content, kMagic)) {
    // XO v1: the content is the absolute path, nothing else.
    absl::string_view path = content;
    if (absl::EndsWith(path, "\n")) path.remove_suffix(1);
    if (path.empty() || path[0] != '/' || path.find('\0') != absl::string_view::npos) {
      return Corrupt("neither a v2 entry nor an absolute path (v1)");
    }
    entry.path = std::string(path);
    return entry;
  }
  content.remove_prefix(kMagic.size());
  bool has_path = false, has_dev = false, has_ino = false, has_birth = false, has_kind = false;
  for (absl::string_view line : absl::StrSplit(content, '\n', absl::SkipEmpty())) {
    const size_t space = line.find(' ');
    if (space == absl::string_view::npos) return Corrupt("line without a value");
    const absl::string_view key = line.substr(0, space);
    const absl::string_view value = line.substr(space + 1);
    if (key == "path") {
      auto path = UnescapePath(value);
      if (!path || path->empty() || (*path)[0] != '/' || path->find('\0') != std::string::npos) {
        return Corrupt("bad path");
      }
      entry.path = *std::move(path);
      has_path = true;
    } else if (key == "dev") {
      if (!absl::SimpleAtoi(value, &entry.dev)) return Corrupt("bad dev");
      has_dev = true;
    } else if (key == "ino") {
      if (!absl::SimpleAtoi(value, &entry.ino)) return Corrupt("bad ino");
      has_ino = true;
    } else if (key == "birth_ns") {
      int64_t ns = 0;
      if (!absl::SimpleAtoi(value, &ns)) return Corrupt("bad birth_ns");
      entry.birth = absl::FromUnixNanos(ns);
      has_birth = true;
    } else if (key == "kind") {
      if (value != "file" && value != "tree") return Corrupt("bad kind");
      entry.tree = value == "tree";
      has_kind = true;
    }  // unknown keys: written by a newer version, ignored
  }
  if (!has_path || !has_dev || !has_ino || !has_birth || !has_kind) {
    return Corrupt("missing field");
  }
  entry.has_identity = true;
  return entry;
}

std::string IndexEntryName(absl::string_view absolute_path) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(absolute_path.data()), absolute_path.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string Index::KeyOf(absl::CivilDay day, absl::string_view name) {
  return absl::StrCat(FormatDay(day), "/", name);
}

absl::StatusOr<std::unique_ptr<Index>> Index::Open(const std::string& index_path,
                                                   const std::string& remote_id, bool create) {
  const std::string dir_path = absl::StrCat(index_path, "/", remote_id);
  if (create) {
    // Create each missing level 0700: the ledger says what is locked and must not be writable by
    // anyone but root.
    std::string prefix;
    for (absl::string_view part : absl::StrSplit(dir_path, '/', absl::SkipEmpty())) {
      absl::StrAppend(&prefix, "/", part);
      XOI_RETURN_IF_ERROR(MakeDir(AT_FDCWD, prefix.c_str(), 0700, prefix));
    }
  }
  Fd dir(open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid() && !(errno == ENOENT && !create)) {
    return ErrnoError(errno, "open index folder", dir_path);
  }
  std::unique_ptr<Index> index(new Index(std::move(dir), dir_path));
  XOI_RETURN_IF_ERROR(index->Load(/*tidy=*/create));  // without create (dry run): no writes
  return index;
}

absl::Status Index::Load(bool tidy) {
  if (!dir_.valid()) return absl::OkStatus();
  std::vector<std::string> days;
  XOI_RETURN_IF_ERROR(ListDir(dir_.get(), dir_path_, [&](absl::string_view name, unsigned char) {
    if (ParseDay(name)) days.emplace_back(name);
    return true;
  }));
  for (const std::string& day : days) {
    const std::string day_path = absl::StrCat(dir_path_, "/", day);
    Fd day_fd(openat(dir_.get(), day.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!day_fd.valid()) return ErrnoError(errno, "open index folder", day_path);
    size_t entries = 0;
    XOI_RETURN_IF_ERROR(ListDir(day_fd.get(), day_path, [&](absl::string_view name, unsigned char) {
      if (name.size() == 64 && name.find_first_not_of("0123456789abcdef") == name.npos) {
        keys_.insert(absl::StrCat(day, "/", name));
        ++entries;
      }
      return true;
    }));
    // An empty day folder is left by an interrupted run; rmdir fails if it is not empty.
    if (tidy && entries == 0) unlinkat(dir_.get(), day.c_str(), AT_REMOVEDIR);
  }
  return absl::OkStatus();
}

bool Index::Contains(absl::CivilDay day, absl::string_view name) const {
  return keys_.contains(KeyOf(day, name));
}

absl::StatusOr<IndexEntry> Index::Read(absl::CivilDay day, absl::string_view name) const {
  const std::string key = KeyOf(day, name);
  auto content = ReadSmallFile(dir_.get(), key.c_str(), kMaxEntrySize,
                               absl::StrCat(dir_path_, "/", key));
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
  XOI_RETURN_IF_ERROR(MakeDir(dir_.get(), day_name.c_str(), 0700, day_path));
  Fd day_fd(openat(dir_.get(), day_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!day_fd.valid()) return ErrnoError(errno, "open index folder", day_path);
  const std::string name = IndexEntryName(entry.path);
  XOI_RETURN_IF_ERROR(WriteFileAtomic(day_fd.get(), name, EncodeIndexEntry(entry), 0600,
                                      /*sync=*/false, absl::StrCat(day_path, "/", name)));
  keys_.insert(KeyOf(day, name));
  dirty_ = true;
  return absl::OkStatus();
}

absl::Status Index::Remove(absl::CivilDay day, absl::string_view name) {
  const std::string key = KeyOf(day, name);
  if (unlinkat(dir_.get(), key.c_str(), 0) != 0 && errno != ENOENT) {
    return ErrnoError(errno, "remove index entry", absl::StrCat(dir_path_, "/", key));
  }
  keys_.erase(key);
  dirty_ = true;
  const std::string day_name = FormatDay(day);
  unlinkat(dir_.get(), day_name.c_str(), AT_REMOVEDIR);  // only succeeds once empty
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
  if (syncfs(dir_.get()) != 0) return ErrnoError(errno, "syncfs", dir_path_);
  dirty_ = false;
  return absl::OkStatus();
}

}  // namespace xoi
