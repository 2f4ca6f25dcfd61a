// Json: a config-like document round trip (key order, integers vs floats, nested arrays
// and objects), string escapes and \u (surrogate pairs to UTF-8), the writer's formats,
// NaN/Infinity as Python writes them, typed member reads with defaults, parse errors with
// their line and column, and files.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "engine/error.h"
#include "io/json.h"

using namespace hqlt;
using namespace hqlt::io;

namespace {

// The message of the Error thrown by parsing `text` ("" if none).
std::string parse_error(const std::string& text) {
  try {
    Json::parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("io::Json round trip of a config") {
    const std::string text = R"({
  "model_type": "hybrid_qlt",
  "hidden_size": 128,
  "initializer_range": 0.02,
  "norm_eps": 1e-06,
  "chunk_size": 64.0,
  "use_gate": true,
  "intermediate_size": null,
  "architectures": ["HybridQLTForCausalLM"],
  "attn": {"layers": [1, -3], "window_size": null},
  "big": 123456789012345678901234567890,
  "negative": -9223372036854775808
})";
    Json j = Json::parse(text);
    REQUIRE(j.is_object());
    std::vector<std::string> keys;
    for (auto& [k, v] : j.as_object()) keys.push_back(k);
    CHECK(keys == std::vector<std::string>{"model_type", "hidden_size", "initializer_range", "norm_eps", "chunk_size",
                                           "use_gate", "intermediate_size", "architectures", "attn", "big",
                                           "negative"});
    CHECK(j.at("model_type").as_string() == "hybrid_qlt");
    CHECK(j.at("hidden_size").is_int());
    CHECK(j.at("hidden_size").as_int() == 128);
    CHECK(j.at("initializer_range").is_float());
    CHECK(j.at("initializer_range").as_double() == 0.02);
    CHECK(j.at("norm_eps").as_double() == 1e-6);
    CHECK(j.at("chunk_size").is_float());
    CHECK(j.at("chunk_size").as_int() == 64);  // an integral float reads as an integer
    CHECK(j.at("use_gate").as_bool());
    CHECK(j.at("intermediate_size").is_null());
    CHECK(j.at("architectures").at(0).as_string() == "HybridQLTForCausalLM");
    CHECK(j.at("attn").at("layers").at(1).as_int() == -3);
    CHECK(j.at("big").is_float());  // beyond int64: kept as a float
    CHECK(j.at("big").as_double() == doctest::Approx(1.2345678901234568e29));
    CHECK(j.at("negative").as_int() == INT64_MIN);

    // Both writer formats read back to the same value, types included.
    CHECK(Json::parse(j.dump()) == j);
    CHECK(Json::parse(j.dump(2)) == j);
    CHECK(Json(1) != Json(1.0));
    // The compact form is json.dumps(v, separators=(",", ":")).
    CHECK(Json::parse(R"({"a": [1, 2.5, {}], "b": [], "c": "x"})").dump() == R"({"a":[1,2.5,{}],"b":[],"c":"x"})");
    // The indented form is json.dumps(v, indent=2).
    CHECK(Json::parse(R"({"a": [1, {"b": null}], "c": {}})").dump(2) ==
          "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {}\n}");
  }

  TEST_CASE("io::Json numbers are written to read back exactly and as floats") {
    for (double d : {0.1, 1.0, -2.0, 1e-6, 3.0e20, 1.0 / 3.0, 5e-324, 1.7976931348623157e308}) {
      CAPTURE(d);
      Json back = Json::parse(Json(d).dump());
      CHECK(back.is_float());
      CHECK(back.as_double() == d);
    }
    CHECK(Json(1.0).dump() == "1.0");
    CHECK(Json(int64_t(-7)).dump() == "-7");
    CHECK(Json(std::nan("")).dump() == "NaN");
    CHECK(Json(-INFINITY).dump() == "-Infinity");
    Json specials = Json::parse("[NaN, Infinity, -Infinity, -0.0, 1E+2, 2e-3]");
    CHECK(std::isnan(specials.at(0).as_double()));
    CHECK(specials.at(1).as_double() == INFINITY);
    CHECK(specials.at(2).as_double() == -INFINITY);
    CHECK(std::signbit(specials.at(3).as_double()));
    CHECK(specials.at(4).as_double() == 100.0);
    CHECK(specials.at(5).as_double() == 0.002);
    CHECK(Json::parse("1e400").as_double() == INFINITY);
    CHECK(Json::parse("1e-400").as_double() == 0.0);
  }

