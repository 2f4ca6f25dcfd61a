// Tiled softmax attention: the fused op against attention_reference (forward and the
// gradients of q, k and v, f64 and f32) across sequence lengths around the tile size,
// windows, causal and not, a KV-cache offset, one or three heads, grouped-query attention
// (fewer kv heads than query heads) and d_k ≠ d_v; a
// finite-difference gradcheck with tiny tiles; values against a naive loop; the KV-cache
// property; bad arguments; and the memory bound (nothing T × T, forward or backward). The
// reference checks run on every device (for_each_device): in a CUDA build with a card, the
// GPU kernel meets the same cases and bounds.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "devices.h"
#include "engine/allocator.h"
#include "engine/parallel.h"
#include "gradcheck.h"
#include "ops/attention/attention.h"
#include "ops/elementwise/elementwise.h"
#include "ops/reduce/reduce.h"
#include "ops/shape/views.h"
#include "threads.h"

using namespace hqlt;
using namespace hqlt::testing;
using attention_detail::Tiles;
using Ts = std::vector<Tensor>;

namespace {

// One configuration of the op. Tq = T, Tk = T + offset.
struct Case {
  int64_t batch = 2, time = 7, heads = 3, d_k = 6, d_v = 5;
  int64_t kv_heads = 0;  // 0: as many as heads; otherwise grouped-query attention
  bool causal = true;
  int64_t window = -1;
  int64_t offset = 0;
  Tiles tiles{};
};

std::string describe(const Case& c) {
  return "B=" + std::to_string(c.batch) + " T=" + std::to_string(c.time) + " H=" + std::to_string(c.heads) +
         " H_kv=" + std::to_string(c.kv_heads ? c.kv_heads : c.heads) +
         " d_k=" + std::to_string(c.d_k) + " d_v=" + std::to_string(c.d_v) + (c.causal ? " causal" : " full") +
         " window=" + std::to_string(c.window) + " offset=" + std::to_string(c.offset) + " tiles=" +
         std::to_string(c.tiles.query_rows) + "x" + std::to_string(c.tiles.key_rows);
}

Tensor random_leaf(const Shape& shape, DType dtype, double std = 1.0) {
  Tensor t = randn(shape, dtype, Device::cpu, 0.0, std);
  t.set_requires_grad(true);
  return t;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double x : t.to(Device::cpu).to_vector()) m = std::max(m, std::abs(x));
  return m;
}

struct Outputs {
  Tensor out, dq, dk, dv;
};

// Runs f forward and backward with upstream gradient `dout`, returning out and the grads.
template <typename F>
Outputs run(F f, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& dout) {
  q.impl()->grad.reset();
  k.impl()->grad.reset();
  v.impl()->grad.reset();
  Outputs r;
  r.out = f(q, k, v);
  r.out.backward(dout);
  r.dq = q.grad();
  r.dk = k.grad();
  r.dv = v.grad();
  return r;
}

// Fused (on `device`: the CPU's tiled kernel with c.tiles, or the GPU's) vs the reference on
// the CPU on fresh random inputs: out, dq, dk, dv within `tol`, measured as
// max|fused − reference| / max|reference|.
void check_against_reference(const Case& c, DType dtype, double tol, Device device = Device::cpu) {
  const std::string what = describe(c) + " " + dtype_name(dtype);
  CAPTURE(what);
  const int64_t q_len = c.time, k_len = c.time + c.offset;
  // q with std 2 makes the softmax peaked, so the online rescaling matters.
  Tensor q = random_leaf({c.batch, q_len, c.heads, c.d_k}, dtype, 2.0);
  const int64_t kv_heads = c.kv_heads ? c.kv_heads : c.heads;
  Tensor k = random_leaf({c.batch, k_len, kv_heads, c.d_k}, dtype);
  Tensor v = random_leaf({c.batch, k_len, kv_heads, c.d_v}, dtype);
  Tensor dout = randn({c.batch, q_len, c.heads, c.d_v}, dtype);
  const double scale = 1.0 / std::sqrt(double(c.d_k));
  Outputs fused = run(
      [&](const Tensor& a, const Tensor& b, const Tensor& d) {
        if (device == Device::cpu)
          return attention_detail::attention_tiled(a, b, d, c.causal, c.window, scale, c.offset, c.tiles);
        return attention(a, b, d, c.causal, c.window, scale, c.offset);
      },
      leaf_copy(q, dtype, false, device), leaf_copy(k, dtype, false, device), leaf_copy(v, dtype, false, device),
      dout.to(device));
  CHECK(fused.out.device() == device);
  Outputs ref = run(
      [&](const Tensor& a, const Tensor& b, const Tensor& d) {
        return attention_reference(a, b, d, c.causal, c.window, scale, c.offset);
      },
      q, k, v, dout);
  expect_close(fused.out, ref.out, tol);
  expect_close(fused.dv, ref.dv, tol);
  if ((c.causal && c.window == 1) || k_len == 1) {
    // Each row sees one key with probability 1, so dq and dk vanish: both sides hold
    // round-off only, and a relative measure would divide noise by noise.
    CHECK(max_abs(fused.dq) <= tol);
    CHECK(max_abs(fused.dk) <= tol);
    CHECK(max_abs(ref.dq) <= tol);
  } else {
    expect_close(fused.dq, ref.dq, tol);
    expect_close(fused.dk, ref.dk, tol);
  }
}

