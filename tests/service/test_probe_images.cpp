// Probe images on the concept page: a concept's val images best first, the image files of a
// served probe folder (and nothing outside its images/), and the ground-truth mask overlay.

#include <gtest/gtest.h>

#include <filesystem>

#include "catalog/raw_sql.h"
#include "probe/probe_set.h"
#include "server/api.h"
#include "service/json.h"
#include "support/broden_writer.h"
#include "support/expect.h"
#include "support/records.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::contains;

class ProbeImagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    probe_ = dir_.file("probe");
    // Two images 8x8 with 4x4 masks: dog fills the top-left 2x2 of image 1, the left half
    // of image 0.
    test::BrodenFixture f;
    f.categories = {"object"};
    f.labels = {{1, "dog", "object"}, {2, "cat", "object"}};
    f.mask_height = f.mask_width = 4;
    for (int i = 0; i < 2; ++i) {
      test::FixtureImage im;
      im.name = "img" + std::to_string(i);
      im.split = "val";
      im.image = test::solid_image(8, 8, 10, 20, 30 + i);
      LabelMap m = test::empty_map(4, 4);
      if (i == 0) test::fill_rect(m, 0, 0, 4, 2, 1);
      else test::fill_rect(m, 0, 0, 2, 2, 1);
      im.masks = {{m}};
      im.image_labels = {{}};
      f.images.push_back(im);
    }
    test::write_broden(probe_, f);
    test::write_file(dir_.file("secret.txt"), "do not serve");

    IngestRecord r = test::minimal_ingest_record(
        "probenet", "l", 2, {{1, "dog", "object", "object(1)", 1, 0.1, ""}, {2, "cat", "object", "object(1)", 1, 0.1, ""}});
    r.probe = {"probe", probe_, 2, 4, 4, {"object"}};
    r.probe.content_hash = ProbeSet::open(probe_).content_hash();
    r.images = {{0, "img0.png", "val"}, {1, "img1.png", "val"}, {2, "../../secret.txt", "val"}};
    r.run.model_path = "/m.pt";
    r.run.act_height = r.run.act_width = 0;
    SpaceRecord space;
    space.id = "probenet.l.seg";
    EmbeddingRecord dog;
    dog.concept_number = 1;
    dog.weights = {1, 0};
    dog.set_iou_val = 0.5f;
    dog.image_iou = {{0, 0.2f, 0.1f}, {1, 0.8f, 0.3f}, {2, NAN, 0.0f}};
    // Figure 8's masks of the two decile images (4x4, 2 bytes): row 1 learned = the top-left
    // 2x2 block (pixels 0, 1, 4, 5), single = the left column (0, 4, 8, 12); row 0 empty /
    // everything.
    dog.predicted_masks = {{1, 4, 4, {0x33, 0x00}, {0x11, 0x11}}, {0, 4, 4, {0x00, 0x00}, {0xff, 0xff}}};
    EmbeddingRecord cat;
    cat.concept_number = 2;
    cat.weights = {0, 1};
    space.embeddings = {dog, cat};
    r.spaces = {space};
    catalog_.write_ingest(r);
  }

  static Json body(const HttpResponse& r) { return Json::parse(r.body); }

  test::TempDir dir_;
  std::string probe_;
  Catalog catalog_ = Catalog::open(dir_.file("catalog.db"));
};

