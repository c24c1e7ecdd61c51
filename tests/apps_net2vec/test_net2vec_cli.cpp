// The real `net2vec` binary on a real catalog file: --json output parsed back and checked
// against hand-computed values (the toy spaces of tests/query), exports (.npy header and
// values, TSV rows), exit codes and messages, --help.

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "catalog/catalog.h"
#include "support/broden_writer.h"
#include "support/older_schema.h"
#include "support/temp_dir.h"
#include "toy_spaces.h"

namespace n2v {
namespace {

using nlohmann::json;

struct CliRun {
  int rc = -1;
  std::string out, err;
};

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Arguments are single-quoted for the shell (none of the tests' arguments holds a quote).
CliRun run(const test::TempDir& dir, const std::vector<std::string>& args) {
  std::string cmd = std::string("'") + NET2VEC_BIN + "'";
  for (const std::string& a : args) cmd += " '" + a + "'";
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  cmd += " >'" + out + "' 2>'" + err + "'";
  const int status = std::system(cmd.c_str());
  CliRun r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("catalog.db");
    Catalog catalog = Catalog::open(db_);
    // As in tests/query/test_query.cpp: dog (1,0), cat (3,1), horse (1,1), red-c (0,2),
    // sky (-1,0), void (0,0).
    test::write_toy_space(catalog, "toy", "features",
                          {{"dog", "object", {1, 0}, 0, 0.3f, 0.5f, {{1, 0.4f}}, {{1, 0.5f, 0.25f}}},
                           {"cat", "object", {3, 1}, 0, 0.2f, 0.4f},
                           {"horse", "object", {1, 1}, 1, 0.25f, 0.45f},
                           {"red-c", "color", {0, 2}, 1},
                           {"sky", "scene", {-1, 0}},
                           {"void", "object", {0, 0}}});
    // As in tests/query/test_compare.cpp: D_PQ = 2, D_PQa = 1, D_PQb = D_PQc = 0.5,
    // CKA 0.3355068; mean D over object (a, b) 0.75, colour (c) 0.5.
    test::write_toy_space(catalog, "p", "l", {{"a", "object", {1, 0}}, {"b", "object", {0, 1}}, {"c", "color", {1, 1}}});
    test::write_toy_space(catalog, "q", "l", {{"a", "object", {1, 0}}, {"b", "object", {1, 1}}, {"c", "color", {0, 1}}},
                          Task::kClassification);
  }

  json run_json(std::vector<std::string> args) {
    args.push_back("--db");
    args.push_back(db_);
    args.push_back("--json");
    const CliRun r = run(dir_, args);
    EXPECT_EQ(r.rc, 0) << r.err;
    try {
      return json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.out;
      return json();
    }
  }

  test::TempDir dir_;
  std::string db_;
};

TEST_F(CliTest, Spaces) {
  const json j = run_json({"spaces"});
  ASSERT_EQ(j["spaces"].size(), 3u);
  EXPECT_EQ(j["spaces"][0]["id"], "p.l.seg");
  EXPECT_EQ(j["spaces"][1]["id"], "q.l.cls");
  EXPECT_EQ(j["spaces"][1]["task"], "classification");
  EXPECT_EQ(j["spaces"][2]["id"], "toy.features.seg");
  EXPECT_EQ(j["spaces"][2]["dim"], 2);
  EXPECT_EQ(j["spaces"][2]["concept_count"], 6);
  EXPECT_EQ(j["spaces"][2]["metric"], "set_iou");
  EXPECT_EQ(j["spaces"][2]["kind"], "network");
}

// cos(dog, cat) = 3/sqrt(10) = 0.9486833, cos(dog, horse) = 1/sqrt(2) = 0.7071068.
TEST_F(CliTest, OlderCatalogIsMigratedOnOpen) {
  // Turn the file back into a schema-v2 catalog, as an older net2vec left it; the query tool
  // must migrate it rather than refuse it.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, test::downgrade_sql(Catalog::latest_schema_version(), 2).c_str(), nullptr, nullptr,
                         nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(raw);
  sqlite3_close(raw);
  const json j = run_json({"spaces"});
  EXPECT_EQ(j["spaces"].size(), 3u);
  EXPECT_EQ(Catalog::open(db_, Catalog::Mode::kReadOnly).schema_version(),
            Catalog::latest_schema_version());
}

TEST_F(CliTest, Neighbors) {
  const json j = run_json({"neighbors", "--space", "toy.features.seg", "--concept", "dog", "-k", "2"});
  EXPECT_EQ(j["query"], "dog");
  EXPECT_EQ(j["candidates"], 4);
  ASSERT_EQ(j["hits"].size(), 2u);
  EXPECT_EQ(j["hits"][0]["name"], "cat");
  EXPECT_NEAR(j["hits"][0]["score"].get<double>(), 0.9486833, 1e-6);
  EXPECT_EQ(j["hits"][1]["name"], "horse");
  EXPECT_NEAR(j["hits"][1]["score"].get<double>(), 0.7071068, 1e-6);

  // Raw vector (2, -2): dog 0.7071068 first, not excluded. Category filter: objects only.
  const json v = run_json({"neighbors", "--space", "toy.features.seg", "--vector", "2,-2", "-k", "1"});
  EXPECT_TRUE(v["query"].is_null());
  EXPECT_EQ(v["hits"][0]["name"], "dog");
  const json o = run_json({"neighbors", "--space", "toy.features.seg", "--concept", "dog", "--category", "object"});
  EXPECT_EQ(o["candidates"], 2);
  EXPECT_EQ(o["hits"].size(), 2u);
}

// cat + red-c - dog: 3CosAdd horse 0.6790224, sky 0.0389581; 3CosMul sky 12829.18, horse
// 0.9472125 (worked out in tests/query/test_query.cpp).
TEST_F(CliTest, Analogy) {
  const json add = run_json({"analogy", "--space", "toy.features.seg", "--positive", "cat,red-c", "--negative", "dog"});
  EXPECT_EQ(add["method"], "add");
  ASSERT_EQ(add["hits"].size(), 2u);
  EXPECT_EQ(add["hits"][0]["name"], "horse");
  EXPECT_NEAR(add["hits"][0]["score"].get<double>(), 0.6790224, 1e-6);
  EXPECT_NEAR(add["hits"][1]["score"].get<double>(), 0.0389581, 1e-6);
  const json mul = run_json({"analogy", "--space", "toy.features.seg", "--positive", "cat", "--positive", "red-c",
                             "--negative", "dog", "--method", "mul"});
  EXPECT_EQ(mul["positive"], (json{"cat", "red-c"}));
  EXPECT_EQ(mul["hits"][0]["name"], "sky");
  EXPECT_NEAR(mul["hits"][0]["score"].get<double>(), 12829.18, 0.2);
  EXPECT_NEAR(mul["hits"][1]["score"].get<double>(), 0.9472125, 1e-5);
}

TEST_F(CliTest, Compare) {
  const json j = run_json({"compare", "--spaces", "p.l.seg,q.l.cls", "--per-concept", "all"});
  EXPECT_EQ(j["concept_count"], 3);
  ASSERT_EQ(j["concepts"].size(), 3u);
  EXPECT_EQ(j["concepts"][0]["name"], "a");
  EXPECT_EQ(j["concepts"][2]["category"], "color");
  EXPECT_NEAR(j["distance"][0][1].get<double>(), 2.0, 1e-6);
  EXPECT_NEAR(j["distance"][1][0].get<double>(), 2.0, 1e-6);
  EXPECT_EQ(j["distance"][0][0].get<double>(), 0.0);
  EXPECT_NEAR(j["cka"][0][1].get<double>(), 0.3355068, 1e-6);
  const json& pair = j["pairs"][0];
  EXPECT_EQ(pair["a"], "p.l.seg");
  // Categories sorted by name: color, object.
  ASSERT_EQ(pair["categories"].size(), 2u);
  EXPECT_EQ(pair["categories"][1]["category"], "object");
  EXPECT_NEAR(pair["categories"][1]["mean"].get<double>(), 0.75, 1e-6);
  EXPECT_EQ(pair["categories"][1]["concept_count"], 2);
  EXPECT_NEAR(pair["categories"][0]["mean"].get<double>(), 0.5, 1e-6);
  ASSERT_EQ(pair["per_concept"].size(), 3u);
  EXPECT_EQ(pair["per_concept"][0]["name"], "a");  // largest D_ijc first
  EXPECT_NEAR(pair["per_concept"][0]["d"].get<double>(), 1.0, 1e-6);
  // A memory budget changes how it runs, not what it answers; --per-concept N keeps the N largest.
  const json small = run_json({"compare", "--spaces", "p.l.seg,q.l.cls", "--per-concept", "2", "--memory-mb", "1"});
  EXPECT_EQ(small["distance"], j["distance"]);
  EXPECT_EQ(small["cka"], j["cka"]);
  ASSERT_EQ(small["pairs"][0]["per_concept"].size(), 2u);
  EXPECT_EQ(small["pairs"][0]["per_concept"][0], pair["per_concept"][0]);
  EXPECT_EQ(small["pairs"][0]["per_concept"][1], pair["per_concept"][1]);

  // --all: the toy space shares nothing with p and q -> a clear error, exit 2.
  const CliRun all = run(dir_, {"compare", "--db", db_, "--all"});
  EXPECT_EQ(all.rc, 2);
  EXPECT_NE(all.err.find("no concept is shared"), std::string::npos) << all.err;
}

TEST_F(CliTest, ConceptAndFilter) {
  const json c = run_json({"concept", "--space", "toy.features.seg", "--concept", "dog"});
  EXPECT_EQ(c["name"], "dog");
  EXPECT_EQ(c["best_filter"], 0);
  EXPECT_EQ(c["metric"], "set_iou");
  EXPECT_NEAR(c["learned"]["val"].get<double>(), 0.5, 1e-6);
  EXPECT_NEAR(c["weights"][0].get<double>(), 1.0, 1e-9);
  EXPECT_NEAR(c["single_over_learned"].get<double>(), 0.6, 1e-6);  // 0.3 / 0.5
  EXPECT_EQ(c["subsets"][0]["filters"], 1);
  EXPECT_EQ(c["image_count"], 1);
  ASSERT_EQ(c["top_filters"].size(), 2u);
  EXPECT_EQ(c["top_filters"][0]["filter"], 0);
  EXPECT_NEAR(c["top_filters"][0]["share"].get<double>(), 1.0, 1e-9);

  // Best filters: dog, cat, sky, void 0; horse, red-c 1.
  const json usage = run_json({"filter", "--space", "toy.features.seg"});
  EXPECT_EQ(usage["concepts_per_filter"], (json{4, 2}));
  const json f = run_json({"filter", "--space", "toy.features.seg", "--filter", "1", "--top", "2"});
  ASSERT_EQ(f["best_for"].size(), 2u);
  EXPECT_EQ(f["best_for"][0]["name"], "horse");  // val 0.25 before red-c's missing score
  // Shares of filter 1: red-c 2/2 = 1, horse 1/2, cat 1/4.
  ASSERT_EQ(f["top_weighted"].size(), 2u);
  EXPECT_EQ(f["top_weighted"][0]["name"], "red-c");
  EXPECT_NEAR(f["top_weighted"][1]["share"].get<double>(), 0.5, 1e-9);
}

uint16_t le16(const std::string& s, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(s[at]) | static_cast<unsigned char>(s[at + 1]) << 8);
}

float le_float(const std::string& s, size_t at) {
  uint32_t bits = 0;
  for (int i = 3; i >= 0; --i) bits = bits << 8 | static_cast<unsigned char>(s[at + i]);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

TEST_F(CliTest, ExportNpy) {
  const std::string out = dir_.file("npy");
  const json j = run_json({"export", "--space", "toy.features.seg", "--format", "npy", "--out", out});
  EXPECT_EQ(j["concept_count"], 6);
  const std::string npy = read_file(out + "/vectors.npy");
  ASSERT_GE(npy.size(), 10u);
  EXPECT_EQ(npy.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(npy[6], 1);  // version 1.0
  EXPECT_EQ(npy[7], 0);
  const size_t header_len = le16(npy, 8), data_at = 10 + header_len;
  EXPECT_EQ(data_at % 64, 0u);
  const std::string header = npy.substr(10, header_len);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos) << header;
  EXPECT_NE(header.find("'fortran_order': False"), std::string::npos) << header;
  EXPECT_NE(header.find("'shape': (6, 2)"), std::string::npos) << header;
  EXPECT_EQ(header.back(), '\n');
  ASSERT_EQ(npy.size(), data_at + 6 * 2 * 4);
  // Stored weights in catalog order: dog (1,0), cat (3,1), horse (1,1), red-c (0,2), sky, void.
  const float expected[] = {1, 0, 3, 1, 1, 1, 0, 2, -1, 0, 0, 0};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(le_float(npy, data_at + 4 * i), expected[i]) << i;
  EXPECT_EQ(read_file(out + "/metadata.tsv"),
            "name\tcategory\ndog\tobject\ncat\tobject\nhorse\tobject\nred-c\tcolor\nsky\tscene\nvoid\tobject\n");
}

TEST_F(CliTest, ExportTsvNormalized) {
  const std::string out = dir_.file("tsv");
  run_json({"export", "--space", "toy.features.seg", "--out", out, "--normalize"});
  std::istringstream rows(read_file(out + "/vectors.tsv"));
  std::vector<std::vector<double>> values;
  for (std::string line; std::getline(rows, line);) {
    std::vector<double> row;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, '\t');) row.push_back(std::stod(cell));
    values.push_back(row);
  }
  ASSERT_EQ(values.size(), 6u);
  for (const auto& row : values) EXPECT_EQ(row.size(), 2u);
  EXPECT_NEAR(values[1][0], 0.9486833, 1e-7);  // cat (3,1)/sqrt(10)
  EXPECT_NEAR(values[1][1], 0.3162278, 1e-7);
  EXPECT_EQ(values[5], (std::vector<double>{0, 0}));  // void stays zero
  EXPECT_EQ(read_file(out + "/metadata.tsv").substr(0, 14), "name\tcategory\n");
}

