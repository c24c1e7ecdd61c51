// Reader of BRODEN-format probe sets: index.csv, label.csv, category.csv, c_<cat>.csv.

#include "probe/probe_set.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <iterator>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/text.h"
#include "probe/detail/csv.h"

namespace n2v {
namespace detail {
namespace {

// Splits one CSV line. BRODEN writes no quotes, so the common case is a plain split; a
// quoted field ("a,b", with "" for a quote) is still honoured in case a tool added one.
std::vector<std::string> split_csv_line(std::string_view text, const std::string& path,
                                        int line) {
  std::vector<std::string> fields;
  if (text.find('"') == std::string_view::npos) {
    fields = split(text, ',');
  } else {
    std::string field;
    size_t i = 0;
    while (true) {
      field.clear();
      if (i < text.size() && text[i] == '"') {
        ++i;
        bool closed = false;
        while (i < text.size()) {
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          field += text[i++];
        }
        N2V_CHECK(closed, kCorrupt, path << ":" << line << ": unterminated quoted field");
        N2V_CHECK(i == text.size() || text[i] == ',', kCorrupt,
                  path << ":" << line << ": unexpected text after a quoted field");
      } else {
        const size_t end = std::min(text.find(',', i), text.size());
        field.assign(text.substr(i, end - i));
        i = end;
      }
      fields.push_back(field);
      if (i >= text.size()) break;
      ++i;  // the comma
    }
  }
  for (std::string& f : fields) f = std::string(trim(f));
  return fields;
}

}  // namespace

// Reads a CSV file: the first non-blank line is the header. Handles CRLF, a UTF-8 BOM,
// blank lines and a missing final newline.
CsvFile read_csv(const std::string& path) {
  std::error_code ec;
  N2V_CHECK(std::filesystem::exists(path, ec), kNotFound, path << ": file not found");
  N2V_CHECK(std::filesystem::is_regular_file(path, ec), kNotFound,
            path << ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  N2V_CHECK(in, kIo, path << ": cannot open");
  CsvFile file;
  file.path = path;
  std::string text;
  bool have_header = false;
  for (int line = 1; std::getline(in, text); ++line) {
    if (line == 1 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (trim(text).empty()) continue;
    CsvRow row{line, split_csv_line(text, path, line)};
    if (!have_header) {
      file.header = std::move(row);
      have_header = true;
    } else {
      file.rows.push_back(std::move(row));
    }
  }
  N2V_CHECK(!in.bad(), kIo, path << ": read error");
  N2V_CHECK(have_header, kCorrupt, path << ": empty file, expected a header line");
  return file;
}

// Maps header names to column positions; empty names (a trailing comma) are ignored.
std::map<std::string, int> header_columns(const CsvFile& file) {
  std::map<std::string, int> columns;
  for (size_t i = 0; i < file.header.fields.size(); ++i) {
    const std::string& name = file.header.fields[i];
    if (name.empty()) continue;
    const bool inserted = columns.emplace(name, static_cast<int>(i)).second;
    N2V_CHECK(inserted, kCorrupt,
              file.path << ":" << file.header.line << ": duplicate column '" << name << "'");
  }
  return columns;
}

}  // namespace detail

namespace {

using detail::CsvFile;
using detail::CsvRow;
using detail::header_columns;
using detail::read_csv;

// Label numbers index a dense table; BRODEN has ~1,200 and a mask PNG holds at most 65,535.
constexpr long long kMaxLabelNumber = 1'000'000;

bool file_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

int required_column(const CsvFile& file, const std::map<std::string, int>& columns,
                    const char* name) {
  auto it = columns.find(name);
  N2V_CHECK(it != columns.end(), kCorrupt,
            file.path << ":" << file.header.line << ": header lacks the column '" << name
                      << "'");
  return it->second;
}

int optional_column(const std::map<std::string, int>& columns, const char* name) {
  auto it = columns.find(name);
  return it == columns.end() ? -1 : it->second;
}

// Empty when the row's column count fits the header, else the reason. A trailing comma
// present in the header but not in the row (or the reverse) only adds or drops an unnamed
// empty column, which we tolerate; anything else is a malformed row.
std::string check_column_count(const CsvFile& file, const CsvRow& row) {
  const size_t h = file.header.fields.size(), r = row.fields.size();
  if (r == h) return {};
  const bool header_trailing = h > 1 && file.header.fields.back().empty();
  if (header_trailing && r == h - 1) return {};
  if (!header_trailing && r == h + 1 && row.fields.back().empty()) return {};
  return "row has " + std::to_string(r) + " columns, header has " + std::to_string(h);
}

const std::string& field(const CsvRow& row, int column) {
  static const std::string kEmpty;
  return column >= 0 && static_cast<size_t>(column) < row.fields.size() ? row.fields[column]
                                                                        : kEmpty;
}

// Integers of index.csv cells are plain digit strings (as NetDissect's `^\d+$`).
bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "material(36);object(3)" -> {{material, 36}, {object, 3}}; a bare "material" counts 0.
std::vector<std::pair<std::string, int>> parse_category_counts(const std::string& cell,
                                                               const std::string& where) {
  std::vector<std::pair<std::string, int>> counts;
  for (const std::string& raw : split(cell, ';')) {
    const std::string_view item = trim(raw);
    if (item.empty()) continue;
    const size_t open = item.find('(');
    if (open == std::string_view::npos) {
      counts.emplace_back(std::string(item), 0);
      continue;
    }
    const std::string_view name = trim(item.substr(0, open));
    std::optional<long long> count;
    if (item.back() == ')') count = parse_int(item.substr(open + 1, item.size() - open - 2));
    N2V_CHECK(!name.empty() && count && *count >= 0 && *count <= INT_MAX, kCorrupt,
              where << ": malformed category '" << item << "' (expected name(count))");
    counts.emplace_back(std::string(name), static_cast<int>(*count));
  }
  return counts;
}

int parse_count(const std::string& text, const std::string& where, const char* what) {
  if (text.empty()) return 0;
  auto value = parse_int(text);
  N2V_CHECK(value && *value >= 0 && *value <= INT_MAX, kCorrupt,
            where << ": " << what << " '" << text << "' is not a non-negative integer");
  return static_cast<int>(*value);
}

std::vector<Label> read_labels(const std::string& path) {
  const CsvFile file = read_csv(path);
  const auto columns = header_columns(file);
  const int c_number = required_column(file, columns, "number");
  const int c_name = required_column(file, columns, "name");
  const int c_category = required_column(file, columns, "category");
  const int c_frequency = optional_column(columns, "frequency");
  const int c_coverage = optional_column(columns, "coverage");
  const int c_syns = optional_column(columns, "syns");

  std::vector<Label> labels;
  std::map<int, int> seen;  // number -> line
  for (const CsvRow& row : file.rows) {
    const std::string where = path + ":" + std::to_string(row.line);
    const std::string count_error = check_column_count(file, row);
    N2V_CHECK(count_error.empty(), kCorrupt, where << ": " << count_error);
    Label label;
    const std::string& number = field(row, c_number);
    auto value = parse_int(number);
    // Row 0 would collide with "unlabelled" in the masks; BRODEN has none.
    N2V_CHECK(value && *value >= 1 && *value <= kMaxLabelNumber, kCorrupt,
              where << ": label number '" << number << "' is not an integer in 1.."
                    << kMaxLabelNumber);
    label.number = static_cast<int>(*value);
    auto [it, inserted] = seen.emplace(label.number, row.line);
    N2V_CHECK(inserted, kCorrupt,
              where << ": label number " << label.number << " already defined on line "
                    << it->second);
    label.name = field(row, c_name);
    N2V_CHECK(!label.name.empty(), kCorrupt, where << ": label " << label.number
                                                   << " has an empty name");
    label.category_counts = parse_category_counts(field(row, c_category), where);
    N2V_CHECK(!label.category_counts.empty(), kCorrupt,
              where << ": label " << label.number << " (" << label.name << ") has no category");
    // Primary category: the highest count; ties go to the first listed.
    const auto* best = &label.category_counts.front();
    for (const auto& entry : label.category_counts) {
      if (entry.second > best->second) best = &entry;
    }
    label.category = best->first;
    label.frequency = parse_count(field(row, c_frequency), where, "frequency");
    const std::string& coverage = field(row, c_coverage);
    if (!coverage.empty()) {
      auto cov = parse_double(coverage);
      N2V_CHECK(cov, kCorrupt, where << ": coverage '" << coverage << "' is not a number");
      label.coverage = *cov;
    }
    label.syns = field(row, c_syns);
    labels.push_back(std::move(label));
  }
  std::sort(labels.begin(), labels.end(),
            [](const Label& a, const Label& b) { return a.number < b.number; });
  return labels;
}

std::map<std::string, Category> read_category_figures(const std::string& path) {
  const CsvFile file = read_csv(path);
  const auto columns = header_columns(file);
  const int c_name = required_column(file, columns, "name");
  const int c_first = optional_column(columns, "first");
  const int c_last = optional_column(columns, "last");
  const int c_count = optional_column(columns, "count");
  const int c_frequency = optional_column(columns, "frequency");
  std::map<std::string, Category> figures;
  for (const CsvRow& row : file.rows) {
    const std::string where = path + ":" + std::to_string(row.line);
    const std::string count_error = check_column_count(file, row);
    N2V_CHECK(count_error.empty(), kCorrupt, where << ": " << count_error);
    Category category;
    category.name = field(row, c_name);
    N2V_CHECK(!category.name.empty(), kCorrupt, where << ": empty category name");
    // first/last are empty for categories without a label range (BRODEN's own docs show
    // "binaryclassification,,,2,76574"), so empty reads as 0.
    category.first = parse_count(field(row, c_first), where, "first");
    category.last = parse_count(field(row, c_last), where, "last");
    category.count = parse_count(field(row, c_count), where, "count");
    category.frequency = parse_count(field(row, c_frequency), where, "frequency");
    figures[category.name] = category;
  }
  return figures;
}

}  // namespace

const char* to_string(Split split) {
  switch (split) {
    case Split::kTrain: return "train";
    case Split::kVal: return "val";
  }
  return "?";
}

ProbeSet ProbeSet::open(const std::string& dir_in, const ProbeOptions& options) {
  N2V_CHECK(options.max_images >= 0, kInvalidArgument,
            "max_images must be >= 0, got " << options.max_images);
  ProbeSet set;
  set.dir_ = dir_in;
  while (set.dir_.size() > 1 && set.dir_.back() == '/') set.dir_.pop_back();
  const std::string& dir = set.dir_;
  std::error_code ec;
  N2V_CHECK(std::filesystem::is_directory(dir, ec), kNotFound,
            dir << ": probe set directory not found");
  const std::string index_path = dir + "/index.csv";
  // Read index.csv first: a missing index is the likeliest mistake (wrong directory).
  const CsvFile index = read_csv(index_path);

  set.labels_ = read_labels(dir + "/label.csv");
  const int max_number = set.labels_.empty() ? 0 : set.labels_.back().number;
  set.label_index_.assign(static_cast<size_t>(max_number) + 1, -1);
  for (size_t i = 0; i < set.labels_.size(); ++i) {
    set.label_index_[set.labels_[i].number] = static_cast<int>(i);
  }

  // index.csv columns: the six fixed ones by name, every other named column a category.
  const auto columns = header_columns(index);
  const int c_image = required_column(index, columns, "image");
  const int c_split = required_column(index, columns, "split");
  const int c_ih = required_column(index, columns, "ih");
  const int c_iw = required_column(index, columns, "iw");
  const int c_sh = required_column(index, columns, "sh");
  const int c_sw = required_column(index, columns, "sw");
  const std::vector<int> fixed = {c_image, c_split, c_ih, c_iw, c_sh, c_sw};
  std::vector<int> category_columns;
  for (size_t i = 0; i < index.header.fields.size(); ++i) {
    const std::string& name = index.header.fields[i];
    if (name.empty() || std::find(fixed.begin(), fixed.end(), static_cast<int>(i)) != fixed.end())
      continue;
    Category category;
    category.name = name;
    set.categories_.push_back(category);
    category_columns.push_back(static_cast<int>(i));
  }

  const std::string category_path = dir + "/category.csv";
  if (file_exists(category_path)) {
    const auto figures = read_category_figures(category_path);
    for (Category& category : set.categories_) {
      auto it = figures.find(category.name);
      if (it != figures.end()) category = it->second;
    }
  }
  // c_<category>.csv only re-codes labels densely; we use global numbers, so only check
  // that a present file is readable (a broken copy of the set shows up here, early).
  for (const Category& category : set.categories_) {
    const std::string path = dir + "/c_" + category.name + ".csv";
    if (!file_exists(path)) continue;
    std::ifstream in(path, std::ios::binary);
    N2V_CHECK(in && std::filesystem::is_regular_file(path, ec), kIo,
              path << ": cannot read category code file");
  }

  // Parses one index.csv row; returns the reason when it is malformed.
  auto parse_row = [&](const CsvRow& row, ProbeImage& image) -> std::string {
    std::string reason = check_column_count(index, row);
    if (!reason.empty()) return reason;
    image.line = row.line;
    image.path = field(row, c_image);
    if (image.path.empty()) return "empty image path";
    const std::string& split_text = field(row, c_split);
    if (split_text == "train") {
      image.split = Split::kTrain;
    } else if (split_text == "val") {
      image.split = Split::kVal;
    } else {
      return "split '" + split_text + "' is neither train nor val";
    }
    const std::pair<int, int*> sizes[] = {
        {c_ih, &image.ih}, {c_iw, &image.iw}, {c_sh, &image.sh}, {c_sw, &image.sw}};
    for (const auto& [column, target] : sizes) {
      const std::string& text = field(row, column);
      auto value = parse_int(text);
      if (!value || *value <= 0 || *value > INT_MAX) {
        return index.header.fields[column] + " '" + text + "' is not a positive integer";
      }
      *target = static_cast<int>(*value);
    }
    image.masks.assign(category_columns.size(), {});
    image.image_labels.assign(category_columns.size(), {});
    for (size_t c = 0; c < category_columns.size(); ++c) {
      for (const std::string& raw : split(field(row, category_columns[c]), ';')) {
        const std::string value(trim(raw));
        if (value.empty()) continue;
        if (!all_digits(value)) {
          image.masks[c].push_back(value);
          continue;
        }
        auto number = parse_int(value);
        // BRODEN quirk: some ADE20K rows carry scene = 0, which no label.csv or c_scene row
        // defines. 0 means "unlabelled" (as in the masks), so it is no label: drop it.
        if (number && *number == 0) continue;
        if (!number || *number > max_number || set.label_index_[*number] < 0) {
          return "unknown label number " + value + " in column '" + set.categories_[c].name +
                 "' (not in label.csv)";
        }
        image.image_labels[c].push_back(static_cast<int>(*number));
      }
    }
    return {};
  };

  for (const CsvRow& row : index.rows) {
    if (options.max_images > 0 && set.images_.size() >= static_cast<size_t>(options.max_images))
      break;
    ProbeImage image;
    const std::string reason = parse_row(row, image);
    if (reason.empty()) {
      set.images_.push_back(std::move(image));
    } else if (options.skip_bad) {
      set.skipped_.push_back({index_path, row.line, reason});
    } else {
      N2V_THROW(kCorrupt, index_path << ":" << row.line << ": " << reason);
    }
  }
  N2V_CHECK(!set.images_.empty(), kInvalidArgument,
            index_path << ": no usable images (" << index.rows.size() << " rows, "
                       << set.skipped_.size() << " skipped)");
  return set;
}

const Label* ProbeSet::label(int number) const {
  if (number < 0 || static_cast<size_t>(number) >= label_index_.size()) return nullptr;
  const int i = label_index_[number];
  return i < 0 ? nullptr : &labels_[i];
}

namespace {

// Re-raises an error of an image or mask file with the index.csv row that named it.
[[noreturn]] void rethrow_with_row(const Error& e, const std::string& dir, int line) {
  throw Error(e.code(), e.message() + " (row at " + dir + "/index.csv:" + std::to_string(line) +
                            ")",
              e.file(), e.line());
}

}  // namespace

RgbImage ProbeSet::load_image(size_t i) const {
  N2V_CHECK(i < images_.size(), kInvalidArgument,
            dir_ << ": image " << i << " out of range (" << images_.size() << " images)");
  const ProbeImage& image = images_[i];
  try {
    return read_image_file(dir_ + "/images/" + image.path);
  } catch (const Error& e) {
    rethrow_with_row(e, dir_, image.line);
  }
}

ImageAnnotation ProbeSet::load_annotation(size_t i) const {
  N2V_CHECK(i < images_.size(), kInvalidArgument,
            dir_ << ": image " << i << " out of range (" << images_.size() << " images)");
  const ProbeImage& image = images_[i];
  const std::string row = " (row at " + dir_ + "/index.csv:" + std::to_string(image.line) + ")";
  ImageAnnotation annotation;
  for (size_t c = 0; c < image.masks.size(); ++c) {
    for (const std::string& relative : image.masks[c]) {
      const std::string path = dir_ + "/images/" + relative;
      LabelMap map;
      try {
        map = read_label_png(path);
      } catch (const Error& e) {
        rethrow_with_row(e, dir_, image.line);
      }
      N2V_CHECK(map.height == image.sh && map.width == image.sw, kCorrupt,
                path << ": mask is " << map.height << "x" << map.width << ", expected "
                     << image.sh << "x" << image.sw << " (sh x sw)" << row);
      int32_t known = 0;  // last label checked: masks are mostly long runs of one label
      for (size_t p = 0; p < map.labels.size(); ++p) {
        const int32_t value = map.labels[p];
        if (value == 0 || value == known) continue;
        N2V_CHECK(label(value) != nullptr, kCorrupt,
                  path << ": unknown label number " << value << " at pixel (y=" << p / map.width
                       << ", x=" << p % map.width << "), not in label.csv" << row);
        known = value;
      }
      annotation.maps.push_back(std::move(map));
    }
    annotation.image_labels.insert(annotation.image_labels.end(), image.image_labels[c].begin(),
                                   image.image_labels[c].end());
  }
  return annotation;
}

std::string ProbeSet::content_hash() const { return content_hash(dir_); }

std::string ProbeSet::content_hash(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool table = name == "index.csv" || name == "label.csv" || name == "category.csv" ||
                       (name.rfind("c_", 0) == 0 && name.size() > 6 && name.compare(name.size() - 4, 4, ".csv") == 0);
    if (table && entry.is_regular_file(ec)) names.push_back(name);
  }
  N2V_CHECK(!ec, kIo, "cannot list " << dir << ": " << ec.message());
  std::sort(names.begin(), names.end());
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64 offset basis
  auto mix = [&h](const char* data, size_t size) {
    for (size_t i = 0; i < size; ++i) {
      h ^= static_cast<unsigned char>(data[i]);
      h *= 1099511628211ull;
    }
  };
  for (const std::string& name : names) {
    std::ifstream in(dir + "/" + name, std::ios::binary);
    N2V_CHECK(in, kIo, "cannot read " << dir << "/" << name);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string header = name + '\0' + std::to_string(bytes.size()) + '\0';
    mix(header.data(), header.size());
    mix(bytes.data(), bytes.size());
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::string("fnv1a64:") + hex;
}

}  // namespace n2v
