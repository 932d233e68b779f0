// Can this remote be protected? The capabilities the program needs, the filesystem's support for
// the immutable attribute, and whether the root is still the filesystem seen before (a remote
// whose disk is not mounted shows an empty folder of the parent filesystem instead).
#ifndef XOI_LIB_FS_PROBES_H_
#define XOI_LIB_FS_PROBES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/fs/file_system.h"

namespace xoi {

// The capabilities missing from the effective set, by name ("CAP_LINUX_IMMUTABLE", ...): the
// program needs CAP_LINUX_IMMUTABLE (set and clear the flag), CAP_FOWNER (on files it does not
// own), CAP_DAC_READ_SEARCH (read every folder and file) and CAP_LEASE (check for writers).
std::vector<std::string> MissingCapabilities();

// Checks that the filesystem of the directory `root_fd` supports the immutable attribute and
// reports it through statx. Unless `read_only`, also sets and clears the flag on an unnamed
// O_TMPFILE inode, which vanishes by itself if the program is killed (XO's start-up test leaves a
// named file behind instead). FailedPrecondition with the reason when it does not.
absl::Status CheckImmutableSupport(FileSystem& fs, int root_fd, const std::string& root,
                                   bool read_only);

// FailedPrecondition when the filesystem of the directory `root_fd` is mounted read-only (no flag
// can be set or cleared there; a service unit without ReadWritePaths= for it is the usual cause).
absl::Status CheckMountedReadWrite(int root_fd, const std::string& root);

// Whether this process, with its capabilities, may create files in the directory `dir_fd` (false
// only when the kernel says EACCES).
bool MayCreateFilesIn(int dir_fd);

// The path of the open directory `dir_fd` as the kernel resolved it (symlinks followed), from
// /proc/self/fd: a root configured as a symlink is judged by where it leads.
absl::StatusOr<std::string> ResolvedPath(int dir_fd);

// Where the open directory `dir_fd` lies in its filesystem, whichever mount shows it: the
// filesystem's device ("major:minor", as /proc/self/mountinfo names it) and the path below that
// filesystem's own root. A folder bind-mounted elsewhere has the same place under both names, so
// two roots that overlap only through a bind mount are told apart from two that do not.
struct FilesystemPlace {
  std::string device;
  std::string path;
};
absl::StatusOr<FilesystemPlace> PlaceInFilesystem(int dir_fd);

// A field of /proc/self/mountinfo as the path it stands for (the kernel writes ' ' as \040, ...).
std::string UnescapeMountinfo(absl::string_view field);

// Who the filesystem holding a remote's root is, so that a run can tell the remote's disk from the
// empty folder of the parent filesystem an unmounted disk leaves behind. `current` is the
// filesystem's UUID (FS_IOC_GETFSUUID) where the kernel gives it, else the root folder's own inode
// and birth time: both survive reboots and disks renumbered by dm, LVM, iSCSI or loop. `legacy` is
// what earlier versions recorded (f_fsid, which XFS derives from the device number): a record of
// that form is accepted once and replaced by `current`.
struct FilesystemIdentity {
  std::string current;
  std::string legacy;
};

absl::StatusOr<FilesystemIdentity> IdentifyFilesystem(FileSystem& fs, int root_fd,
                                                      const std::string& root);

}  // namespace xoi

#endif  // XOI_LIB_FS_PROBES_H_
