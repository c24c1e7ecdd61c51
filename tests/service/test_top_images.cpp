// A filter's top images through the service and the API (issue 19 item 6): the filter answer
// lists what the catalog stores, with URLs; /api/probe/activation serves each map as a PNG
// whose pixels are the stored bits; bad requests get JSON errors; a reference space and the
// text rendering say what there is.

#include <gtest/gtest.h>

#include <fstream>

#include "probe/probe_set.h"
#include "server/api.h"
#include "service/json.h"
#include "service/render.h"
#include "service_catalog.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

class TopImagesApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    catalog_ = new Catalog(Catalog::open(dir_->file("catalog.db")));
    test::write_service_catalog(*catalog_, "");
    catalog_->write_reference_space("glovelike", "test vectors", 2, {{"dog", {1, 0}}, {"cat", {0, 1}}});
  }
  static void TearDownTestSuite() {
    delete catalog_;
    delete dir_;
  }
  TopImagesApi() : service_(*catalog_), api_(service_, ApiOptions{"", {}}) {}

  HttpResponse get(const std::string& target) const { return api_.handle({"GET", target, "", ""}); }
  static void expect_json_error(const HttpResponse& r, int status, const std::string& piece) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    const Json j = Json::parse(r.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.body;
    EXPECT_NE(j["error"]["message"].get<std::string>().find(piece), std::string::npos) << r.body;
  }

  static test::TempDir* dir_;
  static Catalog* catalog_;
  Service service_;
  Api api_;
};
test::TempDir* TopImagesApi::dir_ = nullptr;
Catalog* TopImagesApi::catalog_ = nullptr;

TEST_F(TopImagesApi, FilterAnswerListsTheStoredImagesAndEachMapIsServedAsItsBits) {
  for (const int filter : {0, 17, 63}) {
    SCOPED_TRACE(filter);
    const Catalog::FilterTopImages stored = catalog_->filter_top_images("toynet.conv.seg", filter);
    ASSERT_EQ(stored.images.size(), 3u);
    const HttpResponse r = get("/api/filters?space=toynet.conv.seg&filter=" + std::to_string(filter));
    ASSERT_EQ(r.status, 200) << r.body;
    const Json t = Json::parse(r.body)["top_images"];
    EXPECT_EQ(t["per_filter"], 3);
    EXPECT_EQ(t["served"], false);  // no --probe folder: maps only
    EXPECT_FLOAT_EQ(t["threshold"].get<float>(), *stored.threshold);
    ASSERT_EQ(t["images"].size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      const Json& image = t["images"][i];
      const FilterTopImageRecord& s = stored.images[i].record;
      EXPECT_EQ(image["rank"], i + 1);
      EXPECT_EQ(image["row"], s.image_row);
      EXPECT_EQ(image["path"], stored.images[i].path);
      EXPECT_EQ(image["max_activation"].get<float>(), s.max_activation);
      EXPECT_TRUE(image["image_url"].is_null());
      // The map's PNG: 4 x 4, orange exactly where the stored bit is set.
      const HttpResponse png = get("/" + image["map_url"].get<std::string>());
      ASSERT_EQ(png.status, 200) << png.body;
      EXPECT_EQ(png.content_type, "image/png");
      const std::string file = dir_->file("map.png");
      std::ofstream(file, std::ios::binary) << png.body;
      const RgbImage decoded = read_image_file(file);
      ASSERT_EQ(decoded.height, s.height);
      ASSERT_EQ(decoded.width, s.width);
      std::string hex;
      for (int p = 0; p < s.height * s.width; ++p) {
        const bool bit = (s.map[p / 8] >> (p % 8)) & 1;
        const uint8_t* px = &decoded.pixels[3 * p];
        EXPECT_EQ(px[0] == 0xE6 && px[1] == 0x9F && px[2] == 0x00, bit) << "position " << p;
      }
      for (uint8_t b : s.map) hex += {"0123456789abcdef"[b >> 4], "0123456789abcdef"[b & 15]};
      EXPECT_EQ(image["map"], hex);
    }
  }
}

TEST_F(TopImagesApi, BadMapRequestsGetJsonErrors) {
  const int row = catalog_->filter_top_images("toynet.conv.seg", 2).images.at(0).record.image_row;
  EXPECT_EQ(get("/api/probe/activation?space=toynet.conv.seg&filter=2&row=" + std::to_string(row)).status, 200);
  // A row that is not among this filter's top images (row 0 is filter 0's first pick only).
  expect_json_error(get("/api/probe/activation?space=toynet.conv.seg&filter=2&row=0"), 404, "no stored top image at row 0");
  expect_json_error(get("/api/probe/activation?space=toynet.conv.seg&filter=64&row=1"), 400, "out of range");
  expect_json_error(get("/api/probe/activation?space=toynet.conv.seg&filter=x&row=1"), 400, "'filter'");
  expect_json_error(get("/api/probe/activation?space=toynet.conv.seg&row=1"), 400, "filter");
  expect_json_error(get("/api/probe/activation?space=toynet.conv.sex&filter=1&row=1"), 404, "toynet.conv.seg");
  expect_json_error(get("/api/probe/activation?space=toynet.conv.seg&filter=1&row=1&k=2"), 400, "'k'");
}

TEST_F(TopImagesApi, ReferenceSpaceAndTextSayWhatThereIs) {
  const HttpResponse r = get("/api/filters?space=glovelike&filter=1");
  ASSERT_EQ(r.status, 200) << r.body;
  const Json t = Json::parse(r.body)["top_images"];
  EXPECT_TRUE(t["per_filter"].is_null());
  EXPECT_TRUE(t["images"].empty());

  FilterRequest request;
  request.space = "othernet.fc.seg";
  request.filter = 4;
  const std::string text = render_text(service_.filter(request));
  EXPECT_NE(text.find("Top images (largest max of the activation map"), std::string::npos) << text;
  const Catalog::FilterTopImages stored = catalog_->filter_top_images("othernet.fc.seg", 4);
  ASSERT_EQ(stored.images.size(), 2u);
  for (const auto& image : stored.images) EXPECT_NE(text.find(image.path), std::string::npos) << text;
  request.space = "glovelike";
  request.filter = 1;
  EXPECT_NE(render_text(service_.filter(request)).find("Top images: not stored"), std::string::npos);
}

}  // namespace
}  // namespace n2v
