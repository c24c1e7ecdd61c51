// Issue 21 part 1 through the service: a concept's val intervals and p-values in its JSON and
// text exactly as stored ("not computed" / null where the catalog has none), and Table 1's
// interval counts recomputed from the stored intervals.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <vector>

#include "common/false_discovery.h"
#include "service/json.h"
#include "service/render.h"
#include "service/service.h"
#include "service_suite.h"
#include "support/older_schema.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

// A listed score's <prefix>_interval, <prefix>_p and <prefix>_null_mean are the stored stats
// exactly (null each where none is stored). Returns whether some were stored.
bool expect_listed_stats(const Json& row, const std::string& prefix, const ScoreStatsRecord& st) {
  SCOPED_TRACE(prefix + " of " + row.dump());
  const Json &iv = row.at(prefix + "_interval"), &p = row.at(prefix + "_p"), &null = row.at(prefix + "_null_mean");
  if (!st.computed()) {
    EXPECT_TRUE(iv.is_null() && p.is_null() && null.is_null());
    return false;
  }
  EXPECT_TRUE(iv.is_array() && iv.size() == 2);
  if (!iv.is_array() || iv.size() != 2) return true;
  EXPECT_EQ(iv[0].get<double>(), static_cast<double>(*st.low));
  EXPECT_EQ(iv[1].get<double>(), static_cast<double>(*st.high));
  EXPECT_EQ(p.get<double>(), static_cast<double>(*st.p));
  EXPECT_EQ(null.get<double>(), static_cast<double>(*st.null_mean));
  return true;
}

std::map<std::string, EmbeddingRecord> stored_by_name(const Catalog& catalog, const std::string& space) {
  std::map<std::string, EmbeddingRecord> out;
  for (const ScoredConcept& c : catalog.concept_scores(space)) out.emplace(c.name, c.embedding);
  return out;
}

class ScoreStatsService : public test::ServiceCatalogSuite {
 protected:
  ScoreStatsService() : service_(catalog()) {}
  Service service_;
};

TEST_F(ScoreStatsService, ConceptJsonAndTextCarryTheStoredIntervals) {
  // dog (label 1) has intervals in the service catalog; bird (label 7) has none.
  for (const char* space : {"toynet.conv.seg", "toynet.conv.cls"}) {
    for (const char* name : {"dog", "bird"}) {
      SCOPED_TRACE(std::string(space) + " " + name);
      const EmbeddingRecord stored = *catalog().embedding(space, name);
      const ConceptResponse answer = service_.concept_detail({space, name, 10});
      const Json j = to_json(answer);
      const std::string text = render_text(answer);
      for (const auto& [key, st] : {std::pair{"learned", stored.score_val_stats}, std::pair{"best_single", stored.best_filter_val_stats}}) {
        const Json& s = j[key];
        if (st.computed()) {
          ASSERT_TRUE(s["val_interval"].is_array()) << s.dump();
          EXPECT_EQ(s["val_interval"][0].get<double>(), static_cast<double>(*st.low));
          EXPECT_EQ(s["val_interval"][1].get<double>(), static_cast<double>(*st.high));
          EXPECT_EQ(s["val_p"].get<double>(), static_cast<double>(*st.p));
          EXPECT_EQ(s["val_null_mean"].get<double>(), static_cast<double>(*st.null_mean));
        } else {
          EXPECT_TRUE(s["val_interval"].is_null() && s["val_p"].is_null() && s["val_null_mean"].is_null()) << s.dump();
        }
      }
      EXPECT_NE(text.find("p against chance"), std::string::npos) << text;
      EXPECT_EQ(text.find("not computed") != std::string::npos, !stored.score_val_stats.computed()) << text;
    }
  }
}

