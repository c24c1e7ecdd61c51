// net2vec-ingest end to end: the real binary, the real SQLite file, the toy probe set whose
// activations and thresholds the test recomputes from the images it wrote.
#include <gtest/gtest.h>

#include <set>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <array>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>

#include "catalog/catalog.h"
#include "common/error.h"
#include "model/network.h"
#include "support/run_command.h"
#include "support/temp_dir.h"
#include "support/test_device.h"
#include "support/toy_fixture.h"

namespace n2v {
namespace {

using Result = test::CommandResult;
Result run(const std::string& args) { return test::run_command(std::string(NET2VEC_INGEST) + " " + args); }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

class IngestE2E : public ::testing::Test {
 protected:
  void SetUp() override { test::write_toy(dir.path()); }
  std::string args(const std::string& extra = "", const std::string& layer = "features") const {
    return "--probe " + dir.file("probe") + " --model " + dir.file("model.pt") + " --layer " +
           layer + " --network toy --db " + dir.file("catalog.db") +
           " --quantile 0.125 --progress lines " + extra;
  }
  test::TempDir dir;
};

// Oracle: the 4 filter maps of image i computed from the fixture's pixels, and the
// (m+1)-th largest value per filter.
std::vector<float> oracle_thresholds() {
  test::BrodenFixture f = test::toy_fixture();
  std::vector<std::vector<float>> values(4);
  for (const auto& img : f.images)
    for (int by = 0; by < 8; ++by)
      for (int bx = 0; bx < 8; ++bx) {
        float c[3] = {0, 0, 0};
        for (int y = 0; y < 4; ++y)
          for (int x = 0; x < 4; ++x)
            for (int ch = 0; ch < 3; ++ch)
              c[ch] += img.image.pixels[((by * 4 + y) * 32 + bx * 4 + x) * 3 + ch] / 255.0f / 16;
        values[0].push_back(c[0]);
        values[1].push_back(c[1]);
        values[2].push_back(c[2]);
        values[3].push_back(1 - c[0]);
      }
  std::vector<float> t;
  for (auto& v : values) {
    std::sort(v.begin(), v.end(), std::greater<float>());
    t.push_back(v[static_cast<size_t>(test::kToyTau * v.size())]);  // m = 384 exactly
  }
  return t;
}

TEST_F(IngestE2E, ToyProbeSetEndToEnd) {
  Result r = run(args());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "toy.features.seg")) << r.out;
  EXPECT_TRUE(contains(r.out, "time per stage")) << r.out;

  Catalog cat = Catalog::open(dir.file("catalog.db"), Catalog::Mode::kReadOnly);
  std::vector<SpaceInfo> spaces = cat.spaces();
  ASSERT_EQ(spaces.size(), 2u);
  std::optional<SpaceInfo> seg = cat.space("toy.features.seg");
  ASSERT_TRUE(seg);
  EXPECT_EQ(seg->dim, 4);
  EXPECT_EQ(seg->concept_count, 3);  // blue-c, redsquare, leaf (scenes have no pixels)
  EXPECT_EQ(cat.space("toy.features.cls")->concept_count, 5);

  // Thresholds against the oracle; the red one sits just below the red squares.
  RunRecord run_record = cat.run(seg->run_id);
  std::vector<float> expected = oracle_thresholds();
  ASSERT_EQ(run_record.thresholds.size(), 4u);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(run_record.thresholds[k], expected[k], 1e-6) << k;
  EXPECT_NEAR(run_record.thresholds[0], 60.0f / 255, 1e-6);
  EXPECT_EQ(run_record.images_used, test::kToyImages);
  EXPECT_EQ(run_record.layer, "features");
  EXPECT_TRUE(contains(run_record.preprocessing_json, "\"height\":32")) << run_record.preprocessing_json;
  EXPECT_TRUE(contains(run_record.params_json, "\"lr\":0.0001")) << run_record.params_json;
  // Each filter's top images (the default --top-images 10), shared by the seg and cls spaces:
  // ten distinct rows by non-increasing max.
  EXPECT_EQ(run_record.top_images_per_filter, std::optional<int>(10));
  for (int k = 0; k < 4; ++k) {
    const Catalog::FilterTopImages top = cat.filter_top_images("toy.features.cls", k);
    ASSERT_EQ(top.images.size(), 10u) << k;
    std::set<int> rows;
    for (size_t i = 0; i < top.images.size(); ++i) {
      rows.insert(top.images[i].record.image_row);
      if (i > 0) EXPECT_LE(top.images[i].record.max_activation, top.images[i - 1].record.max_activation) << k;
    }
    EXPECT_EQ(rows.size(), 10u) << k;
  }
  // Filter 0 (red) fires most on the red squares, above its T_k = 60/255.
  const Catalog::FilterTopImages red_top = cat.filter_top_images("toy.features.seg", 0);
  ASSERT_FALSE(red_top.images.empty());
  int on = 0;
  for (uint8_t b : red_top.images[0].record.map) on += __builtin_popcount(b);
  EXPECT_GT(on, 0) << "filter 0's strongest image has no position above T_0";

