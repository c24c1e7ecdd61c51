// The report's example strip per segmentation space (detail/report_strip.h).

#include "service/detail/report_strip.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include "common/error.h"
#include "service/detail/html.h"

namespace n2v::detail {

namespace fs = std::filesystem;

namespace {

constexpr uint8_t kTruthRgb[3] = {240, 228, 66};
constexpr uint8_t kLearnedRgb[3] = {0, 114, 178};
constexpr uint8_t kSingleRgb[3] = {213, 94, 0};

Json optional_number(const std::optional<float>& v) {
  return v && std::isfinite(*v) ? Json(*v) : Json(nullptr);
}

// The photo's own bytes (no re-encode: what the network saw, byte for byte), confined to the
// folder's images/ as the server's image files are; the problem instead when unreadable.
std::string read_photo(const std::string& dir, const std::string& relative, std::string* mime, std::string* problem) {
  const fs::path root = fs::path(dir) / "images";
  const fs::path file = root / fs::path(relative).relative_path();
  std::error_code ec;
  const fs::path real = fs::canonical(file, ec);
  if (ec || !fs::is_regular_file(real, ec)) {
    *problem = file.string() + ": photo not found";
    return "";
  }
  if (real.string().compare(0, root.string().size() + 1, root.string() + "/") != 0) {
    *problem = file.string() + ": leads outside the probe folder's images/";
    return "";
  }
  std::ifstream in(real, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    *problem = file.string() + ": cannot read the photo";
    return "";
  }
  if (bytes.size() >= 3 && bytes.compare(0, 3, "\xFF\xD8\xFF") == 0) {
    *mime = "image/jpeg";
  } else if (bytes.size() >= 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1A\n") == 0) {
    *mime = "image/png";
  } else {
    *problem = file.string() + ": neither JPEG nor PNG";
    return "";
  }
  return bytes;
}

// The concept's ground truth on one image as the server draws it (server/probe_files.cpp):
// its pixels in any of the image's masks, or every pixel for a whole-image label.
std::vector<bool> truth_mask(const ProbeSet& probe, size_t i, int concept_number, int* height, int* width) {
  const ProbeImage& image = probe.images()[i];
  const ImageAnnotation a = probe.load_annotation(i);
  *height = image.sh > 0 ? image.sh : (a.maps.empty() ? 1 : a.maps[0].height);
  *width = image.sw > 0 ? image.sw : (a.maps.empty() ? 1 : a.maps[0].width);
  const bool whole = std::find(a.image_labels.begin(), a.image_labels.end(), concept_number) != a.image_labels.end();
  std::vector<bool> on(static_cast<size_t>(*height) * *width, whole);
  for (const LabelMap& m : a.maps)
    if (m.height == *height && m.width == *width)
      for (size_t p = 0; p < on.size(); ++p)
        if (m.labels[p] == concept_number) on[p] = true;
  return on;
}

std::string esc(const std::string& s) { return html_escape(s); }

std::string fmt(const Json& v, int digits) {
  if (!v.is_number()) return "&ndash;";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v.get<double>());
  return buf;
}

// " [low, high], p = ..." after a score in the caption, as the web page writes it (issue 21:
// no score shown without them); " (interval not computed)" without.
std::string stats_html(const Json& interval, const Json& p) {
  if (!interval.is_array()) return " (interval not computed)";
  std::string out = " [" + fmt(interval[0], 3) + ", " + fmt(interval[1], 3) + "]";
  if (p.is_number()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, p.get<double>() < 0.0005 ? "%.1e" : "%.3f", p.get<double>());
    out += std::string(", p = ") + buf;
  }
  return out;
}

}  // namespace

