// The fused Delayed-Chunk hybrid op against its reference (all three outputs and every input
// gradient, f64 and f32) on every device (the CPU kernels and, where present, the GPU's: one
// test body), a finite-difference gradcheck of the fused op, values against a plain loop
// written here, a hand-worked example, and bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>
#include <vector>

#include "chunked_grid.h"
#include "compare.h"
#include "devices.h"
#include "engine/parallel.h"
#include "gradcheck.h"
#include "ops/elementwise/elementwise.h"
#include "ops/hybrid_chunk/hybrid_chunk.h"
#include "ops/norm/norm.h"
#include "ops/reduce/reduce.h"
#include "ops/shape/concat.h"
#include "ops/shape/views.h"
#include "threads.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

// Which outputs the test loss reads, as a bit mask.
enum Reads : int { kReadFw = 1, kReadKv = 2, kReadState = 4, kReadAll = 7 };

struct Case {
  int64_t B = 2, T = 7, H = 3, dk = 5, dv = 4, chunk = 8, fw_block = 8;
  bool l2 = true, init = true, strided = false;
  double beta_lo = 0.05, beta_hi = 1.95;
  double scale = 0;
  int reads = kReadAll;
};

std::ostream& operator<<(std::ostream& o, const Case& c) {
  return o << "B=" << c.B << " T=" << c.T << " H=" << c.H << " d_k=" << c.dk << " d_v=" << c.dv
           << " chunk=" << c.chunk << " fw_block=" << c.fw_block << " l2=" << c.l2 << " init=" << c.init
           << " strided=" << c.strided << " beta in [" << c.beta_lo << ", " << c.beta_hi << ") scale=" << c.scale
           << " reads=" << c.reads;
}

struct Inputs {
  Tensor q_fw, k_fw, q_kv, k_kv, v, beta, s0;  // f64, fresh random values
};

// FW keys without in-op ℓ2 get norms in [0.3, 1], so that |1 − β‖k‖²| < 1 for β < 2 and the
// recurrence stays bounded over long sequences; with ℓ2 the raw keys are deliberately large.
// The FW query and key are SiLU outputs in the model, so draw them that way.
Inputs draw(const Case& c) {
  NoGrad no_grad;
  const Shape qk{c.B, c.T, c.H, c.dk};
  Inputs in;
  in.q_fw = silu(randn(qk, DType::f64, Device::cpu, 0.0, 2.0));
  const Tensor k = silu(randn(qk, DType::f64, Device::cpu, 0.0, 2.0));
  in.k_fw = c.l2 ? k : l2_normalize(k) * rand({c.B, c.T, c.H, 1}, DType::f64, Device::cpu, 0.3, 1.0);
  in.q_kv = randn(qk, DType::f64);
  in.k_kv = randn(qk, DType::f64);
  in.v = randn({c.B, c.T, c.H, c.dv}, DType::f64);
  in.beta = rand({c.B, c.T, c.H}, DType::f64, Device::cpu, c.beta_lo, c.beta_hi);
  if (c.init) in.s0 = randn({c.B, c.H, c.dk, c.dv}, DType::f64, Device::cpu, 0.0, 0.5);
  return in;
}

using HybridFn = HybridChunkOutput (*)(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                       const Tensor&, const Tensor&, int64_t, int64_t, bool, double);

struct Result {
  Ts outputs;  // o_fw, o_kv, final_state (f64 copies)
  Ts grads;    // q_fw, k_fw, q_kv, k_kv, v, beta, initial_state (zeros where none arrived)
};

// The loss weights: one fixed random tensor per output.
struct Weights {
  Tensor o_fw, o_kv, state;
};
Weights draw_weights(const Case& c) {
  return {randn({c.B, c.T, c.H, c.dv}, DType::f64), randn({c.B, c.T, c.H, c.dv}, DType::f64),
          randn({c.B, c.H, c.dk, c.dv}, DType::f64)};
}

// Σ x ⊙ w. With `strided`, read through transposed views, so that the gradient reaching the
// op is a non-contiguous view.
Tensor weighted(const Tensor& x, const Tensor& w, bool strided) {
  if (!strided) return sum(x * w);
  return sum(x.transpose(1, 2) * clone_contiguous(w.transpose(1, 2)));
}

