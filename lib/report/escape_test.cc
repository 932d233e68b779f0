// What Printable makes of text that came from the remote: one unambiguous line, nothing else
// changed.
#include "lib/report/escape.h"

#include <string>

#include "gtest/gtest.h"

namespace xoi {
namespace {

TEST(PrintableTest, EscapesWhatCouldForgeALineAndKeepsTheRest) {
  const struct {
    std::string in;
    std::string out;
  } cases[] = {
      {"", ""},
      {"xo-vm-backups/vm1/20260101T000000Z.xva", "xo-vm-backups/vm1/20260101T000000Z.xva"},
      {"quotes \"and\" 'spaces' stay", "quotes \"and\" 'spaces' stay"},
      {"a\nb", "a\\nb"},
      {"\n<3>forged line", "\\n<3>forged line"},
      {"tab\there\r", "tab\\there\\r"},
      {"back\\slash", "back\\\\slash"},
      {"esc\x1b[31m", "esc\\x1b[31m"},
      {std::string("nul\0byte", 8), "nul\\x00byte"},
      {"del\x7f", "del\\x7f"},
      {"caf\xC3\xA9", "caf\\xc3\\xa9"},
      {"\\n", "\\\\n"},  // a literal backslash-n is not read back as a newline
  };
  for (const auto& c : cases) EXPECT_EQ(Printable(c.in), c.out) << c.in;
}

}  // namespace
}  // namespace xoi
