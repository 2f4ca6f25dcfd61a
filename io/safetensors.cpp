#include "io/safetensors.h"

#include <algorithm>
#include <bit>
#include <filesystem>
#include <fstream>
#include <set>

#include "engine/autograd.h"
#include "io/atomic_file.h"
#include "io/json.h"

namespace hqlt::io {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader copies it as is");

// A header larger than this is refused before it is read (the reference reader's limit).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct StoredType {
  const char* name;
  size_t bytes;
  DType loads_as;
};
constexpr StoredType kStoredTypes[] = {
    {"F32", 4, DType::f32}, {"F64", 8, DType::f64}, {"BF16", 2, DType::f32},
    {"F16", 2, DType::f32}, {"I32", 4, DType::i32}, {"I64", 8, DType::i64},
};

const StoredType* stored_type(const std::string& name) {
  for (const StoredType& t : kStoredTypes)
    if (name == t.name) return &t;
  return nullptr;
}

const char* stored_name(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
  }
  return "?";
}

// Every error names the file first.
template <typename... Parts>
[[noreturn]] void bad_file(const std::string& path, const Parts&... parts) {
  fail("safetensors: '", path, "': ", parts...);
}

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A non-negative integer member of a header entry.
uint64_t header_uint(const std::string& path, const std::string& name, const char* what, const Json& v) {
  if (!v.is_int() || v.as_int() < 0)
    bad_file(path, "tensor '", name, "': ", what, " must be non-negative integers, got ", v.dump());
  return uint64_t(v.as_int());
}

SafetensorsEntry parse_entry(const std::string& path, const std::string& name, const Json& spec) {
  if (!spec.is_object()) bad_file(path, "tensor '", name, "': expected an object, got ", spec.type_name());
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!spec.contains(key)) bad_file(path, "tensor '", name, "': missing \"", key, "\"");
  const Json& dtype = spec.at("dtype");
  const Json& shape = spec.at("shape");
  const Json& offsets = spec.at("data_offsets");
  if (!dtype.is_string()) bad_file(path, "tensor '", name, "': \"dtype\" must be a string, got ", dtype.dump());
  if (!shape.is_array()) bad_file(path, "tensor '", name, "': \"shape\" must be an array, got ", shape.dump());
  if (!offsets.is_array() || offsets.size() != 2)
    bad_file(path, "tensor '", name, "': \"data_offsets\" must be [begin, end], got ", offsets.dump());

  SafetensorsEntry e;
  e.name = name;
  e.dtype = dtype.as_string();
  const StoredType* type = stored_type(e.dtype);
  if (!type)
    bad_file(path, "tensor '", name, "': unknown or unsupported dtype '", e.dtype,
             "' (this reader loads F32, F64, BF16, F16, I32 and I64)");
  uint64_t numel = 1;
  for (const Json& d : shape.as_array()) {
    uint64_t size = header_uint(path, name, "shape entries", d);
    if (size != 0 && numel > (uint64_t(1) << 60) / size) bad_file(path, "tensor '", name, "': shape too large");
    numel *= size;
    e.shape.push_back(int64_t(size));
  }
  e.begin = header_uint(path, name, "data_offsets", offsets.at(0));
  e.end = header_uint(path, name, "data_offsets", offsets.at(1));
  if (e.end < e.begin)
    bad_file(path, "tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] end before they begin");
  if (e.end - e.begin != numel * type->bytes)
    bad_file(path, "tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin,
             " bytes, but shape ", shape_str(e.shape), " of ", e.dtype, " needs ", numel * type->bytes);
  return e;
}

// Reads one stored tensor into a fresh CPU tensor of its load dtype: straight into the
// tensor's memory when the bytes are already its elements, through `scratch` for BF16/F16.
Tensor read_tensor(std::ifstream& in, uint64_t data_start, const SafetensorsEntry& e,
                   std::vector<unsigned char>& scratch) {
  const StoredType* type = stored_type(e.dtype);
  Tensor t = empty(e.shape, type->loads_as);
  const int64_t n = t.numel();
  const bool widen = e.dtype == "BF16" || e.dtype == "F16";
  const size_t bytes = size_t(e.end - e.begin);
  if (bytes == 0) return t;
  if (widen) scratch.resize(bytes);
  in.seekg(std::streamoff(data_start + e.begin));
  in.read(widen ? reinterpret_cast<char*>(scratch.data()) : static_cast<char*>(t.raw_data()), std::streamsize(bytes));
  if (!in) return Tensor();
  if (widen) {
    float* out = t.data<float>();
    const bool is_bf16 = e.dtype == "BF16";
    for (int64_t i = 0; i < n; ++i) {
      uint16_t bits = uint16_t(scratch[size_t(2 * i)] | (scratch[size_t(2 * i + 1)] << 8));
      out[i] = is_bf16 ? bf16_to_float(bits) : f16_to_float(bits);
    }
  }
  return t;
}

}  // namespace

float bf16_to_float(uint16_t bits) { return std::bit_cast<float>(uint32_t(bits) << 16); }

