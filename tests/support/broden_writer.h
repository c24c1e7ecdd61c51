#pragma once
// Writes a probe set in BRODEN's on-disk format from in-memory content, so tests can state
// exactly what the reader and the training must find. Also used to write deliberately
// broken variants (the writer does not validate: tests corrupt on purpose).

#include <string>
#include <vector>

#include "probe/probe_set.h"

namespace n2v::test {

struct FixtureLabel {
  int number = 0;
  std::string name;
  std::string category;  // primary category; label.csv gets "category(1)"
  std::string categories_override;  // if non-empty, written verbatim as label.csv's category cell
};

struct FixtureImage {
  std::string name;          // file stem, e.g. "img_003"; image is images/<name>.png
  std::string split = "train";
  RgbImage image;
  // Per category (same order as BrodenFixture::categories): the label maps to write as
  // mask PNGs (several = layered, written <name>_<cat>_1.png, _2.png ...), and the
  // whole-image labels.
  std::vector<std::vector<LabelMap>> masks;
  std::vector<std::vector<int>> image_labels;
};

struct BrodenFixture {
  std::vector<std::string> categories;  // index.csv category columns, e.g. {"color","object","scene"}
  std::vector<FixtureLabel> labels;
  std::vector<FixtureImage> images;
  int mask_height = 0, mask_width = 0;  // stated in index.csv (sh, sw)
};

// Writes index.csv, label.csv, category.csv, c_<cat>.csv and images/ under dir.
void write_broden(const std::string& dir, const BrodenFixture& fixture);

// A solid-colour image (tests use flat regions so activations are known exactly).
RgbImage solid_image(int height, int width, uint8_t r, uint8_t g, uint8_t b);
LabelMap empty_map(int height, int width);
// Sets label in the rectangle [y0, y1) x [x0, x1).
void fill_rect(LabelMap& map, int y0, int x0, int y1, int x1, int label);
void fill_rect(RgbImage& image, int y0, int x0, int y1, int x1, uint8_t r, uint8_t g, uint8_t b);

// A small probe set for the reader tests: categories color, object, part, scene; labels
// 1 red-c, 2 blue-c (color), 5 kitchen (scene), 10 dog, 300 car (object), 30 leg, 31 head (part);
// 4x4 masks. index.csv rows (lines 2, 3, 4):
//   img0 (train, 8x8 red image): colour halves (1 left, 2 right), a dog in the top-left 2x2,
//     legs over two part layers (rows 0-1 and 1-3 of columns 0-1, overlapping on row 1), a
//     head at (0, 3) on the second layer; whole-image scene 5.
//   img1 (val, 6x6 blue image): a car over the whole object mask; dog only as an image label.
//   img2 (train, 4x4 image): no masks, whole-image scene 5.
BrodenFixture small_broden();

}  // namespace n2v::test