void check_both_dtypes(const Case& c, Device device) {
  check_against_reference(c, DType::f64, 1e-10, device);
  check_against_reference(c, DType::f32, 1e-4, device);
}

// The masking options every grid runs: full, causal, and windows 1, 5, 64 and > T.
std::vector<std::pair<bool, int64_t>> mask_options(int64_t time) {
  return {{false, -1}, {true, -1}, {true, 1}, {true, 5}, {true, 64}, {true, time + 3}};
}

// The naive statement of attention.h, one query row at a time, in double.
std::vector<double> naive_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, int64_t window,
                                    double scale, int64_t offset) {
  const int64_t B = q.size(0), Tq = q.size(1), H = q.size(2), dk = q.size(3), Tk = k.size(1), dv = v.size(3);
  std::vector<double> qv = q.to_vector(), kv = k.to_vector(), vv = v.to_vector();
  std::vector<double> out(size_t(B * Tq * H * dv), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Tq; ++i) {
        const int64_t p = offset + i;
        std::vector<double> w(size_t(Tk), 0.0);
        double m = -std::numeric_limits<double>::infinity(), z = 0;
        for (int64_t j = 0; j < Tk; ++j) {
          bool visible = !causal || (j <= p && (window < 0 || j >= p - window + 1));
          if (!visible) continue;
          double s = 0;
          for (int64_t d = 0; d < dk; ++d)
            s += qv[size_t(((b * Tq + i) * H + h) * dk + d)] * kv[size_t(((b * Tk + j) * H + h) * dk + d)];
          w[size_t(j)] = scale * s;
          m = std::max(m, scale * s);
        }
        for (int64_t j = 0; j < Tk; ++j) {
          bool visible = !causal || (j <= p && (window < 0 || j >= p - window + 1));
          w[size_t(j)] = visible ? std::exp(w[size_t(j)] - m) : 0.0;
          z += w[size_t(j)];
        }
        for (int64_t j = 0; j < Tk; ++j)
          for (int64_t d = 0; d < dv; ++d)
            out[size_t(((b * Tq + i) * H + h) * dv + d)] +=
                w[size_t(j)] / z * vv[size_t(((b * Tk + j) * H + h) * dv + d)];
      }
  return out;
}


}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck attention") {
    // Tiny tiles (4 query rows × 3 keys) so that T = 9 already has skipped, masked and
    // fully visible tiles; leaf_transposed gives non-contiguous q, k, v.
    const Tiles tiny{4, 3};
    struct Option {
      bool causal;
      int64_t window, offset;
    };
    for (Option o : {Option{false, -1, 0}, Option{true, -1, 0}, Option{true, 1, 0}, Option{true, 3, 0},
                     Option{true, 20, 0}, Option{true, -1, 4}, Option{true, 2, 4}, Option{false, -1, 3}}) {
      CAPTURE(o.causal);
      CAPTURE(o.window);
      CAPTURE(o.offset);
      const int64_t tq = 9, tk = 9 + o.offset;
      auto f = [o, tiny](const Ts& x) {
        return attention_detail::attention_tiled(x[0], x[1], x[2], o.causal, o.window, 0.7, o.offset, tiny);
      };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({1, tq, 2, 3}), leaf({1, tk, 2, 3}), leaf({1, tk, 2, 2})}));
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({2, tq, 3, 3}), leaf({2, tk, 3, 3}), leaf_transposed({2, tk, 3, 2})}));
    }
    // Grouped-query attention: 4 query heads on 2 and on 1 kv head, every tile kind.
    for (int64_t kv_heads : {2, 1}) {
      CAPTURE(kv_heads);
      auto f = [tiny](const Ts& x) { return attention_detail::attention_tiled(x[0], x[1], x[2], true, 5, 0.7, 0, tiny); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({2, 9, 4, 3}), leaf({2, 9, kv_heads, 3}), leaf({2, 9, kv_heads, 2})}));
    }
    // d_k = d_v = 1, T = 1, and the default 64 × 64 tiles with a partial tile.
    auto plain = [](const Ts& x) { return attention(x[0], x[1], x[2], true, -1, 1.3); };
    HQLT_CHECK_GRADIENTS(plain, (Ts{leaf({1, 1, 1, 1}), leaf({1, 1, 1, 1}), leaf({1, 1, 1, 1})}));
    HQLT_CHECK_GRADIENTS(plain, (Ts{leaf({2, 5, 1, 1}), leaf({2, 5, 1, 1}), leaf({2, 5, 1, 1})}));
    HQLT_CHECK_GRADIENTS(plain, (Ts{leaf({1, 70, 1, 2}, 0.5), leaf({1, 70, 1, 2}, 0.5), leaf({1, 70, 1, 3})}));
  }
}

