#pragma once
// Internal to src/server: the probe-set folders `net2vec serve --probe DIR` may serve images
// from, matched to the probe sets the catalog names, and the concept-mask overlays drawn
// from their annotations.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "probe/probe_folders.h"
#include "probe/probe_set.h"

namespace n2v::detail {

class ProbeFiles {
 public:
  // Canonicalises each folder; kNotFound for one that does not exist or has no index.csv.
  explicit ProbeFiles(const std::vector<std::string>& dirs) : folders_(dirs) {}

  // The served folder of the catalog's probe set (ProbeFolders::match), or nullopt when it
  // is not served.
  std::optional<std::string> dir_for(const std::string& probe_name, const std::string& probe_path,
                                     const std::string& probe_hash) const {
    return folders_.match(probe_name, probe_path, probe_hash);
  }
  const std::vector<std::string>& dirs() const { return folders_.dirs(); }  // canonical

  // An image file of that folder (path relative to images/), confined to it.
  std::optional<std::string> image_file(const std::string& dir, const std::string& relative) const;

  // PNG (RGBA, the mask's size): the pixels of `concept_number` on index.csv data row `row`
  // opaque-ish in one colour, the rest transparent; the whole image for an image-level label.
  std::string concept_mask_png(const std::string& dir, int row, int concept_number) const;

 private:
  const ProbeSet& probe_set(const std::string& dir) const;  // read once, then cached

  ProbeFolders folders_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::unique_ptr<ProbeSet>> cache_;
};

}  // namespace n2v::detail
