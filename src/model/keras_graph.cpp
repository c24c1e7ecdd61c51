// The Keras topology reader (see detail/keras_graph.h): parsing and shape inference, no
// LibTorch.

#include "model/detail/keras_graph.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/text.h"
#include "model/detail/keras_networks.h"

namespace n2v {
namespace detail {

const std::map<std::string, KerasOp>& keras_layer_class_table() {
  static const std::map<std::string, KerasOp> classes = {
      {"InputLayer", KerasOp::kInput},
      {"ZeroPadding2D", KerasOp::kZeroPad},
      {"Conv2D", KerasOp::kConv},
      {"DepthwiseConv2D", KerasOp::kDepthwise},
      {"BatchNormalization", KerasOp::kBatchNorm},
      {"ReLU", KerasOp::kReLU},
      {"Activation", KerasOp::kActivation},
      {"Add", KerasOp::kAdd},
      {"Concatenate", KerasOp::kConcat},
      {"MaxPooling2D", KerasOp::kMaxPool},
      {"AveragePooling2D", KerasOp::kAvgPool},
      {"GlobalAveragePooling2D", KerasOp::kGlobalAvgPool},
      {"GlobalMaxPooling2D", KerasOp::kGlobalMaxPool},
      {"Flatten", KerasOp::kFlatten},
      {"Dense", KerasOp::kDense},
      {"Dropout", KerasOp::kIdentity},
      {"SpatialDropout2D", KerasOp::kIdentity},
  };
  return classes;
}

std::string keras_where(const std::string& path, const KerasLayer& l) {
  return path + ": layer '" + l.name + "' (" + l.cls + ")";
}

// TensorFlow "same" padding along one axis: (before, after); the odd pixel goes after.
std::pair<int64_t, int64_t> same_padding(int64_t in, int64_t k, int64_t s, int64_t d) {
  const int64_t k_eff = (k - 1) * d + 1;
  const int64_t out = (in + s - 1) / s;
  const int64_t total = std::max<int64_t>((out - 1) * s + k_eff - in, 0);
  return {total / 2, total - total / 2};
}

namespace {

using nlohmann::json;
using Op = KerasOp;
using Act = KerasAct;
using Shape = KerasShape;
using Layer = KerasLayer;
constexpr const char* kMobileNetV2 = kKerasMobileNetV2;
constexpr const char* kInceptionV3 = kKerasInceptionV3;
constexpr const char* kFunctional = kKerasFunctional;
constexpr const char* kConvertHint = kKerasConvertHint;

std::string where(const std::string& path, const Layer& l) { return keras_where(path, l); }

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

int64_t window_output(int64_t in, int64_t k, int64_t s, int64_t d, bool same) {
  if (same) return (in + s - 1) / s;
  const int64_t k_eff = (k - 1) * d + 1;
  return in < k_eff ? 0 : (in - k_eff) / s + 1;
}

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

// The reading steps, as members over the graph being built (the names the runtime used).
class Reader {
 public:
  Reader(const std::string& path) : path_(path) {}

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
    const auto& classes = keras_layer_class_table();
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

  std::string path_;
  std::string architecture_;
  std::vector<Layer> layers_;  // topological order
  std::map<std::string, int> index_;
  std::vector<std::string> names_;  // layers_ without the InputLayer
  int input_ = -1;
  Preprocessing preprocessing_;
};

}  // namespace

KerasGraph read_keras_topology(const safetensors::File& file, const std::string& path) {
  Reader r(path);
  r.architecture_ = file.metadata("architecture", "");
  N2V_CHECK(!r.architecture_.empty(), kCorrupt,
            path << " is a safetensors file without 'architecture' metadata, not a net2vec "
                    "Keras network (" << kConvertHint << ")");
  const auto known = keras_architectures();
  N2V_CHECK(std::find(known.begin(), known.end(), r.architecture_) != known.end(), kUnsupported,
            path << ": architecture '" << r.architecture_ << "' is not built in (known: "
                 << join(known) << ")");
  try {
    r.parse_topology(file);
  } catch (const json::exception& e) {  // a field of an unexpected JSON type
    N2V_THROW(kCorrupt, path << ": keras_model_config: " << e.what());
  }
  r.infer_shapes();
  return KerasGraph{path, std::move(r.architecture_), std::move(r.layers_), std::move(r.index_),
                    std::move(r.names_), r.input_, Preprocessing{}};
}

void finish_keras_graph(KerasGraph& graph, const safetensors::File& file) {
  Reader r(graph.path);
  r.architecture_ = graph.architecture;
  r.layers_ = graph.layers;
  r.index_ = graph.index;
  r.input_ = graph.input;
  r.read_preprocessing(file);
  r.check_architecture();
  graph.preprocessing = std::move(r.preprocessing_);
}

}  // namespace detail

std::vector<std::string> keras_architectures() {
  return {detail::kKerasMobileNetV2, detail::kKerasInceptionV3, detail::kKerasFunctional};
}

std::vector<std::string> keras_layer_classes() {
  std::vector<std::string> names;
  for (const auto& [name, op] : detail::keras_layer_class_table()) names.push_back(name);
  return names;
}

}  // namespace n2v
