// Probe images and concept-mask overlays for the concept page.

#include "server/detail/probe_files.h"

#include <algorithm>
#include <filesystem>

#include "common/error.h"

namespace n2v::detail {

namespace fs = std::filesystem;

std::optional<std::string> ProbeFiles::image_file(const std::string& dir, const std::string& relative) const {
  const fs::path root = fs::path(dir) / "images";
  std::error_code ec;
  const fs::path real = fs::canonical(root / fs::path(relative).relative_path(), ec);
  if (ec || !fs::is_regular_file(real, ec)) return std::nullopt;
  const std::string r = real.string(), base = root.string() + "/";
  if (r.compare(0, base.size(), base) != 0) return std::nullopt;  // a link or ".." leading out
  return r;
}

const ProbeSet& ProbeFiles::probe_set(const std::string& dir) const {
  std::lock_guard lock(mutex_);
  auto& slot = cache_[dir];
  if (!slot) {
    ProbeOptions options;
    options.skip_bad = true;  // a bad row elsewhere must not hide the good ones
    slot = std::make_unique<ProbeSet>(ProbeSet::open(dir, options));
  }
  return *slot;
}

std::string ProbeFiles::concept_mask_png(const std::string& dir, int row, int concept_number) const {
  const ProbeSet& probe = probe_set(dir);
  // index.csv line = data row + 2 (the header is line 1); skipped rows leave gaps.
  const std::vector<ProbeImage>& images = probe.images();
  size_t i = 0;
  while (i < images.size() && images[i].line != row + 2) ++i;
  N2V_CHECK(i < images.size(), kNotFound, "no row " << row << " in " << fs::path(dir).filename().string() << "/index.csv");
  const ImageAnnotation a = probe.load_annotation(i);
  const int h = images[i].sh > 0 ? images[i].sh : (a.maps.empty() ? 1 : a.maps[0].height);
  const int w = images[i].sw > 0 ? images[i].sw : (a.maps.empty() ? 1 : a.maps[0].width);
  const bool whole = std::find(a.image_labels.begin(), a.image_labels.end(), concept_number) != a.image_labels.end();
  std::vector<uint8_t> rgba(static_cast<size_t>(h) * w * 4, 0);
  auto paint = [&](size_t p) {
    rgba[4 * p] = 255;  // orange-red, 60 % opaque: the ground truth over the photo
    rgba[4 * p + 1] = 69;
    rgba[4 * p + 2] = 0;
    rgba[4 * p + 3] = 153;
  };
  for (size_t p = 0; p < static_cast<size_t>(h) * w; ++p) {
    bool on = whole;
    for (const LabelMap& m : a.maps)
      if (!on && m.height == h && m.width == w && m.labels[p] == concept_number) on = true;
    if (on) paint(p);
  }
  return encode_png_rgba(h, w, rgba);
}

}  // namespace n2v::detail
