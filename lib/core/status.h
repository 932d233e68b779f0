// Small helpers around absl::Status shared by every piece of the engine.
//
// Every OS error becomes a Status through ErrnoError(), so that each message names the operation
// and the path it failed on ("statx xo-vm-backups/x.xva: No such file or directory").
#ifndef XOI_LIB_CORE_STATUS_H_
#define XOI_LIB_CORE_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace xoi {

// Returns a Status for errno value `err` whose message is "<op> <path>: <strerror>". The code is
// absl's mapping of errno (ENOENT -> NotFound, EPERM/EACCES -> PermissionDenied, ...); the errno
// itself is kept in the payload and returned by ErrnoOf().
absl::Status ErrnoError(int err, absl::string_view op, absl::string_view path);

// The errno a Status made by ErrnoError() carries, or 0.
int ErrnoOf(const absl::Status& status);

}  // namespace xoi

#define XOI_STATUS_CONCAT_INNER_(a, b) a##b
#define XOI_STATUS_CONCAT_(a, b) XOI_STATUS_CONCAT_INNER_(a, b)

// Returns from the current function with the Status of `expr` when it is not OK.
#define XOI_RETURN_IF_ERROR(expr)              \
  do {                                         \
    absl::Status xoi_status_ = (expr);         \
    if (!xoi_status_.ok()) return xoi_status_; \
  } while (0)

// `lhs = value of expr` for an absl::StatusOr expression, or returns its Status.
#define XOI_ASSIGN_OR_RETURN(lhs, expr) \
  XOI_ASSIGN_OR_RETURN_IMPL_(XOI_STATUS_CONCAT_(xoi_statusor_, __LINE__), lhs, expr)
#define XOI_ASSIGN_OR_RETURN_IMPL_(var, lhs, expr) \
  auto var = (expr);                               \
  if (!var.ok()) return std::move(var).status();   \
  lhs = std::move(var).value()

#endif  // XOI_LIB_CORE_STATUS_H_
