// The report's example strip (paper Figure 8; service/detail/report_strip.h): the concept the
// rule names, the decile images it picks, every embedded mask decoded back to the catalog's
// bits, the photo byte for byte from a --probe folder, the ground truth outlined, and what
// happens without the folder, with a wrong one or with a photo missing.

#include <gtest/gtest.h>
#include <stb/stb_image.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "probe/probe_set.h"
#include "service/detail/report_strip.h"
#include "service/report.h"
#include "service_catalog.h"
#include "service_probe.h"
#include "support/broden_writer.h"
#include "support/expect.h"
#include "support/records.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::contains;

std::string unbase64(const std::string& text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') break;
    else throw std::runtime_error(std::string("not base64: ") + c);
    acc = acc << 6 | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>(acc >> bits & 255);
    }
  }
  return out;
}

// The bytes of a data: URI of this type.
std::string uri_bytes(const Json& uri, const std::string& mime) {
  const std::string s = uri.get<std::string>();
  const std::string head = "data:" + mime + ";base64,";
  EXPECT_EQ(s.compare(0, head.size(), head), 0) << s.substr(0, 40);
  return unbase64(s.substr(head.size()));
}

struct Rgba {
  int height = 0, width = 0;
  std::vector<uint8_t> px;  // 4 a pixel
};
Rgba decode_png(const std::string& bytes) {
  Rgba r;
  int channels = 0;
  uint8_t* p = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()),
                                     &r.width, &r.height, &channels, 4);
  if (!p) throw std::runtime_error("not a PNG stb can read");
  r.px.assign(p, p + static_cast<size_t>(r.height) * r.width * 4);
  stbi_image_free(p);
  return r;
}