  TEST_CASE("io::Json string escapes") {
    Json s = Json::parse(R"("q\"b\\s\/n\nt\tr\rb\bf\f \u00e9 \u20ac \ud83d\ude00")");
    CHECK(s.as_string() == "q\"b\\s/n\nt\tr\rb\bf\f \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    // Written back: quote, backslash and controls escaped, UTF-8 kept as is.
    CHECK(Json(std::string("a\"b\\c\n\x01\xC3\xA9")).dump() == R"("a\"b\\c\n\u0001)" "\xC3\xA9\"");
    CHECK(Json::parse(s.dump()) == s);
  }

  TEST_CASE("io::Json building and typed reads") {
    Json cfg;
    cfg["hidden_size"] = 256;
    cfg.set("norm_eps", 1e-6);
    cfg.set("name", "tiny");
    cfg.set("hidden_size", 128);  // replaced in place, order kept
    cfg["layers"].push_back(1);
    cfg["layers"].push_back(Json::object());
    CHECK(cfg.dump() == R"({"hidden_size":128,"norm_eps":1e-06,"name":"tiny","layers":[1,{}]})");
    CHECK(cfg.size() == 4);
    CHECK(cfg.value("hidden_size", 2048) == 128);
    CHECK(cfg.value("num_heads", 6) == 6);  // absent: the default
    CHECK(cfg.value("norm_eps", 1e-5) == 1e-6);
    CHECK(cfg.value("use_gate", true));
    CHECK(cfg.value("name", "x") == "tiny");
    CHECK_THROWS_WITH_AS(cfg.value("name", 3), doctest::Contains("key \"name\": expected an integer, got string"),
                         Error);
    CHECK_THROWS_WITH_AS(cfg.value("norm_eps", 3), doctest::Contains("expected an integer, got the float 1e-06"),
                         Error);
    CHECK_THROWS_WITH_AS(cfg.at("missing"), doctest::Contains("missing key \"missing\""), Error);
    CHECK_THROWS_WITH_AS(cfg.at("layers").at(5), doctest::Contains("index 5 out of range"), Error);
    CHECK_THROWS_WITH_AS(cfg.at("name").as_bool(), doctest::Contains("expected a boolean, got string"), Error);
    CHECK_THROWS_WITH_AS(Json(3).size(), doctest::Contains("expected an array or an object"), Error);
  }

  TEST_CASE("io::Json parse errors name the line and column") {
    CHECK(parse_error("{\n  \"a\": 1,\n  \"b\": tru\n}") ==
          "json: line 3, column 8: unexpected 't', expected a value");
    CHECK(parse_error("{\"a\": 1,}") == "json: line 1, column 9: expected a key string, got '}'");
    CHECK(parse_error("{\"a\" 1}") == "json: line 1, column 6: expected ':' after an object key, got '1'");
    CHECK(parse_error("[1, 2") == "json: line 1, column 6: unexpected end of input, expected ',' or ']' in an array");
    CHECK(parse_error("[1 2]") == "json: line 1, column 4: expected ',' or ']' in an array, got '2'");
    CHECK(parse_error("\"abc") == "json: line 1, column 5: unexpected end of input inside a string");
    CHECK(parse_error("\"a\nb\"") == "json: line 1, column 3: raw control character \\xa inside a string");
    CHECK(parse_error("\"\\x\"") == "json: line 1, column 2: unknown escape '\\x'");
    CHECK(parse_error("\"\\u12g4\"") == "json: line 1, column 6: expected a hex digit in a \\u escape, got 'g'");
    CHECK(parse_error("\"\\ud83d x\"") ==
          "json: line 1, column 2: high surrogate not followed by a \\u low surrogate");
    CHECK(parse_error("\"\\ude00\"") == "json: line 1, column 2: unpaired low surrogate in a \\u escape");
    CHECK(parse_error("{\"a\": 1,\n \"a\": 2}") == "json: line 2, column 2: duplicate key \"a\"");
    CHECK(parse_error("0123") == "json: line 1, column 1: leading zeros are not allowed in a number");
    CHECK(parse_error("1.") == "json: line 1, column 3: expected a digit after the decimal point");
    CHECK(parse_error("-") == "json: line 1, column 2: expected a digit in a number");
    CHECK(parse_error("1e+") == "json: line 1, column 4: expected a digit in the exponent");
    CHECK(parse_error("{} x") == "json: line 1, column 4: unexpected 'x' after the JSON value");
    CHECK(parse_error("") == "json: line 1, column 1: unexpected end of input, expected a value");
    CHECK(parse_error("  \n ") == "json: line 2, column 2: unexpected end of input, expected a value");
    CHECK(parse_error(std::string(600, '[') + std::string(600, ']')).find("nesting deeper than 512") !=
          std::string::npos);
  }

  TEST_CASE("io::Json strings must be UTF-8: every well-formed sequence passes and nothing else does") {
    // One to four bytes, at the edges of each range (U+0080, U+07FF, U+0800, U+D7FF, U+E000,
    // U+FFFF, U+10000, U+10FFFF) come back byte for byte.
    for (const char* ok : {"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
                           "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "caf\xc3\xa9"}) {
      CAPTURE(ok);
      CHECK(Json::parse("\"" + std::string(ok) + "\"").as_string() == ok);
    }
    // A lone continuation byte, an overlong form of '/' and of U+0080, a UTF-16 surrogate
    // (U+D800) written as UTF-8, a code point above U+10FFFF, a sequence cut short, bytes
    // that never start a sequence.
    for (const char* bad : {"\x80", "\xc0\xaf", "\xe0\x82\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                            "\xe2\x82", "\xfe", "\xff\xfe"}) {
      CAPTURE(bad);
      CHECK(parse_error("\"a" + std::string(bad) + "\"").find("column 3: invalid UTF-8 inside a string") !=
            std::string::npos);
    }
  }

  TEST_CASE("io::Json files") {
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("hqlt_json_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::string path = (dir / "config.json").string();
    Json cfg = Json::parse(R"({"vocab_size": 32000, "rope_theta": 10000.0})");
    write_json_file(path, cfg);
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text == "{\n  \"vocab_size\": 32000,\n  \"rope_theta\": 10000.0\n}\n");
    CHECK(read_json_file(path) == cfg);
    {
      std::ofstream out(path);
      out << "{\"a\": [1,\n 2,, 3]}";
    }
    CHECK_THROWS_WITH_AS(read_json_file(path), doctest::Contains("config.json: json: line 2, column 4"), Error);
    CHECK_THROWS_WITH_AS(read_json_file((dir / "absent.json").string()), doctest::Contains("cannot read"), Error);
    fs::remove_all(dir);
  }
}
