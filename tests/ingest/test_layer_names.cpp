// Any network, C++ side (issue 16): layers as models name them ("block.1.features"), their
// space ids, layers that are not N x K x H x W, 1 x 1 layers, --list-layers and one-channel
// networks -- through the real net2vec-ingest binary and the catalog it writes. The modules
// are TorchScript written here from the toy network's maps, so the oracle is the toy run.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/script.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "catalog/catalog.h"
#include "common/error.h"
#include "model/network.h"
#include "support/run_command.h"
#include "support/temp_dir.h"
#include "support/toy_fixture.h"

namespace n2v {
namespace {

using Result = test::CommandResult;
Result run(const std::string& args) { return test::run_command(std::string(NET2VEC_INGEST) + " " + args); }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The toy network's "features" maps under model-style names, plus their spatial means as an
// exported 2-D layer (N x 4 x 1 x 1, "head") and raw (N x 4, "fc"), a token layer (N x 64 x 4)
// and a name colliding with the dotted one.
void write_named_model(const std::string& path, int channels = 3) {
  torch::jit::Module m("NamedNet");
  m.register_attribute("net2vec_layers", c10::ListType::ofStrings(),
                       c10::List<std::string>({"block.1.features", "block-1-features", "head", "fc", "tokens"}));
  Preprocessing p;
  p.height = p.width = 32;
  p.channels = channels;
  p.scale = 1.0f / 255;
  p.mean = {0, 0, 0};
  p.std = {1, 1, 1};
  m.register_attribute("net2vec_preprocessing", c10::StringType::get(), c10::IValue(p.to_json()));
  m.define(R"JIT(
def forward(self, x: Tensor) -> Dict[str, Tensor]:
    p = torch.avg_pool2d(x, [4, 4])
    if p.size(1) == 1:
        p = torch.cat([p, p, p], 1)
    r = p[:, 0:1]
    f = torch.cat([r, p[:, 1:2], p[:, 2:3], 1.0 - r], 1)
    out: Dict[str, Tensor] = {}
    out["block.1.features"] = f
    out["block-1-features"] = f
    out["head"] = f.mean([2, 3], keepdim=True)
    out["fc"] = f.mean([2, 3])
    out["tokens"] = f.flatten(2).transpose(1, 2)
    return out
)JIT");
  m.save(path);
}

class LayerNames : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_toy(dir.path());
    write_named_model(dir.file("named.pt"));
  }
  std::string args(const std::string& model, const std::string& layer, const std::string& network,
                   const std::string& extra = "") const {
    return "--probe " + dir.file("probe") + " --model " + dir.file(model) + " --layer '" + layer +
           "' --network " + network + " --db " + dir.file("catalog.db") +
           " --quantile 0.125 --epochs 2 --cls-epochs 2 --seg-subsets '' --cls-subsets '' --progress none " + extra;
  }
  test::TempDir dir;
};

TEST_F(LayerNames, DottedLayerKeepsItsNameAndMatchesTheToyRun) {
  Result r = run(args("named.pt", "block.1.features", "named"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "named.block-1-features.seg")) << r.out;
  // The same maps under the toy network's own name: the oracle.
  r = run(args("model.pt", "features", "toy"));
  ASSERT_EQ(r.status, 0) << r.out;

  Catalog cat = Catalog::open(dir.file("catalog.db"), Catalog::Mode::kReadOnly);
  const std::optional<SpaceInfo> by_id = cat.space("named.block-1-features.seg");
  const std::optional<SpaceInfo> by_model_name = cat.space("named.block.1.features.seg");
  ASSERT_TRUE(by_id && by_model_name);
  EXPECT_EQ(by_model_name->id, "named.block-1-features.seg");
  EXPECT_EQ(by_id->layer, "block-1-features");
  EXPECT_EQ(by_id->model_layer, "block.1.features");
  const RunRecord named = cat.run(by_id->run_id);
  EXPECT_EQ(named.layer, "block.1.features");
  const std::optional<SpaceInfo> toy = cat.space("toy.features.seg");
  ASSERT_TRUE(toy);
  EXPECT_EQ(toy->model_layer, "features");
  const RunRecord oracle = cat.run(toy->run_id);
  EXPECT_EQ(named.thresholds, oracle.thresholds);
  // Readers take the model's spelling too, and answer the same rows.
  const auto a = cat.vectors("named.block.1.features.cls"), b = cat.vectors("named.block-1-features.cls");
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].weights, b[i].weights);
}

