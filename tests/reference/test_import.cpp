// Imports into a real catalog file: import_wordnet / import_word_vectors, the catalog's
// reference-space API (write_reference_space, concept_names) and the v1 -> v2 migration.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>

#include "catalog/raw_sql.h"
#include "reference/reference.h"
#include "reference/detail/word_vectors.h"
#include "reference/detail/wordnet.h"
#include "support/expect.h"
#include "support/records.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::expect_error;
using test::RawDb;

const std::string kFixture = std::string(NET2VEC_SOURCE_DIR) + "/data/fixtures/wordnet";

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A probe set with the given (number, name) concepts and one network space "net.conv5.seg"
// (2 filters) holding an embedding for the first concept.
IngestRecord tiny_record(const std::string& probe_path,
                         const std::vector<std::pair<int, std::string>>& concepts) {
  IngestRecord r = test::minimal_ingest_record("net", "conv5", 2);
  r.probe = {"probe", probe_path, 1, 8, 8, {"object"}};
  for (const auto& [number, name] : concepts)
    r.concepts.push_back({number, name, "object", "object(1)", 1, 0.5, ""});
  SpaceRecord space{space_id("net", "conv5", Task::kSegmentation), Task::kSegmentation, {}};
  EmbeddingRecord e;
  e.concept_number = concepts.front().first;
  e.weights = {1.0f, -2.0f};
  space.embeddings.push_back(e);
  r.spaces.push_back(space);
  return r;
}

double norm2(const std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  return sum;
}

std::map<std::string, ConceptVector> by_name(const std::vector<ConceptVector>& rows) {
  std::map<std::string, ConceptVector> result;
  for (const ConceptVector& v : rows) EXPECT_TRUE(result.emplace(v.name, v).second) << v.name;
  return result;
}

class ReferenceImport : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("catalog.db");
    Catalog catalog = Catalog::open(path_);
    // Probe set A first, so its "dog" (number 1) has the lowest concept id of that name.
    catalog.write_ingest(tiny_record(
        "/probes/a",
        {{1, "dog"}, {2, "heron"}, {3, "blue-c"}, {4, "traffic light"}, {5, "unicorn"}}));
    catalog.write_ingest(tiny_record("/probes/b", {{7, "dog"}, {8, "mice"}}));
    overrides_ = dir_.file("overrides.tsv");
    write_text(overrides_, "# test overrides\nheron\t00001892\theron\tthe bird\n");
  }
  Catalog open() { return Catalog::open(path_); }

  test::TempDir dir_;
  std::string path_, overrides_;
};

TEST_F(ReferenceImport, ConceptNamesAreDistinctAndSorted) {
  EXPECT_EQ(open().concept_names(), (std::vector<std::string>{"blue-c", "dog", "heron", "mice",
                                                              "traffic light", "unicorn"}));
}

