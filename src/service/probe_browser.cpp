// The probe browser (probe_browser.h): a space's probe folder found, scanned once, and read
// concept by concept; and the JSON and text of the probe check.

#include "service/probe_browser.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "common/error.h"
#include "common/text.h"
#include "query/query.h"

namespace n2v {

// Named (not anonymous): the stage compiles as one unit, where anonymous helpers of its files meet.
namespace probe_view {

namespace fs = std::filesystem;

Json number_or_null(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? Json(*v) : Json(nullptr);
}

Json space_keys(const SpaceInfo& s) {
  return Json{{"space", s.id}, {"kind", to_string(s.kind)}, {"task", s.task ? Json(to_string(*s.task)) : Json(nullptr)}};
}

Json concept_json(const ProbeConceptCount& c) {
  return Json{{"number", c.number},           {"name", c.name},
              {"category", c.category},       {"train_images", c.train_images},
              {"val_images", c.val_images},   {"train_masked", c.train_masked},
              {"val_masked", c.val_masked},   {"alpha", number_or_null(c.alpha)}};
}

std::string fixed(const std::optional<double>& v, int digits = 4) {
  if (!v || !std::isfinite(*v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, *v);
  return buf;
}

// The first `left` columns left-aligned, the rest right-aligned, two spaces apart.
std::string table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                  size_t left = 1) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t c = 0; c < cells.size() && c < width.size(); ++c) {
      const std::string pad(width[c] - cells[c].size(), ' ');
      s += (c ? "  " : "") + (c < left ? cells[c] + pad : pad + cells[c]);
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out += s + "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
  return out;
}

}  // namespace probe_view

ProbeLibrary::ProbeLibrary(const std::vector<std::string>& dirs, bool stored_paths)
    : given_(dirs), stored_paths_(stored_paths) {}

std::shared_ptr<const ProbeLibrary::Folder> ProbeLibrary::folder(const std::string& name, const std::string& path,
                                                                 const std::string& hash) const {
  namespace fs = probe_view::fs;
  std::error_code ec;
  const fs::path stored = fs::weakly_canonical(path, ec);
  // The same rule as the server's image files: path, else content (ProbeFolders::match).
  std::string dir = given_.match(name, path, hash).value_or("");
  if (dir.empty() && stored_paths_ && !ec && fs::is_regular_file(stored / "index.csv", ec)) {
    // The folder it was ingested from, if it still holds that probe set.
    if (hash.empty() || ProbeSet::content_hash(stored.string()) == hash) dir = stored.string();
  }
  N2V_CHECK(!dir.empty(), kNotFound,
            "the probe set '" << name << "' is not readable here: "
                              << (stored_paths_ ? "its folder " + path + " is gone or changed; pass --probe DIR"
                                                : std::string("start the server with --probe DIR")));
  const std::lock_guard lock(mutex_);
  auto& slot = folders_[dir];
  if (!slot) {
    ProbeOptions options;
    options.skip_bad = true;  // a bad row elsewhere must not hide the good ones
    ProbeSet probe = ProbeSet::open(dir, options);
    ProbeContents contents = probe_contents(probe);
    slot = std::make_shared<const Folder>(Folder{dir, std::move(probe), std::move(contents)});
  }
  return slot;
}

SpaceProbe space_probe(Service& service, const std::string& space) {
  SpaceProbe out;
  out.space = service.engine().space_info(space);
  N2V_CHECK(!is_reference(out.space), kInvalidArgument,
            "space '" << out.space.id << "' is a reference space: it was measured on no probe set");
  // Every concept of a network space points at its run's probe set; any one names it.
  const std::vector<ConceptVector> vectors = service.engine().vectors(out.space.id);
  N2V_CHECK(!vectors.empty(), kNotFound, "space '" << out.space.id << "' has no concepts, so no probe set");
  const std::optional<ConceptImages> images = service.catalog().concept_images(out.space.id, vectors.front().name);
  N2V_CHECK(images && !images->probe_name.empty(), kNotFound, "space '" << out.space.id << "' names no probe set");
  out.name = images->probe_name;
  out.path = images->probe_path;
  out.hash = images->probe_hash;
  const ProbeLibrary* library = service.probe_library();
  N2V_CHECK(library, kNotFound, "the probe set '" << out.name << "' is not readable here (no probe folders given)");
  out.folder = library->folder(out.name, out.path, out.hash);
  return out;
}

