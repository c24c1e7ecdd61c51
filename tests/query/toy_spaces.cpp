#include "toy_spaces.h"

#include <map>
#include <stdexcept>

#include "support/records.h"

namespace n2v::test {
namespace {

// Every name any toy space uses, with its category: one probe set, one label per name.
const std::vector<std::pair<std::string, std::string>>& universe() {
  static const std::vector<std::pair<std::string, std::string>> names = {
      {"dog", "object"},  {"cat", "object"},   {"horse", "object"}, {"red-c", "color"},
      {"sky", "scene"},   {"void", "object"},  {"a", "object"},     {"b", "object"},
      {"c", "color"},     {"d", "part"},       {"e", "part"},       {"x", "object"},
      {"y", "object"},    {"z", "part"},       {"license plate", "object"},
      {"traffic light", "object"}};
  return names;
}

}  // namespace

int toy_number(const std::string& name) {
  const auto& u = universe();
  for (size_t i = 0; i < u.size(); ++i)
    if (u[i].first == name) return static_cast<int>(i) + 1;
  // Generated names (random spaces): "r<number>".
  if (name.size() > 1 && name[0] == 'r') return 1000 + std::stoi(name.substr(1));
  throw std::invalid_argument("toy space: unknown concept name " + name);
}

std::string write_toy_space(Catalog& catalog, const std::string& network, const std::string& layer,
                            const std::vector<ToyConcept>& concepts, Task task) {
  const int dim = concepts.empty() ? 1 : static_cast<int>(concepts[0].w.size());
  IngestRecord r = minimal_ingest_record(network, layer, dim);
  r.probe.name = "toy";
  r.probe.path = "/toy/probe";
  r.probe.image_count = 4;
  r.probe.mask_height = r.probe.mask_width = 8;
  r.probe.categories = {"color", "object", "part", "scene"};
  const auto& u = universe();
  for (size_t i = 0; i < u.size(); ++i) {
    ConceptRecord c;
    c.number = static_cast<int>(i) + 1;
    c.name = u[i].first;
    c.category = u[i].second;
    c.categories = c.category + "(1)";
    r.concepts.push_back(c);
  }
  for (const ToyConcept& t : concepts)
    if (toy_number(t.name) >= 1000) {
      ConceptRecord c;
      c.number = toy_number(t.name);
      c.name = t.name;
      c.category = t.category;
      c.categories = c.category + "(1)";
      r.concepts.push_back(c);
    }
  r.images = {{0, "images/t0.jpg", "train"}, {1, "images/v0.jpg", "val"}, {2, "images/v1.jpg", "val"},
              {3, "images/v2.jpg", "val"}};
  r.run.model_path = "/toy/" + network + ".pt";
  r.run.images_used = 4;
  r.run.act_height = r.run.act_width = 4;
  SpaceRecord space;
  space.id = space_id(network, layer, task);
  space.task = task;
  for (const ToyConcept& t : concepts) {
    if (static_cast<int>(t.w.size()) != dim) throw std::invalid_argument("toy space: mixed dimensions");
    EmbeddingRecord e;
    e.concept_number = toy_number(t.name);
    e.train_count = 3;
    e.val_count = 2;
    e.weights = t.w;
    e.best_filter = t.best_filter;
    e.best_filter_train = 0.3f;
    e.best_filter_val = t.best_filter_val;
    e.subsets = t.subsets;
    e.image_iou = t.image_iou;
    if (task == Task::kSegmentation) {
      e.alpha = 0.9f;
      e.set_iou_train = 0.6f;
      e.set_iou_val = t.learned_val;
    } else {
      e.accuracy_train = 0.8f;
      e.accuracy_val = t.learned_val;
    }
    space.embeddings.push_back(std::move(e));
  }
  r.spaces.push_back(std::move(space));
  catalog.write_ingest(r);
  return space_id(network, layer, task);
}

}  // namespace n2v::test
