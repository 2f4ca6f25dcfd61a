#pragma once
// A small JSON value with a parser and a writer, for config.json files, safetensors
// headers, run configs and metric logs.
//
//   * Objects keep their keys in insertion (file) order; a key may appear only once.
//   * Numbers keep integers and floats apart: "2048" parses as an integer (int64), "0.02",
//     "1e-6" and "2048.0" as floats (double); an integer too large for int64 becomes a
//     float. The writer prints floats so that they read back as floats with the same value
//     (shortest round-trip form, ".0" added where needed).
//   * Strings are UTF-8; the escapes \" \\ \/ \b \f \n \r \t and \uXXXX (with surrogate
//     pairs) are decoded; the writer escapes '"', '\\' and control characters.
//   * NaN, Infinity and -Infinity are read and written as Python's json module does (they
//     are not standard JSON, but metric logs of diverged runs contain them).
//   * A parse error throws hqlt::Error "json: line L, column C: what was wrong" (both
//     1-based; the column counts bytes).
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace hqlt::io {

class Json {
 public:
  enum class Type { null, boolean, integer, number, string, array, object };
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : type_(Type::boolean), bool_(b) {}
  template <typename I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  Json(I i) : type_(Type::integer), int_(int64_t(i)) {}
  Json(double d) : type_(Type::number), number_(d) {}
  Json(const char* s) : type_(Type::string), string_(s) {}
  Json(std::string s) : type_(Type::string), string_(std::move(s)) {}
  Json(Array a) : type_(Type::array), array_(std::move(a)) {}
  Json(Object o) : type_(Type::object), object_(std::move(o)) {}
  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }

  Type type() const { return type_; }
  const char* type_name() const;
  bool is_null() const { return type_ == Type::null; }
  bool is_bool() const { return type_ == Type::boolean; }
  bool is_int() const { return type_ == Type::integer; }
  bool is_float() const { return type_ == Type::number; }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return type_ == Type::string; }
  bool is_array() const { return type_ == Type::array; }
  bool is_object() const { return type_ == Type::object; }

  // Typed reads; each throws hqlt::Error naming the expected and the actual type.
  bool as_bool() const;
  int64_t as_int() const;    // an integer, or a float with an integral value
  double as_double() const;  // any number
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  // Objects. find returns null when absent; at throws naming the key; set replaces an
  // existing key in place or appends a new one; operator[] turns a null into an object and
  // inserts a null member when absent.
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  const Json* find(std::string_view key) const;
  const Json& at(std::string_view key) const;
  Json& set(std::string key, Json value);
  Json& operator[](std::string_view key);
  // Typed member reads with a default for an absent or null member (config class
  // defaults); a member of the wrong type throws naming the key.
  int64_t value(std::string_view key, int64_t fallback) const;
  int64_t value(std::string_view key, int fallback) const { return value(key, int64_t(fallback)); }
  double value(std::string_view key, double fallback) const;
  bool value(std::string_view key, bool fallback) const;
  std::string value(std::string_view key, const char* fallback) const;

  // Arrays.
  const Json& at(size_t index) const;
  void push_back(Json value);
  // Number of elements of an array or members of an object.
  size_t size() const;

  // Structural equality (integers and floats are different types: 1 != 1.0).
  bool operator==(const Json& other) const;

  // indent < 0: compact, as json.dumps(v, separators=(",", ":")); indent >= 0: one member
  // per line, as json.dumps(v, indent=indent).
  std::string dump(int indent = -1) const;
  static Json parse(std::string_view text);

 private:
  [[noreturn]] void type_error(const char* wanted) const;

  Type type_ = Type::null;
  bool bool_ = false;
  int64_t int_ = 0;
  double number_ = 0;
  std::string string_;
  Array array_;
  Object object_;
};

// Files: read_json_file parses a whole file (errors name the path); write_json_file writes
// dump(indent) plus a newline atomically (io/atomic_file.h).
Json read_json_file(const std::string& path);
void write_json_file(const std::string& path, const Json& value, int indent = 2);

}  // namespace hqlt::io
