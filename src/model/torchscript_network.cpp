// TorchScript networks (see docs/MODELS.md for the contract), devices and threads.
// The only file of the model stage that sees LibTorch: every c10::Error (and any other
// exception LibTorch throws) is translated into n2v::Error here.

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/enum_names.h"
#include "common/error.h"
#include "model/tensor_forward.h"
#include "model/detail/torch_util.h"
#include "model/network.h"

namespace n2v {

namespace {

constexpr const char* kLayersAttr = "net2vec_layers";
constexpr const char* kPreprocessingAttr = "net2vec_preprocessing";

using detail::first_line;
using detail::join;
using detail::torch_device;
using detail::torch_message;

// TorchScript error reports put the real message after a "The following operation failed in
// the TorchScript interpreter." preamble and a traceback; keep the lines that say what
// happened (the last non-empty "RuntimeError: ..." line when there is one).
std::string forward_message(const std::string& what) {
  std::istringstream in(what);
  std::string line, best;
  while (std::getline(in, line)) {
    const auto pos = line.find("Error: ");
    if (pos != std::string::npos && line.find("Traceback") == std::string::npos)
      best = line.substr(0, line.find_last_not_of(" \r") + 1);
  }
  if (!best.empty()) {
    const auto start = best.find_first_not_of(' ');
    return best.substr(start);
  }
  return first_line(what);
}

std::string shape_string(const at::Tensor& t) {
  std::ostringstream s;
  s << "[";
  for (int64_t i = 0; i < t.dim(); ++i) s << (i ? ", " : "") << t.size(i);
  s << "] " << c10::toString(t.scalar_type());
  return s.str();
}

class TorchScriptNetwork final : public Network, public detail::TensorForward {
 public:
  TorchScriptNetwork(std::string path, torch::jit::Module module, DeviceKind device)
      : path_(std::move(path)), module_(std::move(module)), device_(device) {
    read_attributes();
  }

  std::vector<std::string> layers() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!layers_) layers_ = discover_layers();
    return *layers_;
  }

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

  std::vector<at::Tensor> forward_tensors(const at::Tensor& pixels,
                                          const std::vector<std::string>& layers) override {
    try {
      c10::InferenceMode inference;
      const at::Tensor input = pixels.to(torch_device(device_), detail::scalar_type(precision_));
      c10::IValue output = run(input);
      std::vector<at::Tensor> result;
      for (const std::string& layer : layers) {
        at::Tensor t = select(output, layer);
        N2V_CHECK(t.dim() == 4 && t.is_floating_point(), kUnsupported,
                  "layer '" << layer << "' of " << path_ << " has shape " << shape_string(t)
                            << "; net2vec needs a 4-D (N x K x H x W) float tensor. Export the model with "
                               "tools/net2vec-export, which converts such layers inside the module: "
                               "--layers '" << layer << ":tokens' (N x tokens x D, with --prefix-tokens P "
                               "and --grid HxW), '" << layer << ":nhwc' (channels last) or '" << layer
                            << ":nchw'; a 2-D N x D layer becomes N x D x 1 x 1 (classification only). "
                               "docs/MODELS.md");
        result.push_back(std::move(t));
      }
      return result;
    } catch (const c10::Error& e) {
      N2V_THROW(kInvalidArgument, "forward of " << path_ << " failed on a " << pixels.size(0) << " x 3 x "
                                                << pixels.size(2) << " x " << pixels.size(3)
                                                << " batch: " << torch_message(e));
    }
  }

