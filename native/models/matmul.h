// Products of stacks of matrices (attention's q @ k^T and probs @ v), as torch::matmul computes them for
// operands with the same batch dimensions.
//
// libtorch's CPU bmm without MKL (Debian's build, with OpenBLAS) loops over the batch in ATen, three select()
// views and a dispatch per matrix: on the small bench model ~140 ms of each 1.2 s training step went to that
// bookkeeping, and matmul of permuted head views first copied them contiguous. Here each matrix is one
// cblas_sgemm call straight on the operands' memory (transposed views are read with the transpose flag, head
// permutations through their strides), with the backward pass written the same way. Elsewhere (CUDA, other
// dtypes, MKL builds whose bmm is already one batched call, no cblas_sgemm in the process) it is torch::matmul.
//
// A stack of small matrices (attention's heads: 197x64x197 per head on ViT) is split over the BLAS's thread count
// on threads of our own, each matrix one single-threaded call, instead of handing each matrix to OpenBLAS's own
// two threads: their hand-off cost about as much as the work (~60 GFLOP/s against ~140 split; measured on the
// small bench model's 24 heads per layer). Each matrix is computed whole by one thread, so its bits are those of a
// single-threaded BLAS, whichever thread and however many (batch-invariant); OpenBLAS's own threading splits a
// matrix's rows by its thread count, which moves rows in and out of its edge kernels and so changes low bits.
#pragma once
#include <torch/torch.h>

namespace tc {

// a [..., M, K] @ b [..., K, N] (same batch dimensions); max_workers > 0 caps the threads a stack is split over
// (1: never split, each matrix one BLAS call as it would otherwise run).
torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b, int64_t max_workers = 0);

// How many threads batched_matmul(a, b) splits its forward stack over (1: not split), for tests and profiles.
int64_t batched_matmul_workers(const torch::Tensor& a, const torch::Tensor& b);

// OpenBLAS's thread count is one setting for the whole process. While a stack of products runs on our own threads
// each of their calls must run on its calling thread (a threaded call hands off to OpenBLAS's workers, and two
// threaded calls at once wait on its level-3 lock), so the count is one from the first such scope until the last
// one open at the same time closes, then restored. A product run elsewhere meanwhile runs single-threaded: slower,
// and in the low bits of some rows different (see above). available() is false where the BLAS is not OpenBLAS.
class SingleThreadedBlas {
 public:
  static bool available();
  SingleThreadedBlas();
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;
};

// x [M, K] @ w [K, N] + bias (optional) for inference on a few rows (decoding: one token per sequence), when
// thin_gemm_applies: one pass over w on the BLAS's thread count (native/models/thin_gemm_kernel.h), 2-5x faster
// than BLAS for M <= 32 on the decoder's shapes, and batch-invariant: each row's bits are those of that row alone.
// The worker count of the thin kernel: the BLAS's own (OpenBLAS: OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS, else
// the CPUs), torch's intra-op count where the BLAS does not say.
int blas_threads();

bool thin_gemm_applies(const torch::Tensor& x, const torch::Tensor& w);
torch::Tensor thin_gemm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias);

// The same for a weight in nn.Linear's layout, w [N, K]: x @ w^T + bias, for M <= 16 (2-2.5x BLAS at M <= 8 on
// BERT-base shapes, level at 16).
bool thin_linear_applies(const torch::Tensor& x, const torch::Tensor& w);
torch::Tensor thin_linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias);

}  // namespace tc