// Runs `fn` on dtype-dt copies of the inputs on `device` and back-propagates the loss over
// the outputs that c.reads selects.
Result run(HybridFn fn, const Case& c, const Inputs& in, DType dt, const Weights& w, Device device = Device::cpu) {
  auto leaf = [&](const Tensor& t, bool strided) { return leaf_copy(t, dt, strided, device); };
  Ts x{leaf(in.q_fw, c.strided), leaf(in.k_fw, false), leaf(in.q_kv, false), leaf(in.k_kv, c.strided),
       leaf(in.v, c.strided),    leaf(in.beta, false), leaf(in.s0, false)};
  const HybridChunkOutput out = fn(x[0], x[1], x[2], x[3], x[4], x[5], x[6], c.chunk, c.fw_block, c.l2, c.scale);
  REQUIRE(out.o_fw.device() == device);
  Tensor loss;
  auto add_term = [&](const Tensor& term) { loss = loss.defined() ? loss + term : term; };
  auto weight = [&](const Tensor& t) { return to_dtype(t, dt).to(device); };
  if (c.reads & kReadFw) add_term(weighted(out.o_fw, weight(w.o_fw), c.strided));
  if (c.reads & kReadKv) add_term(weighted(out.o_kv, weight(w.o_kv), c.strided));
  if (c.reads & kReadState) add_term(weighted(out.final_state, weight(w.state), c.strided));
  if (loss.requires_grad()) loss.backward();
  Result r;
  for (const Tensor& o : {out.o_fw, out.o_kv, out.final_state}) r.outputs.push_back(to_dtype(o.detach(), DType::f64));
  for (const Tensor& t : x) {
    if (!t.defined()) continue;
    r.grads.push_back(t.grad().defined() ? to_dtype(t.grad(), DType::f64) : zeros(t.shape(), DType::f64));
  }
  return r;
}

// The fused op on `device` against the reference in f64 on the CPU: every output and every
// gradient, errors relative to the reference's largest magnitude; within 1e-10 in f64, and
// in f32 within the bound that the reference's own f32 error on the same draw sets
// (f32_tolerance, compare.h).
void check_against_reference(const Case& c, Device device = Device::cpu,
                             std::initializer_list<DType> dtypes = {DType::f64, DType::f32}) {
  CAPTURE(c);
  const Inputs in = draw(c);
  const Weights w = draw_weights(c);
  auto reference_in = [&](DType dt) {
    // The reference on one thread: its token loop is thousands of tiny batched products,
    // for which waking a thread team costs more than the product itself.
    const hqlt::testing::ThreadCount one(1);
    return run(hybrid_chunk_reference, c, in, dt, w);
  };
  const Result ref = reference_in(DType::f64), ref32 = reference_in(DType::f32);
  const char* outputs[] = {"o_fw", "o_kv", "final_state"};
  const char* grads[] = {"dq_fw", "dk_fw", "dq_kv", "dk_kv", "dv", "dbeta", "dinitial_state"};
  for (DType dt : dtypes) {
    const std::string dtype = dtype_name(dt);
    CAPTURE(dtype);
    const Result fused = run(hybrid_chunk, c, in, dt, w, device);
    for (size_t i = 0; i < 3; ++i) {
      INFO(std::string(outputs[i]));
      expect_close(fused.outputs[i], ref.outputs[i], reference_tolerance(dt, ref32.outputs[i], ref.outputs[i]));
    }
    REQUIRE(fused.grads.size() == ref.grads.size());
    for (size_t i = 0; i < ref.grads.size(); ++i) {
      INFO(std::string(grads[i]));
      expect_close(fused.grads[i], ref.grads[i], reference_tolerance(dt, ref32.grads[i], ref.grads[i]));
    }
  }
}