// A predicted mask's PNG back to bits: a pixel is in the mask when it is not transparent.
std::vector<uint8_t> mask_bits(const Json& uri, int height, int width) {
  const Rgba png = decode_png(uri_bytes(uri, "image/png"));
  EXPECT_EQ(png.height, height);
  EXPECT_EQ(png.width, width);
  std::vector<uint8_t> bits((static_cast<size_t>(height) * width + 7) / 8, 0);
  for (size_t p = 0; p < static_cast<size_t>(png.height) * png.width; ++p)
    if (png.px[4 * p + 3]) bits[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
  return bits;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(ReportStrip, Base64IsRfc4648) {
  // RFC 4648 section 10's test vectors.
  const std::map<std::string, std::string> vectors = {{"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},
                                                      {"foo", "Zm9v"},   {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                      {"foobar", "Zm9vYmFy"}};
  for (const auto& [in, out] : vectors) EXPECT_EQ(detail::base64(in), out) << in;
  EXPECT_EQ(detail::base64(std::string("\xff\x00\xfe", 3)), "/wD+");
}

TEST(ReportStrip, OutlineIsTheMasksBoundaryWithADarkEdgeOutside) {
  // A 3x3 square at (1..3, 1..3) of a 6x6 image: 8 boundary pixels, its centre empty, the
  // pixels sharing a side with it dark.
  std::vector<bool> on(36, false);
  for (int y = 1; y <= 3; ++y)
    for (int x = 1; x <= 3; ++x) on[y * 6 + x] = true;
  const uint8_t yellow[3] = {240, 228, 66};
  const Rgba png = decode_png(detail::mask_outline_png(6, 6, on, yellow));
  ASSERT_EQ(png.height, 6);
  ASSERT_EQ(png.width, 6);
  int boundary = 0, dark = 0;
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 6; ++x) {
      const uint8_t* p = &png.px[4 * (y * 6 + x)];
      const bool inside = on[y * 6 + x], centre = y == 2 && x == 2;
      const bool beside = !inside && ((x > 0 && on[y * 6 + x - 1]) || (x < 5 && on[y * 6 + x + 1]) ||
                                      (y > 0 && on[(y - 1) * 6 + x]) || (y < 5 && on[(y + 1) * 6 + x]));
      if (inside && !centre) {
        EXPECT_EQ(std::vector<int>(p, p + 4), (std::vector<int>{240, 228, 66, 255})) << y << "," << x;
        ++boundary;
      } else if (beside) {
        EXPECT_EQ(std::vector<int>(p, p + 4), (std::vector<int>{0, 0, 0, 200})) << y << "," << x;
        ++dark;
      } else {
        EXPECT_EQ(p[3], 0) << y << "," << x;
      }
    }
  EXPECT_EQ(boundary, 8);
  EXPECT_EQ(dark, 12);
}

// A catalog of our own whose chosen concept the probe folder annotates: dog (learned val 0.6,
// single filter 0.2) with masks on 6 val images; cat gains more (0.9 vs 0.1) but has no
// stored masks; horse has masks but gains less (0.5 vs 0.2).
class StripTest : public ::testing::Test {
 protected:
  static constexpr int kImages = 6, kMask = 8;
  void SetUp() override {
    probe_ = dir_.file("stripprobe");
    test::BrodenFixture f;
    f.categories = {"object"};
    f.labels = {{1, "dog", "object"}, {2, "cat", "object"}, {3, "horse", "object"}};
    f.mask_height = f.mask_width = kMask;
    for (int i = 0; i < kImages; ++i) {
      test::FixtureImage im;
      im.name = "img" + std::to_string(i);
      im.split = "val";
      im.image = test::solid_image(16, 16, static_cast<uint8_t>(40 * i), 20, 30);
      LabelMap m = test::empty_map(kMask, kMask);
      test::fill_rect(m, 1, 1, 2 + i % 5, 5, 1);  // dog: a block whose height varies by image
      test::fill_rect(m, 6, 0, 8, 8, 2);          // cat along the bottom
      im.masks = {{m}};
      im.image_labels = {{}};
      f.images.push_back(im);
    }
    test::write_broden(probe_, f);

    IngestRecord r = test::minimal_ingest_record("stripnet", "l", 2,
                                                 {{1, "dog", "object", "object(1)", 1, 0.1, ""},
                                                  {2, "cat", "object", "object(1)", 1, 0.1, ""},
                                                  {3, "horse", "object", "object(1)", 1, 0.1, ""}});
    // Stored at another path: the folder is found by its content hash, as `serve --probe` finds it.
    r.probe = {"stripprobe", "/elsewhere/stripprobe", kImages, kMask, kMask, {"object"}};
    r.probe.content_hash = ProbeSet::open(probe_).content_hash();
    for (int i = 0; i < kImages; ++i) r.images.push_back({i, "img" + std::to_string(i) + ".png", "val"});
    r.run.act_height = r.run.act_width = 0;
    SpaceRecord seg;
    seg.id = "stripnet.l.seg";
    const auto concept_with = [](int number, float learned, float single) {
      EmbeddingRecord e;
      e.concept_number = number;
      e.weights = {1, 0};
      e.set_iou_val = learned;
      e.best_filter = 0;
      e.best_filter_val = single;
      return e;
    };
    EmbeddingRecord dog = concept_with(1, 0.6f, 0.2f), cat = concept_with(2, 0.9f, 0.1f), horse = concept_with(3, 0.5f, 0.2f);
    const float learned[kImages] = {0.5f, 0.1f, 0.9f, 0.3f, 0.7f, 0.2f};
    for (int i = 0; i < kImages; ++i) {
      dog.image_iou.push_back({i, learned[i], 0.05f * i});
      cat.image_iou.push_back({i, 0.5f, 0.5f});
      horse.image_iou.push_back({i, 0.4f, 0.1f});
      PredictedMaskRecord m{i, kMask, kMask, std::vector<uint8_t>(kMask * kMask / 8, 0), std::vector<uint8_t>(kMask * kMask / 8, 0)};
      for (int p = 0; p < kMask * kMask; ++p) {
        if (p < 8 * (i + 1)) m.learned[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
        if (p % (i + 2) == 0) m.single[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
      }
      dog.predicted_masks.push_back(m);
      if (i == 0) horse.predicted_masks.push_back(m);
    }
    seg.embeddings = {dog, cat, horse};
    r.spaces = {seg};
    catalog_.write_ingest(r);
  }

  Json strip(const std::vector<std::string>& dirs) {
    Service service(catalog_);
    detail::ExampleStrips strips(dirs);
    return strips.strip(service, "stripnet.l.seg");
  }

  test::TempDir dir_;
  std::string probe_;
  Catalog catalog_ = Catalog::open(dir_.file("catalog.db"));
};

TEST_F(StripTest, TheRulesConceptAndFourDecileImagesLowestToHighest) {
  const Json s = strip({});
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["concept"], "dog");  // cat gains more but has no masks; horse gains less
  EXPECT_NEAR(s["learned_val"].get<double>(), 0.6, 1e-6);
  EXPECT_NEAR(s["single_val"].get<double>(), 0.2, 1e-6);
  // No intervals stored for it: null, and the caption says so rather than showing none.
  EXPECT_TRUE(s["learned_val_interval"].is_null() && s["learned_val_p"].is_null() && s["single_val_interval"].is_null());
  EXPECT_TRUE(contains(detail::example_strip_html(s), "0.600 (interval not computed) with the learned weights"));
  EXPECT_EQ(s["rule"], detail::kStripRule);
  // By learned IoU the rows are 1, 5, 3, 0, 4, 2; four spread over them: 1, 3, 0, 2.
  std::vector<int> rows;
  for (const Json& im : s["images"]) rows.push_back(im["row"]);
  EXPECT_EQ(rows, (std::vector<int>{1, 3, 0, 2}));
  EXPECT_EQ(s["images"][0]["file"], "img1.png");
  EXPECT_NEAR(s["images"][3]["learned_iou"].get<double>(), 0.9, 1e-6);
  EXPECT_NEAR(s["images"][3]["single_iou"].get<double>(), 0.1, 1e-6);
}

TEST_F(StripTest, EveryMaskDecodesToTheCatalogsBits) {
  const Json s = strip({probe_});
  const std::vector<PredictedMaskRecord> stored = catalog_.predicted_masks("stripnet.l.seg", "dog");
  ASSERT_EQ(s["images"].size(), 4u);
  for (const Json& im : s["images"]) {
    const PredictedMaskRecord* m = nullptr;
    for (const PredictedMaskRecord& r : stored)
      if (r.image_row == im["row"].get<int>()) m = &r;
    ASSERT_NE(m, nullptr) << im["row"];
    EXPECT_EQ(mask_bits(im["learned"], m->height, m->width), m->learned) << "row " << m->image_row;
    EXPECT_EQ(mask_bits(im["single"], m->height, m->width), m->single) << "row " << m->image_row;
  }
}

TEST_F(StripTest, WithTheProbeFolderThePhotoFileAndTheGroundTruthOutlined) {
  const Json s = strip({dir_.file("stripprobe/../stripprobe")});
  ASSERT_TRUE(s.is_object());
  EXPECT_TRUE(s["note"].is_null()) << s["note"];
  EXPECT_EQ(s["probe_folder"], std::filesystem::canonical(probe_).string());
  size_t embedded = 0;
  for (const Json& im : s["images"]) {
    const int row = im["row"];
    EXPECT_TRUE(im["problem"].is_null()) << im["problem"];
    EXPECT_EQ(uri_bytes(im["photo"], "image/png"), file_bytes(probe_ + "/images/img" + std::to_string(row) + ".png"));
    // The ground truth: dog's block, rows 1 .. 1 + row % 5, columns 1 .. 4; its boundary yellow.
    const Rgba truth = decode_png(uri_bytes(im["truth"], "image/png"));
    ASSERT_EQ(truth.height, kMask);
    ASSERT_EQ(truth.width, kMask);
    const auto dog = [&](int y, int x) { return y >= 1 && y < 2 + row % 5 && x >= 1 && x < 5; };
    for (int y = 0; y < kMask; ++y)
      for (int x = 0; x < kMask; ++x) {
        const bool edge = dog(y, x) && (!dog(y - 1, x) || !dog(y + 1, x) || !dog(y, x - 1) || !dog(y, x + 1));
        EXPECT_EQ(truth.px[4 * (y * kMask + x) + 3] == 255, edge) << "row " << row << " pixel " << y << "," << x;
      }
    for (const char* key : {"learned", "single", "truth", "photo"}) embedded += im[key].get<std::string>().size();
  }
  EXPECT_EQ(s["embedded_bytes"].get<size_t>(), embedded);
  const std::string html = detail::example_strip_html(s);
  EXPECT_TRUE(contains(html, "ground truth (outline)"));
  EXPECT_TRUE(contains(html, "img1.png<br>IoU learned 0.10 &middot; single 0.05"));
  EXPECT_TRUE(contains(html, s["images"][0]["photo"].get<std::string>()));
}

TEST_F(StripTest, WithoutTheFolderTheMasksAloneAndWhatToPass) {
  test::BrodenFixture other;
  other.categories = {"object"};
  other.labels = {{1, "dog", "object"}};
  other.mask_height = other.mask_width = 2;
  test::FixtureImage im;
  im.name = "x";
  im.image = test::solid_image(4, 4, 1, 2, 3);
  im.masks = {{test::empty_map(2, 2)}};
  im.image_labels = {{}};
  other.images = {im};
  test::write_broden(dir_.file("otherprobe"), other);
  for (const std::vector<std::string>& dirs : {std::vector<std::string>{}, std::vector<std::string>{dir_.file("otherprobe")}}) {
    const Json s = strip(dirs);
    ASSERT_TRUE(s["note"].is_string());
    EXPECT_TRUE(contains(s["note"].get<std::string>(), "--probe DIR, the folder of probe set stripprobe")) << s["note"];
    EXPECT_TRUE(s["probe_folder"].is_null());
    for (const Json& im : s["images"]) {
      EXPECT_TRUE(im["photo"].is_null());
      EXPECT_TRUE(im["truth"].is_null());
      EXPECT_TRUE(im["learned"].is_string());
    }
    const std::string html = detail::example_strip_html(s);
    EXPECT_FALSE(contains(html, "strip-photo"));
    EXPECT_FALSE(contains(html, "ground truth (outline)"));  // no outline, no legend entry
    EXPECT_TRUE(contains(html, "--probe DIR"));
  }
}

TEST_F(StripTest, AMissingPhotoIsNamedAndTheRestKept) {
  std::filesystem::remove(probe_ + "/images/img3.png");
  const Json s = strip({probe_});
  for (const Json& im : s["images"]) {
    if (im["row"] == 3) {
      EXPECT_TRUE(im["photo"].is_null());
      EXPECT_TRUE(contains(im["problem"].get<std::string>(), "stripprobe/images/img3.png: photo not found")) << im["problem"];
      EXPECT_TRUE(im["truth"].is_string());  // the mask file is still there
    } else {
      EXPECT_TRUE(im["photo"].is_string()) << im["row"];
    }
  }
  EXPECT_TRUE(contains(detail::example_strip_html(s), "img3.png: photo not found"));
}

TEST_F(StripTest, AFolderThatDoesNotExistIsAnErrorNamingIt) {
  const std::string message = test::error_of([&] { strip({dir_.file("nowhere")}); }, ErrorCode::kNotFound);
  EXPECT_TRUE(contains(message, "nowhere")) << message;
}

// On the service catalog, through report_json: a strip per segmentation space, none for
// classification, each following the rule, and the photo bytes with the service probe folder.
TEST(ReportStripService, EverySegmentationSpaceFollowsTheRule) {
  test::TempDir dir;
  Catalog catalog = Catalog::open(dir.file("catalog.db"));
  test::write_service_catalog(catalog);
  test::write_service_probe(catalog, dir.file("service-probe"));
  Service service(catalog);
  for (const bool with_probe : {false, true}) {
    const Json report = report_json(service, {}, with_probe ? std::vector<std::string>{dir.file("service-probe")}
                                                            : std::vector<std::string>{});
    int strips = 0;
    for (const Json& space : report["spaces"]) {
      const std::string id = space["space"];
      const Json& s = space["example_strip"];
      if (space["task"] != "segmentation") {
        EXPECT_TRUE(s.is_null()) << id;
        continue;
      }
      ASSERT_TRUE(s.is_object()) << id;
      ++strips;
      // The rule: no concept with stored masks gains more (ties: the first name).
      for (const ConceptSummary& c : service.concepts({id, std::nullopt}).concepts) {
        if (!c.score_val || !c.best_filter_val || catalog.predicted_masks(id, c.name).empty()) continue;
        const double gain = double{*c.score_val} - *c.best_filter_val, chosen = s["learned_val"].get<double>() - s["single_val"].get<double>();
        EXPECT_TRUE(gain < chosen || (gain == chosen && c.name >= s["concept"].get<std::string>()))
            << id << ": " << c.name << " gains " << gain << ", " << s["concept"] << " " << chosen;
      }
      // Issue 21: the caption's scores come with their stored intervals and p-values.
      const EmbeddingRecord e = *catalog.embedding(id, s["concept"].get<std::string>());
      for (const auto& [prefix, st] : {std::pair{"learned_val", e.score_val_stats}, std::pair{"single_val", e.best_filter_val_stats}}) {
        const Json &iv = s[std::string(prefix) + "_interval"], &p = s[std::string(prefix) + "_p"];
        if (!st.computed()) {
          EXPECT_TRUE(iv.is_null() && p.is_null()) << id << " " << prefix;
          continue;
        }
        ASSERT_TRUE(iv.is_array()) << id << " " << prefix;
        EXPECT_EQ(iv[0].get<double>(), double{*st.low});
        EXPECT_EQ(iv[1].get<double>(), double{*st.high});
        EXPECT_EQ(p.get<double>(), double{*st.p});
        char text[64];
        std::snprintf(text, sizeof text, "[%.3f, %.3f]", *st.low, *st.high);
        EXPECT_TRUE(contains(detail::example_strip_html(s), text)) << id << " " << prefix << " " << text;
      }
      const std::vector<PredictedMaskRecord> stored = catalog.predicted_masks(id, s["concept"]);
      EXPECT_EQ(s["images"].size(), std::min<size_t>(4, stored.size()));
      for (const Json& im : s["images"]) {
        for (const PredictedMaskRecord& m : stored)
          if (m.image_row == im["row"].get<int>()) {
            EXPECT_EQ(mask_bits(im["learned"], m.height, m.width), m.learned);
            EXPECT_EQ(mask_bits(im["single"], m.height, m.width), m.single);
          }
        if (with_probe)
          EXPECT_EQ(uri_bytes(im["photo"], "image/jpeg"), file_bytes(dir.file("service-probe/images/" + im["file"].get<std::string>())));
        else
          EXPECT_TRUE(im["photo"].is_null());
      }
      EXPECT_EQ(s["note"].is_null(), with_probe) << s["note"];
    }
    EXPECT_EQ(strips, 2);
    const std::string html = report_html(report);
    EXPECT_FALSE(contains(html, "<script"));
    EXPECT_EQ(contains(html, "strip-photo"), with_probe);
  }
}

}  // namespace
}  // namespace n2v
