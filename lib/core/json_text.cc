#include "lib/core/json_text.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace xoi {
namespace {

// Length of the valid UTF-8 sequence at the start of `s`, or 0.
size_t Utf8SequenceLength(absl::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  if (b(0) < 0x80) return 1;
  if (b(0) >= 0xC2 && b(0) <= 0xDF && cont(1)) return 2;
  if (b(0) >= 0xE0 && b(0) <= 0xEF && cont(1) && cont(2)) {
    if (b(0) == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (b(0) == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (b(0) >= 0xF0 && b(0) <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    if (b(0) == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (b(0) == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

std::string ToUtf8(absl::string_view s, bool* valid) {
  *valid = true;
  // Names are almost always ASCII: copied whole up to the first byte that is not (every audit
  // line of a first protection goes through here, a million of them for a large remote).
  size_t i = 0;
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  std::string out(s.substr(0, i));
  if (i == s.size()) return out;
  out.reserve(s.size());
  while (i < s.size()) {
    const size_t n = Utf8SequenceLength(s.substr(i));
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      *valid = false;
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

void PutText(boost::json::object& obj, absl::string_view key, absl::string_view value) {
  bool valid = true;
  obj[JsonView(key)] = ToUtf8(value, &valid);
  if (!valid) obj[absl::StrCat(key, "_base64")] = absl::Base64Escape(value);
}

}  // namespace xoi