float f16_to_float(uint16_t bits) {
  const uint32_t sign = uint32_t(bits & 0x8000) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1F;
  const uint32_t mantissa = bits & 0x3FF;
  if (exponent == 0x1F)  // inf or NaN: keep the payload
    return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  if (exponent == 0) {  // zero or subnormal: mantissa · 2^-24, exact in f32
    float magnitude = float(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  return std::bit_cast<float>(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

StateDict SafetensorsFile::state_dict() const {
  StateDict out;
  for (const auto& [name, t] : tensors) out.emplace(name, t);
  return out;
}

SafetensorsHeader read_safetensors_header(const std::string& path) {
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) bad_file(path, "cannot read: ", ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) bad_file(path, "cannot open for reading");
  if (file_size < 8)
    bad_file(path, "truncated file: ", file_size, " bytes, but a safetensors file starts with an 8-byte header length");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  const uint64_t header_len = read_u64_le(len_bytes);
  if (header_len > file_size - 8)
    bad_file(path, "header length ", header_len, " runs past the end of the file (", file_size - 8,
             " bytes after the length): truncated or not a safetensors file");
  if (header_len > kMaxHeaderBytes) bad_file(path, "header length ", header_len, " is larger than the limit of ", kMaxHeaderBytes);
  std::string text(header_len, '\0');
  in.read(text.data(), std::streamsize(header_len));
  if (!in) bad_file(path, "cannot read the header");

  Json header;
  try {
    header = Json::parse(text);
  } catch (const Error& e) {
    bad_file(path, "bad header JSON: ", e.what());
  }
  if (!header.is_object()) bad_file(path, "the header must be a JSON object, got ", header.type_name());

  SafetensorsHeader out;
  out.data_start = 8 + header_len;
  const uint64_t data_size = file_size - out.data_start;
  for (const auto& [name, spec] : header.as_object()) {
    if (name == "__metadata__") {
      if (!spec.is_object()) bad_file(path, "\"__metadata__\" must be an object of strings");
      for (const auto& [k, v] : spec.as_object()) {
        if (!v.is_string()) bad_file(path, "\"__metadata__\" value of '", k, "' must be a string, got ", v.dump());
        out.metadata.emplace_back(k, v.as_string());
      }
      continue;
    }
    SafetensorsEntry e = parse_entry(path, name, spec);
    if (e.end > data_size)
      bad_file(path, "tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] run past the end of the data (",
               data_size, " bytes): truncated file");
    out.entries.push_back(std::move(e));
  }

  // No two tensors may share bytes: sort by start and compare neighbours.
  std::vector<const SafetensorsEntry*> by_start;
  for (const auto& e : out.entries)
    if (e.end > e.begin) by_start.push_back(&e);
  std::sort(by_start.begin(), by_start.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_start.size(); ++i)
    if (by_start[i]->begin < by_start[i - 1]->end)
      bad_file(path, "tensors '", by_start[i - 1]->name, "' [", by_start[i - 1]->begin, ", ", by_start[i - 1]->end,
               ") and '", by_start[i]->name, "' [", by_start[i]->begin, ", ", by_start[i]->end, ") overlap");
  return out;
}

SafetensorsFile load_safetensors(const std::string& path) {
  SafetensorsHeader header = read_safetensors_header(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) bad_file(path, "cannot open for reading");
  SafetensorsFile out;
  out.metadata = header.metadata;
  std::vector<unsigned char> scratch;
  for (const SafetensorsEntry& e : header.entries) {
    Tensor t = read_tensor(in, header.data_start, e, scratch);
    if (!t.defined()) bad_file(path, "tensor '", e.name, "': cannot read its data (the file changed or is truncated)");
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors, const Metadata& metadata) {
  // Check everything and lay out the header before the file is touched.
  std::set<std::string> names;
  std::vector<Tensor> contiguous;
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [k, v] : metadata) {
      HQLT_CHECK(!meta.contains(k), "save_safetensors: '", path, "': duplicate metadata key '", k, "'");
      meta.set(k, v);
    }
    header.set("__metadata__", meta);
  }
  uint64_t offset = 0;
  NoGrad no_grad;
  for (const auto& [name, t] : tensors) {
    HQLT_CHECK(!name.empty() && name != "__metadata__", "save_safetensors: '", path, "': invalid tensor name '", name,
               "'");
    HQLT_CHECK(names.insert(name).second, "save_safetensors: '", path, "': duplicate tensor name '", name, "'");
    HQLT_CHECK(t.defined(), "save_safetensors: '", path, "': tensor '", name, "' is undefined");
    Tensor host = t.device() == Device::cpu ? t.detach() : t.detach().to(Device::cpu);
    contiguous.push_back(host.is_contiguous() ? host : clone_contiguous(host));
    const uint64_t bytes = uint64_t(t.numel()) * dtype_size(t.dtype());
    Json shape = Json::array();
    for (int64_t d : t.shape()) shape.push_back(d);
    Json spec = Json::object();
    spec.set("dtype", stored_name(t.dtype()));
    spec.set("shape", shape);
    spec.set("data_offsets", Json(Json::Array{Json(offset), Json(offset + bytes)}));
    header.set(name, spec);
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>((uint64_t(text.size()) >> (8 * i)) & 0xFF);

  write_file_atomically(path, [&](FileSink& sink) {
    sink.write(len_bytes, 8);
    sink.write(text);
    for (const Tensor& t : contiguous) sink.write(t.raw_data(), size_t(t.numel()) * dtype_size(t.dtype()));
  });
}

void save_safetensors(const std::string& path, const StateDict& tensors, const Metadata& metadata) {
  save_safetensors(path, std::vector<NamedTensor>(tensors.begin(), tensors.end()), metadata);
}

}  // namespace hqlt::io
