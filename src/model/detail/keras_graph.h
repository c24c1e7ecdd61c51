#pragma once
// The topology of a net2vec Keras network (internal to src/model, and the topology fuzzer):
// the file's `keras_model_config` parsed into layers with their Keras options, inbound
// nodes in a topological order, output shapes at the reference input size, the
// preprocessing, and the checks of a built-in architecture's known shapes. Torch-free: the
// runtime (keras_networks.cpp) adds the weights and runs it with ATen.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/network.h"
#include "model/detail/safetensors.h"

namespace n2v::detail {

inline constexpr const char* kKerasMobileNetV2 = "keras_mobilenet_v2";
inline constexpr const char* kKerasInceptionV3 = "keras_inception_v3";
inline constexpr const char* kKerasFunctional = "keras_functional";
inline constexpr const char* kKerasConvertHint =
    "the built-in Keras networks are written by: (cd tools/nsfwjs && npm ci) && "
    "node tools/nsfwjs/convert.mjs --out <dir>";

enum class KerasOp {
  kInput, kZeroPad, kConv, kDepthwise, kBatchNorm, kReLU, kActivation, kAdd, kConcat,
  kMaxPool, kAvgPool, kGlobalAvgPool, kGlobalMaxPool, kFlatten, kDense, kIdentity,
};

const std::map<std::string, KerasOp>& keras_layer_class_table();


enum class KerasAct { kLinear, kRelu, kSoftmax, kSigmoid, kTanh };

// A layer's output shape without the batch: C x H x W, or C for flat (dense) outputs.
struct KerasShape {
  bool flat = false;
  int64_t c = 0, h = 0, w = 0;
  std::vector<int64_t> dims() const {
    return flat ? std::vector<int64_t>{c} : std::vector<int64_t>{c, h, w};
  }
  bool operator==(const KerasShape& o) const {
    return flat == o.flat && c == o.c && (flat || (h == o.h && w == o.w));
  }
  std::string str() const { return safetensors::shape_string(dims()); }
};

struct KerasLayer {
  std::string name, cls;
  KerasOp op = KerasOp::kIdentity;
  std::vector<int> inputs;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  bool same = false;
  int64_t pad_t = 0, pad_b = 0, pad_l = 0, pad_r = 0;  // ZeroPadding2D
  int64_t filters = 0, multiplier = 1, units = 0;
  bool use_bias = false, bn_scale = true, bn_center = true;
  double eps = 1e-3;
  double relu_max = -1;  // < 0: no maximum
  int64_t axis = 1;      // concatenation axis in NCHW
  KerasAct act = KerasAct::kLinear;
  KerasShape shape;           // output shape for the reference input size
};

// "<path>: layer '<name>' (<class>)", the prefix of every error about a layer.
std::string keras_where(const std::string& path, const KerasLayer& l);
// TensorFlow "same" padding along one axis: (before, after); the odd pixel goes after.
std::pair<int64_t, int64_t> same_padding(int64_t in, int64_t k, int64_t s, int64_t d);

struct KerasGraph {
  std::string path, architecture;
  std::vector<KerasLayer> layers;  // topological order
  std::map<std::string, int> index;
  std::vector<std::string> names;  // layers without the InputLayer
  int input = -1;
  Preprocessing preprocessing;
};

// The architecture metadata, the layers and their output shapes (kCorrupt / kUnsupported
// naming the file and the layer).
KerasGraph read_keras_topology(const safetensors::File& file, const std::string& path);
// Then, once the weights are read: the preprocessing metadata and a built-in
// architecture's known layer shapes.
void finish_keras_graph(KerasGraph& graph, const safetensors::File& file);

}  // namespace n2v::detail
