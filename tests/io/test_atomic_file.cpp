// write_file_atomically: the new content replaces the old in one step, no temporary file is
// left behind, and a write that fails part-way leaves the old file exactly as it was; a
// target that cannot be written gives an error naming it.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "io/atomic_file.h"

using namespace hqlt;
using namespace hqlt::io;
namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Names of the entries of a folder.
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("io::write_file_atomically replaces - fails cleanly - leaves no temporary file") {
    fs::path dir = fs::temp_directory_path() / ("hqlt_atomic_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::path target = dir / "ckpt.bin";

    write_file_atomically(target.string(), [](FileSink& s) { s.write("first"); });
    CHECK(read_all(target) == "first");
    write_file_atomically(target.string(), [](FileSink& s) {
      s.write("sec");
      s.write(std::string("ond"));
    });
    CHECK(read_all(target) == "second");
    CHECK(listing(dir) == std::vector<std::string>{"ckpt.bin"});

    SUBCASE("the writer fails part-way") {
      CHECK_THROWS_WITH_AS(write_file_atomically(target.string(),
                                                 [](FileSink& s) {
                                                   s.write("partial new cont");
                                                   fail("disk on fire");
                                                 }),
                           "disk on fire", Error);
      CHECK(read_all(target) == "second");
      CHECK(listing(dir) == std::vector<std::string>{"ckpt.bin"});
    }
    SUBCASE("the target is a folder") {
      fs::create_directories(dir / "taken" / "inside");
      CHECK_THROWS_WITH_AS(write_file_atomically((dir / "taken").string(), [](FileSink& s) { s.write("x"); }),
                           doctest::Contains("is a folder"), Error);
      CHECK(listing(dir) == std::vector<std::string>{"ckpt.bin", "taken"});
    }
    SUBCASE("the folder does not exist") {
      CHECK_THROWS_WITH_AS(write_file_atomically((dir / "nope" / "f.bin").string(), [](FileSink& s) { s.write("x"); }),
                           doctest::Contains("cannot create a temporary file"), Error);
    }
    fs::remove_all(dir);
  }
}
