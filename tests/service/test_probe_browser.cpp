// The probe browser through the API as a function: a space's probe concepts with counts and
// coverage, a concept's images per split and page with image and mask URLs that serve (rows
// no stored score names included), the usual JSON errors for bad paging values, unknown
// concepts and unserved folders, and images confined to the probe folder.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "probe/probe_set.h"
#include "server/api.h"
#include "service/json.h"
#include "service_catalog.h"
#include "service_probe.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::contains;

class ProbeBrowserTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    catalog_ = new Catalog(Catalog::open(dir_->file("catalog.db")));
    test::write_service_catalog(*catalog_, "");
    catalog_->write_reference_space("ref", "two numbers", 2, {{"dog", {1, 0}}, {"cat", {0, 1}}});
    probe_ = dir_->file("service-probe");
    test::write_service_probe(*catalog_, probe_);
  }
  static void TearDownTestSuite() {
    delete catalog_;
    delete dir_;
  }

  HttpResponse get(const std::string& target) { return api_.handle({"GET", target, "", ""}); }
  Json json_of(const std::string& target, int status = 200) {
    const HttpResponse r = get(target);
    EXPECT_EQ(r.status, status) << target << ": " << r.body;
    return Json::parse(r.body, nullptr, false);
  }
  std::string error_message(const std::string& target, int status) {
    const Json j = json_of(target, status);
    return j.contains("error") ? j["error"]["message"].get<std::string>() : "(no error) " + j.dump();
  }

  static test::TempDir* dir_;
  static Catalog* catalog_;
  static std::string probe_;
  Service service_{*catalog_};
  Api api_{service_, {"", {probe_}}};
};
test::TempDir* ProbeBrowserTest::dir_ = nullptr;
Catalog* ProbeBrowserTest::catalog_ = nullptr;
std::string ProbeBrowserTest::probe_;

const char* const kImages = "/api/probe/concepts/dog/images?space=toynet.conv.seg";

TEST_F(ProbeBrowserTest, ConceptsWithTrainValCountsAndCoverage) {
  const Json j = json_of("/api/probe/concepts?space=toynet.conv.seg");
  EXPECT_EQ(j["probe"]["name"], "service-probe");
  EXPECT_EQ(j["train_images"], 31);
  EXPECT_EQ(j["val_images"], 20);
  ASSERT_EQ(j["concepts"].size(), 42u);
  const Json& dog = j["concepts"][0];
  EXPECT_EQ(dog["name"], "dog");
  EXPECT_EQ(dog["train_images"], 16);  // rows 0, 22, 24, ..., 50
  EXPECT_EQ(dog["val_images"], 10);    // rows 2, 4, ..., 20
  // 1 - the mean share of dog pixels over its train masks: widths 4 + row % 8 of 16, 8 rows of 16.
  EXPECT_DOUBLE_EQ(dog["alpha"].get<double>(), 1.0 - 108.0 * 8 / (16 * 256));
  const Json color = json_of("/api/probe/concepts?space=toynet.conv.seg&category=color");
  EXPECT_EQ(color["concepts"].size(), 7u);
  for (const Json& c : color["concepts"]) EXPECT_EQ(c["category"], "color");
  const Json bad = json_of("/api/probe/concepts?space=toynet.conv.seg&category=colour", 404);
  EXPECT_TRUE(contains(bad["error"]["message"].get<std::string>(), "did you mean 'color'?")) << bad.dump();
  EXPECT_EQ(bad["error"]["suggestions"][0], "color");
}

TEST_F(ProbeBrowserTest, ImagesPerSplitAndPage) {
  const Json first = json_of(std::string(kImages) + "&limit=5");
  EXPECT_EQ(first["split"], "train");  // the default
  EXPECT_EQ(first["total"], 16);
  EXPECT_EQ(first["served"], true);
  ASSERT_EQ(first["images"].size(), 5u);
  std::vector<int> rows;
  for (const Json& image : first["images"]) rows.push_back(image["row"].get<int>());
  EXPECT_EQ(rows, (std::vector<int>{0, 22, 24, 26, 28}));
  const Json last = json_of(std::string(kImages) + "&limit=5&offset=15");
  ASSERT_EQ(last["images"].size(), 1u);
  EXPECT_EQ(last["images"][0]["row"], 50);
  EXPECT_EQ(json_of(std::string(kImages) + "&offset=16")["images"].size(), 0u);  // past the end: an empty page
  const Json val = json_of(std::string(kImages) + "&split=val&limit=200");
  EXPECT_EQ(val["total"], 10);
  for (const Json& image : val["images"]) EXPECT_EQ(image["row"].get<int>() % 2, 0);
  // Another concept's images are its own; a case-insensitive name finds it.
  EXPECT_EQ(json_of("/api/probe/concepts/CAT/images?space=toynet.conv.seg")["concept"]["name"], "cat");
}