TEST_F(ReferenceImport, WordNetSpace) {
  Catalog catalog = open();
  const std::vector<ConceptVector> network_before = catalog.vectors("net.conv5.seg");
  const ReferenceImportReport report = import_wordnet(catalog, kFixture, overrides_);
  EXPECT_EQ(report.space_id, "wordnet");
  EXPECT_EQ(report.mapped, 5);
  EXPECT_EQ(report.unmapped, (std::vector<std::string>{"unicorn"}));
  // dog 8 + heron, bird + blue, chromatic_color, color, abstraction + traffic_light + mouse.
  EXPECT_EQ(report.dim, 16);

  const std::optional<SpaceInfo> info = catalog.space("wordnet");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->kind, SpaceKind::kReference);
  EXPECT_EQ(info->network, "wordnet");
  EXPECT_EQ(info->layer, "");
  EXPECT_EQ(info->run_id, 0);
  EXPECT_EQ(info->dim, 16);
  EXPECT_EQ(info->concept_count, 5);
  EXPECT_NE(info->source.find(kFixture), std::string::npos) << info->source;
  EXPECT_NE(info->source.find(overrides_), std::string::npos) << info->source;
  EXPECT_EQ(catalog.space("net.conv5.seg")->source, "");

  // One row per distinct name, unit vectors equal to wordnet_vectors' (bit-exact).
  const auto rows = by_name(catalog.vectors("wordnet"));
  ASSERT_EQ(rows.size(), 5u);
  const WordNet wn = WordNet::load(kFixture);
  const auto mapped = map_concepts_to_synsets(
      wn, {"blue-c", "dog", "heron", "mice", "traffic light"}, read_synset_overrides(overrides_));
  for (const auto& [name, vector] : wordnet_vectors(wn, mapped)) {
    ASSERT_EQ(rows.count(name), 1u) << name;
    EXPECT_EQ(rows.at(name).weights, vector) << name;
    EXPECT_NEAR(norm2(rows.at(name).weights), 1.0, 1e-6) << name;
  }
  EXPECT_EQ(rows.at("dog").concept_number, 1);  // probe set A's dog: the lowest concept id
  EXPECT_EQ(rows.at("mice").concept_number, 8);
  // heron is the bird (override): it shares animal, organism, object, physical_entity, entity.
  double dog_heron = 0;
  for (int d = 0; d < 16; ++d) dog_heron += rows.at("dog").weights[d] * rows.at("heron").weights[d];
  EXPECT_NEAR(dog_heron, 5 / std::sqrt(56.0), 1e-6);

  // The network space is untouched; the file says task NULL, kind reference.
  EXPECT_EQ(catalog.vectors("net.conv5.seg").size(), network_before.size());
  EXPECT_EQ(catalog.vectors("net.conv5.seg")[0].weights, network_before[0].weights);
  RawDb db(path_);
  EXPECT_EQ(db.rows("SELECT id, network, layer, task, dim, concept_count, kind FROM space_summary"
                    " WHERE id = 'wordnet'"),
            (std::vector<std::vector<std::string>>{
                {"wordnet", "wordnet", "", "NULL", "16", "5", "reference"}}));
  EXPECT_EQ(db.value("SELECT count(*) FROM embedding WHERE space_id = 'wordnet' AND"
                     " best_filter = -1 AND set_iou_val IS NULL AND bias = 0"),
            "5");
}

TEST_F(ReferenceImport, ReplacingTheWordNetSpace) {
  Catalog catalog = open();
  import_wordnet(catalog, kFixture, overrides_);
  const auto with_override = by_name(catalog.vectors("wordnet"));
  const long long embeddings_before = RawDb(path_).count("embedding");

  // Without the table, heron is Hero of Alexandria: another vector, same concepts.
  const ReferenceImportReport report = import_wordnet(catalog, kFixture, "");
  EXPECT_EQ(report.mapped, 5);
  EXPECT_EQ(report.dim, 18);  // + Hero, inventor, mathematician, person; - heron, bird
  const auto rows = by_name(catalog.vectors("wordnet"));
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(catalog.space("wordnet")->dim, 18);
  EXPECT_EQ(rows.at("heron").weights.size(), 18u);
  for (const auto& [name, v] : rows) EXPECT_NEAR(norm2(v.weights), 1.0, 1e-6) << name;
  EXPECT_NE(with_override.at("heron").weights.size(), rows.at("heron").weights.size());
  // The old rows went with the old space (cascade), nothing else changed.
  EXPECT_EQ(RawDb(path_).count("embedding"), embeddings_before);
  EXPECT_EQ(catalog.spaces().size(), 2u);

  // Re-ingesting a probe set keeps concept ids, so the reference rows stay attached.
  catalog.write_ingest(
      tiny_record("/probes/a",
                  {{1, "dog"}, {2, "heron"}, {3, "blue-c"}, {4, "traffic light"}, {5, "unicorn"}}));
  EXPECT_EQ(catalog.vectors("wordnet").size(), 5u);
}

