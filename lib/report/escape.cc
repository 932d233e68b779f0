#include "lib/report/escape.h"

#include "absl/strings/escaping.h"

namespace xoi {

std::string PrintablePath(absl::string_view path) { return absl::CHexEscape(path); }

}  // namespace xoi
