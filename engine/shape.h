#pragma once
// Shapes and strides (in elements), and the broadcasting rule shared by every op.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace hqlt {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

int64_t numel_of(const Shape& shape);
Strides contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);
// Resolves a possibly negative dim against a rank, throwing with the op's name if out of range.
int64_t wrap_dim(int64_t dim, int64_t rank, const char* op);
// NumPy broadcasting: align from the right; sizes must be equal or 1.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

struct ShapePrinter {
  const Shape& s;
};
inline std::ostream& operator<<(std::ostream& o, const ShapePrinter& p) { return o << shape_str(p.s); }

}  // namespace hqlt
