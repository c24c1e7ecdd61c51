#include "service_probe.h"

#include <stb/stb_image_write.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "probe/probe_set.h"

namespace n2v::test {
namespace {

constexpr int kImage = 32, kMask = 16, kRows = 51;

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

void fill(LabelMap& map, int y0, int x0, int y1, int x1, int label) {
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) map.labels[static_cast<size_t>(y) * map.width + x] = label;
}

LabelMap empty_map() {
  LabelMap m;
  m.height = m.width = kMask;
  m.labels.assign(static_cast<size_t>(kMask) * kMask, 0);
  return m;
}

}  // namespace

void write_service_probe(const Catalog& catalog, const std::string& dir) {
  namespace fs = std::filesystem;
  fs::create_directories(dir + "/images/images");
  fs::create_directories(dir + "/images/masks");
  // The catalog's concepts, numbers and categories (every space of the probe set has them all).
  std::map<int, ConceptVector> labels;
  for (const ConceptVector& c : catalog.vectors("toynet.conv.seg")) labels[c.concept_number] = c;
  const std::vector<std::string> categories = {"color", "object", "material"};

  std::ostringstream index;
  index << "image,split,ih,iw,sh,sw,color,object,material\n";
  std::map<int, int> frequency;
  for (int row = 0; row < kRows; ++row) {
    const bool val = row >= 1 && row <= 20;
    const std::string name = val ? "images/val" + std::to_string(row) + ".jpg"
                                 : "images/train" + std::to_string(row == 0 ? 0 : row - 20) + ".jpg";
    LabelMap color = empty_map(), object = empty_map(), material = empty_map();
    if (row % 2 == 1) fill(color, 0, 0, kMask, kMask / 2, 31);
    if (row % 4 == 0) fill(color, 0, kMask / 2, kMask, kMask, 33);
    if (row % 2 == 0) fill(object, 0, 0, 8, 4 + row % 8, 1);
    if (row % 3 == 0) fill(object, 8, 8, 16, 16, 2);
    if (row % 5 == 0) fill(object, 10, 0, 16, 6, 11);
    if (row % 3 == 1) fill(material, 0, 0, 4, kMask, 38);
    // The photo: grey, with each object's region in a colour of its own at twice the mask's scale.
    std::vector<uint8_t> rgb(static_cast<size_t>(kImage) * kImage * 3, 0);
    for (int y = 0; y < kImage; ++y)
      for (int x = 0; x < kImage; ++x) {
        const int label = object.labels[static_cast<size_t>(y / 2) * kMask + x / 2];
        uint8_t* p = &rgb[(static_cast<size_t>(y) * kImage + x) * 3];
        p[0] = label == 1 ? 150 : label == 2 ? 40 : label == 11 ? 30 : 128;
        p[1] = label == 1 ? 90 : label == 2 ? 160 : label == 11 ? 60 : 128;
        p[2] = label == 1 ? 40 : label == 2 ? 60 : label == 11 ? 200 : 128;
      }
    if (!stbi_write_jpg((dir + "/images/" + name).c_str(), kImage, kImage, 3, rgb.data(), 90))
      throw std::runtime_error("cannot write " + dir + "/images/" + name);
    index << name << "," << (val ? "val" : "train") << "," << kImage << "," << kImage << "," << kMask << "," << kMask;
    const LabelMap* maps[] = {&color, &object, &material};
    for (size_t c = 0; c < categories.size(); ++c) {
      const std::string mask = "masks/r" + std::to_string(row) + "_" + categories[c] + ".png";
      bool any = false;
      std::map<int, bool> seen;
      for (int32_t l : maps[c]->labels)
        if (l && !seen[l]) seen[l] = any = true;
      for (const auto& [l, on] : seen) ++frequency[l];
      if (any) write_label_png(dir + "/images/" + mask, *maps[c]);
      index << "," << (any ? mask : "");
    }
    index << "\n";
  }
  write_text(dir + "/index.csv", index.str());

  std::ostringstream label_csv, category_csv;
  label_csv << "number,name,category,frequency,coverage,syns\n";
  for (const auto& [number, c] : labels)
    label_csv << number << "," << c.name << "," << c.category << "(1)," << frequency[number] << ",0,\n";
  write_text(dir + "/label.csv", label_csv.str());
  category_csv << "name,first,last,count,frequency\n";
  for (const std::string& category : categories) {
    std::ostringstream codes;
    codes << "code,number,name,frequency,coverage\n";
    int code = 0, first = 0, last = 0;
    for (const auto& [number, c] : labels) {
      if (c.category != category) continue;
      codes << ++code << "," << number << "," << c.name << "," << frequency[number] << ",0\n";
      if (!first) first = number;
      last = number;
    }
    write_text(dir + "/c_" + category + ".csv", codes.str());
    category_csv << category << "," << first << "," << last << "," << code << "," << kRows << "\n";
  }
  write_text(dir + "/category.csv", category_csv.str());
}

}  // namespace n2v::test