TEST_F(ReferenceImport, WordVectorSpaces) {
  Catalog catalog = open();
  const std::string glove = dir_.file("glove.txt");
  write_text(glove,
             "the 0.1 0.2 0.3\n"
             "dog 1 2 3\n"
             "heron -1 0.5 2\n"
             "blue 0.25 0.25 -4\n"
             "traffic 1 1 1\n"
             "light 2 4 6\n"
             "mouse 9 9 9\n");
  ReferenceImportReport report =
      import_word_vectors(catalog, "glove-test", glove, WordVectorFormat::kAuto);
  EXPECT_EQ(report.space_id, "glove-test");
  EXPECT_EQ(report.dim, 3);
  EXPECT_EQ(report.mapped, 4);
  EXPECT_EQ(report.unmapped, (std::vector<std::string>{"mice", "unicorn"}));
  auto rows = by_name(catalog.vectors("glove-test"));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows.at("dog").weights, (std::vector<float>{1, 2, 3}));  // as stored, not normalised
  EXPECT_EQ(rows.at("blue-c").weights, (std::vector<float>{0.25f, 0.25f, -4}));
  EXPECT_EQ(rows.at("traffic light").weights, (std::vector<float>{1.5f, 2.5f, 3.5f}));
  const SpaceInfo info = *catalog.space("glove-test");
  EXPECT_EQ(info.kind, SpaceKind::kReference);
  EXPECT_NE(info.source.find("GloVe text"), std::string::npos) << info.source;
  EXPECT_NE(info.source.find("7 words"), std::string::npos) << info.source;

  // The same vectors as word2vec binary, under another name: both spaces exist.
  WordVectors w2v;
  w2v.dim = 3;
  const float dog[] = {1, 2, 3}, mice[] = {0, 1, 0};
  w2v.add("dog", dog);
  w2v.add("mice", mice);
  const std::string bin = dir_.file("vectors.bin");
  write_word2vec_binary(bin, w2v);
  report = import_word_vectors(catalog, "w2v-test", bin, WordVectorFormat::kWord2VecBinary);
  EXPECT_EQ(report.mapped, 2);
  EXPECT_EQ(by_name(catalog.vectors("w2v-test")).at("mice").weights, (std::vector<float>{0, 1, 0}));
  EXPECT_NE(catalog.space("w2v-test")->source.find("word2vec binary"), std::string::npos);

  // Replacing with fewer words drops the concepts that lost their vector.
  write_text(glove, "dog 3 2 1\nblue 1 1 1\n");
  report = import_word_vectors(catalog, "glove-test", glove, WordVectorFormat::kText);
  EXPECT_EQ(report.mapped, 2);
  rows = by_name(catalog.vectors("glove-test"));
  EXPECT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.at("dog").weights, (std::vector<float>{3, 2, 1}));
  EXPECT_EQ(catalog.space("glove-test")->concept_count, 2);
  EXPECT_EQ(catalog.vectors("w2v-test").size(), 2u);  // the other space is untouched

  // A damaged file changes nothing.
  write_text(glove, "dog 3 2 1\nblue 0 0 0\n");
  expect_error([&] { import_word_vectors(catalog, "glove-test", glove, WordVectorFormat::kAuto); },
               ErrorCode::kCorrupt, {glove + ":2", "all-zero"});
  EXPECT_EQ(catalog.vectors("glove-test").size(), 2u);
  // A bad space name is refused before the file is read.
  expect_error(
      [&] { import_word_vectors(catalog, "glove.100d", "/nowhere", WordVectorFormat::kAuto); },
      ErrorCode::kInvalidArgument, {"glove.100d"});
}

