#include "lib/report/escape.h"

#include "absl/strings/str_format.h"

namespace xoi {

std::string Printable(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  // Runs of bytes printed as they are go out whole; only the others are escaped one by one.
  size_t run = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        absl::StrAppendFormat(&out, "\\x%02x", c);
    }
  }
  out.append(text.data() + run, text.size() - run);
  return out;
}

}  // namespace xoi
