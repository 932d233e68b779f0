#include "lib/audit_log.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "lib/fs.h"
#include "lib/json_text.h"
#include "lib/status.h"

namespace xoi {

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& index_path) {
  const std::string path = absl::StrCat(index_path, "/", kAuditLogName);
  Fd fd(open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoError(errno, "open audit log", path);
  auto set = SetInodeFlag(fd.get(), FS_APPEND_FL, true, path);
  if (!set.ok()) return set.status();
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(fd), path));
}

absl::Status AuditLog::Append(const AuditRecord& record) {
  boost::json::object o;
  o["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", record.time, absl::UTCTimeZone());
  PutText(o, "remote", record.remote);
  PutText(o, "path", record.path);
  o["inode"] = record.inode;
  PutText(o, "action", record.action);
  PutText(o, "reason", record.reason);
  const std::string line = boost::json::serialize(o) + "\n";
  const ssize_t n = write(fd_.get(), line.data(), line.size());
  if (n < 0) return ErrnoError(errno, "append to", path_);
  if (static_cast<size_t>(n) != line.size()) return ErrnoError(ENOSPC, "append to", path_);
  return absl::OkStatus();
}

}  // namespace xoi