TEST_F(ProbeBrowserTest, BadPagingValuesAreJsonErrorsNamingTheParameter) {
  for (const char* bad : {"&limit=0", "&limit=201", "&offset=-1", "&offset=x", "&limit=1.5"}) {
    SCOPED_TRACE(bad);
    const std::string message = error_message(std::string(kImages) + bad, 400);
    const std::string name = contains(bad, "limit") ? "'limit'" : "'offset'";
    EXPECT_TRUE(contains(message, name)) << message;
  }
  EXPECT_TRUE(contains(error_message(std::string(kImages) + "&split=test", 400), "'split' must be train or val"));
  EXPECT_TRUE(contains(error_message(std::string(kImages) + "&page=2", 400), "unknown query parameter 'page'"));
}

TEST_F(ProbeBrowserTest, UnknownConceptSaysDidYouMean) {
  const Json j = json_of("/api/probe/concepts/dgo/images?space=toynet.conv.seg", 404);
  EXPECT_TRUE(contains(j["error"]["message"].get<std::string>(), "no concept 'dgo' in probe set 'service-probe'"))
      << j.dump();
  EXPECT_TRUE(contains(j["error"]["message"].get<std::string>(), "did you mean 'dog'")) << j.dump();
  EXPECT_EQ(j["error"]["suggestions"][0], "dog");
  EXPECT_TRUE(contains(error_message("/api/probe/concepts?space=toynet.conv.sge", 404), "did you mean"));
  EXPECT_TRUE(contains(error_message("/api/probe/concepts?space=ref", 400), "reference space"));
}

TEST_F(ProbeBrowserTest, NotServedSaysHow) {
  Service service(*catalog_);
  Api api(service, {"", {}});
  const HttpResponse r = api.handle({"GET", "/api/probe/concepts?space=toynet.conv.seg", "", ""});
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(contains(r.body, "start the server with --probe DIR")) << r.body;
}

TEST_F(ProbeBrowserTest, ImageAndMaskUrlsServeRowsNoScoreNames) {
  // Row 22 is a train row: the catalog stores scores of rows 0..20 only.
  const Json j = json_of(std::string(kImages) + "&offset=1&limit=1");
  ASSERT_EQ(j["images"][0]["row"], 22);
  const HttpResponse image = get("/" + j["images"][0]["image_url"].get<std::string>());
  ASSERT_EQ(image.status, 200) << image.body;
  EXPECT_EQ(image.content_type, "image/jpeg");
  test::write_file(dir_->file("photo.jpg"), image.body);
  EXPECT_EQ(read_image_file(dir_->file("photo.jpg")).height, 32);
  const HttpResponse mask = get("/" + j["images"][0]["mask_url"].get<std::string>());
  ASSERT_EQ(mask.status, 200) << mask.body;
  test::write_file(dir_->file("mask.png"), mask.body);
  const RgbImage m = read_image_file(dir_->file("mask.png"));
  ASSERT_EQ(m.height, 16);
  ASSERT_EQ(m.width, 16);
  // Row 22's dog: rows 0-7, columns 0-9 (4 + 22 % 8) painted, the rest transparent black.
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) EXPECT_EQ(m.pixels[3 * (y * 16 + x)], (y < 8 && x < 10) ? 255 : 0) << y << "," << x;
  // A row the folder lacks is still a 404.
  EXPECT_EQ(get("/api/probe/image?space=toynet.conv.seg&row=999").status, 404);
}

TEST_F(ProbeBrowserTest, ImagesStayInsideTheProbeFolder) {
  // A copy of the folder whose index.csv has one more row pointing outside images/.
  const std::string copy = dir_->file("escape/service-probe");
  std::filesystem::create_directories(copy);
  std::filesystem::copy(probe_, copy, std::filesystem::copy_options::recursive);
  test::write_file(dir_->file("escape/secret.txt"), "not a probe image");
  {
    std::ofstream index(copy + "/index.csv", std::ios::app);
    index << "../../secret.txt,train,32,32,16,16,,masks/r0_object.png,\n";  // data row 51
  }
  Service service(*catalog_);
  Api api(service, {"", {copy}});
  const HttpResponse list = api.handle({"GET", std::string(kImages) + "&offset=16", "", ""});
  ASSERT_EQ(list.status, 200) << list.body;
  const Json j = Json::parse(list.body);
  ASSERT_EQ(j["total"], 17);  // its mask lists it
  ASSERT_EQ(j["images"][0]["row"], 51);
  const HttpResponse file = api.handle({"GET", "/" + j["images"][0]["image_url"].get<std::string>(), "", ""});
  EXPECT_EQ(file.status, 404) << file.body;
  EXPECT_FALSE(contains(file.body, "not a probe image"));
}

}  // namespace
}  // namespace n2v
