#pragma once
// Model stage: a pretrained network that maps images to the activations of a named layer.
// One interface, several implementations (FAISS-style): TorchScript modules exported by
// tools/export_torchvision.py, and built-in Keras architectures with converted safetensors
// weights (detail/keras_networks.h, docs/MODELS.md); load_network picks by file.
// This header is torch-free: callers pass and receive plain float arrays.

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace n2v {

// How images become network input; stored with every run so results are reproducible.
// input = ((pixel * scale) - mean[c]) / std[c], channels in `channel_order`, NCHW.
// One-channel (grayscale) networks get the luminance 0.299 R + 0.587 G + 0.114 B (ITU-R
// BT.601, PIL's "L") of the resized image, normalised with mean[0] and std[0].
struct Preprocessing {
  int height = 224, width = 224;   // images are resized (bilinear) when they differ
  int channels = 3;                // 3 (colour) or 1 (luminance)
  std::string channel_order = "RGB";  // "RGB" or "BGR" (3 channels)
  float scale = 1.0f / 255.0f;
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};

  std::string to_json() const;
  static Preprocessing from_json(const std::string& json);  // throws kInvalidArgument
};

enum class DeviceKind { kCpu, kCuda };
// Arithmetic of a network's forward pass (ActivationOptions::precision, ingest --precision).
enum class Precision { kFloat32, kFloat16, kBFloat16 };
// "float32", "float16" or "bfloat16"; anything else is kInvalidArgument.
Precision parse_precision(const std::string& name);
const char* to_string(Precision precision);
const char* to_string(DeviceKind device);  // "cpu" / "cuda"
// "auto" -> nullopt (resolve_device chooses), "cpu", "cuda"; anything else is kInvalidArgument.
std::optional<DeviceKind> parse_device(const std::string& name);
// The device to run on: `wanted`, or when unset ("auto") CUDA if LibTorch sees a GPU, else
// the CPU; CUDA without a GPU is kUnsupported.
DeviceKind resolve_device(std::optional<DeviceKind> wanted);
DeviceKind resolve_device(const std::string& name);  // resolve_device(parse_device(name))
// Sets LibTorch's intra-op threads (0: the machine's cores) and returns the count used.
int configure_threads(int threads);

// Activations of one layer for a batch: row-major N x K x H x W floats.
struct LayerActivations {
  int n = 0, k = 0, h = 0, w = 0;
  std::vector<float> values;
};

class Network {
 public:
  virtual ~Network() = default;
  // The layer names this network exposes, in forward order.
  virtual std::vector<std::string> layers() const = 0;
  // Preprocessing the network was built for (exported models carry theirs).
  virtual Preprocessing default_preprocessing() const = 0;
  // `pixels`: N preprocessed images, N x C x H x W floats (C = 3, or 1 for a grayscale
  // network). Throws kNotFound, listing the
  // available layers, for an unknown layer.
  virtual LayerActivations forward(const std::vector<float>& pixels, int n, int height, int width,
                                   const std::string& layer) = 0;
  // Several layers from one pass (ingesting two layers costs one forward, not two). The
  // default calls forward once per layer; implementations override it to share the pass.
  virtual std::vector<LayerActivations> forward_layers(const std::vector<float>& pixels, int n,
                                                       int height, int width,
                                                       const std::vector<std::string>& layers);
  virtual DeviceKind device() const = 0;

 protected:
  // Implementations' shared argument check: positive sizes and n x C x height x width floats
  // with C = 3 or 1; returns C. Throws kInvalidArgument.
  static int check_input(const std::vector<float>& pixels, int n, int height, int width);
};

// Loads a TorchScript module. Contract (see docs/MODELS.md): forward(x) returns either a
// Dict[str, Tensor] of named layers (NCHW) or one Tensor (exposed as layer "output").
// Optional module attributes net2vec_layers (List[str]) and net2vec_preprocessing (a JSON
// string) give the layer order and preprocessing without running the model.
// Throws kNotFound for a missing file, kCorrupt for one TorchScript cannot read.
std::unique_ptr<Network> load_torchscript(const std::string& path, DeviceKind device);

// Loads any supported network file: `*.safetensors` -> a built-in Keras architecture named in
// the file's metadata (see detail/keras_networks.h: nsfwjs's MobileNetV2 / InceptionV3 written by
// tools/nsfwjs/convert.mjs), anything else -> load_torchscript. Same error contract.
std::unique_ptr<Network> load_network(const std::string& path, DeviceKind device);

// A layer's activation shape for one image, or why it cannot be probed (not 4-D, ...).
struct LayerShape {
  std::string name;
  int k = 0, h = 0, w = 0;  // filters, height, width
  std::string problem;      // "" when the layer is usable
};
// Runs one zero image of prep's size through `network` and reports each layer's shape
// (layers: all of network.layers() when empty). One layer's failure is its `problem`;
// a failing forward of the whole network throws.
std::vector<LayerShape> layer_shapes(Network& network, const Preprocessing& prep,
                                     std::vector<std::string> layers = {});

// Image -> network input: resizes bilinearly to (height, width) and normalises.
// `rgb` is HWC uint8 of size h * w * 3; appends channels * height * width floats (CHW) to
// `out`.
void preprocess_image(const uint8_t* rgb, int h, int w, const Preprocessing& prep,
                      std::vector<float>& out);

}  // namespace n2v