TEST_F(ReferenceImport, WriteReferenceSpaceValidates) {
  Catalog catalog = open();
  catalog.write_reference_space("ref", "by hand", 2, {{"dog", {1, 0}}, {"heron", {0, 1}}});
  auto unchanged = [&] {
    EXPECT_EQ(catalog.spaces().size(), 2u);
    const auto rows = by_name(catalog.vectors("ref"));
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows.at("dog").weights, (std::vector<float>{1, 0}));
  };
  unchanged();
  EXPECT_EQ(catalog.space("ref")->source, "by hand");
  using V = std::vector<std::pair<std::string, std::vector<float>>>;
  auto fails = [&](const std::string& id, int dim, const V& rows,
                   std::initializer_list<std::string> pieces) {
    expect_error([&] { catalog.write_reference_space(id, "x", dim, rows); },
                 ErrorCode::kInvalidArgument, pieces);
    unchanged();
  };
  fails("ref", 2, {{"dog", {1, 0}}, {"pegasus", {0, 1}}}, {"no concept named 'pegasus'"});
  fails("ref", 2, {{"dog", {1, 0, 0}}}, {"'dog'", "3 values", "dimension 2"});
  fails("ref", 2, {{"dog", {1, NAN}}}, {"'dog'", "value 1"});
  fails("ref", 2, {{"dog", {1, 0}}, {"dog", {0, 1}}}, {"'dog'", "twice"});
  fails("ref", 0, {}, {"dimension must be positive"});
  fails("net.conv5.seg", 2, {{"dog", {1, 0}}}, {"net.conv5.seg"});
  fails("", 2, {{"dog", {1, 0}}}, {"reference space id"});
  fails("a b", 2, {{"dog", {1, 0}}}, {"'a b'"});

  // Network spaces keep their task; the reference space has none (SpaceInfo default).
  for (const SpaceInfo& s : catalog.spaces()) {
    if (s.kind == SpaceKind::kNetwork) EXPECT_EQ(s.task, Task::kSegmentation);
    if (s.id == "ref") EXPECT_EQ(s.run_id, 0);
  }
  Catalog read_only = Catalog::open(path_, Catalog::Mode::kReadOnly);
  expect_error(
      [&] {
        read_only.write_reference_space("ref", "x", 2, {{"dog", {1, 0}}});
      },
      ErrorCode::kInvalidArgument, {"read-only"});
  EXPECT_EQ(read_only.vectors("ref").size(), 2u);
}

TEST(ReferenceImportErrors, EmptyOrUnmappableCatalog) {
  test::TempDir dir;
  Catalog catalog = Catalog::open(dir.file("catalog.db"));
  expect_error([&] { import_wordnet(catalog, kFixture, ""); }, ErrorCode::kNotFound,
               {"no concepts", "ingest a probe set"});
  catalog.write_ingest(tiny_record("/p", {{1, "pegasus"}, {2, "griffin"}}));
  expect_error([&] { import_wordnet(catalog, kFixture, ""); }, ErrorCode::kNotFound,
               {"no catalog concept", "griffin", "pegasus"});
  const std::string glove = dir.file("glove.txt");
  write_text(glove, "dog 1 2\n");
  expect_error([&] { import_word_vectors(catalog, "glove", glove, WordVectorFormat::kAuto); },
               ErrorCode::kNotFound, {"no catalog concept has a vector", glove});
  EXPECT_EQ(catalog.spaces().size(), 1u);  // only the network space
  expect_error([&] { import_wordnet(catalog, dir.file("nowhere"), ""); }, ErrorCode::kNotFound,
               {"nowhere"});
}

