#pragma once
// A catalog for the service, API and browser tests: 42 concepts with real names (dog, car,
// lime, red-c, wood, ...) in three network spaces -- toynet.conv.seg, toynet.conv.cls
// (64 filters) and othernet.fc.seg (32 filters) -- whose vectors cluster by kind of thing
// (animals, vehicles, fruit, ...), every score the ingest stores (F sweep, single-filter
// IoUs, per-image IoU, top images per filter: 3 a filter in toynet, 2 in othernet), and a
// `wordnet` reference space from the real WordNet. Seeded:
// the same content on every run except the creation times.

#include <string>

#include "catalog/catalog.h"

namespace n2v::test {

// wordnet_dir "" skips the WordNet space.
void write_service_catalog(Catalog& catalog, const std::string& wordnet_dir = "/usr/share/wordnet");

// The service catalog plus segmentation spaces net01.block.seg, net02.block.seg, ... (16
// filters) up to `total` spaces, for pages and comparisons at scale: every third of them lacks
// one concept, and net01's second concept is a zero vector.
void write_many_spaces(Catalog& catalog, int total, const std::string& wordnet_dir = "/usr/share/wordnet");

}  // namespace n2v::test
