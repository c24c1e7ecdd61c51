#pragma once
// Ingest records for tests. make_record: deterministic records for the catalog tests and the
// crash writer, every value a function of (shape, seed), so a test can recompute what a write
// must have stored. minimal_ingest_record: the smallest record a test that needs a catalog
// builds on.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"

namespace n2v::test {

// The smallest ingest record of a network run (header-only: tools and fixtures that do not link
// the rest of this file use it too): the probe set "probe" at "/probe" (category "object") with
// these concepts; a run of `network` at `layer` with `dim` filters, each at threshold 0.5, over
// 1 x 1 activations, on the cpu, from "/models/<network>.pt", software "test", started and
// finished at 2026-01-01T00:00:00Z; no images and no spaces. Tests set what they need on top.
inline IngestRecord minimal_ingest_record(const std::string& network, const std::string& layer, int dim,
                                          std::vector<ConceptRecord> concepts = {}) {
  IngestRecord r;
  r.probe.name = "probe";
  r.probe.path = "/probe";
  r.probe.categories = {"object"};
  r.concepts = std::move(concepts);
  RunRecord& run = r.run;
  run.network = network;
  run.model_path = "/models/" + network + ".pt";
  run.layer = layer;
  run.device = "cpu";
  run.software_version = "test";
  run.started_at = run.finished_at = "2026-01-01T00:00:00Z";
  run.filter_count = dim;
  run.act_height = run.act_width = 1;
  run.thresholds.assign(dim, 0.5f);
  return r;
}

struct RecordShape {
  std::string probe_path = "/data/broden_test";
  std::string network = "net";
  std::string layer = "conv5";
  int concepts = 8;        // record.concepts: numbers 1..concepts
  int first_embedded = 1;  // embeddings for numbers first_embedded .. + embedded - 1
  int embedded = 5;
  int filters = 16;  // K
  int images = 6;    // val images; each seg embedding has an IoU for every one
  int subsets = 3;   // F sweep: 1, 2, 4, ...
  bool segmentation = true, classification = true;  // which spaces
  bool classification_first = false;                // order of record.spaces
  uint32_t seed = 1;                                // changes every stored number
};

IngestRecord make_record(const RecordShape& shape);

// What the crash test's write number `version` writes: each version has its own values,
// odd and even ones different concept counts; big enough that a write takes a good
// fraction of a second.
RecordShape crash_shape(long version);

// Order-sensitive hash of (concept number, weight bits): equal iff bit-identical vectors.
uint64_t checksum(const std::vector<ConceptVector>& vectors);
// The same hash of what a space record must read back as.
uint64_t checksum(const SpaceRecord& space);

}  // namespace n2v::test
