#include "support/records.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace n2v::test {
namespace {

// A float in [-1, 1) from a hash of the arguments (splitmix64).
float value(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull + b * 0xBF58476D1CE4E5B9ull + c * 0x94D049BB133111EBull;
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<float>(static_cast<double>(x >> 40) / static_cast<double>(1ull << 23)) - 1.0f;
}

void mix(uint64_t& h, uint64_t v) {
  h ^= v;
  h *= 0x100000001B3ull;  // FNV-1a step
}

uint64_t hash_vector(uint64_t h, int number, const std::vector<float>& weights) {
  mix(h, static_cast<uint64_t>(number));
  for (float w : weights) {
    uint32_t bits;
    std::memcpy(&bits, &w, 4);
    mix(h, bits);
  }
  return h;
}

}  // namespace

IngestRecord make_record(const RecordShape& shape) {
  const uint32_t s = shape.seed;
  IngestRecord r;
  r.probe.name = "broden_test";
  r.probe.path = shape.probe_path;
  r.probe.image_count = shape.images * 2;
  r.probe.mask_height = 112;
  r.probe.mask_width = 112;
  r.probe.categories = {"color", "object", "part"};
  for (int n = 1; n <= shape.concepts; ++n) {
    ConceptRecord c;
    c.number = n;
    c.name = "c" + std::to_string(n);
    c.category = n % 2 ? "object" : "part";
    c.categories = c.category + "(" + std::to_string(n) + ")";
    c.frequency = 10 * n;
    c.coverage = 0.25 * n;
    c.syns = "syn" + std::to_string(n);
    r.concepts.push_back(c);
  }
  for (int i = 0; i < shape.images; ++i)
    r.images.push_back({2 * i + 1, "images/val_" + std::to_string(i) + ".jpg", "val"});
  r.images.push_back({0, "images/train_0.jpg", "train"});

  RunRecord& run = r.run;
  run.network = shape.network;
  run.model_path = "/models/" + shape.network + ".pt";
  run.layer = shape.layer;
  run.device = "cpu";
  run.software_version = "0.1.0";
  run.seed = 1000 + s;
  run.tau = 0.005;
  run.params_json = R"({"epochs":30,"lr":0.0001,"seed":)" + std::to_string(1000 + s) + "}";
  run.preprocessing_json = R"({"mean":[0.485,0.456,0.406],"size":227})";
  run.timings_json = R"({"activations":1.5,"training":2.25})";
  run.started_at = "2026-01-02T03:04:05Z";
  run.finished_at = "2026-01-02T03:14:05Z";
  run.images_used = shape.images * 2;
  run.images_skipped = 1;
  run.filter_count = shape.filters;
  run.act_height = 13;
  run.act_width = 13;
  for (int k = 0; k < shape.filters; ++k) run.thresholds.push_back(value(s, 7, k) + 2.0f);

  for (Task task : {Task::kSegmentation, Task::kClassification}) {
    const bool seg = task == Task::kSegmentation;
    if (seg ? !shape.segmentation : !shape.classification) continue;
    SpaceRecord space;
    space.id = space_id(shape.network, shape.layer, task);
    space.task = task;
    for (int n = shape.first_embedded; n < shape.first_embedded + shape.embedded; ++n) {
      const uint64_t key = static_cast<uint64_t>(n) * 2 + (seg ? 0 : 1);
      EmbeddingRecord e;
      e.concept_number = n;
      e.train_count = 20 + n;
      e.val_count = 5 + n;
      for (int k = 0; k < shape.filters; ++k) e.weights.push_back(value(s, key, k));
      e.bias = value(s, key, 10001);
      e.alpha = seg ? 0.5f + value(s, key, 10002) / 4 : 0.0f;
      const float train = 0.5f + value(s, key, 10003) / 4, val = 0.4f + value(s, key, 10004) / 4;
      if (seg) {
        e.set_iou_train = train;
        e.set_iou_val = val;
        for (int k = 0; k < shape.filters; ++k) e.filter_iou_val.push_back(value(s, key, 40000 + k) / 2);
      } else {
        e.accuracy_train = train;
        e.accuracy_val = val;
      }
      e.best_filter = n % shape.filters;
      e.best_filter_train = 0.3f + value(s, key, 10005) / 4;
      if (n % 3 != 0) e.best_filter_val = 0.2f + value(s, key, 10006) / 4;  // some NULLs
      for (int f = 0, size = 1; f < shape.subsets; ++f, size *= 2)
        e.subsets.push_back({size, 0.1f + value(s, key, 20000 + f) / 8});
      if (seg)
        for (int i = shape.images - 1; i >= 0; --i)  // unsorted on purpose
          e.image_iou.push_back({2 * i + 1, 0.5f + value(s, key, 30000 + i) / 2,
                                 0.25f + value(s, key, 40000 + i) / 4});
      space.embeddings.push_back(std::move(e));
    }
    r.spaces.push_back(std::move(space));
  }
  if (shape.classification_first) std::reverse(r.spaces.begin(), r.spaces.end());
  return r;
}

RecordShape crash_shape(long version) {
  const bool odd = version % 2 != 0;
  RecordShape shape;
  shape.network = "crash";
  shape.concepts = 400;
  shape.embedded = odd ? 350 : 250;
  shape.first_embedded = odd ? 40 : 1;
  shape.filters = 256;
  shape.images = 150;
  shape.subsets = 8;
  shape.seed = static_cast<uint32_t>(100 + version);
  // The light space first: a write that committed space by space would show a mix during
  // most of its time (the segmentation space, with its image IoUs, is the heavy part).
  shape.classification_first = true;
  return shape;
}

uint64_t checksum(const std::vector<ConceptVector>& vectors) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (const ConceptVector& v : vectors) h = hash_vector(h, v.concept_number, v.weights);
  return h;
}

uint64_t checksum(const SpaceRecord& space) {
  std::map<int, const std::vector<float>*> by_number;
  for (const EmbeddingRecord& e : space.embeddings) by_number[e.concept_number] = &e.weights;
  uint64_t h = 0xCBF29CE484222325ull;
  for (const auto& [number, weights] : by_number) h = hash_vector(h, number, *weights);
  return h;
}

}  // namespace n2v::test