std::string base64(std::string_view bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16 | static_cast<uint8_t>(bytes[i + 1]) << 8 |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += table[v & 63];
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16 | (two ? static_cast<uint8_t>(bytes[i + 1]) << 8 : 0);
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += two ? table[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string data_uri(const std::string& mime, std::string_view bytes) {
  return "data:" + mime + ";base64," + base64(bytes);
}

std::string mask_fill_png(int height, int width, const std::vector<uint8_t>& bits, const uint8_t rgb[3]) {
  const size_t n = static_cast<size_t>(height) * width;
  N2V_CHECK(bits.size() * 8 >= n, kCorrupt,
            "predicted mask of " << height << "x" << width << " has " << bits.size() << " bytes");
  std::vector<uint8_t> rgba(n * 4, 0);
  for (size_t p = 0; p < n; ++p)
    if (bits[p / 8] >> (p % 8) & 1) {
      std::copy(rgb, rgb + 3, rgba.begin() + 4 * p);
      rgba[4 * p + 3] = 153;  // 60 %: the photo shows through, as on the web page
    }
  return encode_png_rgba(height, width, rgba);
}

std::string mask_outline_png(int height, int width, const std::vector<bool>& on, const uint8_t rgb[3]) {
  std::vector<uint8_t> rgba(on.size() * 4, 0);
  const auto at = [&](int y, int x) { return y >= 0 && x >= 0 && y < height && x < width && on[static_cast<size_t>(y) * width + x]; };
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const size_t p = static_cast<size_t>(y) * width + x;
      const bool edge_near = at(y, x - 1) || at(y, x + 1) || at(y - 1, x) || at(y + 1, x);
      if (at(y, x)) {
        // A boundary pixel: a neighbour outside the mask or the image (web/js/masks.js's rule).
        if (!at(y, x - 1) || !at(y, x + 1) || !at(y - 1, x) || !at(y + 1, x)) {
          std::copy(rgb, rgb + 3, rgba.begin() + 4 * p);
          rgba[4 * p + 3] = 255;
        }
      } else if (edge_near) {
        rgba[4 * p + 3] = 200;  // dark just outside, so the yellow shows on light photos
      }
    }
  return encode_png_rgba(height, width, rgba);
}

ExampleStrips::ExampleStrips(const std::vector<std::string>& probe_dirs) : folders_(probe_dirs) {}

const ExampleStrips::Opened& ExampleStrips::open(const std::string& dir) {
  auto [it, fresh] = opened_.try_emplace(dir);
  Opened& o = it->second;
  if (!fresh) return o;
  try {
    ProbeOptions options;
    options.skip_bad = true;  // a bad row elsewhere must not cost the strip its photos
    o.probe = std::make_unique<ProbeSet>(ProbeSet::open(dir, options));
    // index.csv line = data row + 2 (line 1 is the header); skipped rows leave gaps.
    for (size_t i = 0; i < o.probe->images().size(); ++i) o.row_index[o.probe->images()[i].line - 2] = i;
  } catch (const Error& e) {
    o.probe.reset();
    o.problem = e.message();
  }
  return o;
}

Json ExampleStrips::strip(Service& service, const std::string& space) {
  const Catalog& catalog = service.catalog();
  ConceptsRequest list;
  list.space = space;
  std::vector<ConceptSummary> candidates;
  for (ConceptSummary& c : service.concepts(list).concepts)
    if (c.score_val && c.best_filter_val && std::isfinite(*c.score_val) && std::isfinite(*c.best_filter_val))
      candidates.push_back(std::move(c));
  std::sort(candidates.begin(), candidates.end(), [](const ConceptSummary& a, const ConceptSummary& b) {
    const double ga = double{*a.score_val} - *a.best_filter_val, gb = double{*b.score_val} - *b.best_filter_val;
    return ga != gb ? ga > gb : a.name < b.name;
  });
  const ConceptSummary* chosen = nullptr;
  std::vector<PredictedMaskRecord> masks;
  for (const ConceptSummary& c : candidates) {
    masks = catalog.predicted_masks(space, c.name);
    if (!masks.empty()) {
      chosen = &c;
      break;
    }
  }
  if (!chosen) return nullptr;

  const std::optional<ConceptImages> scored = catalog.concept_images(space, chosen->name);
  std::map<int, const ProbeImageScore*> by_row;
  if (scored)
    for (const ProbeImageScore& s : scored->images) by_row[s.row] = &s;
  const auto learned_of = [&](int row) {
    const auto it = by_row.find(row);
    return it != by_row.end() && it->second->learned ? *it->second->learned : -1.0f;  // unscored last
  };
  std::sort(masks.begin(), masks.end(), [&](const PredictedMaskRecord& a, const PredictedMaskRecord& b) {
    const float la = learned_of(a.image_row), lb = learned_of(b.image_row);
    return la != lb ? la < lb : a.image_row < b.image_row;
  });
  std::vector<size_t> picks;
  const size_t n = masks.size();
  for (int k = 0; k < kStripImages && k < static_cast<int>(n); ++k)
    picks.push_back(n <= kStripImages ? k : static_cast<size_t>(std::lround(k * (n - 1) / double(kStripImages - 1))));

  // The probe set's folder among --probe's, by the rule `serve --probe` uses.
  std::string probe_name, note;
  const Opened* folder = nullptr;
  std::string folder_dir;
  if (scored) {
    probe_name = scored->probe_name;
    if (const std::optional<std::string> dir = folders_.match(scored->probe_name, scored->probe_path, scored->probe_hash)) {
      folder_dir = *dir;
      folder = &open(*dir);
      if (!folder->probe) note = "Photos and ground truth not embedded: " + folder->problem;
    } else {
      note = "Photos and ground truth not embedded: pass --probe DIR, the folder of probe set " + scored->probe_name +
             ", to net2vec report.";
    }
  }
  const bool with_photos = folder && folder->probe;

  Json images = Json::array();
  size_t bytes = 0;
  for (size_t pick : picks) {
    const PredictedMaskRecord& m = masks[pick];
    const auto score = by_row.find(m.image_row);
    Json image = {{"row", m.image_row},
                  {"file", score != by_row.end() ? Json(score->second->path) : Json(nullptr)},
                  {"learned_iou", score != by_row.end() ? optional_number(score->second->learned) : Json(nullptr)},
                  {"single_iou", score != by_row.end() ? optional_number(score->second->single) : Json(nullptr)},
                  {"height", m.height},
                  {"width", m.width},
                  {"learned", data_uri("image/png", mask_fill_png(m.height, m.width, m.learned, kLearnedRgb))},
                  {"single", data_uri("image/png", mask_fill_png(m.height, m.width, m.single, kSingleRgb))},
                  {"truth", nullptr},
                  {"photo", nullptr},
                  {"problem", nullptr}};
    if (with_photos) {
      std::string problem;
      const auto at = folder->row_index.find(m.image_row);
      if (at == folder->row_index.end()) {
        problem = folder_dir + "/index.csv: no readable row " + std::to_string(m.image_row) + " (line " +
                  std::to_string(m.image_row + 2) + ")";
      } else {
        const ProbeImage& pi = folder->probe->images()[at->second];
        if (score != by_row.end() && score->second->path != pi.path) {  // never another image's photo
          problem = folder_dir + "/index.csv line " + std::to_string(pi.line) + ": " + pi.path +
                    ", where the catalog has " + score->second->path;
        } else {
          std::string mime;
          const std::string photo = read_photo(folder_dir, pi.path, &mime, &problem);
          if (!photo.empty()) image["photo"] = data_uri(mime, photo);
          try {
            int h = 0, w = 0;
            const std::vector<bool> on = truth_mask(*folder->probe, at->second, scored->concept_number, &h, &w);
            image["truth"] = data_uri("image/png", mask_outline_png(h, w, on, kTruthRgb));
          } catch (const Error& e) {  // a bad mask file: the strip keeps the rest and says which
            problem += (problem.empty() ? "" : "; ") + e.message();
          }
        }
      }
      if (!problem.empty()) image["problem"] = problem;
    }
    for (const char* key : {"learned", "single", "truth", "photo"})
      if (image[key].is_string()) bytes += image[key].get_ref<const std::string&>().size();
    images.push_back(std::move(image));
  }
  return {{"concept", chosen->name},
          {"category", chosen->category},
          {"rule", kStripRule},
          {"learned_val", *chosen->score_val},
          {"single_val", *chosen->best_filter_val},
          {"learned_val_interval", interval_json(chosen->score_val_stats)},
          {"learned_val_p", optional_number(chosen->score_val_stats.p)},
          {"single_val_interval", interval_json(chosen->best_filter_val_stats)},
          {"single_val_p", optional_number(chosen->best_filter_val_stats.p)},
          {"best_filter", chosen->best_filter},
          {"probe_set", probe_name},
          {"probe_folder", with_photos ? Json(folder_dir) : Json(nullptr)},
          {"note", note.empty() ? Json(nullptr) : Json(note)},
          {"embedded_bytes", bytes},
          {"images", std::move(images)}};
}

std::string example_strip_html(const Json& strip) {
  if (!strip.is_object()) return "";
  const std::string concept_name = esc(strip["concept"].get<std::string>());
  std::string h = "<h3>Example images of " + concept_name + " (Figure 8)</h3><p class=note>" + concept_name + " (" +
                  esc(strip["category"].get<std::string>()) + "): val set IoU " + fmt(strip["learned_val"], 3) +
                  stats_html(strip["learned_val_interval"], strip["learned_val_p"]) + " with the learned weights, " +
                  fmt(strip["single_val"], 3) + stats_html(strip["single_val_interval"], strip["single_val_p"]) +
                  " with its best single filter (" +
                  std::to_string(strip["best_filter"].get<int>()) + "). Chosen as " + esc(strip["rule"].get<std::string>()) +
                  ". Per image: the best single filter's mask above, the learned weights' below.</p>";
  if (strip["note"].is_string()) h += "<p class='note strip-note'>" + esc(strip["note"].get<std::string>()) + "</p>";
  h += "<div class=strip>";
  for (const Json& im : strip["images"]) {
    const std::string ratio = std::to_string(im["width"].get<int>()) + "/" + std::to_string(im["height"].get<int>());
    const std::string file = im["file"].is_string() ? esc(im["file"].get<std::string>()) : "row " + std::to_string(im["row"].get<int>());
    std::string under;
    if (im["photo"].is_string())
      under += "<img class=strip-photo alt='" + file + "' src='" + im["photo"].get<std::string>() + "'>";
    if (im["truth"].is_string())
      under += "<img class='strip-mask strip-truth' alt='' src='" + im["truth"].get<std::string>() + "'>";
    h += "<figure class=strip-image>";
    for (const char* kind : {"single", "learned"})
      h += "<div class=strip-panel style='aspect-ratio:" + ratio + "'>" + under + "<img class='strip-mask strip-" + kind +
           "' alt='" + file + ": " + (kind[0] == 's' ? "best single filter" : "learned weights") + "' src='" +
           im[kind].get<std::string>() + "'></div>";
    h += "<figcaption>" + file + "<br>IoU learned " + fmt(im["learned_iou"], 2) + " &middot; single " +
         fmt(im["single_iou"], 2) + "</figcaption>";
    if (im["problem"].is_string()) h += "<p class=note>" + esc(im["problem"].get<std::string>()) + "</p>";
    h += "</figure>";
  }
  h += "</div><p class='legend strip-legend'>";
  bool truth = false;
  for (const Json& im : strip["images"]) truth = truth || im["truth"].is_string();
  if (truth)
    h += std::string("<span style='border:2px solid ") + kStripTruth +
         ";outline:1px solid #000;outline-offset:-4px;box-sizing:border-box'></span>ground truth (outline)";
  h += std::string("<span style='background:") + kStripSingle + "'></span>best single filter<span style='background:" +
       kStripLearned + "'></span>learned weights</p>";
  return h;
}

}  // namespace n2v::detail
