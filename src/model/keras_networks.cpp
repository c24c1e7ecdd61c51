// Built-in Keras networks (see keras_networks.h and docs/MODELS.md): a small interpreter for
// Keras functional-model topologies, run with ATen in NCHW. The topology comes from the
// file's `keras_model_config` metadata, so every Keras layer is addressable by its name and
// the graph is exactly the one nsfwjs runs. Keras semantics reproduced here:
// - weights in Keras layouts: conv kernels HWIO -> OIHW, depthwise [kh, kw, C, M] ->
//   [C*M, 1, kh, kw] with groups = C, dense [in, out] -> [out, in];
// - padding "same" as TensorFlow: total = max((ceil(in/s) - 1) * s + k_eff - in, 0), with the
//   odd pixel at the bottom/right (asymmetric: explicit pad, then an unpadded op); average
//   pooling excludes padded pixels from the divisor; max pooling pads with -inf;
// - ZeroPadding2D ((top, bottom), (left, right)); BatchNormalization in inference form
//   (moving statistics, epsilon from the config; gamma absent when scale=False);
// - ReLU(max_value) -> clamp; Flatten in channels-last order (NHWC) before Dense;
//   softmax over the channel axis; Dropout is the identity.
// For speed, activations are kept channels-last in memory (oneDNN convolutions then need no
// reordering) and a BatchNormalization that only follows a linear convolution is folded into
// that convolution's weights; results are returned as plain NCHW.
// The only other file of the model stage that sees LibTorch besides torchscript_network.cpp:
// c10::Error is translated into n2v::Error here.

#include "model/keras_networks.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/detail/tensor_forward.h"
#include "model/detail/torch_util.h"
#include "model/network.h"
#include "model/safetensors.h"