// One mix of the options per index: ℓ2, initial state, which outputs the loss reads, β range.
void apply_mix(Case& c, int mix) {
  c.l2 = mix % 2;
  c.init = (mix / 2) % 2;
  const int reads[] = {kReadAll, kReadFw | kReadKv, kReadFw, kReadKv, kReadState, kReadFw | kReadState};
  c.reads = reads[(mix / 4) % 6];
  switch ((mix / 24) % 3) {
    case 0: c.beta_lo = 0.05, c.beta_hi = 1.95; break;  // the whole (0, 2)
    case 1: c.beta_lo = 1e-4, c.beta_hi = 0.01; break;  // near 0
    default: c.beta_lo = 1.99, c.beta_hi = 2.0;         // near 2
  }
}

// The grid: chunk ∈ {8, 16, 64} with the FW block 64 (the reference's quirk) and equal
// to the chunk (one case for chunk 64), T ∈ {1, 7, C, C+1, 65, 130, 300}, H ∈ {1, 3},
// d_k ≠ d_v. Each combination runs `mixes` option mixes, spread over the 72 of apply_mix so
// that every value of every option appears (each β range with both ℓ2 settings, both
// initial-state settings and all six output selections); with 1 it runs one, rotating
// through the mixes from combination to combination.
void run_grid(int mixes, Device device) {
  int index = 0;
  for (int64_t chunk : {8, 16, 64}) {
    std::vector<int64_t> blocks{64};
    if (chunk != 64) blocks.push_back(chunk);
    for (int64_t fw_block : blocks) {
      std::vector<int64_t> lengths{1, 7, chunk, chunk + 1, 65, 130, 300};
      std::sort(lengths.begin(), lengths.end());
      lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());
      for (int64_t T : lengths) {
        for (int64_t H : {1, 3}) {
          for (int m = 0; m < mixes; ++m, ++index) {
            Case c;
            c.B = 2, c.T = T, c.H = H, c.dk = 16, c.dv = 12, c.chunk = chunk, c.fw_block = fw_block;
            apply_mix(c, mixes == 1 ? index : (m * 72 / mixes + m % 3) % 72);
            c.strided = index % 4 == 0;
            if (index % 7 == 3) c.scale = 0.3;
            check_against_reference(c, device);
          }
        }
      }
    }
  }
}

