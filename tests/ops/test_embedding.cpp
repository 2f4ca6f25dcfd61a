// index_select, embedding and gather: gradients by finite differences in f64 and
// f32-vs-f64 with repeated indices (so the scatter-add really adds), i32 and i64 indices,
// every dim, non-contiguous inputs, the padding row; values against plain loops; the
// parallel scatter-add against a serial loop, bit for bit, at several thread counts.
#include <doctest/doctest.h>

#include "engine/parallel.h"
#include "gradcheck.h"
#include "ops/embedding/embedding.h"
#include "ops/select/where.h"
#include "threads.h"

using namespace hqlt;
using namespace hqlt::testing;
using Ts = std::vector<Tensor>;

namespace {

Tensor ints(const std::vector<double>& v, const Shape& shape, DType dtype = DType::i64) {
  return from_vector(v, shape, dtype);
}

// dweight of embedding by the plain loop, in f32: every id adds its row of dout, except
// the padding row.
std::vector<double> embedding_grad_by_loop(const std::vector<double>& ids, const std::vector<double>& dout,
                                           int64_t vocab, int64_t width, int64_t padding_idx) {
  std::vector<float> dw(size_t(vocab * width), 0.0f);
  for (size_t t = 0; t < ids.size(); ++t) {
    int64_t row = int64_t(ids[t]);
    if (row == padding_idx) continue;
    for (int64_t c = 0; c < width; ++c) dw[size_t(row * width + c)] += float(dout[t * size_t(width) + size_t(c)]);
  }
  return std::vector<double>(dw.begin(), dw.end());
}

}  // namespace

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck index_select") {
    SUBCASE("dim 0, repeated i64 indices") {
      auto f = [](const Ts& x) { return index_select(x[0], 0, x[1]); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({4, 3}), ints({2, 0, 2, 3, 2}, {5})}));
    }
    SUBCASE("middle dim, i32 indices") {
      auto f = [](const Ts& x) { return index_select(x[0], 1, x[1]); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({2, 5, 3}), ints({4, 4, 1}, {3}, DType::i32)}));
    }
    SUBCASE("last dim of a non-contiguous input") {
      auto f = [](const Ts& x) { return index_select(x[0], -1, x[1]); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({3, 4}), ints({0, 3, 0}, {3})}));
    }
    SUBCASE("size-1 dims, one index") {
      auto f = [](const Ts& x) { return index_select(x[0], 0, x[1]); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({1}), ints({0}, {1})}));
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({1, 2}), ints({0, 0, 0}, {3}, DType::i32)}));
    }
  }

  TEST_CASE("gradcheck embedding") {
    SUBCASE("ids [B, T] with repeats") {
      auto f = [](const Ts& x) { return embedding(x[0], x[1]); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({6, 4}), ints({1, 5, 1, 0, 1, 5}, {2, 3})}));
    }
    SUBCASE("i32 ids, non-contiguous weight, D = 1, V = 1") {
      auto f = [](const Ts& x) { return embedding(x[0], x[1]); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({5, 3}), ints({4, 0, 4, 2}, {4}, DType::i32)}));
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({3, 1}), ints({2, 2}, {2, 1})}));
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({1, 2}), ints({0, 0, 0}, {3})}));
    }
    SUBCASE("D = 70 spans two column blocks of the scatter-add") {
      auto f = [](const Ts& x) { return embedding(x[0], x[1]); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({3, 70}), ints({2, 0, 2, 2}, {4})}));
    }
    SUBCASE("padding_idx: with the rows that read it masked out, its derivative is zero") {
      // PyTorch's padding_idx gives the padding row a zero gradient even where it is read
      // (docs/math/models.md §1.7). Masking those output rows makes zero the true derivative
      // too, so finite differences can check it together with the other rows.
      auto f = [](const Ts& x) { return masked_fill(embedding(x[0], x[1], /*padding_idx=*/2), x[2], 0.0); };
      Tensor ids = ints({2, 0, 2, 3, 0}, {5});
      Tensor reads_padding = ints({1, 0, 1, 0, 0}, {5, 1}, DType::i32);
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({4, 3}), ids, reads_padding}));
    }
  }

  TEST_CASE("gradcheck gather") {
    SUBCASE("dim 1 with repeats") {
      auto f = [](const Ts& x) { return gather(x[0], 1, x[1]); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({3, 4}), ints({3, 3, 0, 1, 1, 1}, {3, 2})}));
    }
    SUBCASE("dim 0, i32 index") {
      auto f = [](const Ts& x) { return gather(x[0], 0, x[1]); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({3, 4}), ints({2, 0, 1, 2, 2, 2, 0, 1}, {2, 4}, DType::i32)}));
    }
    SUBCASE("index smaller than x off dim, longer along dim") {
      auto f = [](const Ts& x) { return gather(x[0], 1, x[1]); };
      Tensor index = ints({3, 0, 3, 1, 2, 0, 0, 1, 3, 3}, {2, 5, 1});
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({3, 4, 2}), index}));
    }
    SUBCASE("non-contiguous x and index, last dim") {
      auto f = [](const Ts& x) { return gather(x[0], -1, x[1]); };
      Tensor index = ints({2, 0, 1, 1, 0, 2, 2, 2}, {2, 4}).transpose(0, 1);  // [4, 2], strided
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf_transposed({4, 3}), index}));
    }
    SUBCASE("1-D") {
      auto f = [](const Ts& x) { return gather(x[0], 0, x[1]); };
      HQLT_CHECK_GRADIENTS(f, (Ts{leaf({5}), ints({4, 4, 0, 2, 4, 1, 0}, {7})}));
    }
  }
}