namespace n2v {
namespace {

using nlohmann::json;

constexpr const char* kMobileNetV2 = "keras_mobilenet_v2";
constexpr const char* kInceptionV3 = "keras_inception_v3";
constexpr const char* kFunctional = "keras_functional";
constexpr const char* kConvertHint =
    "the built-in Keras networks are written by: (cd tools/nsfwjs && npm ci) && "
    "node tools/nsfwjs/convert.mjs --out <dir>";

enum class Op {
  kInput, kZeroPad, kConv, kDepthwise, kBatchNorm, kReLU, kActivation, kAdd, kConcat,
  kMaxPool, kAvgPool, kGlobalAvgPool, kGlobalMaxPool, kFlatten, kDense, kIdentity,
};

const std::map<std::string, Op>& layer_classes() {
  static const std::map<std::string, Op> classes = {
      {"InputLayer", Op::kInput},
      {"ZeroPadding2D", Op::kZeroPad},
      {"Conv2D", Op::kConv},
      {"DepthwiseConv2D", Op::kDepthwise},
      {"BatchNormalization", Op::kBatchNorm},
      {"ReLU", Op::kReLU},
      {"Activation", Op::kActivation},
      {"Add", Op::kAdd},
      {"Concatenate", Op::kConcat},
      {"MaxPooling2D", Op::kMaxPool},
      {"AveragePooling2D", Op::kAvgPool},
      {"GlobalAveragePooling2D", Op::kGlobalAvgPool},
      {"GlobalMaxPooling2D", Op::kGlobalMaxPool},
      {"Flatten", Op::kFlatten},
      {"Dense", Op::kDense},
      {"Dropout", Op::kIdentity},
      {"SpatialDropout2D", Op::kIdentity},
  };
  return classes;
}

enum class Act { kLinear, kRelu, kSoftmax, kSigmoid, kTanh };

// A layer's output shape without the batch: C x H x W, or C for flat (dense) outputs.
struct Shape {
  bool flat = false;
  int64_t c = 0, h = 0, w = 0;
  std::vector<int64_t> dims() const {
    return flat ? std::vector<int64_t>{c} : std::vector<int64_t>{c, h, w};
  }
  bool operator==(const Shape& o) const {
    return flat == o.flat && c == o.c && (flat || (h == o.h && w == o.w));
  }
  std::string str() const { return safetensors::shape_string(dims()); }
};

struct Layer {
  std::string name, cls;
  Op op = Op::kIdentity;
  std::vector<int> inputs;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  bool same = false;
  int64_t pad_t = 0, pad_b = 0, pad_l = 0, pad_r = 0;  // ZeroPadding2D
  int64_t filters = 0, multiplier = 1, units = 0;
  bool use_bias = false, bn_scale = true, bn_center = true;
  double eps = 1e-3;
  double relu_max = -1;  // < 0: no maximum
  int64_t axis = 1;      // concatenation axis in NCHW
  Act act = Act::kLinear;
  Shape shape;           // output shape for the reference input size
  at::Tensor weight, bias;  // torch layouts; BatchNorm: per-channel scale and shift
  // Conv2D/DepthwiseConv2D whose only reader is a BatchNormalization: the index of that
  // layer, whose scale and shift are folded into weight and bias (see fold_batch_norms).
  int folded_bn = -1;
};

std::string where(const std::string& path, const Layer& l) {
  return path + ": layer '" + l.name + "' (" + l.cls + ")";
}

Act parse_activation(const std::string& path, const Layer& l, const json& v) {
  const std::string a = v.is_string() ? v.get<std::string>() : std::string("linear");
  if (a == "linear") return Act::kLinear;
  if (a == "relu") return Act::kRelu;
  if (a == "softmax") return Act::kSoftmax;
  if (a == "sigmoid") return Act::kSigmoid;
  if (a == "tanh") return Act::kTanh;
  N2V_THROW(kUnsupported, where(path, l) << ": activation '" << a
                                         << "' is not supported (linear, relu, softmax, sigmoid, tanh)");
}

// kernel_size / strides / dilation_rate: an int or a pair.
std::pair<int64_t, int64_t> parse_pair(const std::string& path, const Layer& l, const json& config,
                                       const char* key, std::pair<int64_t, int64_t> fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  const json& v = config[key];
  std::pair<int64_t, int64_t> out;
  if (v.is_number_integer()) {
    out = {v.get<int64_t>(), v.get<int64_t>()};
  } else if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer()) {
    out = {v[0].get<int64_t>(), v[1].get<int64_t>()};
  } else {
    N2V_THROW(kCorrupt, where(path, l) << ": bad " << key << " " << v.dump());
  }
  N2V_CHECK(out.first > 0 && out.second > 0, kCorrupt, where(path, l) << ": bad " << key << " " << v.dump());
  return out;
}

// TensorFlow "same" padding along one axis: (before, after); the odd pixel goes after.
std::pair<int64_t, int64_t> same_padding(int64_t in, int64_t k, int64_t s, int64_t d) {
  const int64_t k_eff = (k - 1) * d + 1;
  const int64_t out = (in + s - 1) / s;
  const int64_t total = std::max<int64_t>((out - 1) * s + k_eff - in, 0);
  return {total / 2, total - total / 2};
}

int64_t window_output(int64_t in, int64_t k, int64_t s, int64_t d, bool same) {
  if (same) return (in + s - 1) / s;
  const int64_t k_eff = (k - 1) * d + 1;
  return in < k_eff ? 0 : (in - k_eff) / s + 1;
}

using detail::join;
using detail::torch_device;
using detail::torch_message;

// Known shapes of the built-in architectures (at their default input size): a file that
// claims one of them must have these layers with these output shapes.
struct Expectation {
  const char* layer;
  int64_t c, h, w;
};
int default_size(const std::string& arch) { return arch == kInceptionV3 ? 299 : 224; }
std::vector<Expectation> expectations(const std::string& arch) {
  if (arch == kMobileNetV2)
    return {{"Conv1_relu", 32, 112, 112},          {"block_6_expand_relu", 192, 28, 28},
            {"block_10_expand_relu", 384, 14, 14}, {"block_16_project_BN", 320, 7, 7},
            {"out_relu", 1280, 7, 7}};
  if (arch == kInceptionV3)
    return {{"mixed0", 256, 35, 35}, {"mixed2", 288, 35, 35}, {"mixed5", 768, 17, 17},
            {"mixed7", 768, 17, 17}, {"mixed10", 2048, 8, 8}};
  return {};
}

class KerasNetwork final : public Network, public detail::TensorForward {
 public:
  KerasNetwork(const std::string& path, DeviceKind device) : path_(path), device_(device) {
    const safetensors::File file = safetensors::File::read(path);
    architecture_ = file.metadata("architecture", "");
    N2V_CHECK(!architecture_.empty(), kCorrupt,
              path << " is a safetensors file without 'architecture' metadata, not a net2vec "
                      "Keras network (" << kConvertHint << ")");
    const auto known = keras_architectures();
    N2V_CHECK(std::find(known.begin(), known.end(), architecture_) != known.end(), kUnsupported,
              path << ": architecture '" << architecture_ << "' is not built in (known: "
                   << join(known) << ")");
    try {
      parse_topology(file);
    } catch (const json::exception& e) {  // a field of an unexpected JSON type
      N2V_THROW(kCorrupt, path << ": keras_model_config: " << e.what());
    }
    infer_shapes();
    load_weights(file);
    read_preprocessing(file);
    check_architecture();
    try {
      fold_batch_norms();
    } catch (const c10::Error& e) {
      N2V_THROW(kInternal, path << ": folding BatchNormalization into convolutions failed: "
                                << torch_message(e));
    }
  }

  std::vector<std::string> layers() const override { return names_; }
  Preprocessing default_preprocessing() const override { return preprocessing_; }
  DeviceKind device() const override { return device_; }

  LayerActivations forward(const std::vector<float>& pixels, int n, int height, int width,
                           const std::string& layer) override {
    return std::move(forward_layers(pixels, n, height, width, {layer}).front());
  }

  std::vector<LayerActivations> forward_layers(const std::vector<float>& pixels, int n,
                                               int height, int width,
                                               const std::vector<std::string>& layers) override {
    check_input(pixels, n, height, width);
    return detail::forward_to_host(*this, path_, pixels, n, height, width, layers);
  }

  // One pass for all the layers asked for, computing only what they depend on. Dense layers'
  // outputs (N x K) come back as N x K x 1 x 1.
  std::vector<at::Tensor> forward_tensors(const at::Tensor& pixels, const std::vector<std::string>& layers) override {
    N2V_CHECK(!layers.empty(), kInvalidArgument, "forward: no layer requested");
    std::vector<int> targets;
    for (const std::string& layer : layers) {
      const auto it = index_.find(layer);
      N2V_CHECK(it != index_.end() && layers_[it->second].op != Op::kInput, kNotFound,
                "layer '" << layer << "' not in " << path_ << "; available: " << join(names_));
      targets.push_back(it->second);
    }

    int current = input_;
    try {
      c10::InferenceMode inference;
      c10::NoGradGuard no_grad;
      at::Tensor input = pixels.to(torch_device(device_), detail::scalar_type(precision_))
                             .contiguous(at::MemoryFormat::ChannelsLast);
      std::vector<at::Tensor> results = run(input, targets, current);
      for (at::Tensor& t : results)
        if (t.dim() == 2) t = t.view({t.size(0), t.size(1), 1, 1});
      return results;
    } catch (const c10::Error& e) {
      N2V_THROW(kInvalidArgument, "forward of " << path_ << " failed at layer '"
                                                << layers_[current].name << "' ("
                                                << layers_[current].cls << ") on a " << pixels.size(0)
                                                << " x 3 x " << pixels.size(2) << " x " << pixels.size(3)
                                                << " batch: " << torch_message(e));
    }
  }

