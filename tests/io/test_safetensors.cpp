// safetensors: round trip of f32/f64/i32/i64 (scalars, empty and strided tensors,
// metadata, the 8-byte aligned header), BF16 and F16 decoding against hand-encoded bytes,
// one test per malformed file, the atomic write (no temporary file left; a failed save
// leaves the old file intact), and a Module saved and loaded through it.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/rng.h"
#include "io/safetensors.h"
#include "nn/gated_mlp.h"

using namespace hqlt;
using namespace hqlt::io;
namespace fs = std::filesystem;

namespace {

// A fresh folder for one test case, removed at the end.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    path = fs::temp_directory_path() / ("hqlt_st_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// Writes a file from raw parts: the 8-byte length of `header` (or `length` when given),
// the header text, then the data bytes.
void write_raw(const std::string& path, const std::string& header, const std::vector<unsigned char>& data,
               int64_t length = -1) {
  uint64_t n = length < 0 ? header.size() : uint64_t(length);
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < 8; ++i) out.put(char((n >> (8 * i)) & 0xFF));
  out << header;
  out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
}

std::string load_error(const std::string& path) {
  try {
    load_safetensors(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("io::safetensors round trip") {
    TempDir dir("round");
    const std::string path = dir.file("model.safetensors");
    Tensor a = randn({3, 4});
    Tensor b = randn({2, 5}, DType::f64);
    Tensor c = from_vector({1, -2, 2147483647, -2147483648.0}, {2, 2}, DType::i32);
    Tensor d = from_vector({0, -5}, {2}, DType::i64);
    d.data<int64_t>()[0] = 9007199254740993;  // 2^53 + 1: not a double
    Tensor scalar = from_vector({2.5}, {}, DType::f32);
    Tensor empty_t = zeros({0, 3});
    Tensor strided = randn({4, 3}).transpose(0, 1);  // written in logical order
    std::vector<NamedTensor> tensors = {{"model.embeddings.weight", a}, {"b", b}, {"c", c}, {"d", d},
                                        {"scalar", scalar},             {"empty", empty_t}, {"strided", strided}};
    save_safetensors(path, tensors, {{"format", "pt"}, {"note", "caf\xC3\xA9 \"quoted\""}});

    SafetensorsFile f = load_safetensors(path);
    REQUIRE(f.tensors.size() == tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      CAPTURE(tensors[i].first);
      CHECK(f.tensors[i].first == tensors[i].first);  // header order = the order given
      CHECK(f.tensors[i].second.dtype() == tensors[i].second.dtype());
      CHECK(f.tensors[i].second.shape() == tensors[i].second.shape());
      CHECK(f.tensors[i].second.to_vector() == tensors[i].second.to_vector());
    }
    CHECK(f.tensors[3].second.data<int64_t>()[0] == 9007199254740993);  // all 64 bits kept
    CHECK(f.metadata == Metadata{{"format", "pt"}, {"note", "caf\xC3\xA9 \"quoted\""}});
    CHECK(f.state_dict().at("c").to_vector() == c.to_vector());

    SafetensorsHeader h = read_safetensors_header(path);
    CHECK(h.data_start % 8 == 0);  // header padded so the data is aligned
    CHECK(h.entries[1].dtype == "F64");
    CHECK(h.entries[1].begin == 48);
    CHECK(h.entries[1].end == 48 + 80);
    CHECK(fs::file_size(path) == h.data_start + 48 + 80 + 16 + 16 + 4 + 0 + 48);
  }

  TEST_CASE("io::safetensors BF16 and F16 decode exactly") {
    // Hand-encoded bit patterns and their values.
    CHECK(bf16_to_float(0x3F80) == 1.0f);
    CHECK(bf16_to_float(0xC020) == -2.5f);
    CHECK(bf16_to_float(0x4049) == 3.140625f);
    CHECK(bf16_to_float(0x7F80) == INFINITY);
    CHECK(bf16_to_float(0x0001) == std::ldexp(1.0f, -133));  // smallest subnormal
    CHECK(std::isnan(bf16_to_float(0x7FC0)));
    CHECK(f16_to_float(0x3C00) == 1.0f);
    CHECK(f16_to_float(0xC000) == -2.0f);
    CHECK(f16_to_float(0x3555) == 0.333251953125f);
    CHECK(f16_to_float(0x7BFF) == 65504.0f);
    CHECK(f16_to_float(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
    CHECK(f16_to_float(0x03FF) == 1023 * std::ldexp(1.0f, -24));  // largest subnormal
    CHECK(f16_to_float(0x8000) == 0.0f);
    CHECK(std::signbit(f16_to_float(0x8000)));
    CHECK(f16_to_float(0xFC00) == -INFINITY);
    CHECK(std::isnan(f16_to_float(0x7E00)));

    TempDir dir("half");
    const std::string path = dir.file("half.safetensors");
    std::string header =
        R"({"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"h":{"dtype":"F16","shape":[1,3],"data_offsets":[4,10]}})";
    write_raw(path, header, {0x80, 0x3F, 0x20, 0xC0, 0x00, 0x3C, 0x55, 0x35, 0x01, 0x00});
    SafetensorsFile f = load_safetensors(path);
    CHECK(f.tensors[0].second.dtype() == DType::f32);
    CHECK(f.tensors[0].second.to_vector() == std::vector<double>{1.0, -2.5});
    CHECK(f.tensors[1].second.shape() == Shape{1, 3});
    CHECK(f.tensors[1].second.to_vector() == std::vector<double>{1.0, 0.333251953125, std::ldexp(1.0, -24)});
    CHECK(read_safetensors_header(path).entries[0].dtype == "BF16");
  }

  TEST_CASE("io::safetensors malformed files") {
    TempDir dir("bad");
    const std::string path = dir.file("bad.safetensors");
    const std::vector<unsigned char> eight(8, 0);
    auto entry = [](const std::string& dtype, const std::string& shape, const std::string& offsets) {
      return R"({"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}";
    };

    SUBCASE("shorter than the length field") {
      std::ofstream(path, std::ios::binary) << "abc";
      CHECK(load_error(path).find("truncated file: 3 bytes") != std::string::npos);
    }
    SUBCASE("header length past the end of the file") {
      write_raw(path, "{}", {}, 1000);
      CHECK(load_error(path).find("header length 1000 runs past the end of the file (2 bytes") != std::string::npos);
    }
    SUBCASE("bad header JSON, with its position") {
      write_raw(path, R"({"a": {"dtype": "F32",})", {});
      CHECK(load_error(path).find("bad header JSON: json: line 1, column 23: expected a key string") !=
            std::string::npos);
    }
    SUBCASE("header not an object") {
      write_raw(path, "[1, 2]", {});
      CHECK(load_error(path).find("the header must be a JSON object, got array") != std::string::npos);
    }
    SUBCASE("duplicate names") {
      write_raw(path, "{\"a\":" + entry("F32", "[1]", "[0,4]") + ",\"a\":" + entry("F32", "[1]", "[4,8]") + "}",
                eight);
      CHECK(load_error(path).find("duplicate key \"a\"") != std::string::npos);
    }
    SUBCASE("unknown dtype") {
      write_raw(path, "{\"a\":" + entry("U8", "[4]", "[0,4]") + "}", eight);
      CHECK(load_error(path).find("tensor 'a': unknown or unsupported dtype 'U8'") != std::string::npos);
    }
    SUBCASE("offsets past the data") {
      write_raw(path, "{\"a\":" + entry("F32", "[3]", "[0,12]") + "}", eight);
      CHECK(load_error(path).find("tensor 'a': data_offsets [0, 12] run past the end of the data (8 bytes)") !=
            std::string::npos);
    }
    SUBCASE("offsets not matching shape x dtype size") {
      write_raw(path, "{\"a\":" + entry("F64", "[2]", "[0,8]") + "}", eight);
      CHECK(load_error(path).find("hold 8 bytes, but shape [2] of F64 needs 16") != std::string::npos);
    }
    SUBCASE("offsets reversed") {
      write_raw(path, "{\"a\":" + entry("F32", "[0]", "[8,4]") + "}", eight);
      CHECK(load_error(path).find("end before they begin") != std::string::npos);
    }
    SUBCASE("overlapping tensors") {
      write_raw(path, "{\"a\":" + entry("F32", "[2]", "[0,8]") + ",\"b\":" + entry("F32", "[1]", "[4,8]") + "}", eight);
      CHECK(load_error(path).find("tensors 'a' [0, 8) and 'b' [4, 8) overlap") != std::string::npos);
    }
    SUBCASE("a missing or mistyped field") {
      write_raw(path, R"({"a":{"dtype":"F32","shape":[2]}})", eight);
      CHECK(load_error(path).find("tensor 'a': missing \"data_offsets\"") != std::string::npos);
      write_raw(path, "{\"a\":" + entry("F32", "[-2]", "[0,8]") + "}", eight);
      CHECK(load_error(path).find("shape entries must be non-negative integers, got -2") != std::string::npos);
      write_raw(path, "{\"a\":" + entry("F32", "[2]", "[0]") + "}", eight);
      CHECK(load_error(path).find("\"data_offsets\" must be [begin, end], got [0]") != std::string::npos);
      write_raw(path, R"({"__metadata__":{"k":1}})", {});
      CHECK(load_error(path).find("\"__metadata__\" value of 'k' must be a string") != std::string::npos);
    }
    SUBCASE("a shape whose element count overflows") {
      write_raw(path, "{\"a\":" + entry("F32", "[4294967296, 4294967296, 16]", "[0,8]") + "}", eight);
      CHECK(load_error(path).find("tensor 'a': shape too large") != std::string::npos);
    }
    SUBCASE("a name that is not UTF-8") {
      write_raw(path, "{\"a\xff\":" + entry("F32", "[2]", "[0,8]") + "}", eight);
      CHECK(load_error(path).find("bad header JSON: json: line 1, column 4: invalid UTF-8 inside a string") !=
            std::string::npos);
    }
    SUBCASE("no such file") {
      CHECK(load_error(dir.file("absent.safetensors")).find("cannot read") != std::string::npos);
    }
    // Every message names the file.
    if (fs::exists(path)) CHECK(load_error(path).find("safetensors: '" + path + "'") == 0);
  }

  TEST_CASE("io::safetensors writes atomically") {
    TempDir dir("atomic");
    const std::string path = dir.file("model.safetensors");
    save_safetensors(path, StateDict{{"w", ones({2, 2})}});
    save_safetensors(path, StateDict{{"w", full({2, 2}, 3.0)}, {"v", zeros({1})}});
    std::vector<std::string> names;
    for (auto& e : fs::directory_iterator(dir.path)) names.push_back(e.path().filename().string());
    CHECK(names == std::vector<std::string>{"model.safetensors"});  // no temporary file left behind
    CHECK(load_safetensors(path).state_dict().at("w").to_vector() == std::vector<double>(4, 3.0));

    const auto size_before = fs::file_size(path);
    // Refused before the file is touched: the old file stays as it was.
    CHECK_THROWS_WITH_AS(save_safetensors(path, std::vector<NamedTensor>{{"w", ones({1})}, {"w", ones({1})}}),
                         doctest::Contains("duplicate tensor name 'w'"), Error);
    CHECK_THROWS_WITH_AS(save_safetensors(path, std::vector<NamedTensor>{{"", ones({1})}}), doctest::Contains("invalid tensor name"), Error);
    CHECK_THROWS_WITH_AS(save_safetensors(path, std::vector<NamedTensor>{{"u", Tensor()}}), doctest::Contains("'u' is undefined"), Error);
    CHECK_THROWS_WITH_AS(save_safetensors(path, std::vector<NamedTensor>{{"w", ones({1})}}, {{"k", "a"}, {"k", "b"}}),
                         doctest::Contains("duplicate metadata key"), Error);
    // Failing at the file system: a folder in the way.
    fs::create_directories(dir.path / "folder.safetensors" / "x");
    CHECK_THROWS_AS(save_safetensors(dir.file("folder.safetensors"), StateDict{{"w", ones({1})}}), Error);
    CHECK(fs::file_size(path) == size_before);
    CHECK(load_safetensors(path).state_dict().at("w").to_vector() == std::vector<double>(4, 3.0));
  }

  TEST_CASE("io::safetensors carries a Module's state dict") {
    TempDir dir("module");
    const std::string path = dir.file("mlp.safetensors");
    nn::GatedMLP a(4, 8), b(4, 8);
    save_safetensors(path, a.named_parameters());
    CHECK(read_safetensors_header(path).entries[0].name == "gate_proj.weight");
    b.load_state_dict(load_safetensors(path).state_dict());
    for (auto& [name, t] : a.named_parameters()) CHECK(b.parameter(name).to_vector() == t.to_vector());
  }
}
