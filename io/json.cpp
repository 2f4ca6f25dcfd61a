#include "io/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "engine/error.h"
#include "io/atomic_file.h"

namespace hqlt::io {
namespace {

constexpr int kMaxDepth = 512;  // deeper nesting is refused rather than overflowing the stack

// ---- Parsing ------------------------------------------------------------------------

// The length of the well-formed UTF-8 sequence that starts at s[i], or 0 when none does
// (RFC 3629: no overlong forms, no UTF-16 surrogates, nothing above U+10FFFF). JSON text is
// UTF-8 (RFC 8259), so a string holding anything else is refused, not passed on.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
  auto continues = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) { return byte(k) >= lo && byte(k) <= hi; };
  const unsigned b = byte(i);
  if (b >= 0xC2 && b <= 0xDF) return continues(i + 1) ? 2 : 0;
  if (b == 0xE0) return continues(i + 1, 0xA0) && continues(i + 2) ? 3 : 0;
  if (b == 0xED) return continues(i + 1, 0x80, 0x9F) && continues(i + 2) ? 3 : 0;
  if (b >= 0xE1 && b <= 0xEF) return continues(i + 1) && continues(i + 2) ? 3 : 0;
  if (b == 0xF0) return continues(i + 1, 0x90) && continues(i + 2) && continues(i + 3) ? 4 : 0;
  if (b >= 0xF1 && b <= 0xF3) return continues(i + 1) && continues(i + 2) && continues(i + 3) ? 4 : 0;
  if (b == 0xF4) return continues(i + 1, 0x80, 0x8F) && continues(i + 2) && continues(i + 3) ? 4 : 0;
  return 0;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Json parse_document() {
    skip_space();
    Json v = parse_value(0);
    skip_space();
    if (pos_ < text_.size()) error("unexpected '", char_name(text_[pos_]), "' after the JSON value");
    return v;
  }

