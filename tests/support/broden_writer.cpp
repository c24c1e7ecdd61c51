// Writes BRODEN-format probe sets for tests. Deliberately no validation (tests write broken
// sets on purpose), with two conventions worth knowing:
//   - an image with no pixels (height or width 0) writes no image file but still gets its
//     index.csv row (ih, iw then fall back to the mask size): a "missing image" case;
//   - FixtureImage::masks / image_labels may be shorter than the category list: the missing
//     categories are empty cells.

#include "support/broden_writer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace n2v::test {
namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("write_broden: cannot create " + path);
  out << text;
  if (!out.flush()) throw std::runtime_error("write_broden: cannot write " + path);
}

void make_parent(const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
}

std::string join(const std::vector<std::string>& items, char sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

// Mask file names: images/<name>_<cat>.png, or _<cat>_1.png, _2.png ... when layered.
std::string mask_name(const std::string& image, const std::string& category, size_t layer,
                      size_t layers) {
  std::string name = image + "_" + category;
  if (layers > 1) name += "_" + std::to_string(layer + 1);
  return name + ".png";
}

}  // namespace

void write_broden(const std::string& dir, const BrodenFixture& fixture) {
  const std::string images_dir = dir + "/images";
  std::filesystem::create_directories(images_dir);
  const size_t n_cat = fixture.categories.size();

  // Labels present per image (pixels or whole-image) and per category cell, for the
  // frequency columns.
  std::map<int, int> label_images;        // label -> images containing it
  std::vector<int> category_images(n_cat, 0);  // category -> images with a non-empty cell

  std::ostringstream index;
  index << "image,split,ih,iw,sh,sw";
  for (const std::string& category : fixture.categories) index << "," << category;
  index << "\n";
  for (const FixtureImage& image : fixture.images) {
    const bool has_image = image.image.height > 0 && image.image.width > 0;
    if (has_image) {
      const std::string path = images_dir + "/" + image.name + ".png";
      make_parent(path);
      write_rgb_png(path, image.image);
    }
    const int ih = has_image ? image.image.height : fixture.mask_height;
    const int iw = has_image ? image.image.width : fixture.mask_width;
    index << image.name << ".png," << image.split << "," << ih << "," << iw << ","
          << fixture.mask_height << "," << fixture.mask_width;

    std::set<int> present;
    for (size_t c = 0; c < n_cat; ++c) {
      std::vector<std::string> cell;
      const auto& category = fixture.categories[c];
      if (c < image.masks.size()) {
        const auto& maps = image.masks[c];
        for (size_t k = 0; k < maps.size(); ++k) {
          const std::string name = mask_name(image.name, category, k, maps.size());
          const std::string path = images_dir + "/" + name;
          make_parent(path);
          write_label_png(path, maps[k]);
          cell.push_back(name);
          for (int32_t label : maps[k].labels) {
            if (label != 0) present.insert(label);
          }
        }
      }
      if (c < image.image_labels.size()) {
        for (int label : image.image_labels[c]) {
          cell.push_back(std::to_string(label));
          if (label != 0) present.insert(label);
        }
      }
      if (!cell.empty()) ++category_images[c];
      index << "," << join(cell, ';');
    }
    index << "\n";
    for (int label : present) ++label_images[label];
  }
  write_text(dir + "/index.csv", index.str());

  auto frequency = [&](int number) {
    auto it = label_images.find(number);
    return it == label_images.end() ? 0 : it->second;
  };

  std::ostringstream labels;
  labels << "number,name,category,frequency,coverage,syns\n";
  for (const FixtureLabel& label : fixture.labels) {
    const std::string category = label.categories_override.empty()
                                     ? label.category + "(1)"
                                     : label.categories_override;
    labels << label.number << "," << label.name << "," << category << ","
           << frequency(label.number) << ",0,\n";
  }
  write_text(dir + "/label.csv", labels.str());

  // category.csv and c_<cat>.csv: labels grouped by primary category, in number order.
  std::ostringstream categories;
  categories << "name,first,last,count,frequency\n";
  for (size_t c = 0; c < n_cat; ++c) {
    const std::string& name = fixture.categories[c];
    std::vector<const FixtureLabel*> members;
    for (const FixtureLabel& label : fixture.labels) {
      if (label.category == name) members.push_back(&label);
    }
    std::sort(members.begin(), members.end(),
              [](const FixtureLabel* a, const FixtureLabel* b) { return a->number < b->number; });
    categories << name << ",";
    if (!members.empty()) {
      // As BRODEN: empty first/last for a category without labels.
      categories << members.front()->number << "," << members.back()->number;
    } else {
      categories << ",";
    }
    categories << "," << members.size() << "," << category_images[c] << "\n";

    std::ostringstream codes;
    codes << "code,number,name,frequency,coverage\n";
    for (size_t k = 0; k < members.size(); ++k) {
      // Dense per-category codes start at 1; 0 is unused, as in BRODEN.
      codes << k + 1 << "," << members[k]->number << "," << members[k]->name << ","
            << frequency(members[k]->number) << ",0\n";
    }
    write_text(dir + "/c_" + name + ".csv", codes.str());
  }
  write_text(dir + "/category.csv", categories.str());
}

