#include "models/matmul.h"

#include "models/parallel.h"
#include "models/thin_gemm_kernel.h"

#include <ATen/autocast_mode.h>
#include <ATen/record_function.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <limits>
#include <mutex>
#include <vector>

namespace tc {
namespace {

// cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) with CBLAS's enum values.
using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

// A function of the BLAS libtorch itself loaded (nothing is loaded here: RTLD_NOLOAD; dlsym on a library's handle
// also searches what it depends on, so Debian's libblas.so.3 finds OpenBLAS's own functions), else nullptr.
template <typename Fn>
Fn loaded_blas_function(const char* name) {
  for (const char* lib : {"libblas.so.3", "libopenblas.so.0", "libcblas.so.3"}) {
    if (void* h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD)) {
      if (void* f = dlsym(h, name)) return reinterpret_cast<Fn>(f);
    }
  }
  return nullptr;
}

// Resolved once per process, a fact about the process rather than state: MKL builds, and processes without a
// CBLAS, get nullptr.
SgemmFn cblas_sgemm_of_process() {
  static const SgemmFn fn = at::hasMKL() ? nullptr : loaded_blas_function<SgemmFn>("cblas_sgemm");
  return fn;
}

// How BLAS reads the last two dimensions of t in place: row-major (stride 1 along columns) or transposed
// (stride 1 along rows), with its leading dimension. False when neither holds (then t is made contiguous).
bool blas_layout(const torch::Tensor& t, bool& trans, int64_t& ld) {
  const int64_t r = t.size(-2), c = t.size(-1), sr = t.stride(-2), sc = t.stride(-1);
  if ((sc == 1 || c == 1) && (r == 1 || sr >= std::max<int64_t>(1, c))) {
    trans = false;
    ld = r == 1 ? std::max<int64_t>(1, c) : sr;
    return true;
  }
  if ((sr == 1 || r == 1) && (c == 1 || sc >= std::max<int64_t>(1, r))) {
    trans = true;
    ld = c == 1 ? std::max<int64_t>(1, r) : sc;
    return true;
  }
  return false;
}

// Element offset of each matrix of t (all dimensions but the last two), in row-major batch order.
std::vector<int64_t> matrix_offsets(const torch::Tensor& t) {
  const int64_t nd = t.dim() - 2;
  std::vector<int64_t> offsets{0};
  for (int64_t d = 0; d < nd; ++d) {
    std::vector<int64_t> next;
    next.reserve(offsets.size() * size_t(t.size(d)));
    for (int64_t o : offsets)
      for (int64_t i = 0; i < t.size(d); ++i) next.push_back(o + i * t.stride(d));
    offsets = std::move(next);
  }
  return offsets;
}

bool fits_int(const torch::Tensor& t) {
  for (int64_t s : t.sizes()) if (s > std::numeric_limits<int>::max()) return false;
  return true;
}

using SetThreadsFn = void (*)(int);
using GetThreadsFn = int (*)();

// OpenBLAS's thread-count functions, where the BLAS is OpenBLAS (else nullptr).
SetThreadsFn openblas_set_threads() {
  static const SetThreadsFn fn = loaded_blas_function<SetThreadsFn>("openblas_set_num_threads");
  return fn;
}

GetThreadsFn openblas_get_threads() {
  static const GetThreadsFn fn = loaded_blas_function<GetThreadsFn>("openblas_get_num_threads");
  return fn;
}

// Mirrors OpenBLAS's process-wide thread count, which is why it is process-wide too: how many SingleThreadedBlas
// scopes are open, and the count to restore when the last one closes.
struct SingleThreadedScopes {
  std::mutex mutex;
  int active = 0;
  int saved = 1;
};

SingleThreadedScopes& single_threaded_scopes() {
  static SingleThreadedScopes s;
  return s;
}

// Above this a product is large enough for OpenBLAS's own threads (its hand-off is small next to the work); at
// attention's shapes (197x64x197 per head: 2.5M) each 2-thread call spent about as long handing off as working,
// ~60 GFLOP/s against ~140 with the stack's matrices split over our threads instead (measured on such a stack alone).
constexpr int64_t kMaxSplitMatrixWork = int64_t(1) << 24;
// Below this much work in the whole stack, starting a thread (~50 us) costs more than it saves.
constexpr int64_t kMinSplitWork = int64_t(1) << 21;

// How many threads share a stack of `count` products of m * n * k multiply-adds each: the BLAS's thread count
// when the products are small and many, else one (then each is one call on BLAS's own threads); at most
// max_workers when that is positive. TORCH_CAPTION_BMM_SPLIT=0 keeps one.
int64_t matrix_workers(int64_t count, int64_t m, int64_t n, int64_t k, int64_t max_workers) {
  const int64_t work = m * n * k;
  if (max_workers == 1 || count < 2 || work > kMaxSplitMatrixWork || count * work < kMinSplitWork) return 1;
  if (!SingleThreadedBlas::available()) return 1;
  if (const char* v = std::getenv("TORCH_CAPTION_BMM_SPLIT"); v && std::string(v) == "0") return 1;
  return std::min<int64_t>({blas_threads(), count, max_workers > 0 ? max_workers : count});
}

// c = a @ b per matrix, into a fresh contiguous tensor; a [..., M, K], b [..., K, N] on the CPU in float32.
torch::Tensor gemm_each(SgemmFn sgemm, torch::Tensor a, torch::Tensor b, int64_t max_workers) {
  RECORD_FUNCTION("tc::gemm_each", std::vector<c10::IValue>());
  bool ta = false, tb = false;
  int64_t lda = 0, ldb = 0;
  if (!blas_layout(a, ta, lda)) {
    a = a.contiguous();
    blas_layout(a, ta, lda);
  }
  if (!blas_layout(b, tb, ldb)) {
    b = b.contiguous();
    blas_layout(b, tb, ldb);
  }
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  auto shape = a.sizes().vec();
  shape.back() = N;
  auto c = torch::empty(shape, a.options());
  if (c.numel() == 0) return c;
  if (K == 0) return c.zero_();
  const auto oa = matrix_offsets(a), ob = matrix_offsets(b);
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  float* pc = c.data_ptr<float>();
  const auto products = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      sgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, int(M), int(N), int(K), 1.0f, pa + oa[size_t(i)], int(lda),
            pb + ob[size_t(i)], int(ldb), 0.0f, pc + i * M * N, int(N));
    }
  };
  const auto count = int64_t(oa.size());
  const int64_t workers = matrix_workers(count, M, N, K, max_workers);
  if (workers <= 1) {
    products(0, count);
  } else {
    // Also for matrices OpenBLAS would run on one thread anyway: then no build's threshold can differ from ours.
    SingleThreadedBlas single;
    for_chunks(count, workers, products);
  }
  return c;
}