TEST(ReferenceMigration, VersionOneCatalogKeepsItsSpaces) {
  // A catalog written by schema version 1 (sql/001_init.sql applied by hand) with one network
  // space: opening migrates it to version 2 without losing or detaching anything.
  test::TempDir dir;
  const std::string path = dir.file("v1.db");
  std::ifstream in(std::string(NET2VEC_SOURCE_DIR) + "/sql/001_init.sql");
  const std::string v1((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(v1.empty());
  {
    RawDb db(path, false);
    db.exec("BEGIN");
    db.exec(v1);
    db.exec(
        "INSERT INTO probe_set(id, name, path, image_count, mask_height, mask_width)"
        "  VALUES (1, 'p', '/p', 1, 8, 8);"
        "INSERT INTO concept(id, probe_set_id, number, name, category)"
        "  VALUES (1, 1, 1, 'dog', 'object'), (2, 1, 2, 'heron', 'object');"
        "INSERT INTO network(id, name, model_path) VALUES (1, 'net', '/m');"
        "INSERT INTO run(id, network_id, probe_set_id, model_path, layer, device,"
        "  software_version, seed, tau, started_at, finished_at, images_used, images_skipped,"
        "  filter_count, act_height, act_width)"
        "  VALUES (1, 1, 1, '/m', 'conv5', 'cpu', '0', 0, 0.005, 't', 't', 1, 0, 2, 1, 1);"
        "INSERT INTO threshold VALUES (1, 0, 0.5), (1, 1, 0.5);"
        "INSERT INTO space(id, network, layer, task, kind, run_id, dim, created_at)"
        "  VALUES ('net.conv5.seg', 'net', 'conv5', 'segmentation', 'network', 1, 2, 'then');"
        "INSERT INTO embedding(space_id, concept_id, vector, bias, alpha, train_count,"
        "  val_count, best_filter) VALUES ('net.conv5.seg', 1, X'0000803F000000C0', 0.5, 0.25,"
        "  3, 4, 1);"
        "PRAGMA user_version = 1;");
    db.exec("COMMIT");
  }
  {
    Catalog catalog = Catalog::open(path);
    EXPECT_EQ(catalog.schema_version(), Catalog::latest_schema_version());
    const std::vector<SpaceInfo> spaces = catalog.spaces();
    ASSERT_EQ(spaces.size(), 1u);
    EXPECT_EQ(spaces[0].kind, SpaceKind::kNetwork);
    EXPECT_EQ(spaces[0].task, Task::kSegmentation);
    EXPECT_EQ(spaces[0].run_id, 1);
    EXPECT_EQ(spaces[0].created_at, "then");
    EXPECT_EQ(spaces[0].concept_count, 1);
    EXPECT_EQ(catalog.vectors("net.conv5.seg")[0].weights, (std::vector<float>{1, -2}));
    EXPECT_EQ(catalog.embedding("net.conv5.seg", "dog")->bias, 0.5f);
    EXPECT_TRUE(catalog.embedding("net.conv5.seg", "dog")->filter_iou_val.empty());  // v3: NULL

    import_wordnet(catalog, kFixture, "");
    import_wordnet(catalog, kFixture, "");  // replacing cascades through the new table
    EXPECT_EQ(catalog.vectors("wordnet").size(), 2u);
  }
  RawDb db(path);
  EXPECT_EQ(db.value("PRAGMA user_version"), std::to_string(Catalog::latest_schema_version()));
  EXPECT_TRUE(db.rows("PRAGMA foreign_key_check").empty());
  EXPECT_EQ(db.value("SELECT count(*) FROM embedding"), "3");
  EXPECT_NE(db.value("SELECT sql FROM sqlite_schema WHERE name = 'embedding'")
                .find("REFERENCES space(id) ON DELETE CASCADE"),
            std::string::npos);
  EXPECT_EQ(db.value("SELECT count(*) FROM sqlite_schema WHERE name = 'space_by_run'"), "1");
  // The rule the migration adds: a task exactly for network spaces.
  RawDb writer(path, false);
  EXPECT_THROW(writer.exec("INSERT INTO space(id, network, layer, task, kind, dim)"
                           " VALUES ('x', 'x', '', 'segmentation', 'reference', 2)"),
               std::runtime_error);
  EXPECT_THROW(writer.exec("INSERT INTO space(id, network, layer, task, kind, run_id, dim)"
                           " VALUES ('n.l.seg', 'n', 'l', NULL, 'network', 1, 2)"),
               std::runtime_error);
}

}  // namespace
}  // namespace n2v
