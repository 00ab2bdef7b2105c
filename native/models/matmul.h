// Products of stacks of matrices (attention's q @ k^T and probs @ v), as torch::matmul computes them for
// operands with the same batch dimensions.
//
// libtorch's CPU bmm without MKL (Debian's build, with OpenBLAS) loops over the batch in ATen, three select()
// views and a dispatch per matrix: on the small bench model ~140 ms of each 1.2 s training step went to that
// bookkeeping, and matmul of permuted head views first copied them contiguous. Here each matrix is one
// cblas_sgemm call straight on the operands' memory (transposed views are read with the transpose flag, head
// permutations through their strides), with the backward pass written the same way. Elsewhere (CUDA, other
// dtypes, MKL builds whose bmm is already one batched call, no cblas_sgemm in the process) it is torch::matmul.
#pragma once
#include <torch/torch.h>

namespace tc {

torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b);

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