const ProbeConceptCount& probe_concept(const ProbeLibrary::Folder& folder, const std::string& probe_name,
                                       const std::string& name) {
  const auto& concepts = folder.contents.concepts;
  for (const ProbeConceptCount& c : concepts)
    if (c.name == name) return c;
  for (const ProbeConceptCount& c : concepts)
    if (ascii_lower(c.name) == ascii_lower(name)) return c;
  std::vector<std::string> names;
  for (const ProbeConceptCount& c : concepts) names.push_back(c.name);
  const std::vector<std::string> close = closest_names(name, names);
  std::string list;
  for (size_t i = 0; i < close.size(); ++i) list += (i ? (i + 1 == close.size() ? " or '" : ", '") : "'") + close[i] + "'";
  N2V_THROW_SUGGESTING(kNotFound, close, "no concept '" << name << "' in probe set '" << probe_name << "'"
                                                       << (close.empty() ? "" : "; did you mean " + list + "?"));
}

ProbeConceptsResponse probe_concepts(Service& service, const ProbeConceptsRequest& request) {
  const SpaceProbe sp = space_probe(service, request.space);
  ProbeConceptsResponse r;
  r.space = sp.space;
  r.probe_name = sp.name;
  r.train_images = sp.folder->contents.train_images;
  r.val_images = sp.folder->contents.val_images;
  for (const Category& c : sp.folder->probe.categories()) r.categories.push_back(c.name);
  r.category = request.category;
  if (request.category && std::find(r.categories.begin(), r.categories.end(), *request.category) == r.categories.end()) {
    const std::vector<std::string> close = closest_names(*request.category, r.categories);
    std::string all;
    for (const std::string& c : r.categories) all += (all.empty() ? "'" : ", '") + c + "'";
    N2V_THROW_SUGGESTING(kNotFound, close,
                         "no category '" << *request.category << "' in probe set '" << sp.name << "'"
                                         << (close.empty() ? "" : "; did you mean '" + close.front() + "'?")
                                         << " (categories: " << all << ")");
  }
  for (const ProbeConceptCount& c : sp.folder->contents.concepts)
    if (!request.category || c.category == *request.category) r.concepts.push_back(c);
  return r;
}

ProbeImagesResponse probe_images(Service& service, const ProbeImagesRequest& request) {
  N2V_CHECK(request.limit >= 1 && request.limit <= kMaxProbePage, kInvalidArgument,
            "'limit' must be between 1 and " << kMaxProbePage << " images, got " << request.limit);
  N2V_CHECK(request.offset >= 0, kInvalidArgument, "'offset' must be 0 or more, got " << request.offset);
  const SpaceProbe sp = space_probe(service, request.space);
  ProbeImagesResponse r;
  r.space = sp.space;
  r.probe_name = sp.name;
  r.concept_count = probe_concept(*sp.folder, sp.name, request.name);
  r.split = request.split;
  r.offset = request.offset;
  r.limit = request.limit;
  const auto& concepts = sp.folder->contents.concepts;
  size_t at = 0;
  while (at < concepts.size() && concepts[at].number != r.concept_count.number) ++at;
  const std::vector<int>& rows =
      (request.split == Split::kTrain ? sp.folder->contents.train_rows : sp.folder->contents.val_rows)[at];
  r.total = static_cast<int>(rows.size());
  const auto& images = sp.folder->probe.images();
  for (size_t i = static_cast<size_t>(std::min(request.offset, r.total));
       i < rows.size() && r.images.size() < static_cast<size_t>(request.limit); ++i) {
    const ProbeImage& image = images[rows[i]];
    r.images.push_back({image.line - 2, image.path});  // data row: line 1 is the header
  }
  return r;
}

Json to_json(const ProbeConceptsResponse& r) {
  Json j = probe_view::space_keys(r.space);
  j["probe"] = Json{{"name", r.probe_name}};
  j["train_images"] = r.train_images;
  j["val_images"] = r.val_images;
  j["categories"] = r.categories;
  j["category"] = r.category ? Json(*r.category) : Json(nullptr);
  Json concepts = Json::array();
  for (const ProbeConceptCount& c : r.concepts) concepts.push_back(probe_view::concept_json(c));
  j["concepts"] = std::move(concepts);
  return j;
}

Json to_json(const ProbeImagesResponse& r) {
  Json j = probe_view::space_keys(r.space);
  j["probe"] = Json{{"name", r.probe_name}};
  j["concept"] = probe_view::concept_json(r.concept_count);
  j["split"] = to_string(r.split);
  j["offset"] = r.offset;
  j["limit"] = r.limit;
  j["total"] = r.total;
  Json images = Json::array();
  for (const ProbeImageItem& image : r.images) images.push_back({{"row", image.row}, {"path", image.path}});
  j["images"] = std::move(images);
  return j;
}

