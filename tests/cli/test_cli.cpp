// The command line: every bad option or value is one hqlt::Error naming the command and
// the option; good values parse exactly.
#include <doctest/doctest.h>

#include "cli/arg_reader.h"
#include "cli/commands.h"
#include "engine/error.h"

using namespace hqlt;
using namespace hqlt::cli;

TEST_SUITE("unit") {
  TEST_CASE("option values parse exactly") {
    Args args{"--n", "12", "--list", "256,1024", "--x", "0.5"};
    ArgReader r("test", args);
    REQUIRE(r.next());
    CHECK(r.is("--n"));
    CHECK(r.positive_int() == 12);
    REQUIRE(r.next());
    CHECK(r.positive_int_list() == std::vector<int64_t>{256, 1024});
    REQUIRE(r.next());
    CHECK(r.positive_double() == 0.5);
    CHECK_FALSE(r.next());
  }
  TEST_CASE("bad options and values are refused by name") {
    auto first_value_error = [](Args args) {
      ArgReader r("demo", args);
      r.next();
      try {
        r.positive_int();
      } catch (const Error& e) {
        return std::string(e.what());
      }
      return std::string("no error");
    };
    CHECK(first_value_error({"--steps", "x"}) == "demo: option --steps expects a positive integer, got 'x'");
    CHECK(first_value_error({"--steps", "-3"}).find("positive integer") != std::string::npos);
    CHECK(first_value_error({"--steps", "3.5"}).find("got '3.5'") != std::string::npos);
    CHECK(first_value_error({"--steps"}) == "demo: option --steps needs a value");
    CHECK_THROWS_WITH_AS(demo({"--bogus"}), "demo: unknown option '--bogus' (see hqlt demo --help)", Error);
    CHECK_THROWS_WITH_AS(demo({"--steps", "0"}), doctest::Contains("positive integer"), Error);
    CHECK_THROWS_WITH_AS(bench_gemm({"--threads", "two"}), doctest::Contains("--threads"), Error);
    CHECK_THROWS_WITH_AS(bench_gemm({"--dtype", "f16"}), doctest::Contains("expects f32 or f64"), Error);
    CHECK_THROWS_WITH_AS(bench_ops({"--op", "conv"}), doctest::Contains("unknown op 'conv'"), Error);
    CHECK_THROWS_WITH_AS(bench_ops({"--T", "256,x"}), doctest::Contains("comma-separated list"), Error);
    CHECK_THROWS_WITH_AS(bench_ops({"--budget", "-1"}), doctest::Contains("positive number"), Error);
    CHECK_THROWS_WITH_AS(bench_ops({"--device", "gpu"}), "bench ops: option --device expects cpu or cuda, got 'gpu'",
                         Error);
    CHECK_THROWS_WITH_AS(bench_ops({"--d", "0"}), doctest::Contains("--d"), Error);
  }
  TEST_CASE("the demo's loss falls") {
    CHECK(demo({"--steps", "40", "--seed", "3"}) == 0);  // returns non-zero unless the loss fell
  }
}
