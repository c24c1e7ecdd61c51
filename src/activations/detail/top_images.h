#pragma once
// Internal to src/activations: the top images' maps, cut from a layer's packed bits (both
// placements; activations.h describes ProbeActivations::top_images).

#include <cstdint>
#include <functional>

#include "activations/activations.h"

namespace n2v::detail {

// Fills out.top_images from the selector's picks: each pick's map is filter f's h x w bits
// of its image's record (ProbeActivations::bits layout), repacked to start at bit 0.
// `record(image)` returns a pointer to that image's bytes_per_image() bytes.
void fill_top_images(ProbeActivations& out, const TopImageSelector& selector,
                     const std::function<const uint8_t*(int image)>& record);

}  // namespace n2v::detail