RgbImage solid_image(int height, int width, uint8_t r, uint8_t g, uint8_t b) {
  RgbImage image;
  image.height = height;
  image.width = width;
  image.pixels.resize(static_cast<size_t>(height) * width * 3);
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    image.pixels[i] = r;
    image.pixels[i + 1] = g;
    image.pixels[i + 2] = b;
  }
  return image;
}

LabelMap empty_map(int height, int width) {
  LabelMap map;
  map.height = height;
  map.width = width;
  map.labels.assign(static_cast<size_t>(height) * width, 0);
  return map;
}

// Both fill_rect overloads clip the rectangle to the picture.
void fill_rect(LabelMap& map, int y0, int x0, int y1, int x1, int label) {
  y0 = std::max(y0, 0), x0 = std::max(x0, 0);
  y1 = std::min(y1, map.height), x1 = std::min(x1, map.width);
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) map.labels[static_cast<size_t>(y) * map.width + x] = label;
  }
}

void fill_rect(RgbImage& image, int y0, int x0, int y1, int x1, uint8_t r, uint8_t g,
               uint8_t b) {
  y0 = std::max(y0, 0), x0 = std::max(x0, 0);
  y1 = std::min(y1, image.height), x1 = std::min(x1, image.width);
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      uint8_t* p = &image.pixels[(static_cast<size_t>(y) * image.width + x) * 3];
      p[0] = r;
      p[1] = g;
      p[2] = b;
    }
  }
}

BrodenFixture small_broden() {
  BrodenFixture f;
  f.categories = {"color", "object", "part", "scene"};
  f.labels = {{1, "red-c", "color", ""}, {2, "blue-c", "color", ""}, {5, "kitchen", "scene", ""},
              {10, "dog", "object", ""}, {30, "leg", "part", ""},    {31, "head", "part", ""},
              {300, "car", "object", ""}};
  f.mask_height = 4;
  f.mask_width = 4;

  FixtureImage a;
  a.name = "img0";
  a.image = solid_image(8, 8, 255, 0, 0);
  LabelMap color = empty_map(4, 4);
  fill_rect(color, 0, 0, 4, 2, 1);
  fill_rect(color, 0, 2, 4, 4, 2);
  LabelMap object = empty_map(4, 4);
  fill_rect(object, 0, 0, 2, 2, 10);
  LabelMap part1 = empty_map(4, 4), part2 = empty_map(4, 4);
  fill_rect(part1, 0, 0, 2, 2, 30);
  fill_rect(part2, 1, 0, 4, 2, 30);  // overlaps part1 on row 1
  fill_rect(part2, 0, 3, 1, 4, 31);
  a.masks = {{color}, {object}, {part1, part2}, {}};
  a.image_labels = {{}, {}, {}, {5}};

  FixtureImage b;
  b.name = "img1";
  b.split = "val";
  b.image = solid_image(6, 6, 0, 0, 255);
  LabelMap car = empty_map(4, 4);
  fill_rect(car, 0, 0, 4, 4, 300);
  b.masks = {{}, {car}};
  b.image_labels = {{}, {10}};

  FixtureImage c;
  c.name = "img2";
  c.image = solid_image(4, 4, 3, 3, 3);
  c.image_labels = {{}, {}, {}, {5}};

  f.images = {a, b, c};
  return f;
}

}  // namespace n2v::test