  void set_precision(Precision precision) override {
    const at::ScalarType type = detail::scalar_type(precision);
    try {
      for (Layer& l : layers_) {
        if (l.weight.defined()) l.weight = l.weight.to(type);
        if (l.bias.defined()) l.bias = l.bias.to(type);
      }
    } catch (const c10::Error& e) {
      N2V_THROW(kUnsupported, path_ << ": cannot convert the weights: " << torch_message(e));
    }
    precision_ = precision;
  }

 private:
  // --- loading ---

  void parse_topology(const safetensors::File& file) {
    const std::string text = file.metadata("keras_model_config", "");
    N2V_CHECK(!text.empty(), kCorrupt,
              path_ << ": no 'keras_model_config' metadata (" << kConvertHint << ")");
    json model;
    try {
      model = json::parse(text);
    } catch (const json::exception& e) {
      N2V_THROW(kCorrupt, path_ << ": keras_model_config is not valid JSON: " << e.what());
    }
    N2V_CHECK(model.is_object() && model.contains("config") && model["config"].is_object() &&
                  model["config"].contains("layers") && model["config"]["layers"].is_array(),
              kCorrupt, path_ << ": keras_model_config has no config.layers list");
    const std::string cls = model.value("class_name", std::string());
    N2V_CHECK(cls == "Model" || cls == "Functional", kUnsupported,
              path_ << ": keras_model_config is a '" << cls
                    << "'; only functional models (Model) are supported");

    // Layers as stored (Keras writes them in a topological order), then sorted topologically
    // (a stable depth-first order, equal to the stored one when that is topological).
    const json& raw = model["config"]["layers"];
    std::vector<Layer> stored;
    std::vector<std::vector<std::string>> inbound_names;
    std::map<std::string, int> stored_index;
    for (const json& entry : raw) {
      N2V_CHECK(entry.is_object() && entry.contains("name") && entry["name"].is_string() &&
                    entry.contains("class_name") && entry["class_name"].is_string(),
                kCorrupt, path_ << ": a layer of keras_model_config lacks name or class_name");
      Layer l;
      l.name = entry["name"].get<std::string>();
      l.cls = entry["class_name"].get<std::string>();
      N2V_CHECK(stored_index.emplace(l.name, static_cast<int>(stored.size())).second, kCorrupt,
                path_ << ": layer name '" << l.name << "' repeats");
      const json config = entry.value("config", json::object());
      parse_layer(l, config);
      std::vector<std::string> inbound;
      const json nodes = entry.value("inbound_nodes", json::array());
      N2V_CHECK(nodes.is_array() && nodes.size() <= 1, kUnsupported,
                where(path_, l) << " is called " << nodes.size()
                                << " times; shared layers are not supported");
      if (!nodes.empty()) {
        N2V_CHECK(nodes[0].is_array(), kUnsupported,
                  where(path_, l) << ": inbound_nodes in an unsupported format");
        for (const json& ref : nodes[0]) {
          N2V_CHECK(ref.is_array() && !ref.empty() && ref[0].is_string(), kUnsupported,
                    where(path_, l) << ": inbound_nodes in an unsupported format");
          N2V_CHECK((ref.size() < 2 || ref[1] == 0) && (ref.size() < 3 || ref[2] == 0),
                    kUnsupported, where(path_, l) << ": takes an output of a shared layer");
          inbound.push_back(ref[0].get<std::string>());
        }
      }
      stored.push_back(std::move(l));
      inbound_names.push_back(std::move(inbound));
    }

    std::vector<int> state(stored.size(), 0), order;  // 0 new, 1 visiting, 2 done
    std::function<void(int)> visit = [&](int i) {
      N2V_CHECK(state[i] != 1, kCorrupt, path_ << ": the topology has a cycle at '" << stored[i].name << "'");
      if (state[i] == 2) return;
      state[i] = 1;
      for (const std::string& name : inbound_names[i]) {
        const auto it = stored_index.find(name);
        N2V_CHECK(it != stored_index.end(), kCorrupt,
                  where(path_, stored[i]) << " takes the output of unknown layer '" << name << "'");
        visit(it->second);
      }
      state[i] = 2;
      order.push_back(i);
    };
    for (int i = 0; i < static_cast<int>(stored.size()); ++i) visit(i);

    std::vector<int> position(stored.size());
    for (size_t p = 0; p < order.size(); ++p) position[order[p]] = static_cast<int>(p);
    for (int i : order) {
      Layer l = std::move(stored[i]);
      for (const std::string& name : inbound_names[i]) l.inputs.push_back(position[stored_index[name]]);
      index_[l.name] = static_cast<int>(layers_.size());
      layers_.push_back(std::move(l));
    }

    input_ = -1;
    for (size_t i = 0; i < layers_.size(); ++i) {
      const Layer& l = layers_[i];
      if (l.op == Op::kInput) {
        N2V_CHECK(input_ < 0, kUnsupported, path_ << ": models with several inputs are not supported");
        input_ = static_cast<int>(i);
      } else {
        N2V_CHECK(!l.inputs.empty(), kCorrupt, where(path_, l) << " has no input");
        names_.push_back(l.name);
      }
      const bool multi = l.op == Op::kAdd || l.op == Op::kConcat;
      N2V_CHECK(l.op == Op::kInput || multi || l.inputs.size() == 1, kCorrupt,
                where(path_, l) << " takes " << l.inputs.size() << " inputs, expected 1");
      N2V_CHECK(!multi || l.inputs.size() >= 2, kCorrupt,
                where(path_, l) << " takes " << l.inputs.size() << " inputs, expected 2 or more");
    }
    N2V_CHECK(input_ >= 0, kCorrupt, path_ << ": the topology has no InputLayer");
  }

