// Built-in Keras networks (see detail/keras_networks.h and docs/MODELS.md): a small interpreter for
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
// c10::Error is translated into n2v::Error here. The topology (parsing, output shapes, the
// architecture checks) is read by keras_graph.cpp, without LibTorch.

#include "model/detail/keras_networks.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/detail/keras_graph.h"
#include "model/tensor_forward.h"
#include "model/detail/torch_util.h"
#include "model/network.h"
#include "model/detail/safetensors.h"

namespace n2v {
namespace {

using detail::KerasGraph;
using Op = detail::KerasOp;
using Act = detail::KerasAct;
using Shape = detail::KerasShape;
using detail::same_padding;
constexpr const char* kConvertHint = detail::kKerasConvertHint;

// A layer as the runtime holds it: its topology and its weights.
struct Layer : detail::KerasLayer {
  at::Tensor weight, bias;  // torch layouts; BatchNorm: per-channel scale and shift
  // Conv2D/DepthwiseConv2D whose only reader is a BatchNormalization: the index of that
  // layer, whose scale and shift are folded into weight and bias (see fold_batch_norms).
  int folded_bn = -1;
};

using detail::join;
using detail::torch_device;
using detail::torch_message;

class KerasNetwork final : public Network, public detail::TensorForward {
 public:
  KerasNetwork(const std::string& path, DeviceKind device) : path_(path), device_(device) {
    const safetensors::File file = safetensors::File::read(path);
    graph_ = detail::read_keras_topology(file, path);
    for (const detail::KerasLayer& spec : graph_.layers) layers_.push_back(Layer{spec, {}, {}, -1});
    load_weights(file);
    detail::finish_keras_graph(graph_, file);
    graph_.layers.clear();  // layers_ holds them, with their weights
    try {
      fold_batch_norms();
    } catch (const c10::Error& e) {
      N2V_THROW(kInternal, path << ": folding BatchNormalization into convolutions failed: "
                                << torch_message(e));
    }
  }

  std::vector<std::string> layers() const override { return graph_.names; }
  Preprocessing default_preprocessing() const override { return graph_.preprocessing; }
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
      const auto it = graph_.index.find(layer);
      N2V_CHECK(it != graph_.index.end() && layers_[it->second].op != Op::kInput, kNotFound,
                "layer '" << layer << "' not in " << path_ << "; available: " << join(graph_.names));
      targets.push_back(it->second);
    }

    int current = graph_.input;
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
    owned[graph_.input] = 0;                  // the caller's pixels
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
                            << layers_[graph_.input].shape.h << " x " << layers_[graph_.input].shape.w << ")");
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
  KerasGraph graph_;           // names, index, input and preprocessing (its layers: in layers_)
  std::vector<Layer> layers_;  // topological order
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && std::equal(suffix.rbegin(), suffix.rend(), s.rbegin(),
                                                 [](char a, char b) {
                                                   return std::tolower(static_cast<unsigned char>(a)) == b;
                                                 });
}

}  // namespace

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