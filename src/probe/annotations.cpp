// Concept targets of a probe set: per (image, concept) bit-packed binary masks and per-image
// lists of the concepts present.

#include "probe/annotations.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "common/error.h"

namespace n2v {
namespace {

// The file a load_annotation error is about: every message names the full path of the
// mask at fault, so pick the (longest) mask path of the row that the message contains.
std::string file_at_fault(const ProbeSet& probe, const ProbeImage& image, const Error& e) {
  std::string best;
  for (const auto& masks : image.masks) {
    for (const std::string& relative : masks) {
      const std::string path = probe.dir() + "/images/" + relative;
      if (path.size() > best.size() && e.message().find(path) != std::string::npos) best = path;
    }
  }
  return best.empty() ? probe.dir() + "/index.csv" : best;
}

}  // namespace

ProbeAnnotations collect_annotations(ProbeSet& probe, const std::vector<size_t>& rows,
                                     bool skip_bad, const std::function<void()>& on_row) {
  ProbeAnnotations out;
  const auto& images = probe.images();
  for (size_t row : rows) {
    N2V_CHECK(row < images.size(), kInvalidArgument,
              probe.dir() << ": row " << row << " out of range (" << images.size()
                          << " images)");
    const ProbeImage& image = images[row];
    ImageAnnotation annotation;
    try {
      annotation = probe.load_annotation(row);
    } catch (const Error& e) {
      if (on_row) on_row();
      if (!skip_bad) throw;
      probe.note_skipped({file_at_fault(probe, image, e), image.line, e.message()});
      continue;
    }
    if (on_row) on_row();

    // One mask size for the whole set: the targets of all images are stacked together.
    if (out.rows.empty()) {
      out.mask_height = image.sh;
      out.mask_width = image.sw;
    } else {
      N2V_CHECK(image.sh == out.mask_height && image.sw == out.mask_width, kInvalidArgument,
                probe.dir() << "/index.csv:" << image.line << ": mask size " << image.sh << "x"
                            << image.sw << " differs from " << out.mask_height << "x"
                            << out.mask_width << " of the earlier images");
    }
    const int index = static_cast<int>(out.rows.size());
    out.rows.push_back(row);
    out.splits.push_back(image.split);

    // L_c(x) = max over the maps of (label == c), as in the authors' code: a concept found
    // in any layer (e.g. part_1 or part_2) is a target there.
    const size_t pixels = static_cast<size_t>(image.sh) * image.sw;
    std::map<int, std::vector<uint8_t>> binary;
    for (const LabelMap& map : annotation.maps) {
      std::vector<uint8_t>* current = nullptr;
      int current_label = 0;
      for (size_t p = 0; p < map.labels.size(); ++p) {
        const int label = map.labels[p];
        if (label == 0) continue;
        if (label != current_label) {
          auto& mask = binary[label];
          if (mask.empty()) mask.assign(pixels, 0);
          current = &mask;
          current_label = label;
        }
        (*current)[p] = 1;
      }
    }
    std::vector<int> present = std::move(annotation.image_labels);
    for (auto& [label, mask] : binary) {
      present.push_back(label);
      out.masks.push_back({index, label, pack_mask(mask)});
    }
    std::sort(present.begin(), present.end());
    present.erase(std::unique(present.begin(), present.end()), present.end());
    out.present.push_back(std::move(present));
  }
  // Images are appended in order and std::map iterates labels in order, so masks are
  // already sorted by (image, label).
  return out;
}

void filter_images(ProbeAnnotations& annotations, const std::vector<bool>& keep) {
  N2V_CHECK(keep.size() == annotations.rows.size(), kInvalidArgument,
            "filter_images: " << keep.size() << " flags for " << annotations.rows.size()
                              << " images");
  std::vector<int> renumber(keep.size(), -1);
  int next = 0;
  for (size_t i = 0; i < keep.size(); ++i) {
    if (!keep[i]) continue;
    renumber[i] = next;
    // No self-move: a vector moved onto itself may come out empty.
    if (static_cast<size_t>(next) != i) {
      annotations.rows[next] = annotations.rows[i];
      annotations.splits[next] = annotations.splits[i];
      annotations.present[next] = std::move(annotations.present[i]);
    }
    ++next;
  }
  annotations.rows.resize(next);
  annotations.splits.resize(next);
  annotations.present.resize(next);
  std::vector<ConceptMask> masks;
  masks.reserve(annotations.masks.size());
  for (ConceptMask& mask : annotations.masks) {
    N2V_ASSERT(mask.image >= 0 && static_cast<size_t>(mask.image) < renumber.size());
    const int image = renumber[mask.image];
    if (image < 0) continue;
    mask.image = image;
    masks.push_back(std::move(mask));
  }
  annotations.masks = std::move(masks);
}

PackedMask pack_mask(const std::vector<uint8_t>& binary) {
  PackedMask packed;
  packed.bytes.assign((binary.size() + 7) / 8, 0);
  for (size_t p = 0; p < binary.size(); ++p) {
    if (!binary[p]) continue;
    packed.bytes[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
    ++packed.pixels;
  }
  return packed;
}

std::vector<uint8_t> unpack_mask(const PackedMask& mask, int pixel_count) {
  N2V_CHECK(pixel_count >= 0 && mask.bytes.size() >= (static_cast<size_t>(pixel_count) + 7) / 8,
            kInvalidArgument,
            "unpack_mask: " << mask.bytes.size() << " bytes cannot hold " << pixel_count
                            << " pixels");
  std::vector<uint8_t> binary(static_cast<size_t>(pixel_count));
  for (size_t p = 0; p < binary.size(); ++p) binary[p] = (mask.bytes[p / 8] >> (p % 8)) & 1u;
  return binary;
}

}  // namespace n2v