TEST_SUITE("reference") {
  TEST_CASE("attention fused matches reference: T around the tile size and every mask") {
    for_each_device([](Device d) {
      for (int64_t time : {1, 7, 64, 65, 300})
        for (auto [causal, window] : mask_options(time)) {
          Case c;
          c.time = time;
          c.d_k = 16;
          c.d_v = 12;
          c.causal = causal;
          c.window = window;
          c.heads = time == 300 ? 1 : 3;
          c.batch = time == 300 ? 1 : 2;
          check_both_dtypes(c, d);
        }
    });
  }

  TEST_CASE("attention fused matches reference: grouped-query attention") {
    // 6 query heads on 3, 2 and 1 kv heads (groups of 2, 3 and 6), every mask, tiles that
    // split the sequence, and a KV-cache offset.
    for_each_device([](Device d) {
      for (int64_t kv_heads : {3, 2, 1})
        for (int64_t time : {1, 17, 70})
          for (auto [causal, window] : mask_options(time)) {
            Case c;
            c.time = time;
            c.heads = 6;
            c.kv_heads = kv_heads;
            c.causal = causal;
            c.window = window;
            c.tiles = Tiles{16, 8};
            c.offset = causal && time == 17 ? 5 : 0;
            check_both_dtypes(c, d);
          }
    });
  }

  TEST_CASE("attention fused matches reference: small tiles and T not a multiple of them") {
    for_each_device([](Device d) {
      for (Tiles tiles : {Tiles{8, 8}, Tiles{16, 8}, Tiles{8, 16}})
        for (int64_t time : {7, 16, 17, 100})
          for (auto [causal, window] : mask_options(time)) {
            Case c;
            c.time = time;
            c.causal = causal;
            c.window = window;
            c.tiles = tiles;
            c.heads = time % 2 ? 3 : 1;
            check_both_dtypes(c, d);
          }
    });
  }

  TEST_CASE("attention fused matches reference: KV-cache offset (Tq < Tk)") {
    for_each_device([](Device d) {
      for (Tiles tiles : {Tiles{}, Tiles{8, 16}, Tiles{16, 8}})
        for (int64_t time : {1, 5, 40})
          for (int64_t offset : {3, 70})
            for (auto [causal, window] : mask_options(time)) {
              Case c;
              c.time = time;
              c.offset = offset;
              c.causal = causal;
              c.window = window;
              c.tiles = tiles;
              c.batch = 1;
              check_both_dtypes(c, d);
            }
    });
  }

  TEST_CASE("attention fused matches reference at the models' head dims") {
    // d = 32, 64, 128 under every kind of mask; then grouped queries, a query offset (the
    // last rows of a long call, rows in the middle, one decoding step) and d_k ≠ d_v off
    // the GPU kernel's padding, all at model sizes.
    for_each_device([](Device d) {
      const std::pair<bool, int64_t> masks[] = {{false, -1}, {true, -1}, {true, 16}, {true, 64}};
      for (auto [causal, window] : masks) {
        Case c;
        c.causal = causal, c.window = window;
        for (int64_t dim : {32, 64, 128}) {
          c.batch = 1, c.time = 129, c.heads = 2, c.d_k = c.d_v = dim;
          check_both_dtypes(c, d);
        }
        c.d_k = c.d_v = 64, c.heads = 4, c.kv_heads = 2;
        check_both_dtypes(c, d);
        c.kv_heads = 0, c.heads = 2;
        for (auto [time, offset] : {std::pair<int64_t, int64_t>{70, 130}, {70, 50}, {1, 128}}) {
          c.time = time, c.offset = offset;
          check_both_dtypes(c, d);
        }
        c.time = 65, c.offset = 0, c.d_k = 40, c.d_v = 96;
        check_both_dtypes(c, d);
        c.d_k = 128, c.d_v = 17;
        check_both_dtypes(c, d);
      }
    });
  }
}

