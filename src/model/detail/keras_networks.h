#pragma once
// Built-in Keras networks: a Keras functional model (topology + float32 weights under their
// Keras names, in Keras layouts) stored as one safetensors file, run with LibTorch in NCHW.
// tools/nsfwjs/convert.mjs writes such files for nsfwjs's MobileNetV2 and InceptionV3; see
// docs/MODELS.md ("Built-in Keras networks"). Torch-free header.

#include <memory>
#include <string>
#include <vector>

#include "model/network.h"

namespace n2v {

// The `architecture` metadata values load_keras_safetensors accepts: "keras_mobilenet_v2"
// and "keras_inception_v3" (checked against the known shapes of their probed layers), and
// "keras_functional" (any topology made of the supported layer classes; used by tests).
std::vector<std::string> keras_architectures();

// The Keras layer classes the graph interpreter runs.
std::vector<std::string> keras_layer_classes();

// Loads a safetensors file whose __metadata__ holds `architecture`, `keras_model_config`
// (the Keras model_config JSON) and optionally `preprocessing` (Preprocessing JSON).
// Throws kNotFound for a missing file (naming the command that writes it), kCorrupt for a
// truncated file, a missing/extra weight or a weight whose shape differs from what the
// topology implies (naming the tensor, expected and actual shapes), kUnsupported for a layer
// class or option the interpreter does not run.
std::unique_ptr<Network> load_keras_safetensors(const std::string& path, DeviceKind device);

}  // namespace n2v
