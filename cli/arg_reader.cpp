#include "cli/arg_reader.h"

#include <cmath>
#include <sstream>

#include "engine/error.h"

namespace hqlt::cli {
namespace {

// A whole string as an integer; false for anything else ("", "3x", "1.5").
bool parse_integer(const std::string& text, int64_t& out) {
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (...) {
    return false;
  }
  out = n;
  return used == text.size();
}

bool parse_positive(const std::string& text, int64_t& out) { return parse_integer(text, out) && out > 0; }

// A whole string as a finite number; false for anything else.
bool parse_number(const std::string& text, double& out) {
  size_t used = 0;
  try {
    out = std::stod(text, &used);
  } catch (...) {
    return false;
  }
  return used == text.size() && !text.empty() && std::isfinite(out);
}

}  // namespace

bool ArgReader::next() {
  if (pos_ >= args_.size()) return false;
  current_ = args_[pos_++];
  return true;
}

std::string ArgReader::value() {
  HQLT_CHECK(pos_ < args_.size(), command_, ": option ", current_, " needs a value");
  return args_[pos_++];
}

int64_t ArgReader::positive_int() {
  std::string v = value();
  int64_t n = 0;
  HQLT_CHECK(parse_positive(v, n), command_, ": option ", current_, " expects a positive integer, got '", v, "'");
  return n;
}

int64_t ArgReader::non_negative_int() {
  std::string v = value();
  int64_t n = 0;
  HQLT_CHECK(parse_integer(v, n) && n >= 0, command_, ": option ", current_,
             " expects an integer >= 0, got '", v, "'");
  return n;
}

std::pair<int64_t, int64_t> ArgReader::int_range() {
  const std::string v = value();
  const size_t dash = v.find('-');
  std::pair<int64_t, int64_t> range;
  HQLT_CHECK(dash != std::string::npos && parse_integer(v.substr(0, dash), range.first) &&
                 parse_integer(v.substr(dash + 1), range.second),
             command_, ": option ", current_, " expects MIN-MAX (for example 13-21), got '", v, "'");
  return range;
}

double ArgReader::positive_double() {
  std::string v = value();
  double x = 0;
  HQLT_CHECK(parse_number(v, x) && x > 0, command_, ": option ", current_, " expects a positive number, got '", v,
             "'");
  return x;
}

double ArgReader::non_negative_double() {
  std::string v = value();
  double x = 0;
  HQLT_CHECK(parse_number(v, x) && x >= 0, command_, ": option ", current_, " expects a number >= 0, got '", v,
             "'");
  return x;
}

std::vector<int64_t> ArgReader::int_list(int64_t min, const char* what) {
  std::string v = value();
  std::vector<int64_t> out;
  std::stringstream in(v);
  std::string item;
  while (std::getline(in, item, ',')) {
    int64_t n = 0;
    HQLT_CHECK(parse_integer(item, n) && n >= min, command_, ": option ", current_, " expects a comma-separated list of ",
               what, ", got '", v, "'");
    out.push_back(n);
  }
  HQLT_CHECK(!out.empty(), command_, ": option ", current_, " expects a list, got '", v, "'");
  return out;
}

std::vector<int64_t> ArgReader::positive_int_list() { return int_list(1, "positive integers"); }
std::vector<int64_t> ArgReader::non_negative_int_list() { return int_list(0, "integers >= 0"); }

void ArgReader::unknown() const {
  fail(command_, ": unknown option '", current_, "' (see hqlt ", command_, " --help)");
}

}  // namespace hqlt::cli