// d(a @ b) = (g @ b^T, a^T @ g), each again one gemm per matrix on the operands' memory.
struct GemmEach : public torch::autograd::Function<GemmEach> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& b, int64_t max_workers) {
    RECORD_FUNCTION("tc::batched_matmul", std::vector<c10::IValue>());
    ctx->save_for_backward({a, b});
    ctx->saved_data["max_workers"] = max_workers;
    return gemm_each(cblas_sgemm_of_process(), a, b, max_workers);
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& a = saved[0];
    const auto& b = saved[1];
    const auto& g = grads[0];
    const auto sgemm = cblas_sgemm_of_process();
    const int64_t max_workers = ctx->saved_data["max_workers"].toInt();
    torch::Tensor ga, gb;
    if (ctx->needs_input_grad(0)) ga = gemm_each(sgemm, g, b.transpose(-1, -2), max_workers);
    if (ctx->needs_input_grad(1)) gb = gemm_each(sgemm, a.transpose(-1, -2), g, max_workers);
    return {ga, gb, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b, int64_t max_workers) {
  const bool ours = cblas_sgemm_of_process() != nullptr && a.device().is_cpu() && b.device().is_cpu() && a.scalar_type() == torch::kFloat32 &&
                    b.scalar_type() == torch::kFloat32 && a.dim() >= 3 && a.dim() == b.dim() &&
                    a.sizes().slice(0, a.dim() - 2) == b.sizes().slice(0, b.dim() - 2) && a.size(-1) == b.size(-2) && fits_int(a) && fits_int(b) &&
                    !at::autocast::is_cpu_enabled();
  if (!ours) return torch::matmul(a, b);
  return GemmEach::apply(a, b, max_workers);
}

int64_t batched_matmul_workers(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.dim() < 3) return 1;
  return matrix_workers(a.numel() / std::max<int64_t>(1, a.size(-2) * a.size(-1)), a.size(-2), b.size(-1), a.size(-1), 0);
}

