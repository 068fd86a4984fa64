#include "transform/config.h"

#include <array>

namespace fathom::transform {
namespace {

struct CategoryName {
  IntelCategory category;
  std::string_view name;
};

constexpr std::array<CategoryName, 12> kCategoryNames{{
    {IntelCategory::kMalware, "malware"},
    {IntelCategory::kC2, "c2"},
    {IntelCategory::kBotnet, "botnet"},
    {IntelCategory::kScanner, "scanner"},
    {IntelCategory::kBruteforce, "bruteforce"},
    {IntelCategory::kSpam, "spam"},
    {IntelCategory::kPhishing, "phishing"},
    {IntelCategory::kHijacked, "hijacked"},
    {IntelCategory::kTor, "tor"},
    {IntelCategory::kAnonymizer, "anonymizer"},
    {IntelCategory::kAttacker, "attacker"},
    {IntelCategory::kOther, "other"},
}};

}  // namespace

std::string_view to_string(IntelCategory category) noexcept {
  for (const CategoryName& entry : kCategoryNames) {
    if (entry.category == category) return entry.name;
  }
  return "other";  // values 11..14 are unassigned; they are never produced by parsing
}

bool parse_intel_category(std::string_view name, IntelCategory& out) noexcept {
  for (const CategoryName& entry : kCategoryNames) {
    if (entry.name == name) {
      out = entry.category;
      return true;
    }
  }
  return false;
}

}  // namespace fathom::transform