// The op as docs/math/models.md §5.5 states it, as loops over plain numbers.
struct PlainResult {
  std::vector<double> o_fw, o_kv, final_state;
};
PlainResult plain_hybrid(const Inputs& in, const Case& c) {
  auto at = [](const Tensor& t) { return t.to_vector(); };
  const std::vector<double> qf = at(in.q_fw), kf = at(in.k_fw), qk = at(in.q_kv), kk = at(in.k_kv), v = at(in.v),
                            beta = at(in.beta);
  const std::vector<double> s0 = c.init ? at(in.s0) : std::vector<double>(size_t(c.B * c.H * c.dk * c.dv), 0.0);
  const double s = c.scale != 0 ? c.scale : 1 / std::sqrt(double(c.dk));
  const size_t out_size = size_t(c.B * c.T * c.H * c.dv);
  PlainResult r{std::vector<double>(out_size), std::vector<double>(out_size), s0};
  auto row = [&](int64_t b, int64_t t, int64_t h) { return size_t((b * c.T + t) * c.H + h); };
  auto normalised = [&](const std::vector<double>& x, size_t at) { return plain_row(x, at, c.dk, c.l2); };
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h) {
      double* S = r.final_state.data() + (b * c.H + h) * c.dk * c.dv;
      std::vector<double> P(S, S + c.dk * c.dv);  // the state at the start of the FW block
      for (int64_t t = 0; t < c.T; ++t) {
        const size_t i = row(b, t, h);
        if (t % c.fw_block == 0) P.assign(S, S + c.dk * c.dv);
        // FW read of the snapshot, then the write of token t.
        const std::vector<double> q = normalised(qf, i * size_t(c.dk)), k = normalised(kf, i * size_t(c.dk));
        for (int64_t j = 0; j < c.dv; ++j) {
          double read = 0;
          for (int64_t a = 0; a < c.dk; ++a) read += P[size_t(a * c.dv + j)] * q[size_t(a)];
          r.o_fw[i * size_t(c.dv) + size_t(j)] = s * read;
          double retrieved = 0;
          for (int64_t a = 0; a < c.dk; ++a) retrieved += S[a * c.dv + j] * k[size_t(a)];
          const double delta = beta[i] * (v[i * size_t(c.dv) + size_t(j)] - retrieved);
          for (int64_t a = 0; a < c.dk; ++a) S[a * c.dv + j] += k[size_t(a)] * delta;
        }
        // KV: softmax over the keys from the chunk start to t.
        const int64_t start = t / c.chunk * c.chunk;
        std::vector<double> score;
        double m = -INFINITY;
        for (int64_t u = start; u <= t; ++u) {
          double dot = 0;
          for (int64_t a = 0; a < c.dk; ++a)
            dot += qk[i * size_t(c.dk) + size_t(a)] * kk[row(b, u, h) * size_t(c.dk) + size_t(a)];
          score.push_back(s * dot);
          m = std::max(m, s * dot);
        }
        double total = 0;
        for (double& e : score) total += (e = std::exp(e - m));
        for (int64_t j = 0; j < c.dv; ++j) {
          double acc = 0;
          for (int64_t u = start; u <= t; ++u) acc += score[size_t(u - start)] * v[row(b, u, h) * size_t(c.dv) + size_t(j)];
          r.o_kv[i * size_t(c.dv) + size_t(j)] = acc / total;
        }
      }
    }
  return r;
}

}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck hybrid_chunk") {
    // All three outputs in one tensor (the harness weights every element differently).
    auto op = [](int64_t chunk, int64_t fw_block, bool l2, double scale) {
      return [=](const Ts& x) {
        const HybridChunkOutput r = hybrid_chunk(x[0], x[1], x[2], x[3], x[4], x[5], x.size() > 6 ? x[6] : Tensor(),
                                                 chunk, fw_block, l2, scale);
        return concat({r.o_fw.reshape({-1}), r.o_kv.reshape({-1}), r.final_state.reshape({-1})}, 0);
      };
    };
    auto keys = [](const Shape& shape) {  // norms in [0.3, 1] (see draw())
      NoGrad no_grad;
      Tensor k = l2_normalize(randn(shape, DType::f64)) * rand({shape[0], shape[1], shape[2], 1}, DType::f64,
                                                               Device::cpu, 0.3, 1.0);
      k = k.detach();
      k.set_requires_grad(true);
      return k;
    };
    SUBCASE("l2, partial last block and chunk, strided inputs, initial state") {
      HQLT_CHECK_GRADIENTS(op(8, 8, true, 0),
                           (Ts{leaf_transposed({1, 19, 2, 3}), leaf({1, 19, 2, 3}), leaf({1, 19, 2, 3}),
                               leaf_transposed({1, 19, 2, 3}), leaf_transposed({1, 19, 2, 4}),
                               leaf_uniform({1, 19, 2}, 0.05, 1.95), leaf({1, 2, 3, 4}, 0.5)}));
    }
    SUBCASE("no l2, FW block 16 over attention chunks of 8, no initial state") {
      HQLT_CHECK_GRADIENTS(op(8, 16, false, 0),
                           (Ts{leaf({2, 35, 1, 4}), keys({2, 35, 1, 4}), leaf({2, 35, 1, 4}), leaf({2, 35, 1, 4}),
                               leaf({2, 35, 1, 3}), leaf_uniform({2, 35, 1}, 0.05, 1.95)}));
    }
    SUBCASE("FW block 8 under attention chunks of 16, given scale") {
      HQLT_CHECK_GRADIENTS(op(16, 8, true, 0.7),
                           (Ts{leaf({1, 18, 2, 2}), leaf({1, 18, 2, 2}), leaf({1, 18, 2, 2}), leaf({1, 18, 2, 2}),
                               leaf({1, 18, 2, 5}), leaf_uniform({1, 18, 2}, 0.05, 1.95), leaf({1, 2, 2, 5})}));
    }
    SUBCASE("T = 1, d_k = d_v = 1, beta near 2") {
      HQLT_CHECK_GRADIENTS(op(8, 64, false, 0),
                           (Ts{leaf({2, 1, 1, 1}), leaf_uniform({2, 1, 1, 1}, 0.3, 1.0), leaf({2, 1, 1, 1}),
                               leaf({2, 1, 1, 1}), leaf({2, 1, 1, 1}), leaf_uniform({2, 1, 1}, 1.9, 1.99),
                               leaf({2, 1, 1, 1})}));
    }
  }
}

