#include "lib/core/status.h"

#include <cstring>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace xoi {
namespace {
constexpr char kErrnoPayload[] = "xoi/errno";
}  // namespace

absl::Status ErrnoError(int err, absl::string_view op, absl::string_view path) {
  absl::Status status = absl::ErrnoToStatus(err, absl::StrCat(op, " ", path));
  status.SetPayload(kErrnoPayload, absl::Cord(absl::StrCat(err)));
  return status;
}

int ErrnoOf(const absl::Status& status) {
  auto payload = status.GetPayload(kErrnoPayload);
  int err = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &err)) return 0;
  return err;
}

}  // namespace xoi