 private:
  template <typename... Parts>
  [[noreturn]] void error(const Parts&... parts) const {
    error_at(pos_, parts...);
  }
  template <typename... Parts>
  [[noreturn]] void error_at(size_t at, const Parts&... parts) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < at && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    fail("json: line ", line, ", column ", column, ": ", parts...);
  }
  static std::string char_name(char c) {
    if (c >= 0x20 && c < 0x7f) return std::string(1, c);
    std::ostringstream o;
    o << "\\x" << std::hex << (int(c) & 0xff);
    return o.str();
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }
  void expect(char c, const char* context) {
    if (at_end()) error("unexpected end of input, expected '", c, "' ", context);
    if (peek() != c) error("expected '", c, "' ", context, ", got '", char_name(peek()), "'");
    ++pos_;
  }
  bool consume_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Json parse_value(int depth) {
    if (depth > kMaxDepth) error("nesting deeper than ", kMaxDepth, " levels");
    if (at_end()) error("unexpected end of input, expected a value");
    char c = peek();
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') return Json(parse_string());
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
    if (consume_word("true")) return Json(true);
    if (consume_word("false")) return Json(false);
    if (consume_word("null")) return Json();
    if (consume_word("NaN")) return Json(std::numeric_limits<double>::quiet_NaN());
    if (consume_word("Infinity")) return Json(std::numeric_limits<double>::infinity());
    error("unexpected '", char_name(c), "', expected a value");
  }

  Json parse_object(int depth) {
    ++pos_;  // '{'
    Json::Object members;
    skip_space();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return Json(std::move(members));
    }
    while (true) {
      skip_space();
      if (at_end()) error("unexpected end of input, expected a key string");
      if (peek() != '"') error("expected a key string, got '", char_name(peek()), "'");
      size_t key_at = pos_;
      std::string key = parse_string();
      for (const auto& [k, v] : members)
        if (k == key) error_at(key_at, "duplicate key \"", key, "\"");
      skip_space();
      expect(':', "after an object key");
      skip_space();
      members.emplace_back(std::move(key), parse_value(depth + 1));
      skip_space();
      if (at_end()) error("unexpected end of input, expected ',' or '}' in an object");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return Json(std::move(members));
      }
      error("expected ',' or '}' in an object, got '", char_name(peek()), "'");
    }
  }

  Json parse_array(int depth) {
    ++pos_;  // '['
    Json::Array items;
    skip_space();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return Json(std::move(items));
    }
    while (true) {
      skip_space();
      items.push_back(parse_value(depth + 1));
      skip_space();
      if (at_end()) error("unexpected end of input, expected ',' or ']' in an array");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return Json(std::move(items));
      }
      error("expected ',' or ']' in an array, got '", char_name(peek()), "'");
    }
  }

  // Four hex digits of a \u escape.
  uint32_t parse_hex4() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      if (at_end()) error("unexpected end of input in a \\u escape");
      char c = peek();
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) error("expected a hex digit in a \\u escape, got '", char_name(c), "'");
      v = v * 16 + uint32_t(d);
      ++pos_;
    }
    return v;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (at_end()) error("unexpected end of input inside a string");
      char c = peek();
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) error("raw control character ", char_name(c), " inside a string");
      if (static_cast<unsigned char>(c) >= 0x80) {
        const size_t n = utf8_sequence_length(text_, pos_);
        if (n == 0) error("invalid UTF-8 inside a string (byte ", char_name(c), ")");
        out.append(text_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      size_t escape_at = pos_;
      ++pos_;
      if (at_end()) error("unexpected end of input in an escape");
      char e = peek();
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) error_at(escape_at, "unpaired low surrogate in a \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!consume_word("\\u")) error_at(escape_at, "high surrogate not followed by a \\u low surrogate");
            uint32_t low = parse_hex4();
            if (low < 0xDC00 || low > 0xDFFF) error_at(escape_at, "high surrogate not followed by a low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: error_at(escape_at, "unknown escape '\\", char_name(e), "'");
      }
    }
  }

  Json parse_number() {
    const size_t start = pos_;
    if (peek() == '-') {
      ++pos_;
      if (consume_word("Infinity")) return Json(-std::numeric_limits<double>::infinity());
    }
    auto digits = [&] {
      size_t n = 0;
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_, ++n;
      return n;
    };
    if (at_end() || !(peek() >= '0' && peek() <= '9')) error("expected a digit in a number");
    if (peek() == '0') {
      ++pos_;
      if (!at_end() && peek() >= '0' && peek() <= '9') error_at(start, "leading zeros are not allowed in a number");
    } else {
      digits();
    }
    bool is_float = false;
    if (!at_end() && peek() == '.') {
      ++pos_;
      is_float = true;
      if (digits() == 0) error("expected a digit after the decimal point");
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      is_float = true;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (digits() == 0) error("expected a digit in the exponent");
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (!is_float) {
      int64_t i = 0;
      auto [p, ec] = std::from_chars(first, last, i);
      if (ec == std::errc() && p == last) return Json(i);
      // Out of int64's range: keep the value as a float.
    }
    double d = 0;
    auto [p, ec] = std::from_chars(first, last, d);
    if (ec == std::errc::result_out_of_range) {
      // Overflow gives ±inf, underflow 0 — what Python's float() would give.
      bool negative = *first == '-';
      bool tiny = false;
      for (const char* q = first; q < last; ++q)
        if ((*q == 'e' || *q == 'E') && q + 1 < last && q[1] == '-') tiny = true;
      d = tiny ? (negative ? -0.0 : 0.0) : (negative ? -1.0 : 1.0) * std::numeric_limits<double>::infinity();
    } else if (ec != std::errc() || p != last) {
      error_at(start, "malformed number");
    }
    return Json(d);
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// ---- Writing ------------------------------------------------------------------------

void write_string(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void write_float(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "NaN";
    return;
  }
  if (std::isinf(d)) {
    out += d > 0 ? "Infinity" : "-Infinity";
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);  // shortest form that reads back exactly
  std::string s(buf, end);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";  // keep it a float when read back
  out += s;
}

void write_value(std::string& out, const Json& v, int indent, int level) {
  auto newline = [&](int lvl) {
    if (indent < 0) return;
    out += '\n';
    out.append(size_t(indent * lvl), ' ');
  };
  switch (v.type()) {
    case Json::Type::null: out += "null"; break;
    case Json::Type::boolean: out += v.as_bool() ? "true" : "false"; break;
    case Json::Type::integer: out += std::to_string(v.as_int()); break;
    case Json::Type::number: write_float(out, v.as_double()); break;
    case Json::Type::string: write_string(out, v.as_string()); break;
    case Json::Type::array: {
      const Json::Array& a = v.as_array();
      if (a.empty()) {
        out += "[]";
        break;
      }
      out += '[';
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) out += ',';
        newline(level + 1);
        write_value(out, a[i], indent, level + 1);
      }
      newline(level);
      out += ']';
      break;
    }
    case Json::Type::object: {
      const Json::Object& o = v.as_object();
      if (o.empty()) {
        out += "{}";
        break;
      }
      out += '{';
      for (size_t i = 0; i < o.size(); ++i) {
        if (i) out += ',';
        newline(level + 1);
        write_string(out, o[i].first);
        out += indent < 0 ? ":" : ": ";
        write_value(out, o[i].second, indent, level + 1);
      }
      newline(level);
      out += '}';
      break;
    }
  }
}

}  // namespace

