// Precision: names and the LibTorch dtype of each (model/network.h, tensor_forward.h).

#include "common/enum_names.h"
#include "common/error.h"
#include "model/tensor_forward.h"
#include "model/network.h"

namespace n2v {

namespace {
constexpr EnumName<Precision> kPrecisionNames[] = {
    {Precision::kFloat32, "float32"}, {Precision::kFloat16, "float16"}, {Precision::kBFloat16, "bfloat16"}};
}  // namespace

Precision parse_precision(const std::string& name) { return parse_enum(kPrecisionNames, name, "precision"); }

const char* to_string(Precision precision) { return enum_name(kPrecisionNames, precision); }

at::ScalarType detail::scalar_type(Precision precision) {
  switch (precision) {
    case Precision::kFloat16: return at::kHalf;
    case Precision::kBFloat16: return at::kBFloat16;
    case Precision::kFloat32: break;
  }
  return at::kFloat;
}

}  // namespace n2v