TEST_F(ProbeImagesTest, BestFirstWithUrlsWhenServed) {
  Service service(catalog_);
  Api api(service, {"", {probe_}});
  const HttpResponse list = api.handle({"GET", "/api/concepts/dog/images?space=probenet.l.seg", "", ""});
  ASSERT_EQ(list.status, 200) << list.body;
  const Json j = body(list);
  EXPECT_TRUE(j["served"].get<bool>());
  EXPECT_EQ(j["image_count"], 3);
  EXPECT_EQ(j["probe"]["name"], "probe");
  ASSERT_EQ(j["images"].size(), 3u);
  EXPECT_EQ(j["images"][0]["row"], 1);  // IoU 0.8 first
  EXPECT_EQ(j["images"][1]["row"], 0);
  EXPECT_TRUE(j["images"][2]["learned"].is_null());  // undefined last
  EXPECT_EQ(body(api.handle({"GET", "/api/concepts/dog/images?space=probenet.l.seg&limit=1", "", ""}))["images"].size(), 1u);

  // The image file, byte for byte.
  const std::string url = "/" + j["images"][0]["image_url"].get<std::string>();
  const HttpResponse image = api.handle({"GET", url, "", ""});
  ASSERT_EQ(image.status, 200) << image.body;
  EXPECT_EQ(image.content_type, "image/png");
  const RgbImage decoded = [&] {
    test::write_file(dir_.file("got.png"), image.body);
    return read_image_file(dir_.file("got.png"));
  }();
  EXPECT_EQ(decoded.pixels[2], 31);  // image 1's blue

  // The mask overlay: dog's 2x2 corner of image 1 coloured, the rest transparent.
  const HttpResponse mask = api.handle({"GET", "/" + j["images"][0]["mask_url"].get<std::string>(), "", ""});
  ASSERT_EQ(mask.status, 200) << mask.body;
  EXPECT_EQ(mask.content_type, "image/png");
  test::write_file(dir_.file("mask.png"), mask.body);
  const RgbImage m = read_image_file(dir_.file("mask.png"));
  ASSERT_EQ(m.height, 4);
  ASSERT_EQ(m.width, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) EXPECT_EQ(m.pixels[3 * (y * 4 + x)], (y < 2 && x < 2) ? 255 : 0) << y << "," << x;
}

// Worst first (failures are what a reader looks at) and paging: undefined IoUs last either
// way, the total stays the total, and a bad order or offset is a 400 naming it.
TEST_F(ProbeImagesTest, WorstFirstAndPaging) {
  Service service(catalog_);
  Api api(service, {"", {probe_}});
  const auto get = [&](const std::string& query) {
    return api.handle({"GET", "/api/concepts/dog/images?space=probenet.l.seg" + query, "", ""});
  };
  const Json worst = body(get("&order=worst"));
  ASSERT_EQ(worst["images"].size(), 3u);
  EXPECT_EQ(worst["order"], "worst");
  EXPECT_EQ(worst["images"][0]["row"], 0);  // the lower IoU of the two defined ones
  EXPECT_EQ(worst["images"][1]["row"], 1);
  EXPECT_TRUE(worst["images"][2]["learned"].is_null());  // undefined last here too
  const Json page = body(get("&offset=1&limit=1"));
  EXPECT_EQ(page["image_count"], 3);
  EXPECT_EQ(page["offset"], 1);
  EXPECT_EQ(page["order"], "best");
  ASSERT_EQ(page["images"].size(), 1u);
  EXPECT_EQ(page["images"][0]["row"], 0);  // the second best
  EXPECT_EQ(body(get("&offset=3"))["images"].size(), 0u);  // past the end: an empty page
  const HttpResponse bad_order = get("&order=random");
  EXPECT_EQ(bad_order.status, 400);
  EXPECT_TRUE(contains(bad_order.body, "'order' must be best or worst")) << bad_order.body;
  const HttpResponse bad_offset = get("&offset=-1");
  EXPECT_EQ(bad_offset.status, 400);
  EXPECT_TRUE(contains(bad_offset.body, "offset")) << bad_offset.body;
}