TEST_SUITE("unit") {
  TEST_CASE("index_select values match a plain loop") {
    Tensor x = randn({2, 4, 3}, DType::f64);
    std::vector<double> idx = {3, 1, 3, 0, 3};
    Tensor out = index_select(x, 1, ints(idx, {5}, DType::i32));
    REQUIRE(out.shape() == Shape{2, 5, 3});
    std::vector<double> xv = x.to_vector(), ov = out.to_vector();
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t k = 0; k < 5; ++k)
        for (int64_t c = 0; c < 3; ++c) {
          CAPTURE(i); CAPTURE(k); CAPTURE(c);
          CHECK(ov[size_t((i * 5 + k) * 3 + c)] == xv[size_t((i * 4 + int64_t(idx[size_t(k)])) * 3 + c)]);
        }
    CHECK(index_select(x, 0, ints({}, {0})).shape() == Shape{0, 4, 3});
  }

  TEST_CASE("embedding values match a plain loop") {
    Tensor w = randn({5, 3}, DType::f64);
    std::vector<double> ids = {4, 0, 4, 2, 1, 4};
    Tensor out = embedding(w, ints(ids, {2, 3}));
    REQUIRE(out.shape() == Shape{2, 3, 3});
    std::vector<double> wv = w.to_vector(), ov = out.to_vector();
    for (size_t t = 0; t < ids.size(); ++t)
      for (size_t c = 0; c < 3; ++c) CHECK(ov[t * 3 + c] == wv[size_t(ids[t]) * 3 + c]);
    // A single id (0-d) gives one row [D]; the padding row's value is read unchanged.
    Tensor one = embedding(w, ints({2}, Shape{}), /*padding_idx=*/2);
    CHECK(one.shape() == Shape{3});
    CHECK(one.to_vector() == std::vector<double>(wv.begin() + 6, wv.begin() + 9));
  }

  TEST_CASE("embedding backward: padding row stays zero - parallel sums equal a serial loop") {
    const int64_t vocab = 37, width = 130, n_ids = 4096, padding_idx = 5;
    Tensor ids = randint(0, vocab, {n_ids}, DType::i32);
    Tensor dout = randn({n_ids, width}, DType::f32);
    std::vector<double> expected =
        embedding_grad_by_loop(ids.to_vector(), dout.to_vector(), vocab, width, padding_idx);
    for (int threads : {1, 3, 0}) {
      CAPTURE(threads);
      const hqlt::testing::ThreadCount scope(threads);
      Tensor w = leaf({vocab, width}, 1.0, DType::f32);
      embedding(w, ids, padding_idx).backward(dout);
      // The loop above adds in the same (id position) order, so f32 results match exactly.
      std::vector<double> got = w.grad().to_vector();
      CHECK(got == expected);
      for (int64_t c = 0; c < width; ++c) CHECK(got[size_t(padding_idx * width + c)] == 0.0);
    }
  }

  TEST_CASE("gather values match a plain loop") {
    Tensor x = randn({3, 4}, DType::f64);
    std::vector<double> idx = {3, 0, 0, 2, 2, 1, 1, 3};
    Tensor out0 = gather(x, 0, ints({2, 0, 1, 1, 0, 2, 2, 0}, {2, 4}));
    Tensor out1 = gather(x, 1, ints(idx, {2, 4}));
    std::vector<double> xv = x.to_vector(), o0 = out0.to_vector(), o1 = out1.to_vector();
    std::vector<double> i0 = {2, 0, 1, 1, 0, 2, 2, 0};
    for (size_t i = 0; i < 2; ++i)
      for (size_t j = 0; j < 4; ++j) {
        CAPTURE(i); CAPTURE(j);
        CHECK(o0[i * 4 + j] == xv[size_t(i0[i * 4 + j]) * 4 + j]);  // out[i][j] = x[index[i][j]][j]
        CHECK(o1[i * 4 + j] == xv[i * 4 + size_t(idx[i * 4 + j])]);  // out[i][j] = x[i][index[i][j]]
      }
  }

  TEST_CASE("index_select - embedding and gather bad input") {
    Tensor x = zeros({4, 3});
    SUBCASE("index_select") {
      CHECK_THROWS_WITH_AS(index_select(x, 0, ints({1, 4, 0}, {3})),
                           doctest::Contains("value 4 at position 1 is out of range; expected [0, 4)"), Error);
      CHECK_THROWS_WITH_AS(index_select(x, 1, ints({-1}, {1})), doctest::Contains("value -1 at position 0"), Error);
      CHECK_THROWS_WITH_AS(index_select(x, 0, zeros({2})), doctest::Contains("expected dtype i32 or i64, got f32"),
                           Error);
      CHECK_THROWS_WITH_AS(index_select(x, 0, ints({0, 1}, {1, 2})),
                           doctest::Contains("argument 'index': expected rank 1"), Error);
      CHECK_THROWS_WITH_AS(index_select(x, 2, ints({0}, {1})), doctest::Contains("dim 2 is out of range"), Error);
      CHECK_THROWS_WITH_AS(index_select(ints({0}, {1}), 0, ints({0}, {1})),
                           doctest::Contains("argument 'x': expected dtype f32 or f64"), Error);
    }
    SUBCASE("embedding") {
      CHECK_THROWS_WITH_AS(embedding(x, ints({0, 2, 9}, {3})),
                           doctest::Contains("embedding: argument 'ids': value 9 at position 2 is out of range; expected [0, 4)"),
                           Error);
      CHECK_THROWS_WITH_AS(embedding(zeros({4}), ints({0}, {1})), doctest::Contains("argument 'weight': expected rank 2"),
                           Error);
      CHECK_THROWS_WITH_AS(embedding(x, zeros({2})), doctest::Contains("argument 'ids': expected dtype i32 or i64"),
                           Error);
      CHECK_THROWS_WITH_AS(embedding(x, ints({0}, {1}), 4),
                           doctest::Contains("argument 'padding_idx': expected -1 (none) or a row in [0, 4), got 4"), Error);
      CHECK_THROWS_WITH_AS(embedding(x, ints({0}, {1}), -2), doctest::Contains("got -2"), Error);
    }
    SUBCASE("gather") {
      CHECK_THROWS_WITH_AS(gather(x, 1, ints({0, 3}, {1, 2})),
                           doctest::Contains("value 3 at position 1 is out of range; expected [0, 3)"), Error);
      CHECK_THROWS_WITH_AS(gather(x, 1, ints({0, 1}, {2})), doctest::Contains("argument 'index': expected rank 2"),
                           Error);
      CHECK_THROWS_WITH_AS(gather(x, 1, ints({0, 0, 0, 0, 0}, {5, 1})),
                           doctest::Contains("expected size <= 4 in dim 0"), Error);
      CHECK_THROWS_WITH_AS(gather(x, 0, zeros({1, 1})), doctest::Contains("expected dtype i32 or i64"), Error);
    }
  }
}
