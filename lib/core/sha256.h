// The SHA-256 of a text, in hex: the checksum of the files this program keeps (day files, holds).
#ifndef XOI_LIB_CORE_SHA256_H_
#define XOI_LIB_CORE_SHA256_H_

#include <string>

#include "absl/strings/string_view.h"

namespace xoi {

// 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view text);

}  // namespace xoi

#endif  // XOI_LIB_CORE_SHA256_H_
