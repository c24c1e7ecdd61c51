#pragma once
// `net2vec report`'s example strip per segmentation space (paper Figure 8; issue 21): one
// concept, chosen by kStripRule, and up to kStripImages of its stored decile val images, each
// with the masks the best single filter and the learned weights predict (Catalog::
// predicted_masks) and, where the space's probe set is among the report's --probe folders
// (ProbeFolders: the rule `serve --probe` uses), the photo (its file's own bytes) and the
// ground truth. Everything embedded as data: URIs in report.json, from which report_html
// draws the strip, so the page stays one static file.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "probe/probe_folders.h"
#include "probe/probe_set.h"
#include "service/json.h"
#include "service/service.h"

namespace n2v::detail {

inline constexpr int kStripImages = 4;
inline constexpr const char* kStripRule =
    "the concept whose learned val set IoU most exceeds its best single filter's (ties: by name), among the "
    "concepts with stored predicted masks; of its stored decile images, up to 4 spread from the lowest to the "
    "highest learned per-image IoU";

// Okabe-Ito colours, as the web page's masks (web/js/masks.js): ground truth outlined in
// yellow, the learned weights' mask filled blue, the best single filter's vermillion.
inline constexpr const char* kStripTruth = "#f0e442";
inline constexpr const char* kStripLearned = "#0072b2";
inline constexpr const char* kStripSingle = "#d55e00";

class ExampleStrips {
 public:
  // `probe_dirs`: the --probe folders; kNotFound for one that does not exist (a typo should
  // not pass silently), while a space whose probe set is in none of them only loses its photos.
  explicit ExampleStrips(const std::vector<std::string>& probe_dirs);
  // The strip of a network segmentation space (JSON keys: docs/report.schema.json,
  // "example_strip"); null when no concept has both val scores and stored predicted masks.
  Json strip(Service& service, const std::string& space);

 private:
  struct Opened {
    std::unique_ptr<ProbeSet> probe;     // null when it could not be read
    std::string problem;                 // why not
    std::map<int, size_t> row_index;     // index.csv data row -> ProbeSet::images() position
  };
  const Opened& open(const std::string& dir);

  ProbeFolders folders_;
  std::map<std::string, Opened> opened_;  // by canonical folder
};

// The strip's section of index.html; "" for null.
std::string example_strip_html(const Json& strip);

// Standard base64 with padding (RFC 4648), and the data: URI of some bytes.
std::string base64(std::string_view bytes);
std::string data_uri(const std::string& mime, std::string_view bytes);

// A height x width bit-packed mask (bit j of byte i = pixel 8i + j) as an RGBA PNG: the
// mask's pixels rgb at 60 % opacity, the rest transparent.
std::string mask_fill_png(int height, int width, const std::vector<uint8_t>& bits, const uint8_t rgb[3]);
// A mask (one bool a pixel) outlined: its boundary pixels rgb, the pixels just outside dark.
std::string mask_outline_png(int height, int width, const std::vector<bool>& on, const uint8_t rgb[3]);

}  // namespace n2v::detail
