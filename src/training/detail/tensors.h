#pragma once
// LibTorch helpers shared by the training .cpp files (torch-facing: include only from
// src/training/*.cpp).

// Not <torch/torch.h>: the nn/optim/data front end costs ~8 s of every translation unit's
// compile and training uses only tensors, autograd and the RNG.
#include <torch/types.h>
#include <torch/utils.h>

#include <cstdint>
#include <vector>

#include "model/network.h"

namespace n2v::detail {

torch::Device to_device(DeviceKind kind);

// Bit-packed rows (uint8 [B, nbytes], bit j of byte i = element 8i + j) -> float [B, nbits].
torch::Tensor unpack_bits(const torch::Tensor& bytes, int64_t nbits);

// A CPU int64 tensor holding `values`, moved to `device`.
torch::Tensor long_tensor(const std::vector<int64_t>& values, torch::Device device);
torch::Tensor float_tensor(const std::vector<float>& values, torch::Device device);

// SGD with momentum, PyTorch semantics (v = momentum * v + g; p -= lr * v), applied only to
// the rows of `param` whose `active` flag is 1 (float [rows, 1] or [rows]); other rows and
// their momentum stay as they are. `keep` (optional, same shape as param) zeroes pruned
// entries after the step (filter subsets).
void sgd_rows_step(torch::Tensor& param, torch::Tensor& velocity, const torch::Tensor& grad,
                   const torch::Tensor& active, double lr, double momentum,
                   const torch::Tensor& keep = {});

// Per row, a 0/1 mask of the F entries with the largest |w| (ties: lower index first).
torch::Tensor top_abs_mask(const torch::Tensor& weights, int64_t f);

}  // namespace n2v::detail
