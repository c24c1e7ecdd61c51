// Precision: names and the LibTorch dtype of each (model/network.h, detail/tensor_forward.h).

#include "common/error.h"
#include "model/detail/tensor_forward.h"
#include "model/network.h"

namespace n2v {

Precision parse_precision(const std::string& name) {
  if (name == "float32") return Precision::kFloat32;
  if (name == "float16") return Precision::kFloat16;
  if (name == "bfloat16") return Precision::kBFloat16;
  N2V_THROW(kInvalidArgument, "unknown precision '" << name << "' (expected float32, float16 or bfloat16)");
}

const char* to_string(Precision precision) {
  switch (precision) {
    case Precision::kFloat32: return "float32";
    case Precision::kFloat16: return "float16";
    case Precision::kBFloat16: return "bfloat16";
  }
  return "unknown";
}

at::ScalarType detail::scalar_type(Precision precision) {
  switch (precision) {
    case Precision::kFloat16: return at::kHalf;
    case Precision::kBFloat16: return at::kBFloat16;
    case Precision::kFloat32: break;
  }
  return at::kFloat;
}

}  // namespace n2v
