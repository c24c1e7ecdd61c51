// Neighbours and analogies on a hand-made 2-D space, with every expected number worked out
// in the comments; name suggestions; errors; cache refresh on re-ingest; FAISS vs brute
// force through the engine.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <span>

#include "common/error.h"
#include "query/query.h"
#include "support/expect.h"
#include "support/temp_dir.h"
#include "toy_spaces.h"

namespace n2v {
namespace {

using test::ToyConcept;

// Space "toy.features.seg" (2-D):
//   dog   (object) ( 1, 0) -> unit ( 1, 0)
//   cat   (object) ( 3, 1) -> unit (3, 1)/sqrt(10) = (0.9486833, 0.3162278)
//   horse (object) ( 1, 1) -> unit (0.7071068, 0.7071068)
//   red-c (color)  ( 0, 2) -> unit ( 0, 1)
//   sky   (scene)  (-1, 0) -> unit (-1, 0)
//   void  (object) ( 0, 0) -> no direction: never returned, cannot be queried
std::vector<ToyConcept> toy_concepts() {
  return {{"dog", "object", {1, 0}},   {"cat", "object", {3, 1}}, {"horse", "object", {1, 1}},
          {"red-c", "color", {0, 2}},  {"sky", "scene", {-1, 0}}, {"void", "object", {0, 0}}};
}

using test::expect_error;

class QueryTest : public ::testing::TestWithParam<QueryOptions::Index> {
 protected:
  void SetUp() override {
    catalog_ = std::make_unique<Catalog>(Catalog::open(dir_.file("catalog.db")));
    space_ = test::write_toy_space(*catalog_, "toy", "features", toy_concepts());
    engine_ = std::make_unique<QueryEngine>(*catalog_, QueryOptions{GetParam()});
  }
  test::TempDir dir_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<QueryEngine> engine_;
  std::string space_;
};

void expect_hits(const std::vector<ConceptHit>& hits,
                 const std::vector<std::pair<std::string, double>>& expected, double tol = 1e-6) {
  ASSERT_EQ(hits.size(), expected.size());
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_EQ(hits[i].name, expected[i].first) << "rank " << i;
    EXPECT_NEAR(hits[i].score, expected[i].second, tol * std::max(1.0, std::fabs(expected[i].second)))
        << hits[i].name;
  }
}

// cos(dog, cat) = 3/sqrt(10) = 0.9486833; cos(dog, horse) = 1/sqrt(2) = 0.7071068;
// cos(dog, red-c) = 0; cos(dog, sky) = -1. dog itself is excluded.
TEST_P(QueryTest, NeighboursOfAConcept) {
  EXPECT_EQ(space_, "toy.features.seg");
  const NeighborsResult r = engine_->neighbors(space_, "dog", 3);
  EXPECT_EQ(r.query, "dog");
  EXPECT_EQ(r.candidates, 4);  // 6 concepts - dog - void
  expect_hits(r.hits, {{"cat", 0.9486833}, {"horse", 0.7071068}, {"red-c", 0.0}});
  EXPECT_EQ(r.hits[0].category, "object");
  EXPECT_EQ(r.hits[0].concept_number, test::toy_number("cat"));
}

// The baseline of the toy space's 5 concepts with a direction (void has none): its 10 pair
// cosines, sorted, -1, -0.9487 (cat, sky), -0.7071 (horse, sky), 0 (dog, red-c), 0 (red-c, sky),
// 0.3162 (cat, red-c), 0.7071 (dog, horse), 0.7071 (horse, red-c), 0.8944 (cat, horse),
// 0.9487 (dog, cat).
TEST_P(QueryTest, NeighboursComeWithTheSpacesPairCosines) {
  const NeighborsResult r = engine_->neighbors(space_, "dog", 4);
  ASSERT_NE(r.baseline, nullptr);
  EXPECT_EQ(r.baseline->pairs, 10);
  EXPECT_FALSE(r.baseline->sampled);
  const double sum = -1 - 0.9486833 - 0.7071068 + 0.3162278 + 0.7071068 + 0.7071068 + 0.8944272 + 0.9486833;
  EXPECT_NEAR(r.baseline->mean, sum / 10, 1e-6);
  EXPECT_NEAR(r.baseline->p50, (0 + 0.3162278) / 2, 1e-6);                           // position 4.5
  EXPECT_NEAR(r.baseline->p95, 0.8944272 + 0.55 * (0.9486833 - 0.8944272), 1e-6);  // position 8.55
  // cat 0.9487: 9 pairs lower (its own pair is not); horse 0.7071: 6 (the other 0.7071 is a
  // tie); red-c 0: 3; sky -1: none.
  ASSERT_EQ(r.hits.size(), 4u);
  EXPECT_DOUBLE_EQ(r.hits[0].percentile, 90);
  EXPECT_DOUBLE_EQ(r.hits[1].percentile, 60);
  EXPECT_DOUBLE_EQ(r.hits[2].percentile, 30);
  EXPECT_DOUBLE_EQ(r.hits[3].percentile, 0);
  // The same baseline for a vector query and within a category; none for analogies.
  const std::vector<float> v = {1, 0};
  EXPECT_EQ(engine_->neighbors(space_, std::span<const float>(v), 2).baseline, r.baseline);
  EXPECT_EQ(engine_->neighbors(space_, "dog", 2, std::string("object")).baseline->pairs, 10);
  EXPECT_TRUE(std::isnan(engine_->analogy(space_, {"dog"}, {}, 2, AnalogyMethod::kAdd).hits[0].percentile));
}

// A space of more than 316 concepts: 50,000 pairs drawn at random, the same every time, their
// percentiles within a point of those of every pair; a space of one concept with a direction
// has no baseline.
TEST(CosineBaselines, LargeSpacesAreSampledAndOneConceptHasNone) {
  test::TempDir dir;
  Catalog catalog = Catalog::open(dir.file("catalog.db"));
  std::mt19937 gen(4);
  std::normal_distribution<float> normal;
  std::vector<ToyConcept> concepts;
  for (int k = 0; k < 400; ++k) {
    std::vector<float> w(16);
    for (float& x : w) x = normal(gen) + 0.5f;  // a common direction: cosines mostly positive
    concepts.push_back({"r" + std::to_string(k), "object", w});
  }
  const std::string space = test::write_toy_space(catalog, "big", "l", concepts);
  const std::string lone = test::write_toy_space(catalog, "lone", "l", {{"dog", "object", {1, 0}}, {"void", "object", {0, 0}}});
  QueryEngine engine(catalog);
  const NeighborsResult r = engine.neighbors(space, "r0", 5);
  ASSERT_NE(r.baseline, nullptr);
  EXPECT_TRUE(r.baseline->sampled);
  EXPECT_EQ(r.baseline->pairs, CosineBaseline::kSampledPairs);
  EXPECT_TRUE(std::is_sorted(r.baseline->sorted.begin(), r.baseline->sorted.end()));
  // Every pair, by hand.
  std::vector<double> all;
  const std::vector<ConceptVector> unit = engine.vectors(space, /*unit=*/true);
  for (size_t a = 0; a < unit.size(); ++a)
    for (size_t b = a + 1; b < unit.size(); ++b) {
      double dot = 0;
      for (size_t j = 0; j < 16; ++j) dot += static_cast<double>(unit[a].weights[j]) * unit[b].weights[j];
      all.push_back(dot);
    }
  ASSERT_EQ(all.size(), 400u * 399 / 2);
  for (const ConceptHit& hit : r.hits) {
    const double lower = 100.0 * static_cast<double>(std::count_if(all.begin(), all.end(), [&](double c) {
                           return c < hit.score - CosineBaseline::kTie;
                         })) / static_cast<double>(all.size());
    EXPECT_NEAR(hit.percentile, lower, 1.0) << hit.name;
  }
  double mean = 0;
  for (double c : all) mean += c / static_cast<double>(all.size());
  EXPECT_NEAR(r.baseline->mean, mean, 0.01);
  // A fresh engine draws the same pairs.
  QueryEngine again(catalog);
  EXPECT_EQ(again.neighbors(space, "r0", 1).baseline->sorted, r.baseline->sorted);
  // One concept with a direction: no pair, no baseline (and no neighbour).
  const NeighborsResult alone = engine.neighbors(lone, "dog", 3);
  EXPECT_EQ(alone.baseline, nullptr);
  EXPECT_TRUE(alone.hits.empty());
}

// A layer named as models name it ("block.1.features") is stored as "block-1-features";
// every query takes either spelling and answers with the stored id (issue 16).
TEST_P(QueryTest, EitherSpellingOfALayerFindsTheSpace) {
  const std::string id = test::write_toy_space(*catalog_, "net", "block.1.features", toy_concepts());
  EXPECT_EQ(id, "net.block-1-features.seg");
  const NeighborsResult a = engine_->neighbors("net.block.1.features.seg", "dog", 3);
  const NeighborsResult b = engine_->neighbors(id, "dog", 3);
  ASSERT_EQ(a.hits.size(), b.hits.size());
  for (size_t i = 0; i < a.hits.size(); ++i) EXPECT_EQ(a.hits[i].name, b.hits[i].name);
  EXPECT_EQ(engine_->space_info("net.block.1.features.seg").id, id);
  EXPECT_EQ(engine_->space_info(id).model_layer, "block.1.features");
  const SpaceComparison c = engine_->compare({"net.block.1.features.seg", space_}, {});
  EXPECT_EQ(c.spaces, (std::vector<std::string>{id, space_}));
  EXPECT_DOUBLE_EQ(c.distance[1], 0.0);  // same vectors: D_ij = 0
  // Both spellings of one space are the same space named twice.
  expect_error([&] { engine_->compare({"net.block.1.features.seg", id}, {}); }, ErrorCode::kInvalidArgument);
}

// k beyond the candidates is clamped, not an error: all 4 come back, sky last at -1.
TEST_P(QueryTest, LargeKIsClamped) {
  const NeighborsResult r = engine_->neighbors(space_, "dog", 1000000);
  EXPECT_EQ(r.k, 1000000);
  expect_hits(r.hits, {{"cat", 0.9486833}, {"horse", 0.7071068}, {"red-c", 0.0}, {"sky", -1.0}});
}

// Category "object": only cat and horse (dog is the query, void has no direction).
TEST_P(QueryTest, CategoryFilter) {
  const NeighborsResult r = engine_->neighbors(space_, "dog", 10, std::string("object"));
  EXPECT_EQ(r.candidates, 2);
  expect_hits(r.hits, {{"cat", 0.9486833}, {"horse", 0.7071068}});
  // A category with no other concept: an empty answer, not an error.
  const NeighborsResult none = engine_->neighbors(space_, "red-c", 5, std::string("color"));
  EXPECT_EQ(none.candidates, 0);
  EXPECT_TRUE(none.hits.empty());
}

// Raw vector (2, -2) -> unit (0.7071068, -0.7071068): nothing is excluded.
// cos: dog 0.7071068, cat (3 - 1)/sqrt(20) = 0.4472136, horse 0, red-c -0.7071068,
// sky -0.7071068 (tie with red-c: catalog order, red-c first).
TEST_P(QueryTest, NeighboursOfAVector) {
  const std::vector<float> v = {2, -2};
  const NeighborsResult r = engine_->neighbors(space_, v, 5);
  EXPECT_EQ(r.query, "");
  EXPECT_EQ(r.candidates, 5);
  expect_hits(r.hits, {{"dog", 0.7071068}, {"cat", 0.4472136}, {"horse", 0.0}, {"red-c", -0.7071068},
                       {"sky", -0.7071068}});
}

// 3CosAdd, cat + red-c - dog (gensim most_similar):
//   cat + red - dog = (0.9486833 + 0 - 1, 0.3162278 + 1 - 0) = (-0.0513167, 1.3162278)
//   (the mean divides by 3, which the renormalisation undoes); norm 1.3172277,
//   unit m = (-0.0389581, 0.9992408).
//   Inputs cat, red-c, dog excluded; candidates horse and sky:
//   cos(m, horse) = (-0.0389581 + 0.9992408) / sqrt(2) = 0.6790224
//   cos(m, sky)   = 0.0389581
TEST_P(QueryTest, Analogy3CosAdd) {
  const AnalogyResult r = engine_->analogy(space_, {"cat", "red-c"}, {"dog"}, 5, AnalogyMethod::kAdd);
  EXPECT_EQ(r.candidates, 2);
  expect_hits(r.hits, {{"horse", 0.6790224}, {"sky", 0.0389581}});
}

// 3CosMul, same terms: score(x) = f(cos(x,cat)) f(cos(x,red)) / (f(cos(x,dog)) + 1e-6),
// f(c) = (1 + c) / 2.
//   horse: cos with cat (0.9486833 + 0.3162278)/sqrt(2) = 0.8944272 -> f = 0.9472136;
//          with red 0.7071068 -> 0.8535534; with dog 0.7071068 -> 0.8535534;
//          0.9472136 * 0.8535534 / (0.8535534 + 1e-6) = 0.9472125
//   sky:   with cat -0.9486833 -> 0.0256584; with red 0 -> 0.5; with dog -1 -> 0;
//          0.0256584 * 0.5 / (0 + 1e-6) = 12829.18
// 3CosMul ranks sky first (it is opposite the negative term), unlike 3CosAdd.
TEST_P(QueryTest, Analogy3CosMul) {
  const AnalogyResult r = engine_->analogy(space_, {"cat", "red-c"}, {"dog"}, 5, AnalogyMethod::kMul);
  EXPECT_EQ(r.candidates, 2);
  expect_hits(r.hits, {{"sky", 12829.18}, {"horse", 0.9472125}}, 1e-5);
}

// Only positives: 3CosAdd of one term is its neighbours; 3CosMul with no negative divides
// by 1 + 1e-6: horse f(cos(horse, dog)) = 0.8535534 / 1.000001 = 0.8535525.
TEST_P(QueryTest, AnalogyWithoutNegatives) {
  const AnalogyResult add = engine_->analogy(space_, {"dog"}, {}, 2, AnalogyMethod::kAdd);
  expect_hits(add.hits, {{"cat", 0.9486833}, {"horse", 0.7071068}});
  const AnalogyResult mul = engine_->analogy(space_, {"dog"}, {}, 2, AnalogyMethod::kMul);
  expect_hits(mul.hits, {{"cat", (1 + 0.9486833) / 2 / 1.000001}, {"horse", 0.8535534 / 1.000001}});
  // With a category filter: scene only -> sky, f(-1) = 0.
  const AnalogyResult scene = engine_->analogy(space_, {"dog"}, {}, 2, AnalogyMethod::kMul, std::string("scene"));
  expect_hits(scene.hits, {{"sky", 0.0}});
}

TEST_P(QueryTest, UnknownNamesSuggestClosest) {
  expect_error([&] { engine_->neighbors(space_, "dgo", 3); }, ErrorCode::kNotFound, {"did you mean 'dog'"});

  expect_error([&] { engine_->neighbors("toy.featurs.seg", "dog", 3); }, ErrorCode::kNotFound,
               {"'toy.features.seg'"});

  expect_error([&] { engine_->neighbors(space_, "dog", 3, std::string("objet")); }, ErrorCode::kNotFound,
               {"did you mean 'object'"});

  expect_error([&] { engine_->analogy(space_, {"cat"}, {"hrose"}, 3); }, ErrorCode::kNotFound, {"'horse'"});

  const std::string message =
      test::error_of([&] { engine_->neighbors(space_, "qqqqqqqq", 3); }, ErrorCode::kNotFound);
  EXPECT_EQ(message.find("did you mean"), std::string::npos) << message;
}

// A name in another case finds the stored concept, and answers give the stored spelling.
TEST_P(QueryTest, NamesMatchCaseInsensitively) {
  const NeighborsResult upper = engine_->neighbors(space_, "DOG", 3);
  const NeighborsResult lower = engine_->neighbors(space_, "dog", 3);
  EXPECT_EQ(upper.query, "dog");
  ASSERT_EQ(upper.hits.size(), lower.hits.size());
  for (size_t i = 0; i < upper.hits.size(); ++i) EXPECT_EQ(upper.hits[i].name, lower.hits[i].name);
  const AnalogyResult a = engine_->analogy(space_, {"Cat"}, {"HORSE"}, 3);
  EXPECT_EQ(a.positive, std::vector<std::string>{"cat"});
  EXPECT_EQ(a.negative, std::vector<std::string>{"horse"});
  EXPECT_EQ(engine_->concept_report(space_, "Dog").name, "dog");
}

TEST_P(QueryTest, BadArguments) {
  const auto invalid = [&](auto fn) { expect_error(fn, ErrorCode::kInvalidArgument); };
  invalid([&] { engine_->neighbors(space_, "dog", 0); });
  invalid([&] { engine_->neighbors(space_, "dog", -3); });
  invalid([&] { engine_->neighbors(space_, "void", 3); });  // zero vector
  const std::vector<float> wrong_size = {1, 2, 3}, nan = {NAN, 1}, zero = {0, 0}, inf = {INFINITY, 0};
  invalid([&] { engine_->neighbors(space_, wrong_size, 3); });
  invalid([&] { engine_->neighbors(space_, nan, 3); });
  invalid([&] { engine_->neighbors(space_, inf, 3); });
  invalid([&] { engine_->neighbors(space_, zero, 3); });
  invalid([&] { engine_->analogy(space_, {}, {}, 3); });
  invalid([&] { engine_->analogy(space_, {"dog"}, {"dog"}, 3); });  // terms cancel out
  invalid([&] { engine_->analogy(space_, {"void"}, {}, 3); });
  invalid([&] { engine_->analogy(space_, {"dog"}, {}, 0, AnalogyMethod::kMul); });
  expect_error([&] { engine_->analogy(space_, {"dog"}, {"dog"}, 3); }, ErrorCode::kInvalidArgument,
               {"cancel"});
  EXPECT_EQ(parse_analogy_method("3CosMul"), AnalogyMethod::kMul);
  invalid([] { parse_analogy_method("sub"); });
}

// Re-ingesting the space replaces it (a new run id): the engine notices and reloads.
TEST_P(QueryTest, CacheFollowsTheCatalog) {
  EXPECT_EQ(engine_->neighbors(space_, "dog", 1).hits[0].name, "cat");
  std::vector<ToyConcept> changed = toy_concepts();
  changed[2].w = {1, 0.01f};  // horse now almost parallel to dog
  test::write_toy_space(*catalog_, "toy", "features", changed);
  EXPECT_EQ(engine_->neighbors(space_, "dog", 1).hits[0].name, "horse");
}

// A write through another connection (another Catalog object, as another process would
// hold) moves the generation: the engine reloads on the next query without being told.
// invalidate() drops the cache even when nothing changed.
TEST(QueryCache, FollowsWritesFromOtherConnections) {
  test::TempDir dir;
  Catalog catalog = Catalog::open(dir.file("catalog.db"));
  const std::string space = test::write_toy_space(catalog, "toy", "features", toy_concepts());
  QueryEngine engine(catalog);
  EXPECT_EQ(engine.neighbors(space, "dog", 1).hits[0].name, "cat");
  const uint64_t before = catalog.generation();
  EXPECT_EQ(catalog.generation(), before);  // nothing committed: unchanged
  {
    Catalog writer = Catalog::open(dir.file("catalog.db"));
    std::vector<ToyConcept> changed = toy_concepts();
    changed[2].w = {1, 0.01f};
    test::write_toy_space(writer, "toy", "features", changed);
  }
  EXPECT_NE(catalog.generation(), before);
  EXPECT_EQ(engine.neighbors(space, "dog", 1).hits[0].name, "horse");
  engine.invalidate(space);
  EXPECT_EQ(engine.neighbors(space, "dog", 1).hits[0].name, "horse");
}

// A memory budget (serve --cache-mb): past it the least recently used space is dropped and
// read again when asked for; the answers are the same as without a budget.
TEST(QueryCache, BudgetKeepsTheRecentlyUsedSpacesAndAnswersTheSame) {
  test::TempDir dir;
  Catalog catalog = Catalog::open(dir.file("catalog.db"));
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<std::string> spaces;
  for (int s = 0; s < 4; ++s) {
    std::vector<ToyConcept> concepts;
    for (int i = 0; i < 200; ++i) {
      ToyConcept c{"r" + std::to_string(i), "object", std::vector<float>(64)};
      for (float& v : c.w) v = normal(rng);
      concepts.push_back(std::move(c));
    }
    spaces.push_back(test::write_toy_space(catalog, "net" + std::to_string(s), "l", concepts));
  }
  QueryEngine unlimited(catalog);
  for (const std::string& space : spaces) unlimited.neighbors(space, "r1", 5);
  const CacheStats all = unlimited.cache_stats();
  EXPECT_EQ(all.spaces, 4);
  EXPECT_EQ(all.loads, 4);
  EXPECT_EQ(all.evictions, 0);
  const size_t per_space = all.bytes / 4;
  EXPECT_GT(per_space, 200u * 64 * 4 * 2);  // at least the stored and unit rows

  // Room for two spaces and a half: never more than two cached.
  QueryEngine budget(catalog, {QueryOptions::Index::kDefault, per_space * 5 / 2});
  for (int round = 0; round < 3; ++round)
    for (const std::string& space : spaces) {
      const auto a = budget.neighbors(space, "r7", 5), b = unlimited.neighbors(space, "r7", 5);
      ASSERT_EQ(a.hits.size(), b.hits.size());
      for (size_t j = 0; j < a.hits.size(); ++j) EXPECT_EQ(a.hits[j].name, b.hits[j].name);
      const CacheStats now = budget.cache_stats();
      EXPECT_LE(now.spaces, 2);
      EXPECT_LE(now.bytes, per_space * 5 / 2);
    }
  const CacheStats cycled = budget.cache_stats();
  EXPECT_EQ(cycled.loads, 12);  // cycling 4 spaces through 2 slots: every query reloads
  EXPECT_EQ(cycled.evictions, 10);
  // The most recently used stays: asking it again does not read the catalog.
  budget.neighbors(spaces[3], "r7", 5);
  EXPECT_EQ(budget.cache_stats().loads, 12);
  budget.neighbors(spaces[2], "r7", 5);
  EXPECT_EQ(budget.cache_stats().loads, 12);
  budget.neighbors(spaces[0], "r7", 5);  // evicts spaces[3], the least recent of the two
  budget.neighbors(spaces[2], "r7", 5);
  EXPECT_EQ(budget.cache_stats().loads, 13);

  // A budget smaller than one space still answers, keeping just that one.
  QueryEngine tiny(catalog, {QueryOptions::Index::kDefault, 1});
  for (const std::string& space : spaces) EXPECT_EQ(tiny.neighbors(space, "r7", 1).hits.size(), 1u);
  EXPECT_EQ(tiny.cache_stats().spaces, 1);
}

INSTANTIATE_TEST_SUITE_P(Indexes, QueryTest,
                         ::testing::Values(QueryOptions::Index::kDefault, QueryOptions::Index::kBruteForce),
                         [](const auto& info) {
                           return info.param == QueryOptions::Index::kDefault ? "default_index" : "brute_force";
                         });

// On a random space both engines give the same neighbours and analogies.
TEST(QueryEngines, FaissAndBruteForceAgree) {
  test::TempDir dir;
  Catalog catalog = Catalog::open(dir.file("catalog.db"));
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<ToyConcept> concepts;
  for (int i = 0; i < 300; ++i) {
    ToyConcept c{"r" + std::to_string(i), i % 3 ? "object" : "part", std::vector<float>(45)};
    for (float& v : c.w) v = normal(rng);
    concepts.push_back(std::move(c));
  }
  const std::string space = test::write_toy_space(catalog, "rand", "l1", concepts);
  QueryEngine faiss(catalog), brute(catalog, {QueryOptions::Index::kBruteForce});
  EXPECT_EQ(brute.index_name(), "brute-force");
  for (int i = 0; i < 300; i += 37) {
    const std::string name = "r" + std::to_string(i);
    const auto a = faiss.neighbors(space, name, 8), b = brute.neighbors(space, name, 8);
    const auto c = faiss.neighbors(space, name, 8, std::string("part")),
               d = brute.neighbors(space, name, 8, std::string("part"));
    const auto e = faiss.analogy(space, {name, "r1"}, {"r2"}, 8), f = brute.analogy(space, {name, "r1"}, {"r2"}, 8);
    for (const auto& [x, y] : {std::pair{&a.hits, &b.hits}, {&c.hits, &d.hits}, {&e.hits, &f.hits}}) {
      ASSERT_EQ(x->size(), y->size());
      for (size_t j = 0; j < x->size(); ++j) {
        EXPECT_EQ((*x)[j].name, (*y)[j].name);
        EXPECT_NEAR((*x)[j].score, (*y)[j].score, 1e-5);
      }
    }
    for (const ConceptHit& h : c.hits) EXPECT_EQ(h.category, "part");
  }
}

TEST(ClosestNames, EditDistanceAndSubstrings) {
  const std::vector<std::string> names = {"dog", "dig", "cat", "license plate", "traffic light", "door"};
  EXPECT_EQ(closest_names("dgo", names)[0], "dog");                 // transposition: 1 edit
  EXPECT_EQ(closest_names("DOG", names)[0], "dog");                 // case-insensitive
  EXPECT_EQ(closest_names("plate", names), std::vector<std::string>{"license plate"});
  EXPECT_EQ(closest_names("traffic-light", names)[0], "traffic light");
  EXPECT_TRUE(closest_names("zebra", names).empty());
  EXPECT_LE(closest_names("do", names, 2).size(), 2u);
}

}  // namespace
}  // namespace n2v
