#pragma once

#include <string>
#include <string_view>

namespace fathom::store {

/// True when `url` names a PostgreSQL server ("postgresql://..." or "postgres://...").
bool is_postgres_url(std::string_view url) noexcept;

/// Checks `url` (StoreOptions::url) without opening anything: "sqlite:PATH" or a bare path with
/// no other scheme, or a PostgreSQL URI that libpq can parse. False with `error` saying what is
/// wrong. A URL that passes may still fail to open: the
/// file's directory may not exist, the server may be down.
bool check_url(const std::string& url, std::string& error);

}  // namespace fathom::store
