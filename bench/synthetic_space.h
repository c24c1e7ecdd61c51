#pragma once
// The benchmarks' synthetic spaces (query_bench.cpp, scale_bench.cpp): one ingest record with
// one segmentation space `network.layer.seg` of `count` concepts ("concept1", ..., categories
// cycling over six) with seeded Gaussian weights of `dim` filters.

#include <random>
#include <string>

#include "catalog/catalog.h"

namespace n2v::bench {

inline std::string concept_name(int i) { return "concept" + std::to_string(i); }

inline IngestRecord synthetic_ingest(const std::string& network, const std::string& layer, int count, int dim,
                                     uint32_t seed) {
  static const char* const kCategories[] = {"object", "part", "material", "scene", "texture", "color"};
  IngestRecord r;
  r.probe.name = "bench";
  r.probe.path = "/bench/probe";
  r.probe.image_count = 1;
  r.probe.categories = {kCategories, kCategories + 6};
  for (int i = 1; i <= count; ++i) {
    ConceptRecord c;
    c.number = i;
    c.name = concept_name(i);
    c.category = kCategories[i % 6];
    r.concepts.push_back(c);
  }
  RunRecord& run = r.run;
  run.network = network;
  run.model_path = "/bench/" + network;
  run.layer = layer;
  run.device = "cpu";
  run.software_version = "bench";
  run.started_at = run.finished_at = "2026-01-01T00:00:00Z";
  run.filter_count = dim;
  run.thresholds.assign(dim, 1.0f);
  SpaceRecord space;
  space.id = space_id(network, layer, Task::kSegmentation);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  for (int i = 1; i <= count; ++i) {
    EmbeddingRecord e;
    e.concept_number = i;
    e.weights.resize(dim);
    for (float& w : e.weights) w = normal(rng);
    e.best_filter = static_cast<int>(rng() % dim);
    space.embeddings.push_back(std::move(e));
  }
  r.spaces.push_back(std::move(space));
  return r;
}

}  // namespace n2v::bench