  void parse_layer(Layer& l, const json& c) {
    const auto& classes = layer_classes();
    const auto it = classes.find(l.cls);
    if (it == classes.end()) {
      std::vector<std::string> names;
      for (const auto& [name, op] : classes) names.push_back(name);
      N2V_THROW(kUnsupported, where(path_, l) << ": layer class not supported (supported: "
                                              << join(names) << ")");
    }
    l.op = it->second;
    if (c.contains("data_format") && c["data_format"].is_string())
      N2V_CHECK(c["data_format"] == "channels_last", kUnsupported,
                where(path_, l) << ": data_format " << c["data_format"].dump()
                                << " (only channels_last)");
    const auto padding = [&]() {
      const std::string p = c.value("padding", std::string("valid"));
      N2V_CHECK(p == "valid" || p == "same", kUnsupported,
                where(path_, l) << ": padding '" << p << "' (valid or same)");
      return p == "same";
    };
    switch (l.op) {
      case Op::kInput: {
        const json shape = c.value("batch_input_shape", json());
        N2V_CHECK(shape.is_array() && shape.size() == 4, kUnsupported,
                  where(path_, l) << ": input shape " << shape.dump() << ", expected [null, H, W, 3]");
        N2V_CHECK(shape[3] == 3, kUnsupported,
                  where(path_, l) << ": input has " << shape[3].dump() << " channels, expected 3");
        l.shape = Shape{false, 3, shape[1].is_number_integer() ? shape[1].get<int64_t>() : 0,
                        shape[2].is_number_integer() ? shape[2].get<int64_t>() : 0};
        break;
      }
      case Op::kZeroPad: {
        const json p = c.value("padding", json(1));
        const auto num = [&](const json& v) {
          N2V_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0, kCorrupt,
                    where(path_, l) << ": bad padding " << p.dump());
          return v.get<int64_t>();
        };
        if (p.is_number_integer()) {
          l.pad_t = l.pad_b = l.pad_l = l.pad_r = num(p);
        } else if (p.is_array() && p.size() == 2 && p[0].is_array()) {
          N2V_CHECK(p[0].size() == 2 && p[1].is_array() && p[1].size() == 2, kCorrupt,
                    where(path_, l) << ": bad padding " << p.dump());
          l.pad_t = num(p[0][0]), l.pad_b = num(p[0][1]), l.pad_l = num(p[1][0]), l.pad_r = num(p[1][1]);
        } else if (p.is_array() && p.size() == 2) {
          l.pad_t = l.pad_b = num(p[0]);
          l.pad_l = l.pad_r = num(p[1]);
        } else {
          N2V_THROW(kCorrupt, where(path_, l) << ": bad padding " << p.dump());
        }
        break;
      }
      case Op::kConv:
      case Op::kDepthwise: {
        std::tie(l.kh, l.kw) = parse_pair(path_, l, c, "kernel_size", {0, 0});
        std::tie(l.sh, l.sw) = parse_pair(path_, l, c, "strides", {1, 1});
        std::tie(l.dh, l.dw) = parse_pair(path_, l, c, "dilation_rate", {1, 1});
        N2V_CHECK((l.sh == 1 && l.sw == 1) || (l.dh == 1 && l.dw == 1), kUnsupported,
                  where(path_, l) << ": strides and dilation together");
        l.same = padding();
        l.use_bias = c.value("use_bias", true);
        l.act = parse_activation(path_, l, c.value("activation", json("linear")));
        if (l.op == Op::kConv) {
          l.filters = c.value("filters", int64_t{0});
          N2V_CHECK(l.filters > 0, kCorrupt, where(path_, l) << ": bad filters");
          N2V_CHECK(c.value("groups", int64_t{1}) == 1, kUnsupported, where(path_, l) << ": grouped convolution");
        } else {
          l.multiplier = c.value("depth_multiplier", int64_t{1});
          N2V_CHECK(l.multiplier > 0, kCorrupt, where(path_, l) << ": bad depth_multiplier");
        }
        break;
      }
      case Op::kBatchNorm: {
        const json axis = c.value("axis", json(-1));
        const bool last = axis == -1 || axis == 3 || (axis.is_array() && axis.size() == 1 &&
                                                      (axis[0] == -1 || axis[0] == 3));
        N2V_CHECK(last, kUnsupported,
                  where(path_, l) << ": axis " << axis.dump() << " (only the channel axis, -1 or 3)");
        l.eps = c.value("epsilon", 1e-3);
        l.bn_scale = c.value("scale", true);
        l.bn_center = c.value("center", true);
        break;
      }
      case Op::kReLU: {
        if (c.contains("max_value") && !c["max_value"].is_null()) {
          N2V_CHECK(c["max_value"].is_number() && c["max_value"].get<double>() >= 0, kCorrupt,
                    where(path_, l) << ": bad max_value");
          l.relu_max = c["max_value"].get<double>();
        }
        const double slope = c.value("negative_slope", 0.0), threshold = c.value("threshold", 0.0);
        N2V_CHECK(slope == 0.0 && threshold == 0.0, kUnsupported,
                  where(path_, l) << ": negative_slope/threshold other than 0");
        break;
      }
      case Op::kActivation:
        l.act = parse_activation(path_, l, c.value("activation", json("linear")));
        break;
      case Op::kConcat:
        l.axis = c.value("axis", int64_t{-1});
        break;
      case Op::kMaxPool:
      case Op::kAvgPool: {
        std::tie(l.kh, l.kw) = parse_pair(path_, l, c, "pool_size", {2, 2});
        std::tie(l.sh, l.sw) = parse_pair(path_, l, c, "strides", {l.kh, l.kw});
        l.same = padding();
        break;
      }
      case Op::kDense:
        l.units = c.value("units", int64_t{0});
        N2V_CHECK(l.units > 0, kCorrupt, where(path_, l) << ": bad units");
        l.use_bias = c.value("use_bias", true);
        l.act = parse_activation(path_, l, c.value("activation", json("linear")));
        break;
      default:
        break;
    }
  }