const char* Json::type_name() const {
  switch (type_) {
    case Type::null: return "null";
    case Type::boolean: return "boolean";
    case Type::integer: return "integer";
    case Type::number: return "float";
    case Type::string: return "string";
    case Type::array: return "array";
    case Type::object: return "object";
  }
  return "?";
}

void Json::type_error(const char* wanted) const { fail("json: expected ", wanted, ", got ", type_name()); }

bool Json::as_bool() const {
  if (!is_bool()) type_error("a boolean");
  return bool_;
}

int64_t Json::as_int() const {
  if (is_int()) return int_;
  if (is_float() && std::isfinite(number_) && number_ == std::floor(number_) && std::abs(number_) < 9.2e18)
    return int64_t(number_);
  if (is_float()) fail("json: expected an integer, got the float ", dump());
  type_error("an integer");
}

double Json::as_double() const {
  if (is_float()) return number_;
  if (is_int()) return double(int_);
  type_error("a number");
}

const std::string& Json::as_string() const {
  if (!is_string()) type_error("a string");
  return string_;
}
const Json::Array& Json::as_array() const {
  if (!is_array()) type_error("an array");
  return array_;
}
Json::Array& Json::as_array() {
  if (!is_array()) type_error("an array");
  return array_;
}
const Json::Object& Json::as_object() const {
  if (!is_object()) type_error("an object");
  return object_;
}
Json::Object& Json::as_object() {
  if (!is_object()) type_error("an object");
  return object_;
}

const Json* Json::find(std::string_view key) const {
  for (const auto& [k, v] : as_object())
    if (k == key) return &v;
  return nullptr;
}

const Json& Json::at(std::string_view key) const {
  const Json* v = find(key);
  HQLT_CHECK(v != nullptr, "json: missing key \"", key, "\"");
  return *v;
}

Json& Json::set(std::string key, Json value) {
  if (is_null()) *this = object();
  for (auto& [k, v] : as_object())
    if (k == key) return v = std::move(value);
  object_.emplace_back(std::move(key), std::move(value));
  return object_.back().second;
}

Json& Json::operator[](std::string_view key) {
  if (is_null()) *this = object();
  for (auto& [k, v] : as_object())
    if (k == key) return v;
  object_.emplace_back(std::string(key), Json());
  return object_.back().second;
}

namespace {
// A member read with a default, with the key in any type error.
template <typename T, typename Read>
T member_or(const Json& obj, std::string_view key, T fallback, Read read) {
  const Json* v = obj.find(key);
  if (!v || v->is_null()) return fallback;
  try {
    return read(*v);
  } catch (const Error& e) {
    fail("json: key \"", key, "\": ", std::string(e.what()).substr(6));  // drop the "json: " prefix
  }
}
}  // namespace

int64_t Json::value(std::string_view key, int64_t fallback) const {
  return member_or(*this, key, fallback, [](const Json& v) { return v.as_int(); });
}
double Json::value(std::string_view key, double fallback) const {
  return member_or(*this, key, fallback, [](const Json& v) { return v.as_double(); });
}
bool Json::value(std::string_view key, bool fallback) const {
  return member_or(*this, key, fallback, [](const Json& v) { return v.as_bool(); });
}
std::string Json::value(std::string_view key, const char* fallback) const {
  return member_or(*this, key, std::string(fallback), [](const Json& v) { return v.as_string(); });
}

const Json& Json::at(size_t index) const {
  const Array& a = as_array();
  HQLT_CHECK(index < a.size(), "json: index ", index, " out of range for an array of ", a.size());
  return a[index];
}

void Json::push_back(Json value) {
  if (is_null()) *this = array();
  as_array().push_back(std::move(value));
}

size_t Json::size() const {
  if (is_array()) return array_.size();
  if (is_object()) return object_.size();
  type_error("an array or an object");
}

bool Json::operator==(const Json& o) const {
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::null: return true;
    case Type::boolean: return bool_ == o.bool_;
    case Type::integer: return int_ == o.int_;
    case Type::number: return number_ == o.number_ || (std::isnan(number_) && std::isnan(o.number_));
    case Type::string: return string_ == o.string_;
    case Type::array: return array_ == o.array_;
    case Type::object: return object_ == o.object_;
  }
  return false;
}

std::string Json::dump(int indent) const {
  std::string out;
  write_value(out, *this, indent, 0);
  return out;
}

Json Json::parse(std::string_view text) { return Parser(text).parse_document(); }

Json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HQLT_CHECK(in.good(), "cannot read '", path, "': no such file or not readable");
  std::ostringstream buf;
  buf << in.rdbuf();
  try {
    return Json::parse(buf.str());
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
}

void write_json_file(const std::string& path, const Json& value, int indent) {
  std::string text = value.dump(indent) + "\n";
  write_file_atomically(path, [&](FileSink& sink) { sink.write(text); });
}

}  // namespace hqlt::io
