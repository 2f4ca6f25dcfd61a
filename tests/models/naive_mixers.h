#pragma once
// Plain-loop versions of the three token mixers, written straight from docs/math/models.md with
// std::vector<double> and no engine ops: the independent oracle for the models' forward
// values. Each reads the weights of a built layer (f64) and returns the output rows.
//
// Layouts: a sequence tensor [B, T, N] is a Vec of B·T rows of N values; per-head data
// [B, T, H, d] the same with N = H·d (head h owns channels [h·d, (h+1)·d), §0).
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "models/delta_net_layer.h"
#include "models/hqlt_layer.h"
#include "models/transformer_attention.h"

namespace hqlt::naive {

using Vec = std::vector<double>;

inline Vec values(const Tensor& t) { return t.to_vector(); }
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double silu(double x) { return x * sigmoid(x); }
inline double elu1(double x) { return x > 0 ? x + 1.0 : std::exp(x); }
inline double relu(double x) { return x > 0 ? x : 0.0; }
inline double identity(double x) { return x; }

inline Vec map(Vec x, double (*f)(double)) {
  for (double& e : x) e = f(e);
  return x;
}

// y[r, o] = Σ_i W[o, i] x[r, i]   (W stored [out, in], §0; no bias)
inline Vec linear(const Vec& x, const Tensor& weight) {
  const int64_t out = weight.size(0), in = weight.size(1), rows = int64_t(x.size()) / in;
  Vec w = values(weight), y(size_t(rows * out), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = 0;
      for (int64_t i = 0; i < in; ++i) s += w[size_t(o * in + i)] * x[size_t(r * in + i)];
      y[size_t(r * out + o)] = s;
    }
  return y;
}

// y[r, o] += b[o]: the optional bias of a projection (null: none).
inline Vec add_bias(Vec y, const Tensor* bias) {
  if (!bias) return y;
  Vec b = values(*bias);
  for (size_t e = 0; e < y.size(); ++e) y[e] += b[e % b.size()];
  return y;
}

// §1.4: y[t, c] = Σ_i w[c, 0, i] x[t-(K-1)+i, c], zero before the start of each sequence.
inline Vec short_conv(const Vec& x, int64_t batch, int64_t time, const Tensor& weight) {
  const int64_t ch = weight.size(0), k = weight.size(2);
  Vec w = values(weight), y(x.size(), 0.0);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < time; ++t)
      for (int64_t c = 0; c < ch; ++c) {
        double s = 0;
        for (int64_t i = 0; i < k; ++i) {
          int64_t src = t - (k - 1) + i;
          if (src >= 0) s += w[size_t(c * k + i)] * x[size_t((b * time + src) * ch + c)];
        }
        y[size_t((b * time + t) * ch + c)] = s;
      }
  return y;
}

// §1.5 rotate-half RoPE on every head, position p = t. Angles in f32 as the reference (and
// the rope op) compute them.
inline Vec rope(const Vec& x, int64_t batch, int64_t time, int64_t heads, int64_t d, double base) {
  Vec y = x;
  const int64_t m = d / 2;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < time; ++t)
      for (int64_t h = 0; h < heads; ++h) {
        const double* in = x.data() + ((b * time + t) * heads + h) * d;
        double* out = y.data() + ((b * time + t) * heads + h) * d;
        for (int64_t i = 0; i < m; ++i) {
          float inv_freq = 1.0f / std::pow(float(base), float(2 * i) / float(d));
          float angle = float(t) * inv_freq;
          double c = std::cos(double(angle)), s = std::sin(double(angle));
          out[i] = in[i] * c - in[i + m] * s;
          out[i + m] = in[i + m] * c + in[i] * s;
        }
      }
  return y;
}

// Causal softmax attention per head; token t sees keys first_key(t) .. t. Query head h
// reads kv head h / (heads / kv_heads).
inline Vec attention(const Vec& q, const Vec& k, const Vec& v, int64_t batch, int64_t time, int64_t heads,
                     int64_t kv_heads, int64_t dk, int64_t dv, const std::function<int64_t(int64_t)>& first_key) {
  Vec o(size_t(batch * time * heads * dv), 0.0);
  const double s = 1.0 / std::sqrt(double(dk));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t g = h / (heads / kv_heads);
      for (int64_t t = 0; t < time; ++t) {
        const int64_t j0 = first_key(t);
        std::vector<double> score;
        double mx = -INFINITY;
        for (int64_t j = j0; j <= t; ++j) {
          double dot = 0;
          for (int64_t i = 0; i < dk; ++i)
            dot += q[size_t(((b * time + t) * heads + h) * dk + i)] * k[size_t(((b * time + j) * kv_heads + g) * dk + i)];
          score.push_back(s * dot);
          mx = std::max(mx, s * dot);
        }
        double z = 0;
        for (double& e : score) z += (e = std::exp(e - mx));
        for (int64_t j = j0; j <= t; ++j)
          for (int64_t i = 0; i < dv; ++i)
            o[size_t(((b * time + t) * heads + h) * dv + i)] +=
                score[size_t(j - j0)] / z * v[size_t(((b * time + j) * kv_heads + g) * dv + i)];
      }
    }
  return o;
}