  // Output shapes at the reference input size (the InputLayer's, else the architecture's).
  void infer_shapes() {
    Layer& in = layers_[input_];
    if (in.shape.h <= 0 || in.shape.w <= 0) in.shape.h = in.shape.w = default_size(architecture_);
    for (Layer& l : layers_) {
      if (l.op == Op::kInput) continue;
      const Shape x = layers_[l.inputs[0]].shape;
      const auto need_map = [&] {
        N2V_CHECK(!x.flat, kCorrupt, where(path_, l) << " needs a 4-D input, got " << x.str());
      };
      Shape& y = l.shape;
      switch (l.op) {
        case Op::kZeroPad:
          need_map();
          y = Shape{false, x.c, x.h + l.pad_t + l.pad_b, x.w + l.pad_l + l.pad_r};
          break;
        case Op::kConv:
        case Op::kDepthwise:
        case Op::kMaxPool:
        case Op::kAvgPool:
          need_map();
          y = Shape{false,
                    l.op == Op::kConv ? l.filters : l.op == Op::kDepthwise ? x.c * l.multiplier : x.c,
                    window_output(x.h, l.kh, l.sh, l.dh, l.same), window_output(x.w, l.kw, l.sw, l.dw, l.same)};
          N2V_CHECK(y.h > 0 && y.w > 0, kCorrupt,
                    where(path_, l) << ": a " << l.kh << " x " << l.kw << " window does not fit its "
                                    << x.str() << " input");
          break;
        case Op::kAdd:
          y = x;
          for (int i : l.inputs)
            N2V_CHECK(layers_[i].shape == x, kCorrupt,
                      where(path_, l) << " adds " << x.str() << " and " << layers_[i].shape.str());
          break;
        case Op::kConcat: {
          // Keras axis (channels-last, batch included) -> NCHW axis.
          const int64_t rank = x.flat ? 2 : 4;
          int64_t axis = l.axis < 0 ? l.axis + rank : l.axis;
          N2V_CHECK(axis >= 1 && axis < rank, kCorrupt, where(path_, l) << ": bad axis " << l.axis);
          l.axis = x.flat ? 1 : (axis == 3 ? 1 : axis + 1);
          y = x;
          const auto dim = [&](const Shape& s, int64_t a) { return a == 1 ? s.c : a == 2 ? s.h : s.w; };
          int64_t total = 0;
          for (int i : l.inputs) {
            const Shape& s = layers_[i].shape;
            N2V_CHECK(s.flat == x.flat, kCorrupt, where(path_, l) << " joins inputs of different ranks");
            for (int64_t a = 1; a < rank; ++a)
              N2V_CHECK(a == l.axis || dim(s, a) == dim(x, a), kCorrupt,
                        where(path_, l) << " joins " << x.str() << " and " << s.str());
            total += dim(s, l.axis);
          }
          (l.axis == 1 ? y.c : l.axis == 2 ? y.h : y.w) = total;
          break;
        }
        case Op::kGlobalAvgPool:
        case Op::kGlobalMaxPool:
          need_map();
          y = Shape{true, x.c, 0, 0};
          break;
        case Op::kFlatten:
          y = Shape{true, x.flat ? x.c : x.c * x.h * x.w, 0, 0};
          break;
        case Op::kDense:
          N2V_CHECK(x.flat, kUnsupported, where(path_, l) << ": Dense on a 4-D input");
          y = Shape{true, l.units, 0, 0};
          break;
        default:  // BatchNormalization, ReLU, Activation, Dropout
          y = x;
          break;
      }
    }
  }

  // A weight "<layer>/<name>" of the file, checked against the shape the topology implies,
  // as a float tensor in the Keras layout.
  at::Tensor weight(const safetensors::File& file, const Layer& l, const std::string& name,
                    const std::vector<int64_t>& expected, std::set<std::string>& used) {
    const std::string key = l.name + "/" + name;
    const safetensors::TensorInfo* t = file.find(key);
    N2V_CHECK(t != nullptr, kCorrupt,
              path_ << ": tensor '" << key << "' is missing; layer '" << l.name << "' (" << l.cls
                    << ") needs " << safetensors::shape_string(expected));
    N2V_CHECK(t->dtype == "F32", kCorrupt,
              path_ << ": tensor '" << key << "' is " << t->dtype << ", expected F32");
    N2V_CHECK(t->shape == expected, kCorrupt,
              path_ << ": tensor '" << key << "' has shape " << safetensors::shape_string(t->shape)
                    << ", expected " << safetensors::shape_string(expected) << " for layer '"
                    << l.name << "' (" << l.cls << ")");
    used.insert(key);
    return at::from_blob(const_cast<uint8_t*>(file.data(*t)), t->shape, at::TensorOptions().dtype(at::kFloat))
        .clone();
  }