  // redsquare: filter 0 separates it perfectly (masks are at the activation resolution).
  std::optional<EmbeddingRecord> red = cat.embedding("toy.features.seg", "redsquare");
  ASSERT_TRUE(red);
  EXPECT_EQ(red->train_count, 16);
  EXPECT_EQ(red->val_count, 8);
  EXPECT_EQ(red->best_filter, 0);
  EXPECT_FLOAT_EQ(*red->best_filter_train, 1.0f);
  EXPECT_FLOAT_EQ(*red->best_filter_val, 1.0f);
  EXPECT_GE(*red->set_iou_val, 0.9f);
  // alpha = 1 - mean fraction: 16 of 64 mask pixels in every train image.
  EXPECT_FLOAT_EQ(red->alpha, 0.75f);
  EXPECT_GT(red->weights[0], 0.0f);
  // Val set IoU of every single filter: filter 0 is exact, the others miss the squares.
  ASSERT_EQ(red->filter_iou_val.size(), 4u);
  EXPECT_FLOAT_EQ(red->filter_iou_val[0], 1.0f);
  for (int k = 1; k < 4; ++k) EXPECT_LT(red->filter_iou_val[k], 0.5f) << k;
  ASSERT_EQ(red->image_iou.size(), 8u);  // every val image of the concept
  for (const auto& i : red->image_iou) EXPECT_FLOAT_EQ(i.single, 1.0f);
  // The default F sweep (paper list) keeps only F < K = 4: F = 1 and 2.
  ASSERT_EQ(red->subsets.size(), 2u);
  EXPECT_EQ(red->subsets[0].filters, 1);
  EXPECT_FLOAT_EQ(red->subsets[0].score, 1.0f);

  std::optional<EmbeddingRecord> red_cls = cat.embedding("toy.features.cls", "redsquare");
  ASSERT_TRUE(red_cls);
  EXPECT_GE(*red_cls->accuracy_val, 0.95f);
  EXPECT_FALSE(red_cls->set_iou_val);
}

TEST_F(IngestE2E, TwoLayersInOnePassGetARunAndSpacesEach) {
  Result r = run(args("--seg-subsets '' --cls-subsets ''", "features,coarse"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "activations features,coarse")) << r.out;  // one pass
  Catalog cat = Catalog::open(dir.file("catalog.db"), Catalog::Mode::kReadOnly);
  EXPECT_EQ(cat.spaces().size(), 4u);
  std::optional<SpaceInfo> fine = cat.space("toy.features.seg"), coarse = cat.space("toy.coarse.seg");
  ASSERT_TRUE(fine && coarse);
  EXPECT_NE(fine->run_id, coarse->run_id);
  RunRecord run_coarse = cat.run(coarse->run_id);
  EXPECT_EQ(run_coarse.layer, "coarse");
  EXPECT_EQ(run_coarse.act_height, 4);
  EXPECT_EQ(run_coarse.filter_count, 4);
  // The red squares are 16x16 px on a 4 px grid: on the 8 px grid of "coarse" they cover
  // whole or partial cells, so the best coarse filter is still red but not perfect after the
  // 2x upsampling.
  std::optional<EmbeddingRecord> red = cat.embedding("toy.coarse.seg", "redsquare");
  ASSERT_TRUE(red);
  EXPECT_EQ(red->best_filter, 0);
  EXPECT_GT(*red->best_filter_val, 0.3f);
  EXPECT_LE(*red->best_filter_val, 1.0f);
}

TEST_F(IngestE2E, ReingestReplacesTheSpace) {
  ASSERT_EQ(run(args("--tasks seg")).status, 0);
  int64_t first = Catalog::open(dir.file("catalog.db")).space("toy.features.seg")->run_id;
  Result r = run(args("--tasks seg --seed 7"));
  ASSERT_EQ(r.status, 0) << r.out;
  Catalog cat = Catalog::open(dir.file("catalog.db"));
  EXPECT_EQ(cat.spaces().size(), 1u);
  EXPECT_NE(cat.space("toy.features.seg")->run_id, first);
}

