#include "training/detail/tensors.h"

namespace n2v::detail {

torch::Device to_device(DeviceKind kind) {
  return kind == DeviceKind::kCuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

torch::Tensor unpack_bits(const torch::Tensor& bytes, int64_t nbits) {
  // A 256 x 8 lookup table: one gather instead of eight shift-and-mask passes.
  static thread_local torch::Tensor cpu_table;
  if (!cpu_table.defined()) {
    cpu_table = torch::empty({256, 8}, torch::kFloat32);
    auto a = cpu_table.accessor<float, 2>();
    for (int v = 0; v < 256; ++v)
      for (int j = 0; j < 8; ++j) a[v][j] = static_cast<float>((v >> j) & 1);
  }
  torch::Tensor table = cpu_table.to(bytes.device());
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
