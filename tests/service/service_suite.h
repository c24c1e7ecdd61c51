#pragma once
// A test-suite fixture over the service catalog (service_catalog.h, without WordNet): one
// catalog file written before the suite's first test and removed after its last. Derive a
// fixture from it and read catalog().

#include <gtest/gtest.h>

#include <memory>

#include "catalog/catalog.h"
#include "service_catalog.h"
#include "support/temp_dir.h"

namespace n2v::test {

class ServiceCatalogSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir() = std::make_unique<TempDir>();
    catalog_ptr() = std::make_unique<Catalog>(Catalog::open(dir()->file("catalog.db")));
    write_service_catalog(*catalog_ptr(), "");
  }
  static void TearDownTestSuite() {
    catalog_ptr().reset();
    dir().reset();
  }
  static Catalog& catalog() { return *catalog_ptr(); }

 private:
  // Function-local statics: one per fixture class deriving from it would need a template;
  // suites run one after another, so one slot serves them all.
  static std::unique_ptr<TempDir>& dir() {
    static std::unique_ptr<TempDir> d;
    return d;
  }
  static std::unique_ptr<Catalog>& catalog_ptr() {
    static std::unique_ptr<Catalog> c;
    return c;
  }
};

}  // namespace n2v::test
