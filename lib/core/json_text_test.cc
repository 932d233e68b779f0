// File names are bytes; JSON must be UTF-8. What ToUtf8 keeps, what it replaces, and that
// PutText never loses the exact bytes.
#include "lib/core/json_text.h"

#include <string>

#include "gtest/gtest.h"

namespace xoi {
namespace {

struct Case {
  const char* name;
  std::string in;
  std::string out;
  bool valid;
};

TEST(ToUtf8Test, KeepsValidUtf8AndReplacesEveryOtherByte) {
  const std::string kFffd = "\xEF\xBF\xBD";
  const Case cases[] = {
      {"empty", "", "", true},
      {"ascii", "xo-vm-backups/vm1/20260101T000000Z.json",
       "xo-vm-backups/vm1/20260101T000000Z.json", true},
      {"control bytes are valid UTF-8", std::string("a\nb\0c", 5), std::string("a\nb\0c", 5), true},
      {"two bytes", "caf\xC3\xA9", "caf\xC3\xA9", true},
      {"three bytes", "\xE2\x82\xAC", "\xE2\x82\xAC", true},
      {"four bytes", "\xF0\x9F\x92\xBE", "\xF0\x9F\x92\xBE", true},
      {"latin-1 after an ascii run", "backup-caf\xE9.xva", "backup-caf" + kFffd + ".xva", false},
      {"latin-1 first", "\xE9t\xE9", kFffd + "t" + kFffd, false},
      {"overlong two bytes", "\xC0\xAF", kFffd + kFffd, false},
      {"overlong three bytes", "\xE0\x80\xAF", kFffd + kFffd + kFffd, false},
      {"surrogate", "\xED\xA0\x80", kFffd + kFffd + kFffd, false},
      {"above U+10FFFF", "\xF4\x90\x80\x80", kFffd + kFffd + kFffd + kFffd, false},
      {"truncated at the end", "ab\xE2\x82", "ab" + kFffd + kFffd, false},
      {"lone continuation byte", "a\x80z", "a" + kFffd + "z", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    bool valid = !c.valid;
    EXPECT_EQ(ToUtf8(c.in, &valid), c.out);
    EXPECT_EQ(valid, c.valid);
  }
}

TEST(PutTextTest, InvalidUtf8KeepsItsExactBytesBesideTheReadableText) {
  boost::json::object o;
  PutText(o, "path", "ok/name");
  PutText(o, "reason", "bad \xFF name");
  EXPECT_EQ(o.at("path").as_string(), "ok/name");
  EXPECT_FALSE(o.contains("path_base64"));
  EXPECT_EQ(o.at("reason").as_string(), "bad \xEF\xBF\xBD name");
  EXPECT_EQ(o.at("reason_base64").as_string(), "YmFkIP8gbmFtZQ==");
}

}  // namespace
}  // namespace xoi