TEST_F(LayerNames, TwoSpellingsOfOneIdAreRefusedNamingBoth) {
  Result r = run(args("named.pt", "block.1.features,block-1-features", "named"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(contains(r.out, "'block.1.features' and 'block-1-features' both map to the space id part "
                              "'block-1-features'")) << r.out;
  // One at a time: the second would replace the first one's spaces.
  r = run(args("named.pt", "block.1.features", "named"));
  ASSERT_EQ(r.status, 0) << r.out;
  r = run(args("named.pt", "block-1-features", "named"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(contains(r.out, "layer 'block-1-features' and layer 'block.1.features' of network 'named' both map "
                              "to space id 'named.block-1-features")) << r.out;
  Catalog cat = Catalog::open(dir.file("catalog.db"), Catalog::Mode::kReadOnly);
  const std::optional<SpaceInfo> kept = cat.space("named.block-1-features.seg");
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->model_layer, "block.1.features");  // the catalog lost nothing
}

TEST_F(LayerNames, OneByOneLayerIsClassificationOnly) {
  Result r = run(args("named.pt", "head", "named"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(contains(r.out, "layer 'head' of ")) << r.out;
  EXPECT_TRUE(contains(r.out, "is 4 x 1 x 1")) << r.out;
  EXPECT_TRUE(contains(r.out, "--tasks cls")) << r.out;
  r = run(args("named.pt", "head", "named", "--tasks cls"));
  ASSERT_EQ(r.status, 0) << r.out;
  Catalog cat = Catalog::open(dir.file("catalog.db"), Catalog::Mode::kReadOnly);
  const std::optional<SpaceInfo> space = cat.space("named.head.cls");
  ASSERT_TRUE(space);
  EXPECT_EQ(space->dim, 4);
  EXPECT_GT(space->concept_count, 0);
  EXPECT_FALSE(cat.space("named.head.seg"));
}

TEST_F(LayerNames, TokenLayerIsRefusedNamingTheExporterLayouts) {
  Result r = run(args("named.pt", "tokens", "named"));
  EXPECT_EQ(r.status, 6) << r.out;
  EXPECT_TRUE(contains(r.out, "layer 'tokens' of ")) << r.out;
  EXPECT_TRUE(contains(r.out, "[1, 64, 4]")) << r.out;
  EXPECT_TRUE(contains(r.out, "tools/net2vec-export")) << r.out;
  EXPECT_TRUE(contains(r.out, "tokens:tokens")) << r.out;
  EXPECT_TRUE(contains(r.out, "tokens:nhwc")) << r.out;
  r = run(args("named.pt", "fc", "named", "--tasks cls"));  // 2-D: the exporter makes it N x D x 1 x 1
  EXPECT_EQ(r.status, 6) << r.out;
  EXPECT_TRUE(contains(r.out, "layer 'fc' of ")) << r.out;
  EXPECT_TRUE(contains(r.out, "[1, 4]")) << r.out;
  EXPECT_TRUE(contains(r.out, "N x D x 1 x 1 (classification only)")) << r.out;
  // Refused before any work: the catalog holds nothing.
  if (std::filesystem::exists(dir.file("catalog.db")))
    EXPECT_TRUE(Catalog::open(dir.file("catalog.db"), Catalog::Mode::kReadOnly).spaces().empty());
}

TEST_F(LayerNames, ListLayersNeedsNoProbeSet) {
  Result r = run("--list-layers --model " + dir.file("named.pt"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "  block.1.features  block-1-features  4 x 8 x 8\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "  head  head  4 x 1 x 1  (classification only)\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "  tokens  tokens  unusable: layer 'tokens'")) << r.out;
  EXPECT_TRUE(contains(r.out, "  fc  fc  unusable: layer 'fc'")) << r.out;
  EXPECT_TRUE(contains(r.out, "3 x 32 x 32 input")) << r.out;
  r = run("--list-layers --model " + dir.file("named.pt") + " --input-size 64");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "  block.1.features  block-1-features  4 x 16 x 16\n")) << r.out;
  r = run("--list-layers --model " + dir.file("missing.pt"));
  EXPECT_EQ(r.status, 3) << r.out;
  // Without --list-layers the ingest options are still required, by name.
  r = run("--model " + dir.file("named.pt"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(contains(r.out, "--probe is required")) << r.out;
}

TEST_F(LayerNames, OneChannelNetworkGetsTheLuminance) {
  write_named_model(dir.file("gray.pt"), 1);
  Result r = run(args("gray.pt", "block.1.features", "gray", "--tasks cls"));
  ASSERT_EQ(r.status, 0) << r.out;
  Catalog cat = Catalog::open(dir.file("catalog.db"), Catalog::Mode::kReadOnly);
  const std::optional<SpaceInfo> space = cat.space("gray.block.1.features.cls");
  ASSERT_TRUE(space);
  const RunRecord run_record = cat.run(space->run_id);
  EXPECT_TRUE(contains(run_record.preprocessing_json, "\"channels\":1")) << run_record.preprocessing_json;
  // Filters 0-2 all see the luminance, so their thresholds are equal; filter 3 = 1 - Y.
  ASSERT_EQ(run_record.thresholds.size(), 4u);
  EXPECT_EQ(run_record.thresholds[0], run_record.thresholds[1]);
  EXPECT_EQ(run_record.thresholds[0], run_record.thresholds[2]);
}

}  // namespace
}  // namespace n2v
