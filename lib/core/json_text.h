// Byte strings (file names) into JSON, which must be valid UTF-8.
#ifndef XOI_LIB_CORE_JSON_TEXT_H_
#define XOI_LIB_CORE_JSON_TEXT_H_

#include <boost/json.hpp>
#include <string>

#include "absl/strings/string_view.h"

namespace xoi {

// `s` with every byte that is not part of valid UTF-8 replaced by U+FFFD; *valid tells whether
// anything was replaced.
std::string ToUtf8(absl::string_view s, bool* valid);

// Sets obj[key] to `value` as valid UTF-8; when `value` was not valid UTF-8, also sets
// obj["<key>_base64"] to its exact bytes, so nothing is lost.
void PutText(boost::json::object& obj, absl::string_view key, absl::string_view value);

inline boost::json::string_view JsonView(absl::string_view s) {
  return boost::json::string_view(s.data(), s.size());
}

}  // namespace xoi

#endif  // XOI_LIB_CORE_JSON_TEXT_H_
