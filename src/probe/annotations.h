#pragma once
// Concept targets of a probe set, gathered once per ingest: for every (image, concept)
// with pixel annotations, the binary target mask L_c(x) = OR over the image's mask maps of
// (label == c), bit-packed; for every image, the concepts present anywhere in it (pixel or
// whole-image labels), which is what classification learns.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "probe/probe_set.h"

namespace n2v {

// Bit-packed binary mask: pixel p (row-major) is bit (p % 8) of byte p / 8.
struct PackedMask {
  int pixels = 0;              // number of set pixels (|L_c(x)|)
  std::vector<uint8_t> bytes;  // size ceil(h * w / 8)
};

struct ConceptMask {
  int image = 0;  // position in ProbeAnnotations::rows
  int label = 0;  // label number
  PackedMask mask;
};

struct ProbeAnnotations {
  int mask_height = 0, mask_width = 0;  // all masks share one size (checked)
  std::vector<size_t> rows;             // ProbeSet::images() index of each kept image
  std::vector<Split> splits;            // split of each kept image
  std::vector<ConceptMask> masks;       // sorted by (image, label)
  std::vector<std::vector<int>> present;  // per kept image: sorted label numbers present
};

// Decodes the masks of the given rows. A row whose masks fail to load raises the error
// unless the probe set was opened with skip_bad, in which case the row is dropped and
// recorded with ProbeSet::note_skipped. `on_row` is called once per row (progress).
// Throws kInvalidArgument when masks of different sizes are met (BRODEN's are uniform).
ProbeAnnotations collect_annotations(ProbeSet& probe, const std::vector<size_t>& rows,
                                     bool skip_bad, const std::function<void()>& on_row = {});

// Keeps only the kept images whose flag is true (after activations dropped bad images),
// renumbering images consistently.
void filter_images(ProbeAnnotations& annotations, const std::vector<bool>& keep);

PackedMask pack_mask(const std::vector<uint8_t>& binary);  // one byte (0/1) per pixel
std::vector<uint8_t> unpack_mask(const PackedMask& mask, int pixel_count);

}  // namespace n2v
