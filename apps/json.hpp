// A small JSON value for the tool's --json documents and the iperf3 protocol: objects keep
// their keys in insertion order (documents read as they were built), numbers are doubles.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace utcp::apps {

class Json {
 public:
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : v_(b) {}
  Json(double d) : v_(d) {}
  Json(int i) : v_(static_cast<double>(i)) {}
  Json(unsigned u) : v_(static_cast<double>(u)) {}
  Json(std::int64_t i) : v_(static_cast<double>(i)) {}
  Json(std::uint64_t u) : v_(static_cast<double>(u)) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string s) : v_(std::move(s)) {}
  Json(std::string_view s) : v_(std::string(s)) {}
  Json(Array a) : v_(std::move(a)) {}
  Json(Object o) : v_(std::move(o)) {}
  static Json object() { return Json(Object{}); }
  static Json array() { return Json(Array{}); }

  bool is_null() const { return std::holds_alternative<std::monostate>(v_); }
  bool is_object() const { return std::holds_alternative<Object>(v_); }
  bool is_array() const { return std::holds_alternative<Array>(v_); }
  const bool* boolean() const { return std::get_if<bool>(&v_); }
  const double* number() const { return std::get_if<double>(&v_); }
  const std::string* string() const { return std::get_if<std::string>(&v_); }
  const Array* elements() const { return std::get_if<Array>(&v_); }
  const Object* members() const { return std::get_if<Object>(&v_); }

  // Object access: the member named `key` (nullptr when absent or not an object); set()
  // replaces it or appends it, and turns a null into an object.
  const Json* find(std::string_view key) const;
  Json& set(std::string_view key, Json value);
  // Array access: appends, and turns a null into an array.
  Json& push(Json value);

  // Compact text (indent < 0) or pretty-printed with `indent` spaces per level.
  std::string dump(int indent = -1) const;
  // RFC 8259 text; nullopt for anything malformed, or nested deeper than 64 levels.
  static std::optional<Json> parse(std::string_view text);

 private:
  void dump_to(std::string& out, int indent, int depth) const;
  std::variant<std::monostate, bool, double, std::string, Array, Object> v_;
};

}  // namespace utcp::apps