TEST_F(IngestE2E, UnknownLayerListsTheAvailableOnes) {
  Result r = run("--probe " + dir.file("probe") + " --model " + dir.file("model.pt") +
                 " --layer conv9 --network toy --db " + dir.file("catalog.db"));
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_TRUE(contains(r.out, "conv9")) << r.out;
  EXPECT_TRUE(contains(r.out, "available: features, coarse")) << r.out;
}

TEST_F(IngestE2E, CorruptMaskNamesFileAndLineAndLeavesCatalogAlone) {
  ASSERT_EQ(run(args()).status, 0);
  int64_t before = Catalog::open(dir.file("catalog.db")).space("toy.features.seg")->run_id;
  { std::ofstream(dir.file("probe/images/toy_05_object.png")) << "not a png"; }
  Result r = run(args("--seed 3"));
  EXPECT_EQ(r.status, 5) << r.out;
  EXPECT_TRUE(contains(r.out, "toy_05_object.png")) << r.out;
  EXPECT_TRUE(contains(r.out, "index.csv:7")) << r.out;  // header + rows 0..5
  EXPECT_EQ(Catalog::open(dir.file("catalog.db")).space("toy.features.seg")->run_id, before);

  Result skip = run(args("--seed 3 --skip-bad"));
  ASSERT_EQ(skip.status, 0) << skip.out;
  EXPECT_TRUE(contains(skip.out, "47 images used, 1 skipped")) << skip.out;
}

TEST_F(IngestE2E, MissingImageAndWrongColumnCount) {
  std::remove(dir.file("probe/images/toy_03.png").c_str());
  Result r = run(args());
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_TRUE(contains(r.out, "toy_03.png")) << r.out;

  test::TempDir other;
  test::write_toy(other.path());
  {
    std::ifstream in(other.file("probe/index.csv"));
    std::stringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    size_t line3 = s.find('\n', s.find('\n', s.find('\n') + 1) + 1);  // after line 3
    s.insert(line3, ",extra");
    std::ofstream(other.file("probe/index.csv")) << s;
  }
  Result bad = run("--probe " + other.file("probe") + " --model " + other.file("model.pt") +
                   " --layer features --network toy --db " + other.file("c.db"));
  EXPECT_EQ(bad.status, 5) << bad.out;
  EXPECT_TRUE(contains(bad.out, "index.csv:3")) << bad.out;
}

TEST_F(IngestE2E, NoUsableConceptIsAClearError) {
  // Every image in train: no concept has val images, so nothing can be scored.
  std::ifstream in(dir.file("probe/index.csv"));
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  for (size_t pos; (pos = s.find(",val,")) != std::string::npos;) s.replace(pos, 5, ",train,");
  std::ofstream(dir.file("probe/index.csv")) << s;
  Result r = run(args());
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(contains(r.out, "no usable concept")) << r.out;
  EXPECT_FALSE(Catalog::open(dir.file("catalog.db")).space("toy.features.seg"));
}

TEST_F(IngestE2E, KilledMidRunLeavesThePreviousCatalog) {
  ASSERT_EQ(run(args()).status, 0);
  int64_t before = Catalog::open(dir.file("catalog.db")).space("toy.features.seg")->run_id;
  pid_t pid = fork();
  if (pid == 0) {
    std::string cmd = std::string(NET2VEC_INGEST) + " " + args("--epochs 1000000 --seg-subsets '' -q");
    execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >/dev/null 2>&1").c_str(), nullptr);
    _exit(127);
  }
  sleep(2);  // well into training
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFSIGNALED(st));
  Catalog cat = Catalog::open(dir.file("catalog.db"));
  EXPECT_EQ(cat.space("toy.features.seg")->run_id, before);
  EXPECT_EQ(cat.vectors("toy.features.seg").size(), 3u);
}

TEST_F(IngestE2E, HelpExplainsEveryOption) {
  Result r = run("--help");
  EXPECT_EQ(r.status, 0);
  for (const char* opt : {"--probe", "--model", "--layer", "--network", "--db", "--tasks", "--device",
                          "--quantile", "--epochs", "--batch-size", "--lr", "--seed", "--max-images",
                          "--skip-bad", "--seg-subsets", "--cls-subsets", "--log-loss"})
    EXPECT_TRUE(contains(r.out, opt)) << opt;
  Result bad = run("--probe x");
  EXPECT_EQ(bad.status, 2) << bad.out;
}

