#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fathom::api {

/// One API token as configured: only its SHA-256 is kept (docs/api.md "Authentication").
struct TokenConfig {
  std::string name;        ///< who holds it (logs, `/api/v1/me`)
  std::string sha256;      ///< lower-case hex SHA-256 of the token (64 characters)
  bool admin = false;      ///< sees every tenant
  uint32_t tenant_id = 0;  ///< when not admin: the one tenant it sees
};

/// Who a request is.
struct Principal {
  std::string name;
  bool admin = false;
  uint32_t tenant_id = 0;  ///< meaningful when !admin

  /// Whether the principal may see `tenant`.
  bool sees(uint32_t tenant) const noexcept { return admin || tenant == tenant_id; }
};

/// Lower-case hex SHA-256 of `text`.
std::string sha256_hex(std::string_view text);

/// A new random token: 33 bytes from the OS random source as 44 URL-safe base64 characters.
/// Empty when no randomness is available.
std::string new_token();

/// The configured tokens, checked in constant time per token.
class TokenTable {
 public:
  TokenTable() = default;
  /// Takes `tokens`; `error` names the first invalid one (hash not 64 hex characters, empty or
  /// duplicate name, duplicate hash) and the table stays empty.
  bool assign(std::vector<TokenConfig> tokens, std::string& error);

  /// The principal of an `Authorization` header value ("Bearer <token>", the scheme
  /// case-insensitive); nullopt when the header is missing, malformed, or the token unknown.
  std::optional<Principal> authenticate(std::string_view authorization) const;

  bool empty() const noexcept { return tokens_.empty(); }
  size_t size() const noexcept { return tokens_.size(); }

 private:
  struct Entry {
    TokenConfig config;
    std::array<unsigned char, 32> digest{};
  };
  std::vector<Entry> tokens_;
};

}  // namespace fathom::api