  void load_weights(const safetensors::File& file) {
    std::set<std::string> used;
    try {
      for (Layer& l : layers_) {
        if (l.op == Op::kInput) continue;
        const int64_t cin = layers_[l.inputs[0]].shape.c;
        switch (l.op) {
          case Op::kConv: {
            at::Tensor k = weight(file, l, "kernel", {l.kh, l.kw, cin, l.filters}, used);
            l.weight = k.permute({3, 2, 0, 1}).contiguous();  // HWIO -> OIHW
            if (l.use_bias) l.bias = weight(file, l, "bias", {l.filters}, used);
            break;
          }
          case Op::kDepthwise: {
            at::Tensor k = weight(file, l, "depthwise_kernel", {l.kh, l.kw, cin, l.multiplier}, used);
            // [kh, kw, C, M] -> [C, M, kh, kw] -> [C*M, 1, kh, kw]: output channel c*M + m.
            l.weight = k.permute({2, 3, 0, 1}).reshape({cin * l.multiplier, 1, l.kh, l.kw}).contiguous();
            if (l.use_bias) l.bias = weight(file, l, "bias", {cin * l.multiplier}, used);
            break;
          }
          case Op::kBatchNorm: {
            const int64_t c = l.shape.c;
            at::Tensor mean = weight(file, l, "moving_mean", {c}, used).to(at::kDouble);
            at::Tensor var = weight(file, l, "moving_variance", {c}, used).to(at::kDouble);
            at::Tensor gamma = l.bn_scale ? weight(file, l, "gamma", {c}, used).to(at::kDouble)
                                          : at::ones({c}, at::kDouble);
            at::Tensor beta = l.bn_center ? weight(file, l, "beta", {c}, used).to(at::kDouble)
                                          : at::zeros({c}, at::kDouble);
            // y = (x - mean) * gamma / sqrt(var + eps) + beta = x * scale + shift.
            at::Tensor scale = gamma / at::sqrt(var + l.eps);
            l.weight = scale.to(at::kFloat);
            l.bias = (beta - mean * scale).to(at::kFloat);
            break;
          }
          case Op::kDense: {
            at::Tensor k = weight(file, l, "kernel", {cin, l.units}, used);
            l.weight = k.t().contiguous();  // [in, out] -> [out, in]
            if (l.use_bias) l.bias = weight(file, l, "bias", {l.units}, used);
            break;
          }
          default:
            break;
        }
        // Activations run channels-last (NHWC in memory): oneDNN's convolutions take it
        // without reordering, 2-3x faster than NCHW for these networks on CPU.
        if (l.weight.defined() && l.weight.dim() == 4)
          l.weight = l.weight.contiguous(at::MemoryFormat::ChannelsLast);
        if (device_ != DeviceKind::kCpu) {
          if (l.weight.defined()) l.weight = l.weight.to(torch_device(device_));
          if (l.bias.defined()) l.bias = l.bias.to(torch_device(device_));
        }
      }
    } catch (const c10::Error& e) {
      N2V_THROW(kCorrupt, path_ << ": cannot load the weights: " << torch_message(e));
    }
    for (const auto& t : file.tensors())
      N2V_CHECK(used.count(t.name), kCorrupt,
                path_ << ": tensor '" << t.name << "' " << safetensors::shape_string(t.shape)
                      << " matches no weight of the topology");
  }

  void read_preprocessing(const safetensors::File& file) {
    const std::string text = file.metadata("preprocessing", "");
    if (text.empty()) {
      // Keras applications' MobileNetV2 / InceptionV3 input: x / 127.5 - 1.
      const int size = static_cast<int>(layers_[input_].shape.h);
      preprocessing_.height = size;
      preprocessing_.width = static_cast<int>(layers_[input_].shape.w);
      preprocessing_.channel_order = "RGB";
      preprocessing_.scale = 2.0f / 255.0f;
      preprocessing_.mean = {1.0f, 1.0f, 1.0f};
      preprocessing_.std = {1.0f, 1.0f, 1.0f};
      return;
    }
    try {
      preprocessing_ = Preprocessing::from_json(text);
    } catch (const Error& e) {
      N2V_THROW(kCorrupt, path_ << ": metadata 'preprocessing': " << e.message());
    }
  }

  void check_architecture() {
    for (const Expectation& e : expectations(architecture_)) {
      const Shape want{false, e.c, e.h, e.w};
      const auto it = index_.find(e.layer);
      N2V_CHECK(it != index_.end(), kCorrupt,
                path_ << ": claims architecture " << architecture_ << " but has no layer '"
                      << e.layer << "'");
      const Shape& got = layers_[it->second].shape;
      N2V_CHECK(got == want, kCorrupt,
                path_ << ": claims architecture " << architecture_ << " but layer '" << e.layer
                      << "' has shape " << got.str() << ", expected " << want.str());
    }
    if (architecture_ != kFunctional) {
      const Shape& in = layers_[input_].shape;
      const int64_t size = default_size(architecture_);
      N2V_CHECK(in.h == size && in.w == size, kCorrupt,
                path_ << ": claims architecture " << architecture_ << " but its input is "
                      << in.h << " x " << in.w << ", expected " << size << " x " << size);
    }
  }

