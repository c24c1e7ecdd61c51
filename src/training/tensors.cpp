#include "training/detail/tensors.h"

namespace n2v::detail {

torch::Device to_device(DeviceKind kind) {
  return kind == DeviceKind::kCuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

// The 256 x 8 table of the bits of every byte value, computed on `device` (built there rather
// than uploaded: a pageable upload makes a GPU's stream wait).
torch::Tensor bit_table(torch::Device device) {
  const auto opt = torch::TensorOptions().dtype(torch::kLong).device(device);
  return torch::arange(256, opt).unsqueeze(1).bitwise_right_shift(torch::arange(8, opt)).bitwise_and(1).to(torch::kFloat32);
}

torch::Tensor unpack_bits(const torch::Tensor& bytes, int64_t nbits) {
  // A lookup table: one gather instead of eight shift-and-mask passes. Kept on the CPU; on
  // another device the few small kernels that build it cost less than a synchronising copy.
  static thread_local torch::Tensor cpu_table = bit_table(torch::kCPU);
  const torch::Tensor table = bytes.is_cpu() ? cpu_table : bit_table(bytes.device());
  const int64_t rows = bytes.size(0), nbytes = bytes.size(1);
  torch::Tensor out = table.index_select(0, bytes.reshape({-1}).to(torch::kLong))
                          .view({rows, nbytes * 8});
  return nbits == nbytes * 8 ? out : out.narrow(1, 0, nbits);
}

torch::Tensor long_tensor(const std::vector<int64_t>& values, torch::Device device) {
  return torch::tensor(values, torch::kLong).to(device);
}

torch::Tensor float_tensor(const std::vector<float>& values, torch::Device device) {
  return torch::tensor(values, torch::kFloat32).to(device);
}

void sgd_rows_step(torch::Tensor& param, torch::Tensor& velocity, const torch::Tensor& grad,
                   const torch::Tensor& active, double lr, double momentum,
                   const torch::Tensor& keep) {
  torch::NoGradGuard no_grad;
  torch::Tensor on = active.dim() == param.dim() ? active : active.view({-1, 1});
  if (param.dim() == 1) on = active.view({-1});
  torch::Tensor updated = velocity * momentum + grad;
  velocity.copy_(torch::where(on > 0, updated, velocity));
  param.sub_(velocity * on * lr);
  if (keep.defined()) {
    param.mul_(keep);
    velocity.mul_(keep);
  }
}

torch::Tensor top_abs_mask(const torch::Tensor& weights, int64_t f) {
  const int64_t k = weights.size(1);
  if (f >= k) return torch::ones_like(weights);
  // Stable descending sort by |w| so ties keep the lower filter index.
  auto sorted = std::get<1>(weights.abs().sort(/*stable=*/true, /*dim=*/1, /*descending=*/true));
  torch::Tensor mask = torch::zeros_like(weights);
  mask.scatter_(1, sorted.narrow(1, 0, f), 1.0);
  return mask;
}

}  // namespace n2v::detail
