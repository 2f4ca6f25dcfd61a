// The GPU algorithm of index_select and embedding (ops/embedding/embedding_math.h: the
// element-wise gather, the row segments and each dx element's ordered segment sum) run on
// the host for every element, against the CPU op: forward and backward must agree to the
// bit (the same adds in the same order), with repeated rows, unused rows, a padding row,
// outer > 1 and inner > 1.
#include <doctest/doctest.h>

#include <vector>

#include "engine/rng.h"
#include "ops/embedding/embedding.h"
#include "ops/embedding/embedding_math.h"

using namespace hqlt;
using detail::RowGeometry;

namespace {

// out and dx as the GPU's threads compute them, for x [outer, N, inner] and idx [K].
template <typename T>
void gpu_algorithm(const Tensor& x, const Tensor& idx, const Tensor& dout, const RowGeometry& g, int64_t skip_row,
                   std::vector<double>& out, std::vector<double>& dx) {
  const int64_t* ip = idx.data<int64_t>();
  for (int64_t e = 0; e < g.outer * g.picks * g.inner; ++e) out.push_back(detail::gathered(x.data<T>(), ip, g, e));
  const detail::RowSegments s = detail::row_segments(ip, g.picks, g.rows, skip_row);
  for (int64_t e = 0; e < g.outer * g.rows * g.inner; ++e)
    dx.push_back(detail::scattered(dout.data<T>(), s.begin.data(), s.order.data(), g, e));
}

}  // namespace

TEST_SUITE("reference") {
  TEST_CASE("embedding row segments: positions grouped by row in ascending order") {
    const std::vector<int64_t> idx{3, 0, 3, 1, 3, 0};
    const detail::RowSegments s = detail::row_segments(idx.data(), 6, 5, /*skip_row=*/1);
    CHECK(s.begin == std::vector<int64_t>{0, 2, 2, 2, 5, 5});
    CHECK(s.order == std::vector<int64_t>{1, 5, 0, 2, 4});
  }

  TEST_CASE("embedding GPU algorithm equals the CPU op bit for bit") {
    manual_seed(31);
    struct Case {
      int64_t V, D, B, T, pad;
    };
    for (Case c : {Case{7, 5, 2, 9, -1}, Case{7, 70, 3, 11, 2}, Case{1, 1, 1, 4, -1}, Case{50, 3, 1, 1, 0}}) {
      for (DType dt : {DType::f32, DType::f64}) {
        CAPTURE(c.V);
        CAPTURE(c.D);
        CAPTURE(c.T);
        CAPTURE(c.pad);
        CAPTURE(dt);
        // Ids from a range smaller than V, so some rows repeat and some are never read.
        Tensor ids = randint(0, (c.V + 1) / 2, {c.B, c.T});
        if (c.pad >= 0) ids.data<int64_t>()[0] = c.pad;
        Tensor w = randn({c.V, c.D}, dt).set_requires_grad(true);
        Tensor y = embedding(w, ids, c.pad);
        Tensor dy = randn(y.shape(), dt);
        y.backward(dy);
        std::vector<double> out, dx;
        dispatch_float(dt, "test", [&]<typename T>() {
          gpu_algorithm<T>(w, ids, dy, RowGeometry{1, c.V, c.B * c.T, c.D}, c.pad, out, dx);
        });
        CHECK(out == y.to_vector());
        CHECK(dx == w.grad().to_vector());
      }
    }
  }

  TEST_CASE("index_select GPU algorithm equals the CPU op bit for bit") {
    manual_seed(32);
    Tensor x = randn({3, 6, 4}, DType::f32).set_requires_grad(true);
    Tensor idx = from_vector({5, 0, 5, 2, 5}, {5}, DType::i64);
    Tensor y = index_select(x, 1, idx);
    Tensor dy = randn(y.shape());
    y.backward(dy);
    std::vector<double> out, dx;
    gpu_algorithm<float>(x, idx, dy, RowGeometry{3, 6, 5, 4}, -1, out, dx);
    CHECK(out == y.to_vector());
    CHECK(dx == x.grad().to_vector());
  }
}

TEST_SUITE("reference") {
  TEST_CASE("gather GPU algorithm equals the CPU op bit for bit") {
    // x [4, 5, 3] read through a permuted (non-contiguous) view; index smaller than x in the
    // other dims, so some dx elements lie on no line; repeated picks along the line.
    manual_seed(55);
    const Tensor base = randn({3, 5, 4}, DType::f64);
    const Tensor x = base.permute({2, 1, 0});  // [4, 5, 3], strided
    for (int64_t d = 0; d < 3; ++d) {
      INFO("dim " << d);
      Shape index_shape{3, 4, 2};
      index_shape[size_t(d)] = 6;  // more picks than x's size along d: repeats
      Generator gen{uint64_t(7 + d), 0};
      const Tensor index = randint(0, x.shape()[size_t(d)], index_shape, DType::i64, gen);
      const Tensor leaf = x.detach().set_requires_grad(true);
      const Tensor out = gather(leaf, d, index);
      const Tensor dout = randn(index_shape, DType::f64);
      out.backward(dout);

      detail::GatherGeometry g;
      g.rank = 3;
      g.d = int(d);
      for (int k = 0; k < 3; ++k) {
        g.index_shape[k] = index_shape[size_t(k)];
        g.x_shape[k] = x.shape()[size_t(k)];
        g.x_strides[k] = x.strides()[size_t(k)];
      }
      std::vector<double> got_out, got_dx;
      for (int64_t e = 0; e < index.numel(); ++e)
        got_out.push_back(detail::gather_element(x.data<double>(), index.data<int64_t>(), g, e));
      for (int64_t e = 0; e < x.numel(); ++e)
        got_dx.push_back(detail::gather_grad_element(dout.data<double>(), index.data<int64_t>(), g, e));
      CHECK(got_out == out.to_vector());
      CHECK(got_dx == leaf.grad().contiguous().to_vector());
    }
  }
}
