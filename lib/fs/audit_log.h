// The audit log: every flag change, appended to <indexPath>/audit.log as one JSON line
// ({"time","remote","path","inode","action","reason"}). The file is opened append-only and carries
// the append-only attribute (chattr +a), so that not even a root process running this program can
// rewrite history without first lifting the attribute.
#ifndef XOI_LIB_FS_AUDIT_LOG_H_
#define XOI_LIB_FS_AUDIT_LOG_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/fs/fd.h"
#include "lib/fs/file_system.h"

namespace xoi {

inline constexpr char kAuditLogName[] = "audit.log";

struct AuditRecord {
  absl::Time time;
  absl::string_view remote;
  absl::string_view path;  // absolute path of the item, or a description for global events
  uint64_t inode = 0;
  absl::string_view action;  // protect, reprotect, lift, write-marker, clear-time-shift, ...
  absl::string_view reason;
};

class AuditLog {
 public:
  // Opens (creating 0600) <index_path>/audit.log for appending and sets its append-only attribute.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(FileSystem& fs,
                                                        const std::string& index_path);

  // Appends one line with a single write(2), so lines never interleave between processes.
  absl::Status Append(const AuditRecord& record);

  // The line Append() writes for `record`, newline included.
  static std::string Line(const AuditRecord& record);

  // Appends whole lines (Line()s, concatenated) with a single write(2): a run that changes a
  // million flags writes its lines in batches, not one system call each.
  absl::Status AppendLines(absl::string_view lines);

  const std::string& path() const { return path_; }

 private:
  AuditLog(FileSystem& fs, Fd fd, std::string path)
      : fs_(fs), fd_(std::move(fd)), path_(std::move(path)) {}
  FileSystem& fs_;
  Fd fd_;
  std::string path_;
};

}  // namespace xoi

#endif  // XOI_LIB_FS_AUDIT_LOG_H_