TEST_SUITE("reference") {
  TEST_CASE("hybrid_chunk matches the reference across the grid") {
    for_each_device([](Device d) { run_grid(1, d); });
  }
  TEST_CASE("hybrid_chunk options against the reference") {
    // Every mix of the options once (ℓ2 × initial state × outputs read × β range), on a shape
    // with partial last chunks and blocks, once with FW block = chunk, once with the quirk.
    for_each_device([](Device d) {
      for (int mix = 0; mix < 72; ++mix) {
        Case c;
        c.B = 2, c.T = 21, c.H = 2, c.dk = 5, c.dv = 7, c.chunk = 8, c.fw_block = mix % 3 == 0 ? 16 : 8;
        apply_mix(c, mix);
        c.strided = mix % 5 == 0;
        check_against_reference(c, d);
      }
    });
  }
  TEST_CASE("hybrid_chunk matches the reference with the FW block and the chunk apart") {
    // The reference's FW block of 64 under a chunk of 16; a FW block of 128, which the GPU
    // runs as kernel chunks of 64 (with chunk 128 too, whose backward tiles fit the card
    // in f32 only); an explicit scale.
    for_each_device([](Device d) {
      Case quirk;
      quirk.T = 150, quirk.chunk = 16, quirk.fw_block = 64;
      check_against_reference(quirk, d);
      Case big;
      big.B = 1, big.T = 300, big.H = 2, big.dk = 32, big.dv = 40, big.chunk = 64, big.fw_block = 128;
      check_against_reference(big, d);
      big.chunk = 128;
      check_against_reference(big, d, {DType::f32});
      Case scaled;
      scaled.T = 40, scaled.chunk = 8, scaled.fw_block = 32, scaled.scale = 0.3, scaled.l2 = false;
      check_against_reference(scaled, d);
    });
  }
  TEST_CASE("hybrid_chunk matches the reference at the models' head dims") {
    // d = 32, 64, 128 as in the models; d_k ≠ d_v with d_v not a multiple of the GPU
    // kernel's slice width; T = 0.
    for_each_device([](Device d) {
      for (int64_t dim : {32, 64, 128}) {
        Case c;
        c.B = 2, c.H = 2, c.T = 200, c.dk = dim, c.dv = dim, c.chunk = 64, c.fw_block = 64;
        check_against_reference(c, d, {DType::f32});
      }
      Case uneven;
      uneven.B = 1, uneven.H = 3, uneven.T = 130, uneven.dk = 96, uneven.dv = 100, uneven.chunk = 64;
      uneven.fw_block = 64;
      check_against_reference(uneven, d, {DType::f32});
      uneven.dk = 64, uneven.dv = 72;
      check_against_reference(uneven, d, {DType::f64});
      Case empty_seq;
      empty_seq.T = 0;
      check_against_reference(empty_seq, d);
    });
  }
}

TEST_SUITE("reference") {
  TEST_CASE("hybrid_chunk matches the reference with small and uneven block lengths") {
    // The reference accepts any chunk_size (Delayed-Chunk with chunk 4 is a valid config):
    // lengths of 1, 3, 4 and 12, the FW block apart from and equal to the chunk, partial
    // last blocks, every β range and option mix in turn.
    int mix = 0;
    for (int64_t chunk : {1, 3, 4, 12})
      for (int64_t fw_block : {chunk, int64_t(5), int64_t(64)})
        for (int64_t T : {int64_t(1), chunk + 1, int64_t(30)}) {
          Case c;
          c.B = 1, c.T = T, c.H = 2, c.dk = 6, c.dv = 5, c.chunk = chunk, c.fw_block = fw_block;
          apply_mix(c, (mix++ * 7) % 72);
          c.strided = mix % 3 == 0;
          check_against_reference(c);
        }
  }
}

