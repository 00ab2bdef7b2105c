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

}  // namespace tc
