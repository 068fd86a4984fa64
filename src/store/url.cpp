#include "store/url.h"

#include <libpq-fe.h>

namespace fathom::store {

bool is_postgres_url(std::string_view url) noexcept {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

bool check_url(const std::string& url, std::string& error) {
  if (is_postgres_url(url)) {
    char* message = nullptr;
    PQconninfoOption* options = PQconninfoParse(url.c_str(), &message);
    if (options == nullptr) {
      std::string why = message != nullptr ? message : "out of memory";
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      error = "store: not a PostgreSQL URL libpq accepts: " + why;
      PQfreemem(message);
      return false;
    }
    PQconninfoFree(options);
    return true;
  }
  const std::string_view path =
      std::string_view(url).starts_with("sqlite:") ? std::string_view(url).substr(7) : url;
  if (path.empty()) {
    error = "store: empty database url (want sqlite:PATH, a path, or postgresql://...)";
    return false;
  }
  if (path.find("://") != std::string_view::npos) {
    error = "store: unknown database url scheme in '" + url +
            "' (want sqlite:PATH, a path, or postgresql://...)";
    return false;
  }
  return true;
}

}  // namespace fathom::store