TEST_SUITE("slow") {
  TEST_CASE("hybrid_chunk matches the reference on the full grid") {
    for_each_device([](Device d) { run_grid(24, d); });
  }
}

TEST_SUITE("unit") {
  TEST_CASE("hybrid_chunk values against a plain loop") {
    for (int64_t fw_block : {8, 16})
      for (bool l2 : {false, true})
        for (bool init : {false, true}) {
          Case c;
          c.B = 2, c.T = 37, c.H = 2, c.dk = 3, c.dv = 4, c.chunk = 8, c.fw_block = fw_block, c.l2 = l2,
          c.init = init;
          c.scale = l2 ? 0 : 0.8;
          CAPTURE(c);
          const Inputs in = draw(c);
          const PlainResult want = plain_hybrid(in, c);
          const HybridChunkOutput got =
              hybrid_chunk(in.q_fw, in.k_fw, in.q_kv, in.k_kv, in.v, in.beta, in.s0, c.chunk, c.fw_block, c.l2, c.scale);
          expect_close(got.o_fw.to_vector(), want.o_fw, 1e-12);
          expect_close(got.o_kv.to_vector(), want.o_kv, 1e-12);
          expect_close(got.final_state.to_vector(), want.final_state, 1e-12);
        }
  }

  TEST_CASE("hybrid_chunk by hand: two tokens - one dim") {
    // d_k = 1, so s = 1. Both tokens are in FW block 0 and read the initial state S = 2:
    // o_fw = 2·q = [1, 2]. KV: token 0 sees itself (o = v_0 = 3); token 1 has scores
    // [1·0, 1·ln 3], softmax [1/4, 3/4], o = 3/4 + 3/4 = 1.5. State: δ_0 = 0.5 (3 − 2·1) = 0.5,
    // S = 2.5; δ_1 = 1 · (1 − 2.5·0.5) = −0.25, S = 2.5 + 0.5·(−0.25) = 2.375.
    auto two = [](double a, double b) { return from_vector({a, b}, {1, 2, 1, 1}, DType::f64); };
    const HybridChunkOutput r =
        hybrid_chunk(two(0.5, 1), two(1, 0.5), two(1, 1), two(0, std::log(3.0)), two(3, 1),
                     from_vector({0.5, 1}, {1, 2, 1}, DType::f64), full({1, 1, 1, 1}, 2.0, DType::f64), 8, 8, false);
    expect_close(r.o_fw.to_vector(), std::vector<double>{1, 2}, 1e-15);
    expect_close(r.o_kv.to_vector(), std::vector<double>{3, 1.5}, 1e-15);
    CHECK(r.final_state.item() == doctest::Approx(2.375).epsilon(1e-15));
  }

  TEST_CASE("hybrid_chunk FW block 64 with chunk 16: the first 64 tokens read the initial state") {
    // docs/math/models.md §5.5: with the reference's quirk and a zero initial state, no token
    // before 64 gets anything from the FW memory.
    Case c;
    c.B = 1, c.T = 70, c.H = 2, c.dk = 4, c.dv = 3, c.chunk = 16, c.fw_block = 64, c.init = false;
    const Inputs in = draw(c);
    const HybridChunkOutput r = hybrid_chunk(in.q_fw, in.k_fw, in.q_kv, in.k_kv, in.v, in.beta, Tensor(), 16, 64);
    const std::vector<double> o = r.o_fw.to_vector();
    const size_t first_64 = size_t(64 * c.H * c.dv);
    CHECK(std::vector<double>{o.begin(), o.begin() + long(first_64)} == std::vector<double>(first_64, 0.0));
    CHECK(std::vector<double>{o.begin() + long(first_64), o.end()} != std::vector<double>(o.size() - first_64, 0.0));
  }

  TEST_CASE("hybrid_chunk scale 0 means d_k^-1/2") {
    Case c;
    c.T = 20, c.dk = 9;
    const Inputs in = draw(c);
    const HybridChunkOutput a = hybrid_chunk(in.q_fw, in.k_fw, in.q_kv, in.k_kv, in.v, in.beta, in.s0, 8, 16, true, 0);
    const HybridChunkOutput b =
        hybrid_chunk(in.q_fw, in.k_fw, in.q_kv, in.k_kv, in.v, in.beta, in.s0, 8, 16, true, 1.0 / 3.0);
    CHECK(a.o_fw.to_vector() == b.o_fw.to_vector());
    CHECK(a.o_kv.to_vector() == b.o_kv.to_vector());
  }

  TEST_CASE("hybrid_chunk with T = 0 passes the initial state through") {
    const Tensor q = zeros({2, 0, 3, 4}, DType::f64), v = zeros({2, 0, 3, 5}, DType::f64);
    Tensor s0 = leaf({2, 3, 4, 5});
    for (HybridFn fn : {HybridFn(hybrid_chunk), HybridFn(hybrid_chunk_reference)}) {
      s0.zero_grad();
      const HybridChunkOutput r = fn(q, q, q, q, v, zeros({2, 0, 3}, DType::f64), s0, 8, 64, true, 0);
      CHECK(r.o_fw.shape() == Shape{2, 0, 3, 5});
      CHECK(r.o_kv.shape() == Shape{2, 0, 3, 5});
      CHECK(r.final_state.to_vector() == s0.to_vector());
      sum(r.final_state * 2.0).backward();
      CHECK(s0.grad().to_vector() == std::vector<double>(120, 2.0));
    }
  }

  TEST_CASE("hybrid_chunk gives the same bits on one thread and on all") {
    Case c;
    c.B = 3, c.T = 130, c.H = 3, c.dk = 16, c.dv = 8;
    const Inputs in = draw(c);
    auto once = [&] {
      Ts x{leaf_copy(in.q_fw, DType::f32, false), leaf_copy(in.k_fw, DType::f32, false),
           leaf_copy(in.q_kv, DType::f32, false), leaf_copy(in.k_kv, DType::f32, false),
           leaf_copy(in.v, DType::f32, false),    leaf_copy(in.beta, DType::f32, false),
           leaf_copy(in.s0, DType::f32, false)};
      const HybridChunkOutput r = hybrid_chunk(x[0], x[1], x[2], x[3], x[4], x[5], x[6], 32, 16);
      sum(r.o_fw * 0.5 + r.o_kv).backward();
      Ts all{r.o_fw, r.o_kv, r.final_state};
      for (const Tensor& t : x) all.push_back(t.grad());
      return all;
    };
    const Ts one = hqlt::testing::with_threads(1, once);
    const Ts many = once();
    for (size_t i = 0; i < one.size(); ++i) {
      CAPTURE(i);
      CHECK(one[i].to_vector() == many[i].to_vector());
    }
  }

  TEST_CASE("hybrid_chunk bad input") {
    const Tensor q = zeros({2, 5, 3, 4}), v = zeros({2, 5, 3, 6}), b = zeros({2, 5, 3}), s0 = zeros({2, 3, 4, 6});
    struct Args {
      Tensor q_fw, k_fw, q_kv, k_kv, v, beta, s0;
      int64_t chunk = 16, fw_block = 64;
      double scale = 0;
    };
    const Args good{q, q, q, q, v, b, s0};
    auto call = [](const Args& a) {
      return hybrid_chunk(a.q_fw, a.k_fw, a.q_kv, a.k_kv, a.v, a.beta, a.s0, a.chunk, a.fw_block, true, a.scale);
    };
    auto with = [&](auto change) {
      Args a = good;
      change(a);
      return a;
    };
    CHECK_NOTHROW(call(good));
    // Mismatched B, T, H between the inputs.
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.k_fw = zeros({1, 5, 3, 4}); })),
                         doctest::Contains("argument 'k_fw': expected [B, T, H] = [2, 5, 3]"), Error);
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.q_kv = zeros({2, 4, 3, 4}); })),
                         doctest::Contains("argument 'q_kv': expected [B, T, H]"), Error);
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.k_kv = zeros({2, 5, 2, 4}); })),
                         doctest::Contains("argument 'k_kv': expected [B, T, H]"), Error);
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.v = zeros({2, 5, 1, 6}); })),
                         doctest::Contains("argument 'v': expected [B, T, H]"), Error);
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.beta = zeros({2, 6, 3}); })),
                         doctest::Contains("argument 'beta': expected shape [2, 5, 3]"), Error);
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.beta = zeros({2, 5, 3, 1}); })),
                         doctest::Contains("argument 'beta': expected rank 3"), Error);
    // d_k of a key or query differs from q_fw's; a wrong state shape; a wrong rank.
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.k_fw = zeros({2, 5, 3, 5}); })),
                         doctest::Contains("argument 'k_fw': expected d_k = 4"), Error);
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.q_kv = zeros({2, 5, 3, 3}); })),
                         doctest::Contains("argument 'q_kv': expected d_k = 4"), Error);
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.k_kv = zeros({2, 5, 3, 8}); })),
                         doctest::Contains("argument 'k_kv': expected d_k = 4"), Error);
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.s0 = zeros({2, 3, 6, 4}); })),
                         doctest::Contains("argument 'initial_state': expected shape [2, 3, 4, 6]"), Error);
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.q_fw = zeros({5, 3, 4}); })),
                         doctest::Contains("argument 'q_fw': expected rank 4"), Error);
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.v = zeros({2, 5, 3, 0}); })),
                         doctest::Contains("argument 'v': expected shape [B, T, H, d_v] with d_v >= 1"), Error);
    // Block sizes: 0 and negative (on the CPU any positive length runs; the GPU's limit is
    // tested with the CUDA kernels).
    for (int64_t size : {0, -8}) {
      CAPTURE(size);
      CHECK_THROWS_WITH_AS(call(with([&](Args& a) { a.chunk = size; })), doctest::Contains("argument 'chunk_size'"),
                           Error);
      CHECK_THROWS_WITH_AS(call(with([&](Args& a) { a.fw_block = size; })),
                           doctest::Contains("argument 'fw_block_size'"), Error);
    }
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.scale = NAN; })), doctest::Contains("argument 'scale'"), Error);
    // Dtypes: integer, and f32 mixed with f64.
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.q_fw = zeros({2, 5, 3, 4}, DType::i64); })),
                         doctest::Contains("argument 'q_fw': expected dtype f32 or f64, got i64"), Error);
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.v = zeros({2, 5, 3, 6}, DType::f64); })),
                         doctest::Contains("argument 'v': expected dtype f32 (as 'q_fw'), got f64"), Error);
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.beta = zeros({2, 5, 3}, DType::i32); })),
                         doctest::Contains("argument 'beta': expected dtype f32"), Error);
    CHECK_THROWS_WITH_AS(call(with([](Args& a) { a.s0 = zeros({2, 3, 4, 6}, DType::f64); })),
                         doctest::Contains("argument 'initial_state': expected dtype f32"), Error);
    // Devices (empty tensors own no memory, so a cuda one exists even without a GPU).
    const Tensor e = empty({0, 5, 3, 4}), e_cuda = empty({0, 5, 3, 4}, DType::f32, Device::cuda);
    const Args empty_args{e, e, e, e, empty({0, 5, 3, 6}), empty({0, 5, 3}), Tensor()};
    CHECK_NOTHROW(call(empty_args));
    Args on_cuda = empty_args;
    on_cuda.k_kv = e_cuda;
    CHECK_THROWS_WITH_AS(call(on_cuda), doctest::Contains("argument 'k_kv': expected device cpu (as 'q_fw'), got cuda"),
                         Error);
    const Args all_cuda{e_cuda, e_cuda, e_cuda, e_cuda, empty({0, 5, 3, 6}, DType::f32, Device::cuda),
                        empty({0, 5, 3}, DType::f32, Device::cuda), Tensor()};
#ifndef HQLT_HAS_CUDA  // a CUDA build runs cuda inputs (the reference tests, for_each_device)
    CHECK_THROWS_WITH_AS(call(all_cuda), doctest::Contains("no cuda kernel"), Error);
#else
    (void)all_cuda;
#endif
    // The reference checks the same way.
    CHECK_THROWS_WITH_AS(hybrid_chunk_reference(q, q, q, q, v, b, s0, 0, 64),
                         doctest::Contains("hybrid_chunk_reference: argument 'chunk_size'"), Error);
  }
}