Json to_json(const ProbeCheckReport& r) {
  auto problem_json = [](const ProbeProblem& p) {
    return Json{{"severity", to_string(p.severity)},
                {"file", p.file},
                {"line", p.line > 0 ? Json(p.line) : Json(nullptr)},
                {"message", p.message}};
  };
  Json j{{"dir", r.dir},
         {"content_hash", r.content_hash},
         {"ok", r.ok()},
         {"errors", r.errors},
         {"warnings", r.warnings},
         {"rows", r.rows},
         {"rows_ok", r.rows_ok},
         {"train_images", r.contents.train_images},
         {"val_images", r.contents.val_images},
         {"mask_height", r.mask_height},
         {"mask_width", r.mask_width},
         {"categories", r.categories}};
  Json problems = Json::array();
  for (const ProbeProblem& p : r.problems) problems.push_back(problem_json(p));
  j["problems"] = std::move(problems);
  Json concepts = Json::array();
  for (const ProbeConceptCount& c : r.contents.concepts) {
    Json cj = probe_view::concept_json(c);
    Json own = Json::array();
    for (const ProbeProblem& p : r.problems)
      if (p.concept_number == c.number) own.push_back(p.message);
    cj["problems"] = std::move(own);
    concepts.push_back(std::move(cj));
  }
  j["concepts"] = std::move(concepts);
  return j;
}

std::string render_text(const ProbeConceptsResponse& r) {
  std::string out = "Probe set " + r.probe_name + " of " + r.space.id + ": " + std::to_string(r.train_images) +
                    " train and " + std::to_string(r.val_images) + " val images" +
                    (r.category ? ", category " + *r.category : std::string()) + "\n";
  std::vector<std::vector<std::string>> rows;
  for (const ProbeConceptCount& c : r.concepts)
    rows.push_back({c.name, c.category, std::to_string(c.number), std::to_string(c.train_images),
                    std::to_string(c.val_images), std::to_string(c.train_masked), probe_view::fixed(c.alpha)});
  return out + probe_view::table({"concept", "category", "number", "train", "val", "train masks", "alpha"}, rows, 2);
}

std::string render_text(const ProbeImagesResponse& r) {
  const int first = r.images.empty() ? 0 : r.offset + 1;
  std::string out = r.concept_count.name + " in probe set " + r.probe_name + " (" + to_string(r.split) +
                    "): images " + std::to_string(first) + "-" + std::to_string(r.offset + static_cast<int>(r.images.size())) +
                    " of " + std::to_string(r.total) + "\n";
  std::vector<std::vector<std::string>> rows;
  for (const ProbeImageItem& image : r.images) rows.push_back({image.path, std::to_string(image.row)});
  return out + probe_view::table({"image", "row"}, rows);
}

std::string render_text(const ProbeCheckReport& r) {
  std::string out;
  for (const ProbeProblem& p : r.problems) out += std::string(to_string(p.severity)) + ": " + p.message + "\n";
  const int listed = static_cast<int>(r.problems.size());
  if (listed < r.errors + r.warnings)
    out += "... " + std::to_string(r.errors + r.warnings - listed) + " more (--max-problems)\n";
  if (!r.contents.concepts.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const ProbeConceptCount& c : r.contents.concepts)
      rows.push_back({c.name, c.category, std::to_string(c.number), std::to_string(c.train_images),
                      std::to_string(c.val_images), probe_view::fixed(c.alpha)});
    out += probe_view::table({"concept", "category", "number", "train", "val", "alpha"}, rows, 2);
  }
  out += r.dir + ": " + std::to_string(r.rows) + " rows (" + std::to_string(r.rows_ok) + " good: " +
         std::to_string(r.contents.train_images) + " train, " + std::to_string(r.contents.val_images) + " val), " +
         std::to_string(r.contents.concepts.size()) + " concepts, masks " + std::to_string(r.mask_height) + "x" +
         std::to_string(r.mask_width) + "\n";
  out += "content hash " + (r.content_hash.empty() ? std::string("-") : r.content_hash) + "\n";
  out += std::string(r.ok() ? "ok" : "BROKEN") + ": " + std::to_string(r.errors) + " error" + (r.errors == 1 ? "" : "s") +
         ", " + std::to_string(r.warnings) + " warning" + (r.warnings == 1 ? "" : "s") + "\n";
  return out;
}

}  // namespace n2v
