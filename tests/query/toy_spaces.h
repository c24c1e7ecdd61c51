#pragma once
// Small hand-made concept spaces written into a real catalog, for the query and CLI tests.
// Every vector and score is given explicitly so tests can state the expected results.

#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"

namespace n2v::test {

struct ToyConcept {
  std::string name, category;
  std::vector<float> w;
  // Optional scores (defaults: a plausible segmentation record).
  int best_filter = 0;
  std::optional<float> best_filter_val;
  std::optional<float> learned_val;  // set IoU (seg) or accuracy (cls) on val
  std::vector<SubsetScore> subsets;
  std::vector<ImageIouRecord> image_iou;  // rows 1..3 are the toy probe set's val images
};

// Writes one ingest: network `network`, layer `layer`, one space of `task` holding `concepts`
// (all of dimension dim). Concept numbers come from a fixed table of names shared by every
// toy space (so one name is one concept of the toy probe set). Returns the space id.
std::string write_toy_space(Catalog& catalog, const std::string& network, const std::string& layer,
                            const std::vector<ToyConcept>& concepts, Task task = Task::kSegmentation);

// The label number a toy name gets.
int toy_number(const std::string& name);

}  // namespace n2v::test
