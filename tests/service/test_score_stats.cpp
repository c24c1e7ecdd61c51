// Issue 21 part 1 through the service: a concept's val intervals and p-values in its JSON and
// text exactly as stored ("not computed" / null where the catalog has none), and Table 1's
// interval counts recomputed from the stored intervals.
#include <gtest/gtest.h>

#include "service/json.h"
#include "service/render.h"
#include "service/service.h"
#include "service_suite.h"

namespace n2v {
namespace {

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

}  // namespace
}  // namespace n2v