// §1.3: x / sqrt(Σ x² + 1e-6) over one head vector.
inline std::vector<double> l2(const double* x, int64_t d) {
  double ss = 0;
  for (int64_t i = 0; i < d; ++i) ss += x[i] * x[i];
  std::vector<double> y(static_cast<size_t>(d));
  for (int64_t i = 0; i < d; ++i) y[size_t(i)] = x[i] / std::sqrt(ss + 1e-6);
  return y;
}

// §4.1 qk_norm = "sum": every d-vector divided by the sum of its entries.
inline Vec sum_normalize(Vec x, int64_t d) {
  for (size_t r = 0; r < x.size(); r += size_t(d)) {
    double s = 0;
    for (int64_t i = 0; i < d; ++i) s += x[r + size_t(i)];
    for (int64_t i = 0; i < d; ++i) x[r + size_t(i)] /= s;
  }
  return x;
}

// §4.2 delta rule per head with ℓ2 on q and k (unless l2_qk is false), zero initial state. read_block = 0: read
// after writing token t (DeltaNet, Synchronous, Delayed-Stream); read_block = F > 0: read
// the state before t's block of F tokens, P_{F·floor(t/F)} (Delayed-Chunk, §5.5).
inline Vec delta_rule(const Vec& q, const Vec& k, const Vec& v, const Vec& beta, int64_t batch, int64_t time,
                      int64_t heads, int64_t dk, int64_t dv, int64_t read_block = 0, bool l2_qk = true) {
  Vec o(size_t(batch * time * heads * dv), 0.0);
  const double s = 1.0 / std::sqrt(double(dk));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h) {
      Vec S(size_t(dk * dv), 0.0), P = S;
      for (int64_t t = 0; t < time; ++t) {
        const int64_t row = (b * time + t) * heads + h;
        if (read_block > 0 && t % read_block == 0) P = S;
        auto kh = l2_qk ? l2(k.data() + row * dk, dk) : Vec(k.begin() + row * dk, k.begin() + (row + 1) * dk);
        auto qh = l2_qk ? l2(q.data() + row * dk, dk) : Vec(q.begin() + row * dk, q.begin() + (row + 1) * dk);
        for (int64_t j = 0; j < dv; ++j) {
          double u = 0;
          for (int64_t i = 0; i < dk; ++i) u += S[size_t(i * dv + j)] * kh[size_t(i)];
          double delta = beta[size_t(row)] * (v[size_t(row * dv + j)] - u);
          for (int64_t i = 0; i < dk; ++i) S[size_t(i * dv + j)] += kh[size_t(i)] * delta;
        }
        const Vec& R = read_block > 0 ? P : S;
        for (int64_t j = 0; j < dv; ++j) {
          double r = 0;
          for (int64_t i = 0; i < dk; ++i) r += R[size_t(i * dv + j)] * qh[size_t(i)];
          o[size_t(row * dv + j)] = s * r;
        }
      }
    }
  return o;
}

// §5.6 causal linear attention, φ = elu+1 on raw q, k. time_normaliser: z_t = s φ(q_t)·Σ_{j≤t}
// φ(k_j); otherwise the reference's z_{t,h} = s φ(q_{t,h})·Σ_{h'≤h} φ(k_{t,h'}).
inline Vec linear_attention(const Vec& q, const Vec& k, const Vec& v, int64_t batch, int64_t time, int64_t heads,
                            int64_t dk, int64_t dv, bool time_normaliser) {
  Vec o(size_t(batch * time * heads * dv), 0.0);
  const double s = 1.0 / std::sqrt(double(dk));
  auto at = [&](int64_t b, int64_t t, int64_t h) { return (b * time + t) * heads + h; };
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t t = 0; t < time; ++t) {
        const int64_t row = at(b, t, h);
        double z = 0;
        for (int64_t j = 0; j <= t; ++j) {
          double a = 0;
          for (int64_t i = 0; i < dk; ++i) a += elu1(q[size_t(row * dk + i)]) * elu1(k[size_t(at(b, j, h) * dk + i)]);
          for (int64_t c = 0; c < dv; ++c) o[size_t(row * dv + c)] += s * a * v[size_t(at(b, j, h) * dv + c)];
          if (time_normaliser) z += s * a;
        }
        if (!time_normaliser)
          for (int64_t h2 = 0; h2 <= h; ++h2)
            for (int64_t i = 0; i < dk; ++i)
              z += s * elu1(q[size_t(row * dk + i)]) * elu1(k[size_t(at(b, t, h2) * dk + i)]);
        for (int64_t c = 0; c < dv; ++c) o[size_t(row * dv + c)] /= z + 1e-10;
      }
  return o;
}

