#pragma once
// Service stage: the probe browser -- the concepts of the probe set a space was measured on,
// with their train/val images and coverage, and for a concept the images that carry it, train
// and val apart, paged (NetDissect-Lite#22 asks exactly this) -- and the JSON and text of
// `net2vec probe check` (probe/probe_check.h).
//
// The probe folders a front end may read are a ProbeLibrary it hands the Service: the
// server's `serve --probe DIR` folders only (images stay confined to what the operator
// named); the CLI's `--probe DIR` folders and, since its user is the operator, the folder each
// probe set was ingested from.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "probe/probe_check.h"
#include "probe/probe_folders.h"
#include "service/json.h"
#include "service/service.h"

namespace n2v {

// Most images one page of probe-images lists.
inline constexpr int kMaxProbePage = 200;

struct ProbeConceptsRequest {
  std::string space;
  std::optional<std::string> category;
};

struct ProbeConceptsResponse {
  SpaceInfo space;
  std::string probe_name;                  // the probe set (its folder's name at ingest)
  int train_images = 0, val_images = 0;    // rows of the folder read without a problem
  std::vector<std::string> categories;     // index.csv's category columns
  std::optional<std::string> category;     // the filter asked for
  std::vector<ProbeConceptCount> concepts;  // by number
};

struct ProbeImagesRequest {
  std::string space, name;
  Split split = Split::kTrain;
  int offset = 0;  // images skipped
  int limit = 24;  // images listed, 1 to kMaxProbePage
};

struct ProbeImageItem {
  int row = 0;       // index.csv data row (0-based), as the catalog and /api/probe/* count them
  std::string path;  // relative to the probe set's images/
};

// The images of one split that carry a concept, in index.csv order, one page of them.
struct ProbeImagesResponse {
  SpaceInfo space;
  std::string probe_name;
  ProbeConceptCount concept_count;
  Split split = Split::kTrain;
  int offset = 0, limit = 0, total = 0;
  std::vector<ProbeImageItem> images;
};

// The probe folders one front end may read, each opened and scanned (probe_contents: every
// mask decoded, images not) once, on first use, then kept. Thread-safe.
class ProbeLibrary {
 public:
  // `dirs` must exist (kNotFound otherwise); `stored_paths`: also the folder each probe set
  // was ingested from, when it still holds that probe set.
  ProbeLibrary(const std::vector<std::string>& dirs, bool stored_paths);

  struct Folder {
    std::string dir;  // canonical
    ProbeSet probe;
    ProbeContents contents;
  };
  // The folder of a catalog's probe set -- a given folder at the same path or with the same
  // content hash (with the same name where the catalog has no hash), else the stored path
  // (stored_paths) -- or kNotFound saying how to make it readable.
  std::shared_ptr<const Folder> folder(const std::string& name, const std::string& path, const std::string& hash) const;

 private:
  ProbeFolders given_;  // the --probe folders
  bool stored_paths_ = false;
  mutable std::mutex mutex_;  // one scan at a time: the first request of a folder waits for it
  mutable std::map<std::string, std::shared_ptr<const Folder>> folders_;
};

// The probe set a network space was measured on, as read for the browser (kNotFound naming
// `serve --probe` / `--probe` when its folder is not readable; kInvalidArgument for a
// reference space).
struct SpaceProbe {
  SpaceInfo space;
  std::string name, path, hash;  // as the catalog stores the probe set
  std::shared_ptr<const ProbeLibrary::Folder> folder;
};
SpaceProbe space_probe(Service& service, const std::string& space);

ProbeConceptsResponse probe_concepts(Service& service, const ProbeConceptsRequest& request);
ProbeImagesResponse probe_images(Service& service, const ProbeImagesRequest& request);
// A concept of the folder by name (exact, else ignoring case); kNotFound with the closest names.
const ProbeConceptCount& probe_concept(const ProbeLibrary::Folder& folder, const std::string& probe_name,
                                       const std::string& name);

Json to_json(const ProbeConceptsResponse& r);
Json to_json(const ProbeImagesResponse& r);
Json to_json(const ProbeCheckReport& r);
std::string render_text(const ProbeConceptsResponse& r);
std::string render_text(const ProbeImagesResponse& r);
std::string render_text(const ProbeCheckReport& r);

}  // namespace n2v
