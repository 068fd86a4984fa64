#include "api/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <set>

namespace fathom::api {
namespace {

std::array<unsigned char, 32> digest_of(std::string_view text) {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_digest(std::string_view hex, std::array<unsigned char, 32>& out) noexcept {
  if (hex.size() != 64) return false;
  for (size_t byte_idx = 0; byte_idx < 32; ++byte_idx) {
    const int hi = hex_value(hex[2 * byte_idx]);
    const int lo = hex_value(hex[2 * byte_idx + 1]);
    if (hi < 0 || lo < 0) return false;
    out[byte_idx] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

std::string sha256_hex(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::array<unsigned char, 32> d = digest_of(text);
  std::string out;
  out.reserve(64);
  for (const unsigned char b : d) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::string new_token() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::array<unsigned char, 33> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) return {};
  // 33 bytes = 264 bits = 44 base64 characters; the last one carries the 33rd byte's rest.
  std::string out;
  for (size_t i = 0; i < raw.size(); i += 3) {
    const uint32_t v = uint32_t{raw[i]} << 16 | uint32_t{raw[i + 1]} << 8 | raw[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  return out;
}

bool TokenTable::assign(std::vector<TokenConfig> tokens, std::string& error) {
  std::vector<Entry> entries;
  std::set<std::string> names;
  std::set<std::array<unsigned char, 32>> digests;
  for (TokenConfig& t : tokens) {
    Entry e;
    if (t.name.empty()) {
      error = "a token has no name";
      return false;
    }
    if (!names.insert(t.name).second) {
      error = "token name '" + t.name + "' is used twice";
      return false;
    }
    if (!parse_digest(t.sha256, e.digest)) {
      error = "token '" + t.name + "': sha256 must be 64 hex characters (fathom token hash)";
      return false;
    }
    if (!digests.insert(e.digest).second) {
      error = "token '" + t.name + "' has the same hash as another token";
      return false;
    }
    if (!t.admin && t.tenant_id == 0) {
      error = "token '" + t.name + "' needs admin: true or a tenant";
      return false;
    }
    e.config = std::move(t);
    entries.push_back(std::move(e));
  }
  tokens_ = std::move(entries);
  return true;
}

std::optional<Principal> TokenTable::authenticate(std::string_view authorization) const {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return std::nullopt;
    }
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.size() > 4096) return std::nullopt;
  // Compare hashes, not tokens: the time taken tells nothing about a token's bytes, and each
  // comparison is constant-time over the digest.
  const std::array<unsigned char, 32> d = digest_of(token);
  const Entry* found = nullptr;
  for (const Entry& e : tokens_) {
    if (CRYPTO_memcmp(e.digest.data(), d.data(), d.size()) == 0) found = &e;
  }
  if (found == nullptr) return std::nullopt;
  return Principal{found->config.name, found->config.admin, found->config.tenant_id};
}

}  // namespace fathom::api
