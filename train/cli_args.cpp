#include "train/cli_args.h"

#include <cmath>
#include <sstream>

#include "engine/error.h"

namespace hqlt::cli {

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
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(v, &used);
  } catch (...) {
    used = 0;
  }
  HQLT_CHECK(used == v.size() && !v.empty() && n > 0, command_, ": option ", current_,
             " expects a positive integer, got '", v, "'");
  return n;
}

double ArgReader::positive_double() {
  std::string v = value();
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (...) {
    used = 0;
  }
  HQLT_CHECK(used == v.size() && !v.empty() && std::isfinite(x) && x > 0, command_, ": option ", current_,
             " expects a positive number, got '", v, "'");
  return x;
}

std::vector<int64_t> ArgReader::positive_int_list() {
  std::string v = value();
  std::vector<int64_t> out;
  std::stringstream in(v);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    long long n = 0;
    try {
      n = std::stoll(item, &used);
    } catch (...) {
      used = 0;
    }
    HQLT_CHECK(used == item.size() && !item.empty() && n > 0, command_, ": option ", current_,
               " expects a comma-separated list of positive integers, got '", v, "'");
    out.push_back(n);
  }
  HQLT_CHECK(!out.empty(), command_, ": option ", current_, " expects a list, got '", v, "'");
  return out;
}

void ArgReader::unknown() const {
  fail(command_, ": unknown option '", current_, "' (see hqlt ", command_, " --help)");
}

}  // namespace hqlt::cli