// Per-row RMSNorm over n channels (§1.1), optionally gated by silu(g) (§1.2).
inline Vec rms_norm(const Vec& x, int64_t n, const Tensor& weight, double eps, const Vec* gate = nullptr) {
  Vec w = values(weight), y(x.size());
  for (size_t r = 0; r < x.size() / size_t(n); ++r) {
    double ms = 0;
    for (int64_t i = 0; i < n; ++i) ms += x[r * size_t(n) + size_t(i)] * x[r * size_t(n) + size_t(i)];
    double inv = 1.0 / std::sqrt(ms / double(n) + eps);
    for (int64_t i = 0; i < n; ++i) {
      size_t e = r * size_t(n) + size_t(i);
      y[e] = w[size_t(i)] * x[e] * inv * (gate ? silu((*gate)[e]) : 1.0);
    }
  }
  return y;
}

// ---- the three mixers -------------------------------------------------------------------

// §3, from the layer's weights. x: [B, T, D] rows.
inline Vec transformer_attention(const models::TransformerAttention& layer, const Vec& x, int64_t batch,
                                 int64_t time, double rope_theta) {
  const int64_t h = layer.num_heads, hk = layer.num_kv_heads, d = layer.head_dim;
  Vec q = add_bias(linear(x, layer.q_proj->weight), layer.q_proj->bias);
  Vec k = add_bias(linear(x, layer.k_proj->weight), layer.k_proj->bias);
  Vec v = add_bias(linear(x, layer.v_proj->weight), layer.v_proj->bias);
  if (layer.q_norm) {  // per-head RMSNorm, ε = 1e-5
    q = rms_norm(q, d, layer.q_norm->weight, 1e-5);
    k = rms_norm(k, d, layer.k_norm->weight, 1e-5);
  }
  q = rope(q, batch, time, h, d, rope_theta);
  k = rope(k, batch, time, hk, d, rope_theta);
  const int64_t w = layer.window;
  Vec o = attention(q, k, v, batch, time, h, hk, d, d,
                    [w](int64_t t) { return w < 0 ? int64_t(0) : std::max<int64_t>(0, t - w + 1); });
  return linear(o, layer.o_proj->weight);
}

// §4, from the layer's weights.
inline Vec delta_net(const models::DeltaNetLayer& layer, const Vec& x, int64_t batch, int64_t time) {
  Vec q = linear(x, layer.q_proj->weight), k = linear(x, layer.k_proj->weight), v = linear(x, layer.v_proj->weight);
  if (layer.q_conv1d) {
    q = short_conv(q, batch, time, layer.q_conv1d->weight);
    k = short_conv(k, batch, time, layer.k_conv1d->weight);
    v = short_conv(v, batch, time, layer.v_conv1d->weight);
  }
  using A = models::DeltaNetLayer::QKActivation;
  double (*phi)(double) = layer.qk_activation == A::silu           ? silu
                          : layer.qk_activation == A::relu         ? relu
                          : layer.qk_activation == A::elu_plus_one ? elu1
                                                                   : identity;
  q = map(q, phi), k = map(k, phi), v = map(v, silu);
  if (layer.sum_norm) q = sum_normalize(q, layer.head_k_dim), k = sum_normalize(k, layer.head_k_dim);
  Vec beta = layer.b_proj ? map(linear(x, layer.b_proj->weight), sigmoid) : Vec(size_t(batch * time * layer.num_heads), 1.0);
  Vec o = delta_rule(q, k, v, beta, batch, time, layer.num_heads, layer.head_k_dim, layer.head_v_dim, 0,
                     /*l2_qk=*/!layer.sum_norm);
  Vec y;
  if (layer.g_proj) {
    Vec g = linear(x, layer.g_proj->weight);
    y = rms_norm(o, layer.head_v_dim, layer.o_norm_gated->weight, layer.norm_eps, &g);
  } else {
    y = rms_norm(o, layer.head_v_dim, layer.o_norm->weight, layer.norm_eps);
  }
  return linear(y, layer.o_proj->weight);
}

// The two memories of §5.2–5.6 and the mixed, normed, projected output of §5.7–5.8.
struct HqltOut {
  Vec fw, kv, out;
};