// `net2vec merge`: shards into one catalog; again changes nothing; a SIGKILL inside the
// merge's transaction (the fault hook of tests/reliability) leaves the target as it was.
TEST_F(CliTest, MergeShards) {
  const std::string s1 = dir_.file("s1.db"), s2 = dir_.file("s2.db"), target = dir_.file("merged.db");
  {
    Catalog a = Catalog::open(s1);
    test::write_toy_space(a, "p", "l", {{"a", "object", {1, 0}}, {"b", "object", {0, 1}}});
    Catalog b = Catalog::open(s2);
    test::write_toy_space(b, "q", "l", {{"a", "object", {1, 1}}, {"c", "color", {0, 1}}}, Task::kClassification);
  }
  CliRun r = run(dir_, {"merge", "--into", target, s1, s2});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("merged 2 shards"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 spaces added"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("added     p.l.seg"), std::string::npos) << r.out;
  const json spaces = [&] {
    const CliRun listed = run(dir_, {"spaces", "--db", target, "--json"});
    EXPECT_EQ(listed.rc, 0) << listed.err;
    return json::parse(listed.out);
  }();
  ASSERT_EQ(spaces["spaces"].size(), 2u);
  r = run(dir_, {"merge", "--into", target, s2, s1});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("0 spaces added, 0 replaced by a later run, 2 unchanged"), std::string::npos) << r.out;

  // Killed inside the transaction: the target keeps exactly what it had.
  const std::string partial = dir_.file("partial.db");
  ASSERT_EQ(run(dir_, {"merge", "--into", partial, s1}).rc, 0);
  const std::string cmd = "NET2VEC_FAULT=catalog-write-after-2 '" + std::string(NET2VEC_BIN) + "' merge --into '" +
                          partial + "' '" + s2 + "' >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  EXPECT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL)) << status;
  const CliRun after = run(dir_, {"spaces", "--db", partial, "--json"});
  ASSERT_EQ(after.rc, 0) << after.err;
  ASSERT_EQ(json::parse(after.out)["spaces"].size(), 1u) << after.out;
  EXPECT_EQ(json::parse(after.out)["spaces"][0]["id"], "p.l.seg");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(partial.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* check = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &check, nullptr);
  ASSERT_EQ(sqlite3_step(check), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(check, 0)), "ok");
  sqlite3_finalize(check);
  sqlite3_close_v2(db);

  EXPECT_EQ(run(dir_, {"merge", "--into", target, "--on-conflict", "maybe", s1}).rc, 2);
  const CliRun missing = run(dir_, {"merge", "--into", target, dir_.file("nope.db")});
  EXPECT_EQ(missing.rc, 3);
  EXPECT_NE(missing.err.find("nope.db"), std::string::npos) << missing.err;
}

