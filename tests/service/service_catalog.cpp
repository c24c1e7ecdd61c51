#include "service_catalog.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "common/deciles.h"
#include "reference/reference.h"
#include "support/records.h"

namespace n2v::test {
namespace {

struct Named {
  const char* name;
  const char* category;
};

// Real BRODEN-style names (WordNet and the demo know them), three categories.
const std::vector<Named>& names() {
  static const std::vector<Named> n = {
      {"dog", "object"},     {"cat", "object"},      {"horse", "object"},   {"cow", "object"},
      {"sheep", "object"},   {"pig", "object"},      {"bird", "object"},    {"duck", "object"},
      {"fish", "object"},    {"elephant", "object"}, {"car", "object"},     {"bus", "object"},
      {"truck", "object"},   {"bicycle", "object"},  {"airplane", "object"}, {"boat", "object"},
      {"train", "object"},   {"tree", "object"},     {"flower", "object"},  {"grass", "object"},
      {"apple", "object"},   {"orange", "object"},   {"banana", "object"},  {"lemon", "object"},
      {"lime", "object"},    {"chair", "object"},    {"table", "object"},   {"lamp", "object"},
      {"person", "object"},  {"house", "object"},    {"red-c", "color"},    {"green-c", "color"},
      {"blue-c", "color"},   {"yellow-c", "color"},  {"black-c", "color"},  {"white-c", "color"},
      {"orange-c", "color"}, {"wood", "material"},   {"metal", "material"}, {"glass", "material"},
      {"fabric", "material"}, {"paper", "material"}};
  return n;
}

// A group per concept: vectors of one group share a direction, so neighbours are meaningful.
int group_of(const std::string& name) {
  static const std::vector<std::vector<std::string>> groups = {
      {"dog", "cat", "horse", "cow", "sheep", "pig", "elephant"},
      {"bird", "duck", "fish"},
      {"car", "bus", "truck", "bicycle", "airplane", "boat", "train"},
      {"tree", "flower", "grass"},
      {"apple", "orange", "banana", "lemon", "lime"},
      {"chair", "table", "lamp", "house", "person"}};
  for (size_t g = 0; g < groups.size(); ++g)
    if (std::find(groups[g].begin(), groups[g].end(), name) != groups[g].end()) return static_cast<int>(g);
  return 6 + static_cast<int>(name.size() % 3);  // colours and materials
}

std::vector<float> vector_for(const std::string& name, int dim, std::mt19937& rng, uint32_t space_seed) {
  std::mt19937 group_rng(1000 + static_cast<uint32_t>(group_of(name)) * 7919 + space_seed);
  std::normal_distribution<float> normal;
  std::vector<float> w(dim);
  for (float& v : w) v = normal(group_rng);
  for (float& v : w) v = 0.8f * v + 0.6f * normal(rng);
  return w;
}


// Figure 8's predicted masks for the decile images, as ingest stores them (same picks,
// common/deciles.h), at the probe's 16 x 16 mask size: the learned mask a disk whose radius
// grows with the image's IoU, the single filter's a square in the top-left corner.
void add_decile_masks(EmbeddingRecord& e) {
  std::vector<float> learned, single;
  std::vector<int64_t> rows;
  for (const ImageIouRecord& i : e.image_iou) {
    learned.push_back(i.learned);
    single.push_back(i.single);
    rows.push_back(i.image_row);
  }
  constexpr int kSize = 16;
  for (size_t i : decile_images(learned, single, rows)) {
    PredictedMaskRecord m{e.image_iou[i].image_row, kSize, kSize, std::vector<uint8_t>(kSize * kSize / 8, 0),
                          std::vector<uint8_t>(kSize * kSize / 8, 0)};
    const float radius = 2.0f + 6.0f * e.image_iou[i].learned;
    const int side = 2 + static_cast<int>(10 * e.image_iou[i].single);
    for (int y = 0; y < kSize; ++y)
      for (int x = 0; x < kSize; ++x) {
        const int p = y * kSize + x;
        if ((y - 8) * (y - 8) + (x - 8) * (x - 8) <= radius * radius) m.learned[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
        if (y < side && x < side) m.single[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
      }
    e.predicted_masks.push_back(std::move(m));
  }
}

void add_space(IngestRecord& r, const std::string& network, const std::string& layer, Task task, int dim,
               uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  SpaceRecord space;
  space.id = space_id(network, layer, task);
  space.task = task;
  int number = 0;
  for (const Named& n : names()) {
    ++number;
    EmbeddingRecord e;
    e.concept_number = number;
    e.train_count = 20 + number;
    e.val_count = 8 + number % 5;
    e.weights = vector_for(n.name, dim, rng, seed);
    e.bias = -0.5f;
    e.best_filter = static_cast<int>(rng() % static_cast<uint32_t>(dim / 4));  // a few popular filters
    const float learned = 0.2f + 0.5f * unit(rng);
    const float single = learned * (0.3f + 0.5f * unit(rng));
    e.best_filter_train = single + 0.02f;
    e.best_filter_val = single;
    if (task == Task::kSegmentation) {
      e.alpha = 0.95f;
      e.set_iou_train = learned + 0.05f;
      e.set_iou_val = learned;
      for (int k = 0; k < dim; ++k) e.filter_iou_val.push_back(std::max(0.0f, single * unit(rng)));
      e.filter_iou_val[e.best_filter] = single;
      for (int i = 0; i < 20; ++i) e.image_iou.push_back({i + 1, std::min(1.0f, learned * 2 * unit(rng)), single * 2 * unit(rng)});
      add_decile_masks(e);
    } else {
      e.accuracy_train = 0.6f + 0.35f * unit(rng);
      e.accuracy_val = e.accuracy_train.value() - 0.05f;
    }
    // Intervals and p-values (schema version 7), from the scores (no draws: the values above
    // stay as they were); every seventh concept has none ("not computed", an older catalog).
    const float val = task == Task::kSegmentation ? learned : e.accuracy_val.value();
    if (number % 7 != 0) {
      e.score_val_stats = {val - 0.04f, val + 0.04f, number % 3 == 0 ? 0.25f : 1.0f / 1001, val * 0.3f};
      e.best_filter_val_stats = {single - 0.03f, single + 0.03f, number % 4 == 0 ? 0.5f : 1.0f / 1001, single * 0.3f};
    }
    for (int f : {1, 2, 4, 8, 16})
      if (f < dim) e.subsets.push_back({f, single + (learned - single) * (1.0f - std::exp(-f / 4.0f))});
    space.embeddings.push_back(std::move(e));
  }
  r.spaces.push_back(std::move(space));
}

// Each filter's top images as ingest stores them (sql/006_filter_top_images.sql), on the
// run's 4 x 4 activation maps: distinct rows per filter, decreasing maxima, and maps that
// differ from filter to filter and rank to rank (the browser test compares them bit by bit).
void add_top_images(IngestRecord& r, int per_filter) {
  RunRecord& run = r.run;
  run.top_images_per_filter = per_filter;
  const int rows = static_cast<int>(r.images.size());
  for (int f = 0; f < run.filter_count; ++f)
    for (int rank = 0; rank < per_filter; ++rank) {
      FilterTopImageRecord t{f, rank, (f * 7 + rank * 5) % rows, 6.0f - 0.75f * rank - 0.01f * f,
                             run.act_height, run.act_width, {}};
      t.map.assign((run.act_height * run.act_width + 7) / 8, 0);
      for (int p = 0; p < run.act_height * run.act_width; ++p)
        if ((p % run.act_width + p / run.act_width + f + rank) % 3 == 0 || p == (f + rank) % 16)
          t.map[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
      run.top_images.push_back(std::move(t));
    }
}

IngestRecord ingest(const std::string& network, const std::string& layer, int dim) {
  IngestRecord r = minimal_ingest_record(network, layer, dim);
  r.probe.name = "service-probe";
  r.probe.path = "/service/probe";
  r.probe.image_count = 21;
  r.probe.mask_height = r.probe.mask_width = 16;
  r.probe.categories = {"color", "object", "material"};
  int number = 0;
  for (const Named& n : names()) {
    ConceptRecord c;
    c.number = ++number;
    c.name = n.name;
    c.category = n.category;
    c.categories = std::string(n.category) + "(1)";
    r.concepts.push_back(c);
  }
  r.images.push_back({0, "images/train0.jpg", "train"});
  for (int i = 1; i <= 20; ++i) r.images.push_back({i, "images/val" + std::to_string(i) + ".jpg", "val"});
  r.run.model_path = "/service/" + network + ".pt";
  r.run.images_used = 21;
  r.run.act_height = r.run.act_width = 4;
  // As ingest records them (params_json in src/ingest/ingest.cpp, Preprocessing::to_json), so
  // /api/spaces has a run's training settings and input size to show.
  r.run.params_json = R"({"tau":0.005,"segmentation":{"epochs":3,"batch_size":64,"lr":0.0001,"subsets":[1,2,4,8,16]},)"
                      R"("classification":{"epochs":10,"batch_size":64,"lr":0.001,"subsets":[1,2,4,8,16]}})";
  r.run.preprocessing_json = R"({"height":224,"width":224,"channel_order":"RGB","scale":255})";
  return r;
}

}  // namespace

void write_service_catalog(Catalog& catalog, const std::string& wordnet_dir) {
  IngestRecord toy = ingest("toynet", "conv", 64);
  add_space(toy, "toynet", "conv", Task::kSegmentation, 64, 11);
  add_space(toy, "toynet", "conv", Task::kClassification, 64, 12);
  add_top_images(toy, 3);
  catalog.write_ingest(toy);
  IngestRecord other = ingest("othernet", "fc", 32);
  add_space(other, "othernet", "fc", Task::kSegmentation, 32, 13);
  add_top_images(other, 2);
  catalog.write_ingest(other);
  if (!wordnet_dir.empty()) import_wordnet(catalog, wordnet_dir, NET2VEC_SOURCE_DIR "/data/wordnet_overrides.tsv");
}

void write_many_spaces(Catalog& catalog, int total, const std::string& wordnet_dir) {
  write_service_catalog(catalog, wordnet_dir);
  const int have = static_cast<int>(catalog.spaces().size());
  const int concepts = static_cast<int>(names().size());
  for (int k = 1; k <= total - have; ++k) {
    char network[16];
    std::snprintf(network, sizeof network, "net%02d", k);
    IngestRecord r = ingest(network, "block", 16);
    add_space(r, network, "block", Task::kSegmentation, 16, 100 + k);
    std::vector<EmbeddingRecord>& e = r.spaces.back().embeddings;
    // Every third space lacks one concept, and the first has a zero vector: compare must name
    // both kinds of concept it leaves out.
    if (k % 3 == 0) e.erase(e.begin() + (k / 3) % concepts);
    if (k == 1) std::fill(e[1].weights.begin(), e[1].weights.end(), 0.0f);
    catalog.write_ingest(r);
  }
}

}  // namespace n2v::test
