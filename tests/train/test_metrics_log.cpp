// MetricsLog / read_metrics: records round-trip; a partial last line from a crash is dropped
// on reading and cut off when the log is reopened; a corrupt line in the middle is an error
// naming its line.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "train/metrics_log.h"

using namespace hqlt;
using namespace hqlt::train;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const char* name) {
  fs::path dir = fs::temp_directory_path() / (std::string(name) + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void append_raw(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::app);
  out << bytes;
}

}  // namespace

TEST_SUITE("unit") {
  TEST_CASE("train::MetricsLog round trip") {
    fs::path dir = fresh_dir("hqlt_metrics_rt");
    std::string path = (dir / "metrics.jsonl").string();
    {
      MetricsLog log(path);
      log.write({{"step", 10}, {"loss", 0.5}, {"lr", 3e-4}});
      log.write({{"step", 20}, {"loss", std::nan("")}, {"note", "diverged"}});
    }
    {
      MetricsLog log(path);  // reopening appends
      log.write({{"step", 30}, {"loss", 0.25}});
    }
    std::vector<io::Json> records = read_metrics(path);
    REQUIRE(records.size() == 3);
    CHECK(records[0].at("step").as_int() == 10);
    CHECK(records[0].at("loss").as_double() == 0.5);
    CHECK(records[0].at("lr").as_double() == 3e-4);
    CHECK(std::isnan(records[1].at("loss").as_double()));
    CHECK(records[1].at("note").as_string() == "diverged");
    CHECK(records[2].at("loss").as_double() == 0.25);
    fs::remove_all(dir);
  }

  TEST_CASE("train::read_metrics drops a truncated last line") {
    fs::path dir = fresh_dir("hqlt_metrics_trunc");
    fs::path path = dir / "metrics.jsonl";
    {
      MetricsLog log(path.string());
      log.write({{"step", 1}, {"loss", 2.0}});
      log.write({{"step", 2}, {"loss", 1.5}});
    }
    append_raw(path, "{\"step\":3,\"lo");  // a crash mid-write
    std::vector<io::Json> records = read_metrics(path.string());
    REQUIRE(records.size() == 2);
    CHECK(records[1].at("step").as_int() == 2);

    // A resumed run cuts the partial line off before appending.
    {
      MetricsLog log(path.string());
      log.write({{"step", 3}, {"loss", 1.0}});
    }
    records = read_metrics(path.string());
    REQUIRE(records.size() == 3);
    CHECK(records[2].at("step").as_int() == 3);
    fs::remove_all(dir);
  }

  TEST_CASE("train::read_metrics rejects corruption in the middle") {
    fs::path dir = fresh_dir("hqlt_metrics_bad");
    fs::path path = dir / "metrics.jsonl";
    append_raw(path, "{\"step\":1}\n{\"step\":2,oops}\n{\"step\":3}\n");
    CHECK_THROWS_WITH_AS(read_metrics(path.string()), doctest::Contains("line 2"), Error);
    fs::path not_object = dir / "array.jsonl";
    append_raw(not_object, "{\"step\":1}\n[1]\n");
    CHECK_THROWS_WITH_AS(read_metrics(not_object.string()), doctest::Contains("JSON object"), Error);
    CHECK_THROWS_WITH_AS(read_metrics((dir / "missing.jsonl").string()),
                         doctest::Contains("missing.jsonl"), Error);
    CHECK_THROWS_WITH_AS(MetricsLog((dir / "no_such_dir" / "m.jsonl").string()),
                         doctest::Contains("no_such_dir"), Error);
    fs::remove_all(dir);
  }
}