TEST_F(IngestE2E, BadOptionValues) {
  EXPECT_EQ(run(args("--quantile 1.5")).status, 2);
  EXPECT_EQ(run(args("--tasks seg,foo")).status, 2);
  Result r = run("--probe " + dir.file("probe") + " --model " + dir.file("model.pt") +
                 " --layer features --network 'bad/name' --db " + dir.file("c.db"));
  EXPECT_EQ(r.status, 2) << r.out;
  // --device cuda: exit 6 (unsupported) where LibTorch sees no GPU; where it sees one, the
  // ingest runs there (issue 10: CI has no GPU, a GPU machine runs the same test).
  const bool cuda = [] {
    try {
      return resolve_device("cuda") == DeviceKind::kCuda;
    } catch (const Error&) {
      return false;
    }
  }();
  EXPECT_EQ(run(args("--device cuda")).status, cuda ? 0 : 6);
  for (const char* bad : {"--placement gpu", "--precision fp8", "--seg-kernel fast"}) {
    const Result b = run(args(bad));
    EXPECT_EQ(b.status, 2) << bad << ": " << b.out;
    EXPECT_TRUE(contains(b.out, "expected")) << b.out;
  }
}

// The path --device cuda takes (maps kept on the network's device, dense segmentation
// kernel), forced here on NET2VEC_TEST_DEVICE (the CPU in CI, the GPU under tools/gpu-check),
// against the CPU path: the same thresholds, concepts and scores, weights within float
// tolerance.
TEST_F(IngestE2E, TheGpuPathGivesTheCpuResults) {
  const std::string device = test::test_device_name();
  const std::string cpu_db = dir.file("cpu.db"), gpu_db = dir.file("gpu.db");
  const std::string common = "--probe " + dir.file("probe") + " --model " + dir.file("model.pt") +
                             " --layer features,coarse --network toy --quantile 0.125 --seg-subsets 1,2 --cls-subsets 1";
  Result cpu = run(common + " --db " + cpu_db + " --device cpu --placement host --seg-kernel sparse");
  ASSERT_EQ(cpu.status, 0) << cpu.out;
  Result gpu = run(common + " --db " + gpu_db + " --device " + device + " --placement device --seg-kernel dense");
  ASSERT_EQ(gpu.status, 0) << gpu.out;
  Catalog a = Catalog::open(cpu_db, Catalog::Mode::kReadOnly), b = Catalog::open(gpu_db, Catalog::Mode::kReadOnly);
  ASSERT_EQ(a.spaces().size(), 4u);
  ASSERT_EQ(b.spaces().size(), 4u);
  int compared = 0;
  for (const SpaceInfo& s : a.spaces()) {
    SCOPED_TRACE(s.id);
    std::optional<SpaceInfo> t = b.space(s.id);
    ASSERT_TRUE(t);
    const RunRecord ra = a.run(s.run_id), rb = b.run(t->run_id);
    ASSERT_EQ(ra.thresholds.size(), rb.thresholds.size());
    for (size_t k = 0; k < ra.thresholds.size(); ++k) EXPECT_NEAR(ra.thresholds[k], rb.thresholds[k], 1e-6);
    EXPECT_TRUE(contains(rb.params_json, "\"kernel\":\"dense\"")) << rb.params_json;
    EXPECT_TRUE(contains(rb.params_json, "\"placement\":\"device\"")) << rb.params_json;
    const std::vector<ConceptVector> va = a.vectors(s.id), vb = b.vectors(s.id);
    ASSERT_EQ(va.size(), vb.size());
    for (size_t c = 0; c < va.size(); ++c) {
      ASSERT_EQ(va[c].name, vb[c].name);
      const std::optional<EmbeddingRecord> ea = a.embedding(s.id, va[c].name), eb = b.embedding(s.id, vb[c].name);
      ASSERT_TRUE(ea && eb);
      EXPECT_EQ(ea->best_filter, eb->best_filter) << va[c].name;
      ASSERT_EQ(ea->weights.size(), eb->weights.size());
      for (size_t k = 0; k < ea->weights.size(); ++k)
        EXPECT_NEAR(ea->weights[k], eb->weights[k], 1e-4 * (1 + std::fabs(ea->weights[k]))) << va[c].name << " w_" << k;
      EXPECT_EQ(ea->set_iou_val.has_value(), eb->set_iou_val.has_value());
      if (ea->set_iou_val) EXPECT_NEAR(*ea->set_iou_val, *eb->set_iou_val, 1e-3) << va[c].name;
      if (ea->accuracy_val) EXPECT_NEAR(*ea->accuracy_val, *eb->accuracy_val, 1e-3) << va[c].name;
      ++compared;
    }
  }
  EXPECT_GE(compared, 16);  // 3 seg + 5 cls concepts in each of 2 layers
}

}  // namespace
}  // namespace n2v
