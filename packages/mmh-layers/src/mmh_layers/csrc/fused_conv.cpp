// Fused channel-wise convolution of the MACE interaction blocks, for the CPU.
//
//   A[n, o, u] = sum_{e : receiver(e) = n} sum_p c_p * sh[e, s_p] * w[e, k_p, u] * x[sender(e), i_p, u]
//
// Layouts are channel-innermost ("ir_mul"): x [N, I, C], w [E, K, C], A [N, O, C], sh [E, S].
// A path p = (k, i, s, o, c) couples weight row k and node component i with spherical-harmonic
// component s into output component o with coefficient c. Paths arrive sorted by (k, i), so
// that each weight-feature product w[e, k] * x[j, i] is formed once per group of paths.
//
// The forward pass runs receiver-major (each thread owns its receivers' output rows), the
// backward pass sender-major (each thread owns its senders' feature-gradient rows and the
// per-edge gradients of their edges). Neither needs atomics, and for a fixed edge order the
// results do not depend on the number of threads. No per-edge [E, K_out, C] tensor exists.
//
// Both functions are trilinear in (w, x, sh), so every higher derivative is again a sum of
// calls to these two kernels; the autograd formulas live in Python (mmh_layers._native).

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace {

struct Csr {
  std::vector<int64_t> ptr;   // [num_rows + 1]
  std::vector<int64_t> perm;  // [E], edges grouped by row, in their original order
};

Csr build_csr(const at::Tensor& key, int64_t num_rows, const char* what) {
  const int64_t E = key.size(0);
  const int64_t* k = key.data_ptr<int64_t>();
  Csr c;
  c.ptr.assign(num_rows + 1, 0);
  c.perm.resize(E);
  for (int64_t e = 0; e < E; ++e) {
    TORCH_CHECK(k[e] >= 0 && k[e] < num_rows, "fused_conv: ", what, " index ", k[e],
                " of edge ", e, " is outside [0, ", num_rows, ")");
    c.ptr[k[e] + 1] += 1;
  }
  for (int64_t r = 0; r < num_rows; ++r) c.ptr[r + 1] += c.ptr[r];
  std::vector<int64_t> pos(c.ptr.begin(), c.ptr.end() - 1);
  for (int64_t e = 0; e < E; ++e) c.perm[pos[k[e]]++] = e;
  return c;
}

struct Paths {
  std::vector<int32_t> k, i, s, o;
  std::vector<double> c;
  std::vector<int64_t> group;  // start of each (k, i) group, plus the end
};

Paths read_paths(const at::Tensor& index, const at::Tensor& coef, int64_t K, int64_t I,
                 int64_t S, int64_t O) {
  TORCH_CHECK(index.dim() == 2 && index.size(1) == 4 && index.scalar_type() == at::kInt,
              "fused_conv: path_index must be an int32 tensor [P, 4]");
  TORCH_CHECK(coef.dim() == 1 && coef.size(0) == index.size(0) &&
                  coef.scalar_type() == at::kDouble,
              "fused_conv: path_coef must be a float64 tensor [P]");
  const at::Tensor idx = index.contiguous();
  const at::Tensor cf = coef.contiguous();
  const int32_t* p = idx.data_ptr<int32_t>();
  const double* c = cf.data_ptr<double>();
  const int64_t P = idx.size(0);
  Paths out;
  for (int64_t q = 0; q < P; ++q) {
    const int32_t k = p[4 * q], i = p[4 * q + 1], s = p[4 * q + 2], o = p[4 * q + 3];
    TORCH_CHECK(k >= 0 && k < K && i >= 0 && i < I && s >= 0 && s < S && o >= 0 && o < O,
                "fused_conv: path ", q, " indexes outside the operands");
    if (q == 0 || k != out.k.back() || i != out.i.back()) out.group.push_back(q);
    TORCH_CHECK(q == 0 || k > out.k.back() || (k == out.k.back() && i >= out.i.back()),
                "fused_conv: paths must be sorted by (k, i)");
    out.k.push_back(k);
    out.i.push_back(i);
    out.s.push_back(s);
    out.o.push_back(o);
    out.c.push_back(c[q]);
  }
  out.group.push_back(P);
  return out;
}

void check_operands(const at::Tensor& w, const at::Tensor& x, const at::Tensor& sh,
                    const at::Tensor& sender, const at::Tensor& receiver) {
  TORCH_CHECK(w.device().is_cpu() && x.device().is_cpu() && sh.device().is_cpu(),
              "fused_conv runs on the CPU");
  TORCH_CHECK(w.dim() == 3 && x.dim() == 3 && sh.dim() == 2,
              "fused_conv: expected w [E, K, C], x [N, I, C], sh [E, S]");
  TORCH_CHECK(w.scalar_type() == x.scalar_type() && w.scalar_type() == sh.scalar_type(),
              "fused_conv: w, x and sh must share one dtype");
  TORCH_CHECK(w.size(2) == x.size(2), "fused_conv: w and x must have the same channel count");
  TORCH_CHECK(w.size(0) == sh.size(0) && sender.dim() == 1 && receiver.dim() == 1 &&
                  sender.size(0) == w.size(0) && receiver.size(0) == w.size(0),
              "fused_conv: w, sh, sender and receiver must have one row per edge");
  TORCH_CHECK(sender.scalar_type() == at::kLong && receiver.scalar_type() == at::kLong,
              "fused_conv: sender and receiver must be int64");
}

template <typename T>
void forward_kernel(const T* w, const T* x, const T* sh, const int64_t* sender, const Csr& rc,
                    const Paths& paths, int64_t N, int64_t K, int64_t I, int64_t S, int64_t O,
                    int64_t C, T* out) {
  const int64_t G = static_cast<int64_t>(paths.group.size()) - 1;
  at::parallel_for(0, N, 8, [&](int64_t begin, int64_t end) {
    std::vector<T> t(C);
    T* tp = t.data();
    for (int64_t n = begin; n < end; ++n) {
      T* acc = out + n * O * C;
      std::fill(acc, acc + O * C, T(0));  // first touch in the owning thread
      for (int64_t q = rc.ptr[n]; q < rc.ptr[n + 1]; ++q) {
        const int64_t e = rc.perm[q];
        const T* we = w + e * K * C;
        const T* xj = x + sender[e] * I * C;
        const T* she = sh + e * S;
        for (int64_t g = 0; g < G; ++g) {
          const int64_t p0 = paths.group[g], p1 = paths.group[g + 1];
          const T* wk = we + paths.k[p0] * C;
          const T* xi = xj + paths.i[p0] * C;
#pragma omp simd
          for (int64_t u = 0; u < C; ++u) tp[u] = wk[u] * xi[u];
          for (int64_t p = p0; p < p1; ++p) {
            const T cs = static_cast<T>(paths.c[p]) * she[paths.s[p]];
            T* a = acc + paths.o[p] * C;
#pragma omp simd
            for (int64_t u = 0; u < C; ++u) a[u] += cs * tp[u];
          }
        }
      }
    }
  });
}

template <typename T>
void backward_kernel(const T* ga, const T* w, const T* x, const T* sh, const int64_t* receiver,
                     const Csr& sc, const Paths& paths, int64_t N, int64_t K, int64_t I,
                     int64_t S, int64_t O, int64_t C, T* gw, T* gx, T* gsh) {
  const int64_t G = static_cast<int64_t>(paths.group.size()) - 1;
  at::parallel_for(0, N, 8, [&](int64_t begin, int64_t end) {
    std::vector<T> r(C), t(C);
    T* rp = r.data();
    T* tp = t.data();
    for (int64_t j = begin; j < end; ++j) {
      const T* xj = x + j * I * C;
      T* gxj = gx ? gx + j * I * C : nullptr;
      if (gxj) std::fill(gxj, gxj + I * C, T(0));
      for (int64_t q = sc.ptr[j]; q < sc.ptr[j + 1]; ++q) {
        const int64_t e = sc.perm[q];
        const T* gan = ga + receiver[e] * O * C;
        const T* we = w + e * K * C;
        const T* she = sh + e * S;
        T* gwe = gw ? gw + e * K * C : nullptr;
        T* gshe = gsh ? gsh + e * S : nullptr;
        if (gwe) std::fill(gwe, gwe + K * C, T(0));
        if (gshe) std::fill(gshe, gshe + S, T(0));
        for (int64_t g = 0; g < G; ++g) {
          const int64_t p0 = paths.group[g], p1 = paths.group[g + 1];
          const T* wk = we + paths.k[p0] * C;
          const T* xi = xj + paths.i[p0] * C;
          if (gwe || gxj) {
            // r = sum_p c_p sh[s_p] gA[o_p]: the cotangent of the product w[k] * x[i]
#pragma omp simd
            for (int64_t u = 0; u < C; ++u) rp[u] = T(0);
            for (int64_t p = p0; p < p1; ++p) {
              const T cs = static_cast<T>(paths.c[p]) * she[paths.s[p]];
              const T* g_o = gan + paths.o[p] * C;
#pragma omp simd
              for (int64_t u = 0; u < C; ++u) rp[u] += cs * g_o[u];
            }
            if (gwe) {
              T* gwk = gwe + paths.k[p0] * C;
#pragma omp simd
              for (int64_t u = 0; u < C; ++u) gwk[u] += rp[u] * xi[u];
            }
            if (gxj) {
              T* gxi = gxj + paths.i[p0] * C;
#pragma omp simd
              for (int64_t u = 0; u < C; ++u) gxi[u] += rp[u] * wk[u];
            }
          }
          if (gshe) {
#pragma omp simd
            for (int64_t u = 0; u < C; ++u) tp[u] = wk[u] * xi[u];
            for (int64_t p = p0; p < p1; ++p) {
              const T* g_o = gan + paths.o[p] * C;
              T dot = T(0);
#pragma omp simd reduction(+ : dot)
              for (int64_t u = 0; u < C; ++u) dot += tp[u] * g_o[u];
              gshe[paths.s[p]] += static_cast<T>(paths.c[p]) * dot;
            }
          }
        }
      }
    }
  });
}

at::Tensor conv_fwd(const at::Tensor& w_in, const at::Tensor& x_in, const at::Tensor& sh_in,
                    const at::Tensor& sender, const at::Tensor& receiver, int64_t num_nodes,
                    const at::Tensor& path_index, const at::Tensor& path_coef, int64_t num_out) {
  check_operands(w_in, x_in, sh_in, sender, receiver);
  TORCH_CHECK(x_in.size(0) == num_nodes, "fused_conv: x must have num_nodes rows");
  const at::Tensor w = w_in.contiguous(), x = x_in.contiguous(), sh = sh_in.contiguous();
  const int64_t E = w.size(0), K = w.size(1), C = w.size(2), I = x.size(1), S = sh.size(1);
  const Paths paths = read_paths(path_index, path_coef, K, I, S, num_out);
  if (E == 0 || num_nodes == 0 || C == 0) return at::zeros({num_nodes, num_out, C}, w.options());
  at::Tensor out = at::empty({num_nodes, num_out, C}, w.options());  // every row is written
  const Csr rc = build_csr(receiver.contiguous(), num_nodes, "receiver");
  const at::Tensor snd = sender.contiguous();
  const int64_t* sp = snd.data_ptr<int64_t>();
  for (int64_t e = 0; e < E; ++e)
    TORCH_CHECK(sp[e] >= 0 && sp[e] < num_nodes, "fused_conv: sender index ", sp[e],
                " of edge ", e, " is outside [0, ", num_nodes, ")");
  AT_DISPATCH_FLOATING_TYPES(w.scalar_type(), "mmh_fused_conv_fwd", [&] {
    forward_kernel<scalar_t>(w.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(),
                             sh.data_ptr<scalar_t>(), sp, rc, paths, num_nodes, K, I, S,
                             num_out, C, out.data_ptr<scalar_t>());
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> conv_bwd(
    const at::Tensor& grad_in, const at::Tensor& w_in, const at::Tensor& x_in,
    const at::Tensor& sh_in, const at::Tensor& sender, const at::Tensor& receiver,
    const at::Tensor& path_index, const at::Tensor& path_coef, bool need_w, bool need_x,
    bool need_sh) {
  check_operands(w_in, x_in, sh_in, sender, receiver);
  const at::Tensor w = w_in.contiguous(), x = x_in.contiguous(), sh = sh_in.contiguous();
  const at::Tensor ga = grad_in.to(w.scalar_type()).contiguous();
  const int64_t E = w.size(0), K = w.size(1), C = w.size(2);
  const int64_t N = x.size(0), I = x.size(1), S = sh.size(1);
  TORCH_CHECK(ga.dim() == 3 && ga.size(0) == N && ga.size(2) == C,
              "fused_conv: grad_out must be [N, O, C]");
  const int64_t O = ga.size(1);
  const Paths paths = read_paths(path_index, path_coef, K, I, S, O);
  const bool trivial = E == 0 || N == 0 || C == 0;
  // every row is written by the kernel (each edge belongs to one sender), except when trivial
  auto make = [&](bool need, const at::Tensor& like) {
    if (!need) return at::empty({0}, like.options());
    return trivial ? at::zeros_like(like) : at::empty_like(like);
  };
  at::Tensor gw = make(need_w, w), gx = make(need_x, x), gsh = make(need_sh, sh);
  if (trivial || !(need_w || need_x || need_sh)) return {gw, gx, gsh};
  const Csr sc = build_csr(sender.contiguous(), N, "sender");
  const at::Tensor rcv = receiver.contiguous();
  const int64_t* rp = rcv.data_ptr<int64_t>();
  for (int64_t e = 0; e < E; ++e)
    TORCH_CHECK(rp[e] >= 0 && rp[e] < N, "fused_conv: receiver index ", rp[e], " of edge ", e,
                " is outside [0, ", N, ")");
  AT_DISPATCH_FLOATING_TYPES(w.scalar_type(), "mmh_fused_conv_bwd", [&] {
    backward_kernel<scalar_t>(
        ga.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(),
        sh.data_ptr<scalar_t>(), rp, sc, paths, N, K, I, S, O, C,
        need_w ? gw.data_ptr<scalar_t>() : nullptr, need_x ? gx.data_ptr<scalar_t>() : nullptr,
        need_sh ? gsh.data_ptr<scalar_t>() : nullptr);
  });
  return {gw, gx, gsh};
}

}  // namespace

TORCH_LIBRARY(mmh_native, m) {
  m.def(
      "conv_fwd(Tensor w, Tensor x, Tensor sh, Tensor sender, Tensor receiver, int num_nodes, "
      "Tensor path_index, Tensor path_coef, int num_out) -> Tensor");
  m.def(
      "conv_bwd(Tensor grad_out, Tensor w, Tensor x, Tensor sh, Tensor sender, "
      "Tensor receiver, Tensor path_index, Tensor path_coef, bool need_w, bool need_x, "
      "bool need_sh) -> (Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(mmh_native, CPU, m) {
  m.impl("conv_fwd", &conv_fwd);
  m.impl("conv_bwd", &conv_bwd);
}
