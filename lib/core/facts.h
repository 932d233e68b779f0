// What the engine knows about the inodes of a remote: the facts its rules decide on.
//
// These are plain values, filled by the filesystem layer (lib/fs) and read by the rules
// (lib/core/rules.h); nothing here touches a file.
#ifndef XOI_LIB_CORE_FACTS_H_
#define XOI_LIB_CORE_FACTS_H_

#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace xoi {

// What statx tells about one inode, reduced to what the engine decides on.
struct FileStat {
  uint32_t mode = 0;  // type and permission bits (S_IFMT ...)
  uint64_t ino = 0;
  uint64_t dev = 0;  // makedev(stx_dev_major, stx_dev_minor)
  uint32_t nlink = 0;
  uint64_t size = 0;
  absl::Time ctime;
  absl::Time birth;        // stx_btime; ctime when the filesystem has no birth time
  bool has_btime = false;  // false: `birth` is the ctime
  bool immutable = false;
  bool immutable_known = false;  // stx_attributes_mask has the immutable bit
  // Something is mounted on this name (STATX_ATTR_MOUNT_ROOT): a bind mount of a file or folder,
  // possibly from outside the remote on the same filesystem, which the device cannot tell.
  bool mount_root = false;

  bool is_regular() const { return S_ISREG(mode); }
  bool is_dir() const { return S_ISDIR(mode); }
  bool is_symlink() const { return S_ISLNK(mode); }
  // Same inode as `other`: inode number and birth time (device numbers can change on reboot).
  bool SameIdentity(const FileStat& other) const {
    return ino == other.ino && birth == other.birth;
  }
};

// A short description of a file type for messages: "regular file", "symlink", "FIFO", ...
absl::string_view FileTypeName(uint32_t mode);

// A name some backup pattern matches, of the right type to be an item, as the walk found it.
struct Candidate {
  std::string path;  // relative to the remote root
  FileStat stat;
  bool tree = false;  // a directory taken whole (tree pattern); else a regular file
};

// What a walk cost, for reports and benchmarks.
struct WalkStats {
  uint64_t dirs_listed = 0;
  uint64_t literal_lookups = 0;
  uint64_t statx_calls = 0;
};

}  // namespace xoi

#endif  // XOI_LIB_CORE_FACTS_H_