TEST_SUITE("slow") {
  TEST_CASE("attention fused matches reference: long sequence with tiny and uneven tiles and an offset") {
    for (Tiles tiles : {Tiles{8, 8}, Tiles{32, 64}})
      for (int64_t offset : {0, 45})
        for (auto [causal, window] : mask_options(517)) {
          Case c;
          c.time = 517;
          c.batch = 2;
          c.heads = 3;
          c.d_k = 32;
          c.d_v = 24;
          c.causal = causal;
          c.window = window;
          c.offset = offset;
          c.tiles = tiles;
          check_both_dtypes(c, Device::cpu);  // the tiles are the CPU kernel's
        }
  }
}

TEST_SUITE("unit") {
  TEST_CASE("attention values match a naive loop") {
    struct Option {
      bool causal;
      int64_t window, offset;
    };
    for (Option o : {Option{false, -1, 0}, Option{true, -1, 0}, Option{true, 1, 0}, Option{true, 4, 0},
                     Option{true, -1, 6}, Option{true, 3, 6}, Option{false, -1, 2}}) {
      CAPTURE(o.causal);
      CAPTURE(o.window);
      CAPTURE(o.offset);
      Tensor q = randn({2, 11, 3, 4}, DType::f64), k = randn({2, 11 + o.offset, 3, 4}, DType::f64);
      Tensor v = randn({2, 11 + o.offset, 3, 7}, DType::f64);
      std::vector<double> want = naive_attention(q, k, v, o.causal, o.window, 0.8, o.offset);
      expect_close(attention(q, k, v, o.causal, o.window, 0.8, o.offset).to_vector(), want, 1e-12);
      expect_close(attention_detail::attention_tiled(q, k, v, o.causal, o.window, 0.8, o.offset, Tiles{3, 2})
                             .to_vector(), want, 1e-12);
      expect_close(attention_reference(q, k, v, o.causal, o.window, 0.8, o.offset).to_vector(), want, 1e-12);
      Tensor q32 = q.to(DType::f32), k32 = k.to(DType::f32), v32 = v.to(DType::f32);
      expect_close(attention(q32, k32, v32, o.causal, o.window, 0.8, o.offset).to_vector(), want, 1e-5);
    }
  }

  TEST_CASE("attention window 1 returns v and a large scale picks the best key") {
    Tensor q = randn({1, 9, 2, 3}, DType::f64), k = randn({1, 9, 2, 3}, DType::f64), v = randn({1, 9, 2, 4}, DType::f64);
    expect_close(attention(q, k, v, true, 1, 0.5).to_vector(), v.to_vector(), 1e-15);
    // Scores of size 1e4 must neither overflow nor underflow to NaN: each row becomes the v
    // of its best key (checked where the runner-up trails by more than 40 / scale).
    const double scale = 1e4;
    for (DType dtype : {DType::f64, DType::f32}) {
      const std::string dtype_str = dtype_name(dtype);
      CAPTURE(dtype_str);
      std::vector<double> out = attention(q.to(dtype), k.to(dtype), v.to(dtype), false, -1, scale).to_vector();
      std::vector<double> qv = q.to_vector(), kv = k.to_vector(), vv = v.to_vector();
      int checked = 0;
      for (int64_t i = 0; i < 9; ++i)
        for (int64_t h = 0; h < 2; ++h) {
          std::vector<double> s(9);
          for (int64_t j = 0; j < 9; ++j)
            for (int64_t d = 0; d < 3; ++d) s[size_t(j)] += qv[size_t((i * 2 + h) * 3 + d)] * kv[size_t((j * 2 + h) * 3 + d)];
          const size_t best = size_t(std::max_element(s.begin(), s.end()) - s.begin());
          double runner_up = -std::numeric_limits<double>::infinity();
          for (size_t j = 0; j < 9; ++j)
            if (j != best) runner_up = std::max(runner_up, s[j]);
          if ((s[best] - runner_up) * scale < 40) continue;
          ++checked;
          for (int64_t d = 0; d < 4; ++d)
            CHECK(std::abs(out[size_t((i * 2 + h) * 4 + d)] - vv[size_t((int64_t(best) * 2 + h) * 4 + d)]) < 1e-6);
        }
      CHECK(checked > 10);
    }
  }

  TEST_CASE("attention with a KV-cache offset gives the tail of the full-length call") {
    for (int64_t window : {-1, 1, 5, 100}) {
      CAPTURE(window);
      Tensor q = randn({2, 70, 3, 8}), k = randn({2, 70, 3, 8}), v = randn({2, 70, 3, 6});
      Tensor full = attention(q, k, v, true, window, 0.35);
      for (int64_t start : {0, 1, 63, 64, 69}) {
        CAPTURE(start);
        Tensor tail = attention(q.slice(1, start, 70), k, v, true, window, 0.35, start);
        CHECK(max_error(tail, full.slice(1, start, 70)) < 1e-6);
        // Keys after the last query's position are invisible: a head of the queries
        // against all 70 keys equals the head of the full-length call.
        Tensor head = attention(q.slice(1, 0, start + 1), k, v, true, window, 0.35);
        CHECK(max_error(head, full.slice(1, 0, start + 1)) < 1e-6);
      }
    }
  }

  TEST_CASE("attention backward takes a non-contiguous gradient and gives the same bits on every run") {
    Tensor q = random_leaf({2, 37, 3, 8}, DType::f64), k = random_leaf({2, 37, 3, 8}, DType::f64);
    Tensor v = random_leaf({2, 37, 3, 5}, DType::f64);
    Tensor dout = randn({2, 3, 37, 5}, DType::f64).permute({0, 2, 1, 3});  // [B, T, H, d_v], strided
    auto fused = [](const Tensor& a, const Tensor& b, const Tensor& c) {
      return attention_detail::attention_tiled(a, b, c, true, 9, 0.3, 0, Tiles{8, 16});
    };
    Outputs first = run(fused, q, k, v, dout);
    Outputs again = run(fused, q, k, v, dout);
    Outputs ref = run([](const Tensor& a, const Tensor& b, const Tensor& c) { return attention_reference(a, b, c, true, 9, 0.3); },
                      q, k, v, dout);
    CHECK(max_error(first.dq, ref.dq) < 1e-10);
    CHECK(max_error(first.dk, ref.dk) < 1e-10);
    CHECK(max_error(first.dv, ref.dv) < 1e-10);
    CHECK(first.dq.to_vector() == again.dq.to_vector());
    CHECK(first.dk.to_vector() == again.dk.to_vector());
    CHECK(first.dv.to_vector() == again.dv.to_vector());
    // Each tile's sums run in one fixed order on one thread, so even the thread count
    // does not change the bits (here on a problem big enough to be split).
    Tensor q3 = random_leaf({2, 300, 3, 16}, DType::f32), k3 = random_leaf({2, 300, 3, 16}, DType::f32);
    Tensor v3 = random_leaf({2, 300, 3, 16}, DType::f32), g3 = randn({2, 300, 3, 16});
    auto plain = [](const Tensor& a, const Tensor& b, const Tensor& c) { return attention(a, b, c, true, -1, 0.25); };
    const Outputs serial = hqlt::testing::with_threads(1, [&] { return run(plain, q3, k3, v3, g3); });
    const Outputs parallel = hqlt::testing::with_threads(2, [&] { return run(plain, q3, k3, v3, g3); });
    CHECK(serial.out.to_vector() == parallel.out.to_vector());
    CHECK(serial.dq.to_vector() == parallel.dq.to_vector());
    CHECK(serial.dk.to_vector() == parallel.dk.to_vector());
    CHECK(serial.dv.to_vector() == parallel.dv.to_vector());
    // Only the inputs that need a gradient get one.
    Tensor q2 = randn({1, 5, 1, 2}, DType::f64), k2 = random_leaf({1, 5, 1, 2}, DType::f64);
    Tensor v2 = randn({1, 5, 1, 2}, DType::f64);
    sum(attention(q2, k2, v2, true, -1, 1.0)).backward();
    CHECK(k2.grad().defined());
    CHECK(!q2.grad().defined());
  }

  TEST_CASE("attention backward with fewer kv heads than threads splits by tiles and keeps the bits") {
    // One (b, kv head) item for several threads: the backward then hands out key tiles and
    // query tiles instead, and must sum in the one-item order (same bits for 1, 2, 4 threads).
    struct Split {
      int64_t heads, kv_heads, time;
      bool causal;
      int64_t window, offset;
    };
    for (const Split c : {Split{1, 1, 300, true, -1, 0}, Split{4, 1, 200, true, 40, 0}, Split{2, 1, 150, false, -1, 0},
                          Split{1, 1, 170, true, 33, 30}}) {
      CAPTURE(c.heads);
      CAPTURE(c.window);
      CAPTURE(c.offset);
      Tensor q = random_leaf({1, c.time, c.heads, 16}, DType::f32);
      Tensor k = random_leaf({1, c.time + c.offset, c.kv_heads, 16}, DType::f32);
      Tensor v = random_leaf({1, c.time + c.offset, c.kv_heads, 12}, DType::f32);
      Tensor g = randn({1, c.time, c.heads, 12});
      auto fused = [&](const Tensor& a, const Tensor& b, const Tensor& d) {
        return attention_detail::attention_tiled(a, b, d, c.causal, c.window, 0.25, c.offset, Tiles{32, 48});
      };
      const Outputs one = hqlt::testing::with_threads(1, [&] { return run(fused, q, k, v, g); });
      for (int threads : {2, 4}) {
        CAPTURE(threads);
        const Outputs many = hqlt::testing::with_threads(threads, [&] { return run(fused, q, k, v, g); });
        CHECK(one.dq.to_vector() == many.dq.to_vector());
        CHECK(one.dk.to_vector() == many.dk.to_vector());
        CHECK(one.dv.to_vector() == many.dv.to_vector());
      }
      const Outputs ref = run([&](const Tensor& a, const Tensor& b, const Tensor& d) {
        return attention_reference(a, b, d, c.causal, c.window, 0.25, c.offset);
      }, q, k, v, g);
      CHECK(max_error(one.dq, ref.dq) < 1e-4);
      CHECK(max_error(one.dk, ref.dk) < 1e-4);
      CHECK(max_error(one.dv, ref.dv) < 1e-4);
    }
  }

  TEST_CASE("attention rejects bad arguments") {
    Tensor q = randn({2, 6, 3, 4}), k = randn({2, 6, 3, 4}), v = randn({2, 6, 3, 5});
    auto throws = [](auto&& call, const char* text) {
      CAPTURE(text);
      CHECK_THROWS_WITH_AS(call(), doctest::Contains(text), Error);
    };
    throws([&] { return attention(q.reshape({12, 3, 4}), k, v, true, -1, 0.5); }, "argument 'q': expected rank 4");
    throws([&] { return attention(q, randn({3, 6, 3, 4}), v, true, -1, 0.5); }, "argument 'k': expected batch B == 2");
    throws([&] { return attention(q, k, randn({2, 6, 3, 5}).slice(0, 0, 1), true, -1, 0.5); },
           "argument 'v': expected batch B == 2");
    throws([&] { return attention(q, randn({2, 6, 2, 4}), v, true, -1, 0.5); },
           "argument 'k': expected kv heads H_kv dividing the 3 query heads");
    throws([&] { return attention(q, k, randn({2, 6, 1, 5}), true, -1, 0.5); },
           "argument 'v': expected heads H_kv == 3 (as k [B, Tk, H_kv, d_k])");
    throws([&] { return attention(q, randn({2, 6, 3, 3}), v, true, -1, 0.5); }, "argument 'k': expected key dim d_k == 4");
    throws([&] { return attention(q, k, randn({2, 7, 3, 5}), true, -1, 0.5); }, "argument 'v': expected key length Tk == 6");
    throws([&] { return attention(q, randn({2, 5, 3, 4}), randn({2, 5, 3, 5}), true, -1, 0.5); },
           "causal attention needs query_offset + Tq <= Tk");
    throws([&] { return attention(q, k, v, true, 0, 0.5); }, "argument 'window': expected -1 (no window) or >= 1, got 0");
    throws([&] { return attention(q, k, v, true, -2, 0.5); }, "argument 'window': expected -1 (no window) or >= 1, got -2");
    throws([&] { return attention(q, k, v, false, 4, 0.5); }, "needs causal = true");
    throws([&] { return attention(q, k, v, true, -1, 0.5, -1); }, "argument 'query_offset': expected >= 0");
    throws([&] { return attention(q, k, v, true, -1, 0.5, 1); }, "causal attention needs query_offset + Tq <= Tk");
    throws([&] { return attention(q, k, v, true, -1, std::nan("")); }, "argument 'scale': expected a finite value");
    throws([&] { return attention(q, randn({2, 0, 3, 4}), randn({2, 0, 3, 5}), false, -1, 0.5); },
           "expected at least one key");
    throws([&] { return attention(randn({2, 6, 3, 0}), randn({2, 6, 3, 0}), v, true, -1, 0.5); },
           "expected a key dim d_k >= 1");
    // dtypes: integer, and mixed f32 / f64.
    Tensor qi = zeros({2, 6, 3, 4}, DType::i64);
    throws([&] { return attention(qi, k, v, true, -1, 0.5); }, "argument 'q': expected dtype f32 or f64, got i64");
    throws([&] { return attention(q, k.to(DType::f64), v, true, -1, 0.5); }, "argument 'k': expected dtype f32");
    throws([&] { return attention(q, k, v.to(DType::f64), true, -1, 0.5); }, "argument 'v': expected dtype f32");
    // devices: empty tensors can live on cuda even in a CPU-only build.
    Tensor qc = empty({0, 6, 3, 4}, DType::f32, Device::cuda), kc = empty({0, 6, 3, 4}, DType::f32, Device::cuda);
    Tensor vc = empty({0, 6, 3, 5}, DType::f32, Device::cuda);
    Tensor q0 = empty({0, 6, 3, 4}), v0 = empty({0, 6, 3, 5});
    throws([&] { return attention(q0, kc, v0, true, -1, 0.5); }, "argument 'k': expected device cpu");
#ifndef HQLT_HAS_CUDA
    throws([&] { return attention(qc, kc, vc, true, -1, 0.5); }, "no cuda kernel");  // a CUDA build runs it
#endif
    // The reference checks the same way.
    throws([&] { return attention_reference(q, k, v, false, 4, 0.5); }, "attention_reference: argument 'window'");
  }

  TEST_CASE("attention allows empty batches and empty query sets") {
    Tensor q = randn({0, 6, 3, 4}), k = randn({0, 6, 3, 4}), v = randn({0, 6, 3, 5});
    CHECK(attention(q, k, v, true, -1, 0.5).shape() == Shape{0, 6, 3, 5});
    Tensor q1 = randn({2, 0, 3, 4}), k1 = randn({2, 4, 3, 4}), v1 = randn({2, 4, 3, 5});
    CHECK(attention(q1, k1, v1, true, 2, 0.5, 4).shape() == Shape{2, 0, 3, 5});
  }

  TEST_CASE("attention memory stays O(T d) for full causal T = 8192 forward and backward") {
    // One T × T f32 score matrix of one head would be 256 MiB. The fused op allocates O,
    // LSE and the three input gradients (each B·T·H·d = 8 MiB here), and the engine adds
    // one copy per leaf gradient: 56 MiB in all, and nothing that grows like T².
    // (Full causal fwd + bwd takes ~1.5 s on 2 cores.)
    const int64_t T = 8192, H = 4, d = 64;
    Tensor q = random_leaf({1, T, H, d}, DType::f32), k = random_leaf({1, T, H, d}, DType::f32);
    Tensor v = random_leaf({1, T, H, d}, DType::f32);
    Tensor dout = randn({1, T, H, d});
    memory::reset_peak();
    const size_t base = memory::stats().in_use;
    {
      Tensor out = attention(q, k, v, true, -1, 0.125);
      out.backward(dout);
    }
    const double grown = double(memory::stats().peak - base);
    const double one_tensor = double(T * H * d * 4), score_matrix = double(T * T * 4);
    MESSAGE("peak growth " << grown / (1 << 20) << " MiB; one T x T f32 matrix " << score_matrix / (1 << 20) << " MiB");
    CHECK(grown < score_matrix / 4);
    CHECK(grown < 8 * one_tensor);  // out, dq, dk, dv, three leaf-gradient copies, LSE
    CHECK(q.grad().defined());
  }
}
