#include "lib/core/index_entry.h"

#include <openssl/sha.h>

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace xoi {
namespace {

constexpr absl::string_view kMagic = "xo-immutable-index 2\n";

// Paths are bytes: control characters and '%' are percent-escaped so that an entry stays one
// field per line whatever the file name holds.
std::string EscapePath(absl::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f || c == '%') {
      absl::StrAppendFormat(&out, "%%%02X", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::optional<std::string> UnescapePath(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size() || !absl::ascii_isxdigit(text[i + 1]) ||
        !absl::ascii_isxdigit(text[i + 2])) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

absl::Status Corrupt(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("index entry: ", why));
}

}  // namespace

std::string EncodeIndexEntry(const IndexEntry& entry) {
  const int64_t ns = absl::ToUnixNanos(entry.birth);
  return absl::StrCat(kMagic, "path ", EscapePath(entry.path), "\n", "dev ", entry.dev, "\n",
                      "ino ", entry.ino, "\n", "birth_ns ", ns, "\n", "kind ",
                      entry.tree ? "tree" : "file", "\n");
}

absl::StatusOr<IndexEntry> DecodeIndexEntry(absl::string_view content) {
  IndexEntry entry;
  if (!absl::StartsWith(content, kMagic)) {
    // XO v1: the content is the absolute path, nothing else.
    absl::string_view path = content;
    if (absl::EndsWith(path, "\n")) path.remove_suffix(1);
    if (path.empty() || path[0] != '/' || path.find('\0') != absl::string_view::npos) {
      return Corrupt("neither a v2 entry nor an absolute path (v1)");
    }
    entry.path = std::string(path);
    return entry;
  }
  content.remove_prefix(kMagic.size());
  bool has_path = false, has_dev = false, has_ino = false, has_birth = false, has_kind = false;
  for (absl::string_view line : absl::StrSplit(content, '\n', absl::SkipEmpty())) {
    const size_t space = line.find(' ');
    if (space == absl::string_view::npos) return Corrupt("line without a value");
    const absl::string_view key = line.substr(0, space);
    const absl::string_view value = line.substr(space + 1);
    if (key == "path") {
      auto path = UnescapePath(value);
      if (!path || path->empty() || (*path)[0] != '/' || path->find('\0') != std::string::npos) {
        return Corrupt("bad path");
      }
      entry.path = *std::move(path);
      has_path = true;
    } else if (key == "dev") {
      if (!absl::SimpleAtoi(value, &entry.dev)) return Corrupt("bad dev");
      has_dev = true;
    } else if (key == "ino") {
      if (!absl::SimpleAtoi(value, &entry.ino)) return Corrupt("bad ino");
      has_ino = true;
    } else if (key == "birth_ns") {
      int64_t ns = 0;
      if (!absl::SimpleAtoi(value, &ns)) return Corrupt("bad birth_ns");
      entry.birth = absl::FromUnixNanos(ns);
      has_birth = true;
    } else if (key == "kind") {
      if (value != "file" && value != "tree") return Corrupt("bad kind");
      entry.tree = value == "tree";
      has_kind = true;
    }  // unknown keys: written by a newer version, ignored
  }
  if (!has_path || !has_dev || !has_ino || !has_birth || !has_kind) {
    return Corrupt("missing field");
  }
  entry.has_identity = true;
  return entry;
}

std::string IndexEntryName(absl::string_view absolute_path) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(absolute_path.data()), absolute_path.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace xoi