  // Conv -> BatchNormalization pairs (the conv linear, the BN its only reader): the conv
  // keeps w * scale and bias * scale + shift, so one pass computes the BN's output. A request
  // for the conv's own output recovers w = w' / scale (scales of zero are not folded).
  void fold_batch_norms() {
    std::vector<int> readers(layers_.size(), 0), reader(layers_.size(), -1);
    for (size_t i = 0; i < layers_.size(); ++i)
      for (int j : layers_[i].inputs) ++readers[j], reader[j] = static_cast<int>(i);
    for (size_t i = 0; i < layers_.size(); ++i) {
      Layer& l = layers_[i];
      if ((l.op != Op::kConv && l.op != Op::kDepthwise) || l.act != Act::kLinear || readers[i] != 1 ||
          layers_[reader[i]].op != Op::kBatchNorm)
        continue;
      const Layer& bn = layers_[reader[i]];
      if (!at::isfinite(bn.weight).all().item<bool>() || (bn.weight == 0).any().item<bool>()) continue;
      l.weight = (l.weight * bn.weight.view({-1, 1, 1, 1})).contiguous(at::MemoryFormat::ChannelsLast);
      l.bias = l.bias.defined() ? l.bias * bn.weight + bn.bias : bn.bias.clone();
      l.folded_bn = reader[i];
    }
  }

  // --- running ---

  static at::Tensor activate(at::Tensor y, Act act) {
    switch (act) {
      case Act::kLinear:
        return y;
      case Act::kRelu:
        return y.relu_();
      case Act::kSoftmax:
        return at::softmax(y, 1);
      case Act::kSigmoid:
        return y.sigmoid_();
      case Act::kTanh:
        return y.tanh_();
    }
    return y;
  }

  // Runs the layers the targets depend on, in topological order, freeing each intermediate
  // after its last use and updating in place where nothing else reads the input.
  std::vector<at::Tensor> run(const at::Tensor& input, const std::vector<int>& targets,
                              int& current) const {
    const size_t count = layers_.size();
    std::vector<char> needed(count, 0), kept(count, 0);
    std::vector<int> stack(targets.begin(), targets.end());
    for (int t : targets) kept[t] = 1;
    const int last = *std::max_element(targets.begin(), targets.end());
    while (!stack.empty()) {
      const int i = stack.back();
      stack.pop_back();
      if (needed[i]) continue;
      needed[i] = 1;
      for (int j : layers_[i].inputs) stack.push_back(j);
    }
    std::vector<int> readers(count, 0);
    for (size_t i = 0; i < count; ++i)
      if (needed[i])
        for (int j : layers_[i].inputs) ++readers[j];
    std::vector<at::Tensor> values(count);
    std::vector<char> owned(count, 1);  // may be updated in place once nothing else reads it
    owned[input_] = 0;                  // the caller's pixels
    for (int t : targets) owned[t] = 0;  // returned to the caller

    for (int i = 0; i <= last; ++i) {
      if (!needed[i]) continue;
      current = i;
      const Layer& l = layers_[i];
      if (l.op == Op::kInput) {
        values[i] = input;
        continue;
      }
      const int first = l.inputs[0];
      // Whether the first input may be modified in place: this layer is its last reader.
      const bool in_place = owned[first] && readers[first] == 1;
      if (l.op == Op::kBatchNorm && layers_[first].folded_bn == i && !kept[first])
        values[i] = values[first];  // computed by the conv with the folded weights
      else
        values[i] = apply(l, values, in_place, /*unfold=*/kept[i] != 0);
      // An output that aliases its input (Dropout, a linear Activation, an in-place update):
      // while the input has other readers, neither may be updated in place.
      if (values[i].is_alias_of(values[first])) {
        if (!in_place) owned[first] = 0;
        owned[i] = owned[i] && in_place;
      }
      for (int j : l.inputs)
        if (--readers[j] == 0 && !kept[j]) values[j] = at::Tensor();
    }
    std::vector<at::Tensor> out;
    for (int t : targets) out.push_back(values[t]);
    return out;
  }

