// layer_shapes(): what `net2vec-ingest --list-layers` prints and what ingest checks before
// the pass over the probe images (a 1 x 1 layer cannot be segmented). Torch-free: it only
// calls Network::forward on a zero image.

#include <vector>

#include "common/error.h"
#include "model/network.h"

namespace n2v {

std::vector<LayerShape> layer_shapes(Network& network, const Preprocessing& prep, std::vector<std::string> layers) {
  if (layers.empty()) layers = network.layers();
  const std::vector<float> zeros(static_cast<size_t>(prep.channels) * prep.height * prep.width, 0.0f);
  std::vector<LayerShape> out;
  try {  // every layer from one forward pass; layer by layer only to say which one is unusable
    const std::vector<LayerActivations> all = network.forward_layers(zeros, 1, prep.height, prep.width, layers);
    for (size_t i = 0; i < layers.size(); ++i) out.push_back({layers[i], all[i].k, all[i].h, all[i].w, ""});
    return out;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnsupported) throw;
  }
  for (const std::string& name : layers) {
    LayerShape shape;
    shape.name = name;
    try {
      const LayerActivations a = network.forward(zeros, 1, prep.height, prep.width, name);
      shape.k = a.k;
      shape.h = a.h;
      shape.w = a.w;
    } catch (const Error& e) {
      // A layer that is not N x K x H x W is reported, not fatal: the list shows every
      // layer. Anything else (an input the network refuses) concerns all layers.
      if (e.code() != ErrorCode::kUnsupported) throw;
      shape.problem = e.message();
    }
    out.push_back(std::move(shape));
  }
  return out;
}

}  // namespace n2v