TEST_F(ScoreStatsService, TableOneCountsSeparatedIntervalsAsStored) {
  for (const char* space : {"toynet.conv.seg", "toynet.conv.cls", "othernet.fc.seg"}) {
    SCOPED_TRACE(space);
    int with = 0, up = 0, down = 0;
    for (const ScoredConcept& c : catalog().concept_scores(space)) {
      const ScoreStatsRecord &l = c.embedding.score_val_stats, &b = c.embedding.best_filter_val_stats;
      if (!l.low || !b.low) continue;
      ++with;
      up += *l.low > *b.high;
      down += *b.low > *l.high;
    }
    ASSERT_GT(with, 0);
    const Json j = to_json(service_.analyses(space));
    const Json& all = j["learned_vs_single"][0];
    EXPECT_TRUE(all["category"].is_null());
    EXPECT_EQ(all["with_intervals"].get<int>(), with);
    EXPECT_EQ(all["learned_interval_above"].get<int>(), up);
    EXPECT_EQ(all["single_interval_above"].get<int>(), down);
  }
}

// A concept's q is its p corrected over the space's concepts (Benjamini-Hochberg), recomputed
// here from the definition: q_i = min over the sorted p_(k) >= p_i of p_(k) m / k. Table 1's
// above-chance count is the number of q <= 0.05.
TEST_F(ScoreStatsService, ConceptQIsBenjaminiHochbergOverTheSpacesConcepts) {
  for (const char* space : {"toynet.conv.seg", "toynet.conv.cls"}) {
    SCOPED_TRACE(space);
    std::map<std::string, double> p_of;
    std::map<std::string, bool> both_scores;
    for (const ScoredConcept& c : catalog().concept_scores(space)) {
      const EmbeddingRecord& e = c.embedding;
      const std::optional<float> learned = e.set_iou_val ? e.set_iou_val : e.accuracy_val;
      both_scores[c.name] = learned.has_value() && e.best_filter_val.has_value();
      if (learned && e.score_val_stats.p) p_of[c.name] = *e.score_val_stats.p;
    }
    ASSERT_GT(p_of.size(), 3u);
    std::vector<double> sorted;
    for (const auto& [name, p] : p_of) sorted.push_back(p);
    std::sort(sorted.begin(), sorted.end());
    const double m = static_cast<double>(sorted.size());
    int above = 0, checked = 0;
    for (const auto& [name, p] : p_of) {
      double q = 1.0;
      for (size_t k = 0; k < sorted.size(); ++k)
        if (sorted[k] >= p) q = std::min(q, sorted[k] * m / static_cast<double>(k + 1));
      const Json j = to_json(service_.concept_detail({space, name, 1}));
      ASSERT_TRUE(j["learned"]["val_q"].is_number()) << name << " " << j["learned"].dump();
      EXPECT_NEAR(j["learned"]["val_q"].get<double>(), q, 1e-12) << name;
      EXPECT_GE(j["learned"]["val_q"].get<double>(), p) << name;  // never below its p
      if (both_scores[name]) above += q <= kFalseDiscoveryRate;
      ++checked;
    }
    EXPECT_EQ(checked, static_cast<int>(p_of.size()));
    EXPECT_EQ(to_json(service_.analyses(space))["learned_vs_single"][0]["learned_above_chance"].get<int>(), above);
    // A concept without a stored p has no q.
    EXPECT_TRUE(to_json(service_.concept_detail({space, "bird", 1}))["learned"]["val_q"].is_null());
  }
}

// Issue 21: the concept list shows no score bare. Every row's intervals and p-values are the
// catalog's stored ones, and the text table shows the interval beside the score.
TEST_F(ScoreStatsService, ConceptListCarriesEachConceptsStoredIntervals) {
  for (const char* space : {"toynet.conv.seg", "toynet.conv.cls", "othernet.fc.seg"}) {
    SCOPED_TRACE(space);
    const std::map<std::string, EmbeddingRecord> stored = stored_by_name(catalog(), space);
    const ConceptsResponse answer = service_.concepts({space, std::nullopt});
    const Json j = to_json(answer);
    ASSERT_EQ(j["concepts"].size(), stored.size());
    int with = 0, without = 0;
    for (const Json& row : j["concepts"]) {
      const EmbeddingRecord& e = stored.at(row["name"].get<std::string>());
      const bool a = expect_listed_stats(row, "score_val", e.score_val_stats);
      const bool b = expect_listed_stats(row, "best_filter_val", e.best_filter_val_stats);
      EXPECT_EQ(a, b) << row.dump();  // the service catalog stores both or neither
      (a ? with : without)++;
    }
    EXPECT_GE(with, 3);  // several concepts with intervals, and some without, are compared
    EXPECT_GE(without, 1);
    const std::string text = render_text(answer);
    EXPECT_NE(text.find("95 % interval"), std::string::npos) << text;
    for (const ConceptSummary& c : answer.concepts) {
      if (!c.score_val_stats.computed()) continue;
      char iv[64];
      std::snprintf(iv, sizeof iv, "[%.4f, %.4f]", *c.score_val_stats.low, *c.score_val_stats.high);
      EXPECT_NE(text.find(iv), std::string::npos) << c.name << " " << iv << "\n" << text;
    }
  }
}