  // `unfold`: a conv whose output is asked for computes it without its folded BatchNorm.
  at::Tensor apply(const Layer& l, const std::vector<at::Tensor>& values, bool in_place,
                   bool unfold) const {
    const at::Tensor& x = values[l.inputs[0]];
    switch (l.op) {
      case Op::kZeroPad:
        return at::constant_pad_nd(x, {l.pad_l, l.pad_r, l.pad_t, l.pad_b}, 0);
      case Op::kConv:
      case Op::kDepthwise: {
        at::Tensor in = x;
        int64_t ph = 0, pw = 0;
        if (l.same) {
          const auto [t, b] = same_padding(x.size(2), l.kh, l.sh, l.dh);
          const auto [lft, r] = same_padding(x.size(3), l.kw, l.sw, l.dw);
          if (t == b && lft == r) {
            ph = t, pw = lft;
          } else {
            in = at::constant_pad_nd(x, {lft, r, t, b}, 0);
          }
        }
        const int64_t groups = l.op == Op::kDepthwise ? x.size(1) : 1;
        at::Tensor weight = l.weight, bias = l.bias;
        if (unfold && l.folded_bn >= 0) {
          const Layer& bn = layers_[l.folded_bn];
          weight = (weight / bn.weight.view({-1, 1, 1, 1})).contiguous(at::MemoryFormat::ChannelsLast);
          bias = l.use_bias ? (bias - bn.bias) / bn.weight : at::Tensor();
        }
        return activate(at::conv2d(in, weight, bias, {l.sh, l.sw}, {ph, pw}, {l.dh, l.dw}, groups), l.act);
      }
      case Op::kBatchNorm: {
        const std::vector<int64_t> view = x.dim() == 4 ? std::vector<int64_t>{1, -1, 1, 1}
                                                        : std::vector<int64_t>{1, -1};
        if (in_place) return x.mul_(l.weight.view(view)).add_(l.bias.view(view));
        return at::addcmul(l.bias.view(view), x, l.weight.view(view));
      }
      case Op::kReLU:
        if (l.relu_max >= 0)
          return in_place ? x.clamp_(0.0, l.relu_max) : at::clamp(x, 0.0, l.relu_max);
        return in_place ? x.relu_() : at::relu(x);
      case Op::kActivation:
        return activate(in_place || l.act == Act::kLinear || l.act == Act::kSoftmax ? x : x.clone(), l.act);
      case Op::kAdd: {
        at::Tensor y = in_place ? x : x.clone();
        for (size_t k = 1; k < l.inputs.size(); ++k) y.add_(values[l.inputs[k]]);
        return y;
      }
      case Op::kConcat: {
        std::vector<at::Tensor> parts;
        for (int j : l.inputs) parts.push_back(values[j]);
        return at::cat(parts, l.axis);
      }
      case Op::kMaxPool:
      case Op::kAvgPool:
        return pool(l, x);
      case Op::kGlobalAvgPool:
        return x.mean({2, 3});
      case Op::kGlobalMaxPool:
        return x.amax({2, 3});
      case Op::kFlatten:
        return x.dim() == 4 ? x.permute({0, 2, 3, 1}).reshape({x.size(0), -1}) : x;
      case Op::kDense: {
        const int64_t in = l.weight.size(1);
        N2V_CHECK(x.dim() == 2 && x.size(1) == in, kInvalidArgument,
                  "layer '" << l.name << "' (Dense) of " << path_ << " needs " << in
                            << " input features, got " << (x.dim() == 2 ? x.size(1) : x.numel())
                            << " (the input image size differs from the one the model was built for: "
                            << layers_[input_].shape.h << " x " << layers_[input_].shape.w << ")");
        return activate(at::linear(x, l.weight, l.bias), l.act);
      }
      case Op::kIdentity:
      case Op::kInput:
        return x;
    }
    N2V_THROW(kInternal, "unhandled layer class " << l.cls);
  }

  static at::Tensor pool(const Layer& l, const at::Tensor& x) {
    int64_t t = 0, b = 0, lft = 0, r = 0;
    if (l.same) {
      std::tie(t, b) = same_padding(x.size(2), l.kh, l.sh, 1);
      std::tie(lft, r) = same_padding(x.size(3), l.kw, l.sw, 1);
    }
    const bool symmetric = t == b && lft == r && 2 * t <= l.kh && 2 * lft <= l.kw;
    if (l.op == Op::kMaxPool) {
      if (symmetric) return at::max_pool2d(x, {l.kh, l.kw}, {l.sh, l.sw}, {t, lft});
      const at::Tensor padded =
          at::constant_pad_nd(x, {lft, r, t, b}, -std::numeric_limits<double>::infinity());
      return at::max_pool2d(padded, {l.kh, l.kw}, {l.sh, l.sw});
    }
    // TensorFlow's average pooling divides by the number of real (unpadded) pixels.
    if (symmetric)
      return at::avg_pool2d(x, {l.kh, l.kw}, {l.sh, l.sw}, {t, lft}, false, /*count_include_pad=*/false);
    const at::Tensor sums = at::avg_pool2d(at::constant_pad_nd(x, {lft, r, t, b}, 0), {l.kh, l.kw},
                                           {l.sh, l.sw}, {0, 0}, false, true);
    const at::Tensor ones = at::ones({1, 1, x.size(2), x.size(3)}, x.options());
    const at::Tensor counts = at::avg_pool2d(at::constant_pad_nd(ones, {lft, r, t, b}, 0),
                                             {l.kh, l.kw}, {l.sh, l.sw}, {0, 0}, false, true);
    return sums / counts;
  }

  std::string path_;
  DeviceKind device_;
  Precision precision_ = Precision::kFloat32;
  std::string architecture_;
  std::vector<Layer> layers_;  // topological order
  std::map<std::string, int> index_;
  std::vector<std::string> names_;  // layers_ without the InputLayer
  int input_ = -1;
  Preprocessing preprocessing_;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && std::equal(suffix.rbegin(), suffix.rend(), s.rbegin(),
                                                 [](char a, char b) {
                                                   return std::tolower(static_cast<unsigned char>(a)) == b;
                                                 });
}

}  // namespace

std::vector<std::string> keras_architectures() { return {kMobileNetV2, kInceptionV3, kFunctional}; }

std::vector<std::string> keras_layer_classes() {
  std::vector<std::string> names;
  for (const auto& [name, op] : layer_classes()) names.push_back(name);
  return names;
}

std::unique_ptr<Network> load_keras_safetensors(const std::string& path, DeviceKind device) {
  namespace fs = std::filesystem;
  std::error_code ec;
  N2V_CHECK(fs::exists(fs::status(path, ec)), kNotFound,
            "model file not found: " << path << " (" << kConvertHint << ")");
  N2V_CHECK(device != DeviceKind::kCuda || torch::cuda::is_available(), kUnsupported,
            "cannot load " << path << " on cuda: LibTorch sees no CUDA GPU");
  return std::make_unique<KerasNetwork>(path, device);
}

std::unique_ptr<Network> load_network(const std::string& path, DeviceKind device) {
  if (ends_with(path, ".safetensors")) return load_keras_safetensors(path, device);
  return load_torchscript(path, device);
}

}  // namespace n2v
