#pragma once
// The probe folder of the service catalog's probe set (service_catalog.h), for the probe
// browser's tests: its 42 concepts with the catalog's numbers, rows 0..20 at the paths the
// catalog stores (images/train0.jpg, images/val1.jpg ... val20.jpg) and 30 more train rows
// (images/train1.jpg ... train30.jpg), 32x32 JPEGs with 16x16 masks:
//   object: dog (1) on every even row, cat (2) on rows divisible by 3, car (11) by 5;
//   color: red-c (31) on odd rows, blue-c (33) on rows divisible by 4;
//   material: wood (38) on rows r % 3 == 1.
// So dog is in 16 train rows (0, 22, 24, ..., 50) and 10 val rows (2, 4, ..., 20).
// `dir` must end in "service-probe": the catalog stores no content hash, so `serve --probe`
// matches the folder by its name.

#include <string>

#include "catalog/catalog.h"

namespace n2v::test {

void write_service_probe(const Catalog& catalog, const std::string& dir);

}  // namespace n2v::test
