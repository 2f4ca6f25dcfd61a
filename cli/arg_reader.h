#pragma once
// ArgReader: the option loop every subcommand shares. Each bad option or value becomes one
// hqlt::Error naming the command, the option and what it expected; main() prints it on one
// line and exits non-zero.
//
//   ArgReader r("demo", args);
//   while (r.next()) {
//     if (r.is("--steps")) steps = r.positive_int();
//     else r.unknown();
//   }
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"

namespace hqlt::cli {

class ArgReader {
 public:
  ArgReader(std::string command, const Args& args) : command_(std::move(command)), args_(args) {}

  // Advances to the next option; false when none is left.
  bool next();
  bool is(const char* option) const { return current_ == option; }
  const std::string& option() const { return current_; }

  // The option's value (the next word), parsed.
  std::string value();
  int64_t positive_int();
  int64_t non_negative_int();
  double positive_double();
  double non_negative_double();
  std::vector<int64_t> positive_int_list();      // "256,1024,4096"
  std::vector<int64_t> non_negative_int_list();  // "0,5,2"
  std::pair<int64_t, int64_t> int_range();       // "13-21": two integers, checked by the caller
  [[noreturn]] void unknown() const;

 private:
  std::vector<int64_t> int_list(int64_t min, const char* what);

  std::string command_;
  const Args& args_;
  size_t pos_ = 0;
  std::string current_;
};

}  // namespace hqlt::cli
