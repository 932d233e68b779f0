#include "lib/fs/audit_log.h"

#include <fcntl.h>
#include <linux/fs.h>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "lib/core/iso_time.h"
#include "lib/core/json_text.h"
#include "lib/core/status.h"
#include "lib/fs/file_system.h"

namespace xoi {

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(FileSystem& fs,
                                                         const std::string& index_path) {
  const std::string path = absl::StrCat(index_path, "/", kAuditLogName);
  XOI_ASSIGN_OR_RETURN(Fd fd, fs.CreateAt(AT_FDCWD, path.c_str(), O_WRONLY | O_APPEND, 0600, path));
  auto set = fs.SetInodeFlag(fd.get(), FS_APPEND_FL, true, /*read_back=*/true, path);
  if (!set.ok()) return set.status();
  return std::unique_ptr<AuditLog>(new AuditLog(fs, std::move(fd), path));
}

absl::Status AuditLog::Append(const AuditRecord& record) { return AppendLines(Line(record)); }

std::string AuditLog::Line(const AuditRecord& record) {
  boost::json::object o;
  o["time"] = IsoTimeMillis(record.time);
  PutText(o, "remote", record.remote);
  PutText(o, "path", record.path);
  o["inode"] = record.inode;
  PutText(o, "action", record.action);
  PutText(o, "reason", record.reason);
  return boost::json::serialize(o) + "\n";
}

absl::Status AuditLog::AppendLines(absl::string_view lines) {
  return fs_.Append(fd_.get(), lines, path_);
}

}  // namespace xoi