  void set_precision(Precision precision) override {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      module_.to(detail::scalar_type(precision));
    } catch (const c10::Error& e) {
      N2V_THROW(kUnsupported, path_ << ": cannot convert the module's weights: " << torch_message(e));
    }
    precision_ = precision;
  }

 private:
  // module.forward on one batch. TorchScript rethrows errors from inside the interpreter as
  // c10::Error or as other std::exception types (torch::jit::JITException, ...): both become
  // kInvalidArgument with the message's meaningful line.
  c10::IValue run(const at::Tensor& input) const {
    const auto describe = [&] {
      std::ostringstream s;
      s << "forward of " << path_ << " failed on a " << input.size(0) << " x " << input.size(1)
        << " x " << input.size(2) << " x " << input.size(3) << " batch: ";
      return s.str();
    };
    try {
      return module_.forward({input});
    } catch (const Error&) {
      throw;
    } catch (const c10::Error& e) {
      N2V_THROW(kInvalidArgument, describe() << forward_message(e.what()));
    } catch (const std::exception& e) {
      N2V_THROW(kInvalidArgument, describe() << forward_message(e.what()));
    }
  }

  // The requested layer of a forward's output (Dict[str, Tensor] or Tensor).
  at::Tensor select(const c10::IValue& output, const std::string& layer) const {
    if (output.isTensor()) {
      N2V_CHECK(layer == "output", kNotFound,
                "layer '" << layer << "' not in " << path_ << "; available: output");
      return output.toTensor();
    }
    N2V_CHECK(output.isGenericDict(), kUnsupported,
              path_ << ": forward returns " << output.tagKind()
                    << "; net2vec needs Dict[str, Tensor] or Tensor");
    const auto dict = output.toGenericDict();
    for (const auto& entry : dict) {
      if (entry.key().isString() && entry.key().toStringRef() == layer) {
        N2V_CHECK(entry.value().isTensor(), kUnsupported,
                  "layer '" << layer << "' of " << path_ << " is a " << entry.value().tagKind()
                            << ", not a Tensor");
        return entry.value().toTensor();
      }
    }
    N2V_THROW(kNotFound, "layer '" << layer << "' not in " << path_
                                   << "; available: " << join(dict_keys(output)));
  }

  std::vector<std::string> dict_keys(const c10::IValue& output) const {
    std::vector<std::string> names;
    if (output.isTensor()) return {"output"};
    N2V_CHECK(output.isGenericDict(), kUnsupported,
              path_ << ": forward returns " << output.tagKind()
                    << "; net2vec needs Dict[str, Tensor] or Tensor");
    for (const auto& entry : output.toGenericDict()) {
      N2V_CHECK(entry.key().isString(), kUnsupported,
                path_ << ": forward returns a Dict whose keys are not strings");
      names.push_back(entry.key().toStringRef());
    }
    return names;
  }

  void read_attributes() {
    try {
      if (module_.hasattr(kLayersAttr)) {
        const c10::IValue v = module_.attr(kLayersAttr);
        N2V_CHECK(v.isList(), kCorrupt,
                  path_ << ": attribute " << kLayersAttr << " is a " << v.tagKind()
                        << ", expected List[str]");
        std::vector<std::string> names;
        for (const c10::IValue& name : v.toListRef()) {
          N2V_CHECK(name.isString(), kCorrupt,
                    path_ << ": attribute " << kLayersAttr << " holds a " << name.tagKind()
                          << ", expected List[str]");
          names.push_back(name.toStringRef());
        }
        N2V_CHECK(!names.empty(), kCorrupt, path_ << ": attribute " << kLayersAttr << " is empty");
        layers_ = std::move(names);
      }
      if (module_.hasattr(kPreprocessingAttr)) {
        const c10::IValue v = module_.attr(kPreprocessingAttr);
        N2V_CHECK(v.isString(), kCorrupt,
                  path_ << ": attribute " << kPreprocessingAttr << " is a " << v.tagKind()
                        << ", expected a JSON str");
        try {
          preprocessing_ = Preprocessing::from_json(v.toStringRef());
        } catch (const Error& e) {
          N2V_THROW(kCorrupt, path_ << ": attribute " << kPreprocessingAttr << ": " << e.message());
        }
      }
    } catch (const c10::Error& e) {
      N2V_THROW(kCorrupt, path_ << ": cannot read the net2vec attributes: " << torch_message(e));
    }
  }

  // Without net2vec_layers: run the module once on a zero image to read the dict's keys.
  std::vector<std::string> discover_layers() const {
    try {
      c10::InferenceMode inference;
      torch::NoGradGuard no_grad;
      const at::Tensor zeros =
          torch::zeros({1, preprocessing_.channels, preprocessing_.height, preprocessing_.width},
                       torch::TensorOptions().dtype(detail::scalar_type(precision_)).device(torch_device(device_)));
      return dict_keys(run(zeros));
    } catch (const c10::Error& e) {
      N2V_THROW(kUnsupported, path_ << " has no " << kLayersAttr
                                    << " attribute and running it on a 1 x 3 x "
                                    << preprocessing_.height << " x " << preprocessing_.width
                                    << " zero image to find its layers failed: "
                                    << torch_message(e));
    } catch (const Error& e) {
      N2V_THROW(kUnsupported, path_ << " has no " << kLayersAttr
                                    << " attribute and its layers cannot be found by running it: "
                                    << e.message());
    }
  }

  std::string path_;
  mutable torch::jit::Module module_;  // forward() is not const in LibTorch
  DeviceKind device_;
  Preprocessing preprocessing_;
  mutable std::optional<std::vector<std::string>> layers_;
  mutable std::mutex mutex_;
  Precision precision_ = Precision::kFloat32;
};

}  // namespace