bool SingleThreadedBlas::available() { return openblas_set_threads() != nullptr; }

SingleThreadedBlas::SingleThreadedBlas() {
  auto& s = single_threaded_scopes();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.active++ == 0) {
    const auto get = openblas_get_threads();
    s.saved = std::max(1, get ? get() : 1);
    openblas_set_threads()(1);
  }
}

SingleThreadedBlas::~SingleThreadedBlas() {
  auto& s = single_threaded_scopes();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (--s.active == 0) openblas_set_threads()(s.saved);
}

// A product moved off the BLAS keeps the parallelism it had. The configured count: while SingleThreadedBlas
// scopes are open OpenBLAS reports the one they set, so the count they will restore is the answer.
int blas_threads() {
  const auto fn = openblas_get_threads();
  auto& s = single_threaded_scopes();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.active > 0) return s.saved;
  return std::max(1, fn ? fn() : at::get_num_threads());
}

// Rows beyond this are a batch rather than a decoding step: BLAS's packed gemm catches up (measured on the
// GPT-2 124M shapes: the thin kernel is 2-4x faster at M <= 8 and still ahead at 32).
constexpr int64_t kThinRows = 32;

// Decoding only (generate runs under InferenceMode): a forward pass keeps BLAS, so its logits are the bits of the
// training forward.
// TORCH_CAPTION_THIN_GEMM=0 keeps BLAS for decoding too (a fact of the process's environment, read once).
bool thin_gemm_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("TORCH_CAPTION_THIN_GEMM");
    return !(v && std::string(v) == "0");
  }();
  return on;
}

// x [M, K] and a contiguous float32 weight on the CPU, under generate, with at most max_rows rows.
bool thin_operands(const torch::Tensor& x, const torch::Tensor& w, int64_t max_rows) {
  return thin_gemm_enabled() && c10::InferenceMode::is_enabled() && x.dim() == 2 && w.dim() == 2 && x.size(0) <= max_rows &&
         x.device().is_cpu() && w.device().is_cpu() && x.scalar_type() == torch::kFloat32 && w.scalar_type() == torch::kFloat32 &&
         w.is_contiguous() && !at::autocast::is_cpu_enabled();
}

bool thin_gemm_applies(const torch::Tensor& x, const torch::Tensor& w) { return thin_operands(x, w, kThinRows) && x.size(1) == w.size(0); }

// In nn.Linear's layout the kernel's lead over BLAS is gone by 16 rows (measured on BERT-base shapes).
constexpr int64_t kThinLinearRows = 16;

bool thin_linear_applies(const torch::Tensor& x, const torch::Tensor& w) {
  return thin_operands(x, w, kThinLinearRows) && x.size(1) == w.size(1);
}

// Runs one of the two kernels on x [M, K] with N outputs: rows of x with unit stride, bias checked and contiguous.
template <class Kernel>
torch::Tensor run_thin(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias, int64_t N, Kernel kernel) {
  auto xc = x.stride(1) == 1 ? x : x.contiguous();
  auto b = bias.defined() ? bias.contiguous() : bias;
  TORCH_CHECK(!b.defined() || (b.numel() == N && b.scalar_type() == torch::kFloat32), "thin_gemm: bias of ", N, " floats expected");
  auto out = torch::empty({xc.size(0), N}, xc.options());
  kernel(xc.data_ptr<float>(), xc.stride(0), xc.size(0), xc.size(1), w.data_ptr<float>(), w.size(1), N, b.defined() ? b.data_ptr<float>() : nullptr,
         out.data_ptr<float>(), N, blas_threads());
  return out;
}

torch::Tensor thin_gemm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias) {
  RECORD_FUNCTION("tc::thin_gemm", std::vector<c10::IValue>());  // named in TORCH_CAPTION_PROFILE traces
  return run_thin(x, w, bias, w.size(1), thin_gemm_f32);
}

torch::Tensor thin_linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias) {
  RECORD_FUNCTION("tc::thin_linear", std::vector<c10::IValue>());
  return run_thin(x, w, bias, w.size(0), thin_gemm_nk_f32);
}

}  // namespace tc