// The filter report's rows (best_for, top_weighted) carry their concept's best-filter
// interval and p as stored; the text lists them for best_for.
TEST_F(ScoreStatsService, FilterRowsCarryTheBestFiltersStoredIntervals) {
  for (const char* space : {"toynet.conv.seg", "toynet.conv.cls"}) {
    SCOPED_TRACE(space);
    const std::map<std::string, EmbeddingRecord> stored = stored_by_name(catalog(), space);
    const int dim = static_cast<int>(stored.begin()->second.weights.size());
    int best_rows = 0, with = 0;
    for (int k = 0; k < dim; ++k) {
      const FilterResponse answer = service_.filter({space, k, 5});
      const Json j = to_json(answer);
      for (const char* list : {"best_for", "top_weighted"})
        for (const Json& row : j[list]) {
          const EmbeddingRecord& e = stored.at(row["name"].get<std::string>());
          with += expect_listed_stats(row, "best_filter_val", e.best_filter_val_stats);
          best_rows += std::string(list) == "best_for";
        }
      if (!answer.report.best_for.empty())
        EXPECT_NE(render_text(answer).find("95 % interval"), std::string::npos);
    }
    EXPECT_GE(best_rows, 3);
    EXPECT_GE(with, 3);
  }
}

// A catalog from before schema version 7 lists every score with null intervals and p-values
// (not computed), never zeros, and its text shows "-" there.
TEST(ScoreStatsOlderCatalog, ListsAndFilterRowsSayNotComputed) {
  test::TempDir dir;
  const std::string path = dir.file("old.db");
  {
    Catalog c = Catalog::open(path);
    test::write_service_catalog(c, "");
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  const int rc = sqlite3_exec(raw, test::downgrade_sql(Catalog::latest_schema_version(), 6).c_str(), nullptr, nullptr, nullptr);
  EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errmsg(raw);
  sqlite3_close(raw);
  const Catalog catalog = Catalog::open(path);  // read-write: migrates it to the latest schema
  Service service(catalog);
  const ConceptsResponse list = service.concepts({"toynet.conv.seg", std::nullopt});
  const Json j = to_json(list);
  ASSERT_GE(j["concepts"].size(), 3u);
  for (const Json& row : j["concepts"]) {
    EXPECT_TRUE(row["score_val"].is_number()) << row.dump();  // the scores themselves are there
    for (const char* key : {"score_val_interval", "score_val_p", "score_val_null_mean", "best_filter_val_interval",
                            "best_filter_val_p", "best_filter_val_null_mean"})
      EXPECT_TRUE(row.at(key).is_null()) << key << " " << row.dump();
  }
  EXPECT_EQ(render_text(list).find("["), std::string::npos) << render_text(list);
  const Json f = to_json(service.filter({"toynet.conv.seg", list.concepts[0].best_filter, 5}));
  ASSERT_FALSE(f["best_for"].empty());
  for (const char* l : {"best_for", "top_weighted"})
    for (const Json& row : f[l])
      EXPECT_TRUE(row.at("best_filter_val_interval").is_null() && row.at("best_filter_val_p").is_null()) << row.dump();
}

}  // namespace
}  // namespace n2v
