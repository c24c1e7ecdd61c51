#pragma once
// Deterministic ingest records for the catalog tests and the crash writer: every value is
// a function of (shape, seed), so a test can recompute what a write must have stored.

#include <cstdint>
#include <string>
#include <vector>

#include "catalog/catalog.h"

namespace n2v::test {

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
