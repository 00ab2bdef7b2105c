// The captioning loss: token-level cross-entropy over the vocabulary, F::cross_entropy's numbers.
//
// Its log-softmax reads and writes a [tokens, vocab] matrix (192 x 50257 floats, 38 MB, on the bench models) in
// the forward and again in the backward pass. libtorch splits those rows over its intra-op threads, and where it
// has only one (Debian's libtorch picks one on this class of 2-vCPU machine, while the BLAS runs two) the loss
// took 38% of the tiny model's training step. Here the rows are then split over the BLAS's worker count instead:
// each row is still computed by ATen's own kernel, alone, so the values are bit for bit those of one call.
#pragma once
#include <torch/torch.h>

namespace tc {

// Mean cross-entropy of logits [N, C] against labels [N] (ignore_index -100), with optional label smoothing.
torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, double label_smoothing);

}  // namespace tc
