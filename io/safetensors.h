#pragma once
// Reading and writing the safetensors format (the model.safetensors of a Hugging Face
// checkpoint, docs/math/models.md §7):
//
//   bytes 0..7        N, the header length, unsigned 64-bit little-endian
//   bytes 8..8+N-1    a JSON object: name -> {"dtype": "F32", "shape": [..],
//                     "data_offsets": [begin, end]}, plus an optional "__metadata__"
//                     object of string -> string; may be padded with spaces
//   bytes 8+N..       the data: each tensor's elements row-major, little-endian, at
//                     [begin, end) counted from the start of the data
//
// Loading gives tensors on the CPU: F32, BF16 and F16 as f32 (bf16 and f16 widen exactly),
// F64 as f64, I32 as i32, I64 as i64. Saving writes f32, f64, i32 and i64 tensors (any
// strides) in the order given, with the header padded to a multiple of 8 bytes as the
// reference writer does, atomically (io/atomic_file.h).
//
// A malformed file gives one hqlt::Error naming the file and what is wrong: a file shorter
// than the 8-byte length, a header length past the end of the file, header JSON that does
// not parse (with its line and column) or has the wrong structure, a duplicate tensor
// name, an unknown dtype, data_offsets outside the data, overlapping another tensor's, or
// not matching shape × dtype size.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace hqlt::io {

// A named tensor and a name -> tensor map: the same types as nn::NamedTensor and
// nn::StateDict (nn/module.h), spelled out here because io sits below nn.
using NamedTensor = std::pair<std::string, Tensor>;
using StateDict = std::map<std::string, Tensor>;

using Metadata = std::vector<std::pair<std::string, std::string>>;

// One header entry, as stored.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // "F32", "BF16", ...
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;  // in header order
  Metadata metadata;
  uint64_t data_start = 0;  // 8 + N
};

struct SafetensorsFile {
  std::vector<NamedTensor> tensors;  // in header order
  Metadata metadata;
  StateDict state_dict() const;
};

// Reads and checks the header only (no tensor data is read).
SafetensorsHeader read_safetensors_header(const std::string& path);
SafetensorsFile load_safetensors(const std::string& path);

void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors, const Metadata& metadata = {});
void save_safetensors(const std::string& path, const StateDict& tensors, const Metadata& metadata = {});

// The exact conversions used for BF16 and F16 (exposed for tests).
float bf16_to_float(uint16_t bits);
float f16_to_float(uint16_t bits);

}  // namespace hqlt::io
