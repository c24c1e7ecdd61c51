#pragma once
// Probe stage: reads a probe set in BRODEN's on-disk format (broden1_224, broden1_227,
// and our own broden-mini) and decodes its images and concept masks.
//
//   DIR/index.csv      image,split,ih,iw,sh,sw,<category>...   (columns found by header name)
//   DIR/label.csv      number,name,category,frequency,coverage,syns
//   DIR/category.csv   name,first,last,count,frequency
//   DIR/c_<cat>.csv    code,number,name,frequency,coverage
//   DIR/images/...     the images (JPEG or PNG) and the mask PNGs
//
// A category cell is empty or holds `;`-separated values: integers are whole-image labels
// (scene, texture), anything else is a mask PNG path relative to images/ whose pixels
// carry label = R + 256*G (0 = unlabelled). Label numbers are label.csv's global numbers.
// Nothing here depends on LibTorch.

#include <cstdint>
#include <string>
#include <vector>

namespace n2v {

enum class Split { kTrain, kVal };
const char* to_string(Split split);

struct Category {
  std::string name;      // "object"
  int first = 0, last = 0, count = 0, frequency = 0;  // from category.csv (0 when absent)
};

// One row of label.csv: a concept.
struct Label {
  int number = 0;                // global label number (1-based; masks carry it)
  std::string name;              // "dog", "blue-c"
  std::string category;          // primary category: the one with the highest count
  std::vector<std::pair<std::string, int>> category_counts;  // "object(3);part(1)" parsed
  int frequency = 0;
  double coverage = 0;
  std::string syns;              // raw syns column (";"-separated synonyms)
};

// One row of index.csv.
struct ProbeImage {
  std::string path;  // relative to DIR/images
  Split split = Split::kTrain;
  int ih = 0, iw = 0;  // image size as stated in index.csv
  int sh = 0, sw = 0;  // mask size as stated in index.csv
  int line = 0;        // 1-based line in index.csv, for error messages
  // Per category of ProbeSet::categories(), in the same order:
  std::vector<std::vector<std::string>> masks;   // mask PNG paths (layered: several)
  std::vector<std::vector<int>> image_labels;    // whole-image label numbers
};

// An 8-bit RGB image, row-major HWC.
struct RgbImage {
  int height = 0, width = 0;
  std::vector<uint8_t> pixels;  // size height * width * 3
};

// A decoded mask PNG: label number per pixel, row-major.
struct LabelMap {
  int height = 0, width = 0;
  std::vector<int32_t> labels;  // size height * width; 0 = unlabelled
};

// Everything annotated on one image.
struct ImageAnnotation {
  std::vector<LabelMap> maps;     // every mask PNG of every category
  std::vector<int> image_labels;  // every whole-image label, all categories
};

struct ProbeOptions {
  // Rows whose values are malformed raise an error naming index.csv and the line unless
  // skip_bad is set; skipped rows are then listed in ProbeSet::skipped().
  bool skip_bad = false;
  // Keep at most this many rows (0: all), taken in file order: for quick runs and tests.
  int max_images = 0;
};

struct SkippedRow {
  std::string file;  // the file at fault (index.csv, an image, a mask)
  int line = 0;      // the index.csv line of the row
  std::string reason;
};

class ProbeSet {
 public:
  // Reads and validates the CSV files. Throws n2v::Error (kNotFound for a missing file,
  // kCorrupt for malformed content, naming the file and line).
  static ProbeSet open(const std::string& dir, const ProbeOptions& options = {});

  const std::string& dir() const { return dir_; }
  // The probe set's identity across machines: a 64-bit FNV-1a hash ("fnv1a64:<16 hex>") of
  // index.csv, label.csv, category.csv and the c_*.csv files (names and bytes, in name
  // order), not of the images. Two copies of one probe set hash alike wherever they lie.
  std::string content_hash() const;
  static std::string content_hash(const std::string& dir);  // the same, of a folder not opened
  // Category names in index.csv column order (e.g. color, object, part, material, scene,
  // texture), with category.csv's figures where present.
  const std::vector<Category>& categories() const { return categories_; }
  // All labels of label.csv, ordered by number.
  const std::vector<Label>& labels() const { return labels_; }
  // The label with this number, or nullptr.
  const Label* label(int number) const;
  const std::vector<ProbeImage>& images() const { return images_; }
  const std::vector<SkippedRow>& skipped() const { return skipped_; }

  // Decodes image i (JPEG or PNG). Throws kNotFound / kCorrupt naming the file and the
  // index.csv line.
  RgbImage load_image(size_t i) const;
  // Decodes every mask of image i and checks it: size must be sh x sw, every label number
  // must exist in label.csv. Throws kNotFound / kCorrupt naming the file and line.
  ImageAnnotation load_annotation(size_t i) const;

  // Records that row i was dropped later (a bad image or mask met with skip_bad).
  void note_skipped(SkippedRow row) { skipped_.push_back(std::move(row)); }

 private:
  std::string dir_;
  std::vector<Category> categories_;
  std::vector<Label> labels_;
  std::vector<int> label_index_;  // number -> position in labels_, -1 if none
  std::vector<ProbeImage> images_;
  std::vector<SkippedRow> skipped_;
};

// Image files (also used by tools that write probe sets and by the tests).
RgbImage read_image_file(const std::string& path);     // JPEG or PNG, any channels -> RGB
LabelMap read_label_png(const std::string& path);      // label = R + 256 * G
void write_label_png(const std::string& path, const LabelMap& map);
void write_rgb_png(const std::string& path, const RgbImage& image);
// An 8-bit RGBA image (row-major, 4 bytes a pixel) as PNG bytes: the server's mask overlays.
std::string encode_png_rgba(int height, int width, const std::vector<uint8_t>& rgba);

}  // namespace n2v