// A concept name with a byte that is not UTF-8 (a label.csv from anywhere) prints as U+FFFD
// in --json output instead of failing the answer (it was an internal error, exit 1).
TEST_F(CliTest, NonUtf8NamesPrintAsReplacementCharacters) {
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "UPDATE concept SET name = CAST(X'736BFF79' AS TEXT) WHERE name = 'sky'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  const CliRun r = run(dir_, {"concepts", "--db", db_, "--space", "toy.features.seg", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("sk\xEF\xBF\xBDy"), std::string::npos) << r.out;  // "sk\uFFFDy" as UTF-8
  EXPECT_NO_THROW(json::parse(r.out));
}

TEST_F(CliTest, ErrorsAndExitCodes) {
  CliRun r = run(dir_, {"neighbors", "--db", db_, "--space", "toy.features.seg", "--concept", "dgo"});
  EXPECT_EQ(r.rc, 3);
  EXPECT_NE(r.err.find("did you mean 'dog'"), std::string::npos) << r.err;
  r = run(dir_, {"neighbors", "--db", db_, "--space", "toy.feature.seg", "--concept", "dog"});
  EXPECT_EQ(r.rc, 3);
  EXPECT_NE(r.err.find("'toy.features.seg'"), std::string::npos) << r.err;
  r = run(dir_, {"neighbors", "--db", db_, "--space", "toy.features.seg", "--concept", "dog", "-k", "0"});
  EXPECT_EQ(r.rc, 2);
  r = run(dir_, {"neighbors", "--db", db_, "--space", "toy.features.seg", "--vector", "1,x"});
  EXPECT_EQ(r.rc, 2);
  r = run(dir_, {"neighbors", "--db", db_, "--space", "toy.features.seg", "--concept", "void"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("zero vector"), std::string::npos) << r.err;
  r = run(dir_, {"neighbors", "--db", db_, "--space", "toy.features.seg"});  // neither --concept nor --vector
  EXPECT_EQ(r.rc, 2);
  r = run(dir_, {"spaces", "--db", dir_.file("missing.db")});
  EXPECT_EQ(r.rc, 3);
  r = run(dir_, {"filter", "--db", db_, "--space", "toy.features.seg", "--filter", "2"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("out of range"), std::string::npos) << r.err;
  r = run(dir_, {"export", "--db", db_, "--space", "toy.features.seg", "--format", "csv", "--out", dir_.file("x")});
  EXPECT_EQ(r.rc, 2);
  r = run(dir_, {});  // no subcommand
  EXPECT_EQ(r.rc, 2);
  r = run(dir_, {"frobnicate"});
  EXPECT_EQ(r.rc, 2);
  r = run(dir_, {"spaces"});  // --db missing
  EXPECT_EQ(r.rc, 2);
  // Reference import of a directory that is not WordNet: an error with a code, never a crash
  // (6 where this build has no src/reference).
  r = run(dir_, {"reference", "wordnet", "--db", db_, "--wordnet-dir", dir_.file("no-wordnet")});
  EXPECT_GE(r.rc, 2) << r.err;
  EXPECT_FALSE(r.err.empty());
}

// A GloVe-style text file -> reference space "glove-3d" (src/reference); red-c maps to "red"
// (BRODEN suffix dropped). Then it is listed, queried and compared like a network space:
// on dog, cat, horse, red-c, sky (void has no word vector).
TEST_F(CliTest, ReferenceVectorsImportAndCompare) {
  const std::string file = dir_.file("vectors.txt");
  {
    std::ofstream f(file);
    f << "dog 1 0 0\ncat 0.9 0.1 0\nhorse 0.5 0.5 0\nred 0 0 1\nsky 0 1 0\nzebra 0.2 0.2 0.2\n";
  }
  const CliRun r = run(dir_, {"reference", "vectors", "--db", db_, "--name", "glove-3d", "--file", file, "--format",
                              "text", "--json"});
  if (r.rc == 6) GTEST_SKIP() << "this build has no src/reference: " << r.err;
  ASSERT_EQ(r.rc, 0) << r.err;
  const json imported = json::parse(r.out);
  EXPECT_EQ(imported["space"], "glove-3d");
  EXPECT_EQ(imported["concept_count"], 5);
  EXPECT_EQ(imported["dim"], 3);

  const json spaces = run_json({"spaces"});
  bool found = false;
  for (const json& s : spaces["spaces"])
    if (s["id"] == "glove-3d") {
      found = true;
      EXPECT_EQ(s["kind"], "reference");
      EXPECT_TRUE(s["task"].is_null());
    }
  EXPECT_TRUE(found);
  // cos(dog, cat) = 0.9 / sqrt(0.82) = 0.9938837.
  const json nb = run_json({"neighbors", "--space", "glove-3d", "--concept", "dog", "-k", "1"});
  EXPECT_EQ(nb["hits"][0]["name"], "cat");
  EXPECT_NEAR(nb["hits"][0]["score"].get<double>(), 0.9938837, 1e-6);
  const json cmp = run_json({"compare", "--spaces", "toy.features.seg,glove-3d"});
  EXPECT_EQ(cmp["concept_count"], 5);
  std::vector<std::string> shared;
  for (const json& x : cmp["concepts"]) shared.push_back(x["name"]);
  EXPECT_EQ(shared, (std::vector<std::string>{"cat", "dog", "horse", "red-c", "sky"}));
  const json c = run_json({"concept", "--space", "glove-3d", "--concept", "dog"});
  EXPECT_EQ(c["kind"], "reference");
  EXPECT_TRUE(c["task"].is_null());
  EXPECT_TRUE(c["metric"].is_null());
}

TEST_F(CliTest, HumanTablesAreAligned) {
  const CliRun r = run(dir_, {"neighbors", "--db", db_, "--space", "toy.features.seg", "--concept", "dog"});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::istringstream lines(r.out);
  std::string title, header, rule, row;
  std::getline(lines, title);
  std::getline(lines, header);
  std::getline(lines, rule);
  EXPECT_EQ(header.size(), rule.size()) << header << "\n" << rule;
  int rows = 0;
  std::string baseline;
  while (std::getline(lines, row)) {
    if (row.rfind("Cosine of two concepts", 0) == 0) {  // the line under the table
      baseline = row;
      break;
    }
    EXPECT_EQ(row.size(), rule.size()) << row;  // the last columns (cosine, percentile) are right-aligned
    ++rows;
  }
  EXPECT_EQ(rows, 4);
  EXPECT_NE(r.out.find("0.9487"), std::string::npos);
  // The toy space's 5 concepts with a direction: every one of their 10 pairs.
  EXPECT_NE(baseline.find("(all 10 pairs)"), std::string::npos) << r.out;
  EXPECT_NE(header.find("above % of pairs"), std::string::npos) << header;
}

TEST_F(CliTest, HelpExplainsEverySubcommand) {
  CliRun r = run(dir_, {"--help"});
  EXPECT_EQ(r.rc, 0);
  for (const char* sub : {"spaces", "concepts", "neighbors", "analogy", "compare", "concept", "filter", "export",
                          "reference"})
    EXPECT_NE(r.out.find(std::string("  ") + sub + " "), std::string::npos) << sub;
  r = run(dir_, {"analogy", "--help"});
  EXPECT_EQ(r.rc, 0);
  for (const char* opt : {"--db", "--json", "--space", "--positive", "--negative", "--method", "--category", "-k"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  r = run(dir_, {"reference", "vectors", "--help"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("--format"), std::string::npos);
}

// `net2vec probe check DIR`: a clean set exits 0, a broken one 2 (invalid input), and --json
// has the documented shape (docs/PROBES.md, "What probe check reports").
TEST_F(CliTest, ProbeCheckExitStatusAndJson) {
  const std::string probe = dir_.file("probe");
  test::write_broden(probe, test::small_broden());
  CliRun r = run(dir_, {"probe", "check", probe, "--json"});
  ASSERT_EQ(r.rc, 0) << r.err << r.out;
  json j = json::parse(r.out);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["errors"], 0);
  EXPECT_EQ(j["rows"], 3);
  EXPECT_EQ(j["train_images"], 2);
  EXPECT_EQ(j["val_images"], 1);
  EXPECT_EQ(j["content_hash"], ProbeSet::content_hash(probe));
  ASSERT_EQ(j["concepts"].size(), 7u);
  const json& red = j["concepts"][0];
  EXPECT_EQ(red["name"], "red-c");
  EXPECT_EQ(red["train_images"], 1);
  EXPECT_EQ(red["alpha"], 0.5);
  EXPECT_TRUE(j["concepts"][2]["alpha"].is_null());  // kitchen: whole-image labels only
  EXPECT_TRUE(j["problems"].is_array());

  std::filesystem::remove(probe + "/images/img2.png");
  r = run(dir_, {"probe", "check", probe, "--json", "--max-problems", "1"});
  EXPECT_EQ(r.rc, 2) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["ok"], false);
  EXPECT_GE(j["errors"], 1);
  ASSERT_EQ(j["problems"].size(), 1u);
  EXPECT_EQ(j["problems"][0]["severity"], "error");
  EXPECT_EQ(j["problems"][0]["file"], "images/img2.png");
  EXPECT_EQ(j["problems"][0]["line"], 4);
  EXPECT_NE(j["problems"][0]["message"].get<std::string>().find("image file not found"), std::string::npos);
  // The text form says what is wrong, and the folder that is not there is an error too.
  r = run(dir_, {"probe", "check", probe});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("BROKEN: 1 error"), std::string::npos) << r.out;
  r = run(dir_, {"probe", "check", dir_.file("nowhere")});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("probe set directory not found"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace n2v