// The predicted masks of the decile images (Figure 8) come from the catalog, with or
// without a served probe folder; the concept's deciles say which rows have them.
TEST_F(ProbeImagesTest, PredictedMasksOfTheDecileImages) {
  Service service(catalog_);
  Api api(service, {"", {}});
  const Json detail = body(api.handle({"GET", "/api/concepts/dog?space=probenet.l.seg", "", ""}));
  const Json& deciles = detail["image_iou"]["deciles"]["learned"];
  ASSERT_EQ(deciles.size(), 10u);
  for (const Json& d : deciles) EXPECT_TRUE(d["predicted"].get<bool>()) << d.dump();
  EXPECT_EQ(deciles[9]["row"], 1);  // the best image last

  auto png = [&](const std::string& query) {
    const HttpResponse r = api.handle({"GET", "/api/probe/prediction?" + query, "", ""});
    EXPECT_EQ(r.status, 200) << query << ": " << r.body;
    EXPECT_EQ(r.content_type, "image/png");
    test::write_file(dir_.file("prediction.png"), r.body);
    return read_image_file(dir_.file("prediction.png"));
  };
  const RgbImage learned = png("space=probenet.l.seg&concept=dog&row=1");  // method learned by default
  const RgbImage single = png("space=probenet.l.seg&concept=dog&row=1&method=single");
  const RgbImage full = png("space=probenet.l.seg&concept=dog&row=0&method=single");
  ASSERT_EQ(learned.height, 4);
  ASSERT_EQ(learned.width, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      const int p = 3 * (y * 4 + x);
      EXPECT_EQ(learned.pixels[p + 1], (y < 2 && x < 2) ? 200 : 0) << y << "," << x;  // cyan
      EXPECT_EQ(single.pixels[p], x == 0 ? 255 : 0) << y << "," << x;                 // yellow
      EXPECT_EQ(full.pixels[p], 255) << y << "," << x;
    }

  auto error = [&](const std::string& query, int status, const std::string& piece) {
    const HttpResponse r = api.handle({"GET", "/api/probe/prediction?" + query, "", ""});
    EXPECT_EQ(r.status, status) << query << ": " << r.body;
    EXPECT_TRUE(contains(r.body, piece)) << query << ": " << r.body;
  };
  error("space=probenet.l.seg&concept=dog&row=2", 404, "decile images");
  error("space=probenet.l.seg&concept=cat&row=1", 404, "no predicted mask");
  error("space=probenet.l.seg&concept=dgo&row=1", 404, "dog");  // did you mean
  error("space=probenet.l.seg&concept=dog&row=1&method=both", 400, "learned or single");
  error("space=nowhere.l.seg&concept=dog&row=1", 404, "nowhere");
  error("space=probenet.l.seg&row=1", 400, "concept");
}

TEST_F(ProbeImagesTest, NothingOutsideTheProbeImagesFolder) {
  Service service(catalog_);
  Api api(service, {"", {probe_}});
  const HttpResponse r = api.handle({"GET", "/api/probe/image?space=probenet.l.seg&row=2", "", ""});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_FALSE(contains(r.body, "do not serve"));
  EXPECT_EQ(api.handle({"GET", "/api/probe/image?space=probenet.l.seg&row=9", "", ""}).status, 404);
  EXPECT_EQ(api.handle({"GET", "/api/probe/mask?space=probenet.l.seg&row=9&concept=dog", "", ""}).status, 404);
}

TEST_F(ProbeImagesTest, UnservedProbeSetsSaySo) {
  Service service(catalog_);
  Api api(service, {"", {}});
  const Json j = body(api.handle({"GET", "/api/concepts/dog/images?space=probenet.l.seg", "", ""}));
  EXPECT_FALSE(j["served"].get<bool>());
  EXPECT_TRUE(j["images"][0]["image_url"].is_null());
  const HttpResponse r = api.handle({"GET", "/api/probe/image?space=probenet.l.seg&row=1", "", ""});
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(contains(r.body, "--probe")) << r.body;
  // A folder that is not a probe set is refused when the server starts.
  test::error_of([&] { Api bad(service, {"", {dir_.file("nowhere")}}); }, ErrorCode::kNotFound);
}

