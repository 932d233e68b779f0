// One entry of the index (lib/fs/index.h): what is recorded about an item this program locked,
// and its text form. Pure: encoding, decoding and the entry's file name.
//
// An entry records the item's absolute path and identity (device, inode, birth time). XO's v1
// entries, whose content is just the absolute path, decode too (without identity).
#ifndef XOI_LIB_CORE_INDEX_ENTRY_H_
#define XOI_LIB_CORE_INDEX_ENTRY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace xoi {

struct IndexEntry {
  std::string path;           // absolute path of the item when it was locked
  bool has_identity = false;  // false for XO v1 entries (path only)
  uint64_t dev = 0;
  uint64_t ino = 0;
  absl::Time birth;
  bool tree = false;  // a directory taken whole

  friend bool operator==(const IndexEntry& a, const IndexEntry& b) {
    return a.path == b.path && a.has_identity == b.has_identity && a.dev == b.dev &&
           a.ino == b.ino && a.birth == b.birth && a.tree == b.tree;
  }
};

std::string EncodeIndexEntry(const IndexEntry& entry);
// InvalidArgument for content that is neither a v2 entry nor a v1 absolute path.
absl::StatusOr<IndexEntry> DecodeIndexEntry(absl::string_view content);

// The entry file name for an item: lowercase hex SHA-256 of its absolute path.
std::string IndexEntryName(absl::string_view absolute_path);

// Where an entry lives: its day folder and file name.
struct IndexKey {
  absl::CivilDay day;
  std::string name;
  bool operator==(const IndexKey& o) const { return day == o.day && name == o.name; }
};

}  // namespace xoi

#endif  // XOI_LIB_CORE_INDEX_ENTRY_H_