inline HqltOut hqlt(const models::HQLTLayer& layer, const Vec& x, int64_t batch, int64_t time) {
  const models::ModelConfig& c = layer.config;
  const int64_t H = layer.num_heads, dk = layer.head_k_dim, dv = layer.head_v_dim, C = c.chunk_size;
  Vec q = linear(x, layer.q_proj->weight), k = linear(x, layer.k_proj->weight), v = linear(x, layer.v_proj->weight);
  if (layer.q_conv1d) {
    q = short_conv(q, batch, time, layer.q_conv1d->weight);  // no activation on q, k
    k = short_conv(k, batch, time, layer.k_conv1d->weight);
    v = short_conv(v, batch, time, layer.v_conv1d->weight);
  }
  v = map(v, silu);
  Vec qkv = c.use_local_pos_encoding ? rope(q, batch, time, H, dk, 10000.0) : q;
  Vec kkv = c.use_local_pos_encoding ? rope(k, batch, time, H, dk, 10000.0) : k;
  Vec beta = layer.b_proj ? map(linear(x, layer.b_proj->weight), sigmoid) : Vec(size_t(batch * time * H), 1.0);
  if (c.allow_neg_eigval)
    for (double& b : beta) b *= 2;

  HqltOut r;
  auto window = [C](int64_t t) { return std::max<int64_t>(0, t - C + 1); };
  auto chunk_start = [C](int64_t t) { return C * (t / C); };
  r.kv = attention(qkv, kkv, v, batch, time, H, H, dk, dv, c.attn_mode == models::AttnMode::chunk
                                                               ? std::function<int64_t(int64_t)>(chunk_start)
                                                               : std::function<int64_t(int64_t)>(window));
  Vec qf = map(q, silu), kf = map(k, silu);
  switch (c.attn_mode) {
    case models::AttnMode::sync_chunk: r.fw = delta_rule(qf, kf, v, beta, batch, time, H, dk, dv); break;
    case models::AttnMode::delayed: {
      Vec kd(kf.size(), 0.0), vd(v.size(), 0.0);
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t t = C; t < time; ++t) {
          std::copy_n(kf.begin() + (b * time + t - C) * H * dk, H * dk, kd.begin() + (b * time + t) * H * dk);
          std::copy_n(v.begin() + (b * time + t - C) * H * dv, H * dv, vd.begin() + (b * time + t) * H * dv);
        }
      r.fw = delta_rule(qf, kd, vd, beta, batch, time, H, dk, dv);
      break;
    }
    case models::AttnMode::chunk:
      r.fw = delta_rule(qf, kf, v, beta, batch, time, H, dk, dv, c.fw_block_size());
      break;
    case models::AttnMode::sync_chunk_linear:
      r.fw = linear_attention(q, k, v, batch, time, H, dk, dv, c.linear_normalizer == models::LinearNormalizer::time);
      break;
  }

  // §5.7 mixing, per token row n, head h, channel i.
  Vec o(r.fw.size());
  const int64_t rows = batch * time;
  Vec gate = layer.memory_gate_proj ? linear(x, layer.memory_gate_proj->weight) : Vec();
  Vec mixer = layer.memory_mixer ? linear(x, layer.memory_mixer->weight) : Vec();
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < dv; ++i) {
        const size_t e = size_t((n * H + h) * dv + i);
        double fw = r.fw[e], kv = r.kv[e];
        if (layer.memory_gate_proj && c.use_memory_gate_separate) {
          const size_t blk = size_t(n * 2 * H * dv + h * 2 * dv);
          o[e] = sigmoid(gate[blk + size_t(i)]) * fw + sigmoid(gate[blk + size_t(dv + i)]) * kv;
        } else if (layer.memory_gate_proj) {
          double g = sigmoid(gate[e]);
          o[e] = g * fw + (1 - g) * kv;
        } else if (layer.memory_mixer) {
          o[e] = sigmoid(mixer[size_t(n * 2 * H + h)]) * fw + sigmoid(mixer[size_t(n * 2 * H + H + h)]) * kv;
        } else if (layer.fw_scale) {
          o[e] = layer.fw_scale->item() * fw + layer.kv_scale->item() * kv;
        } else {
          o[e] = fw + kv;
        }
      }
  Vec y;
  if (layer.g_proj) {
    Vec g = linear(x, layer.g_proj->weight);
    y = rms_norm(o, dv, layer.o_norm_gated->weight, c.norm_eps, &g);
  } else {
    y = rms_norm(o, dv, layer.o_norm->weight, c.norm_eps);
  }
  r.out = linear(y, layer.o_proj->weight);
  return r;
}

}  // namespace hqlt::naive
