#pragma once
// hqlt::Error: the one exception type the engine throws. Messages name the op, the
// argument, what was expected and what came, e.g.
//   matmul: argument 'b': expected dim -2 == 64 (a's last dim), got shape [32, 16]
#include <sstream>
#include <stdexcept>
#include <string>

namespace hqlt {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

// Throws hqlt::Error with the streamed parts joined: fail("add: ", "shapes ", a, " and ", b).
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw Error(detail::concat(parts...));
}

}  // namespace hqlt

// HQLT_CHECK(cond, parts...): throw hqlt::Error(parts...) unless cond holds.
#define HQLT_CHECK(cond, ...)        \
  do {                               \
    if (!(cond)) ::hqlt::fail(__VA_ARGS__); \
  } while (0)
