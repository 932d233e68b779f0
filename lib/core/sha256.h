// The SHA-256 of a text, in hex: the checksum of the files this program keeps (day files, holds).
#ifndef XOI_LIB_CORE_SHA256_H_
#define XOI_LIB_CORE_SHA256_H_

#include <string>

#include "absl/strings/string_view.h"

namespace xoi {

// 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view text);

// The same over a text given in pieces.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view piece);
  // 64 lowercase hex digits of everything given so far.
  std::string HexDigest();

 private:
  void* ctx_;  // EVP_MD_CTX
};

}  // namespace xoi

#endif  // XOI_LIB_CORE_SHA256_H_