// F13: no absolute server path in an answer (errors name the folder, the listing its name).
TEST_F(ProbeImagesTest, AnswersNameNoServerPaths) {
  Service service(catalog_);
  Api api(service, {"", {probe_}});
  const HttpResponse r = api.handle({"GET", "/api/probe/mask?space=probenet.l.seg&row=-5&concept=dog", "", ""});
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(contains(r.body, "no row -5 in probe/index.csv")) << r.body;
  EXPECT_FALSE(contains(r.body, dir_.path())) << r.body;
  const HttpResponse list = api.handle({"GET", "/api/concepts/dog/images?space=probenet.l.seg", "", ""});
  EXPECT_EQ(body(list)["probe"]["path"], "probe");
  EXPECT_FALSE(contains(list.body, dir_.path())) << list.body;
  Api unserved(service, {"", {}});
  const HttpResponse u = unserved.handle({"GET", "/api/probe/image?space=probenet.l.seg&row=1", "", ""});
  EXPECT_EQ(u.status, 404);
  EXPECT_FALSE(contains(u.body, dir_.path())) << u.body;
}

// F14: a served folder is the catalog's probe set by path or by content, not by its name.
TEST_F(ProbeImagesTest, ProbeFoldersMatchByContentNotName) {
  Service service(catalog_);
  // Another probe set in a folder of the same name.
  const std::string impostor = dir_.file("elsewhere/probe");
  test::BrodenFixture f;
  f.categories = {"object"};
  f.labels = {{1, "dog", "object"}};
  f.mask_height = f.mask_width = 4;
  test::FixtureImage im;
  im.name = "img0";
  im.split = "val";
  im.image = test::solid_image(8, 8, 1, 2, 3);
  im.masks = {{test::empty_map(4, 4)}};
  im.image_labels = {{}};
  f.images = {im};
  test::write_broden(impostor, f);
  Api wrong(service, {"", {impostor}});
  const Json j = body(wrong.handle({"GET", "/api/concepts/dog/images?space=probenet.l.seg", "", ""}));
  EXPECT_FALSE(j["served"].get<bool>());
  EXPECT_EQ(wrong.handle({"GET", "/api/probe/image?space=probenet.l.seg&row=1", "", ""}).status, 404);
  // A copy of the catalog's probe set under another name and path is the same probe set.
  const std::string copy = dir_.file("moved/copy");
  std::filesystem::create_directories(copy);
  std::filesystem::copy(probe_, copy, std::filesystem::copy_options::recursive);
  Api moved(service, {"", {copy}});
  EXPECT_TRUE(body(moved.handle({"GET", "/api/concepts/dog/images?space=probenet.l.seg", "", ""}))["served"].get<bool>());
  EXPECT_EQ(moved.handle({"GET", "/api/probe/image?space=probenet.l.seg&row=1", "", ""}).status, 200);
}

// F15: the space id in image_url / mask_url is URL-encoded like the concept name.
TEST_F(ProbeImagesTest, ImageUrlsEncodeTheSpace) {
  {
    test::RawDb db(dir_.file("catalog.db"), false);
    db.exec("PRAGMA foreign_keys = OFF");
    db.exec("UPDATE space SET id = 'probe&net x' WHERE id = 'probenet.l.seg'");
    db.exec("UPDATE embedding SET space_id = 'probe&net x' WHERE space_id = 'probenet.l.seg'");
  }
  Service service(catalog_);
  Api api(service, {"", {probe_}});
  const HttpResponse r = api.handle({"GET", "/api/concepts/dog/images?space=probe%26net%20x", "", ""});
  ASSERT_EQ(r.status, 200) << r.body;
  const Json j = body(r);
  EXPECT_EQ(j["images"][0]["image_url"], "api/probe/image?space=probe%26net%20x&row=1");
  EXPECT_EQ(j["images"][0]["mask_url"], "api/probe/mask?space=probe%26net%20x&row=1&concept=dog");
  EXPECT_EQ(api.handle({"GET", "/" + j["images"][0]["image_url"].get<std::string>(), "", ""}).status, 200);
}

}  // namespace
}  // namespace n2v
