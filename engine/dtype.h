#pragma once
// Element types and devices, and the dispatch helpers that turn a runtime dtype into a
// template parameter, so each kernel is written once as a template over the float type.
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

#include "engine/error.h"

namespace hqlt {

enum class DType { f32, f64, i32, i64 };
enum class Device { cpu, cuda };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::i64: return 8;
  }
  return 0;
}
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
  }
  return "?";
}
inline bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }
inline const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }
inline std::ostream& operator<<(std::ostream& o, DType t) { return o << dtype_name(t); }
inline std::ostream& operator<<(std::ostream& o, Device d) { return o << device_name(d); }

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }

// dispatch_float(dtype, op, [&]<typename T>() { ... }): calls the lambda with T = float or
// double, or throws naming the op when the dtype is not a float type.
template <typename F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f.template operator()<float>();
    case DType::f64: return f.template operator()<double>();
    default: fail(op, ": expected a floating dtype (f32 or f64), got ", dtype_name(t));
  }
}
template <typename F>
decltype(auto) dispatch_all(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f.template operator()<float>();
    case DType::f64: return f.template operator()<double>();
    case DType::i32: return f.template operator()<int32_t>();
    case DType::i64: return f.template operator()<int64_t>();
  }
  fail("unknown dtype");
}
template <typename F>
decltype(auto) dispatch_index(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::i32: return f.template operator()<int32_t>();
    case DType::i64: return f.template operator()<int64_t>();
    default: fail(op, ": expected an index dtype (i32 or i64), got ", dtype_name(t));
  }
}

}  // namespace hqlt