namespace {
constexpr EnumName<std::optional<DeviceKind>> kDeviceNames[] = {
    {std::nullopt, "auto"}, {DeviceKind::kCpu, "cpu"}, {DeviceKind::kCuda, "cuda"}};
}  // namespace

std::optional<DeviceKind> parse_device(const std::string& name) { return parse_enum(kDeviceNames, name, "device"); }

DeviceKind resolve_device(std::optional<DeviceKind> wanted) {
  if (!wanted) return torch::cuda::is_available() ? DeviceKind::kCuda : DeviceKind::kCpu;
  N2V_CHECK(*wanted != DeviceKind::kCuda || torch::cuda::is_available(), kUnsupported,
            "device 'cuda' requested but LibTorch sees no CUDA GPU (this LibTorch build "
            "or machine has none); use device cpu or auto");
  return *wanted;
}

DeviceKind resolve_device(const std::string& name) { return resolve_device(parse_device(name)); }

const char* to_string(DeviceKind device) { return enum_name(kDeviceNames, std::optional<DeviceKind>(device)); }

int configure_threads(int threads) {
  N2V_CHECK(threads >= 0, kInvalidArgument,
            "thread count must be >= 0 (0: all cores), got " << threads);
  if (threads == 0) {
    const unsigned hw = std::thread::hardware_concurrency();
    threads = hw == 0 ? 1 : static_cast<int>(hw);
  }
  try {
    at::set_num_threads(threads);
  } catch (const c10::Error& e) {
    N2V_THROW(kInvalidArgument, "cannot use " << threads << " threads: " << torch_message(e));
  }
  return at::get_num_threads();
}

std::unique_ptr<Network> load_torchscript(const std::string& path, DeviceKind device) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  N2V_CHECK(fs::exists(status), kNotFound, "model file not found: " << path);
  N2V_CHECK(!fs::is_directory(status), kInvalidArgument,
            "model path is a directory, not a TorchScript file: " << path);
  {
    std::ifstream probe(path, std::ios::binary);
    N2V_CHECK(probe.good(), kIo, "cannot open model file " << path);
  }
  N2V_CHECK(device != DeviceKind::kCuda || torch::cuda::is_available(), kUnsupported,
            "cannot load " << path << " on cuda: LibTorch sees no CUDA GPU");
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch_device(device));
    module.eval();
  } catch (const c10::Error& e) {
    N2V_THROW(kCorrupt, "cannot read TorchScript model " << path << ": " << torch_message(e));
  } catch (const std::exception& e) {
    N2V_THROW(kCorrupt, "cannot read TorchScript model " << path << ": " << first_line(e.what()));
  }
  return std::make_unique<TorchScriptNetwork>(path, std::move(module), device);
}

}  // namespace n2v
