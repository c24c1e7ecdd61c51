// The probe check (`net2vec probe check`) and the probe browser's index: every row's image
// and masks read and measured, concept by concept.

#include "probe/probe_check.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "common/error.h"
#include "probe/detail/csv.h"

namespace n2v {

const char* to_string(ProbeProblem::Severity severity) {
  return severity == ProbeProblem::Severity::kError ? "error" : "warning";
}

namespace {

namespace fs = std::filesystem;
using Severity = ProbeProblem::Severity;

// What one row holds and what is wrong with it.
struct RowScan {
  std::vector<ProbeProblem> problems;
  bool ok = true;  // no error
  // (label, foreground pixels): pixels > 0 where the label has a mask, 0 for a whole-image label.
  std::vector<std::pair<int, int64_t>> present;
  // (label, column) pairs where a label sits in a column that is not one of its categories.
  std::vector<std::pair<int, int>> off_category;
};

struct ScanOptions {
  bool decode_images = true;  // the browser needs only the masks
  int threads = 0;
  std::function<void(int64_t, int64_t)> progress;
};

std::string row_ref(const ProbeSet& probe, const ProbeImage& image) {
  return " (row at " + probe.dir() + "/index.csv:" + std::to_string(image.line) + ")";
}

RowScan scan_row(const ProbeSet& probe, size_t i, bool decode_image) {
  const ProbeImage& image = probe.images()[i];
  RowScan out;
  auto fail = [&](const std::string& file, const std::string& message) {
    out.problems.push_back({Severity::kError, file, image.line, message, 0});
    out.ok = false;
  };
  const std::string image_file = "images/" + image.path;
  if (decode_image) {
    try {
      const RgbImage rgb = read_image_file(probe.dir() + "/" + image_file);
      if (rgb.height != image.ih || rgb.width != image.iw)
        fail(image_file, probe.dir() + "/" + image_file + ": image is " + std::to_string(rgb.height) + "x" +
                             std::to_string(rgb.width) + ", index.csv declares " + std::to_string(image.ih) + "x" +
                             std::to_string(image.iw) + " (ih x iw)" + row_ref(probe, image));
    } catch (const Error& e) {
      fail(image_file, e.message() + row_ref(probe, image));
    }
  }
  // A concept's target is the union over the image's maps (layered parts included), as in
  // collect_annotations: a pixel counts once however many layers carry the label.
  const size_t pixels = static_cast<size_t>(image.sh) * image.sw;
  std::map<int, std::vector<uint8_t>> masks;
  const auto& categories = probe.categories();
  auto in_category = [&](int number, size_t column) {
    const Label* label = probe.label(number);
    if (!label) return;
    for (const auto& [name, count] : label->category_counts)
      if (name == categories[column].name) return;
    out.off_category.emplace_back(number, static_cast<int>(column));
  };
  for (size_t c = 0; c < image.masks.size(); ++c) {
    for (const std::string& relative : image.masks[c]) {
      const std::string file = "images/" + relative, path = probe.dir() + "/" + file;
      LabelMap map;
      try {
        map = read_label_png(path);
      } catch (const Error& e) {
        fail(file, e.message() + row_ref(probe, image));
        continue;
      }
      if (map.height != image.sh || map.width != image.sw) {
        fail(file, path + ": mask is " + std::to_string(map.height) + "x" + std::to_string(map.width) +
                       ", index.csv declares " + std::to_string(image.sh) + "x" + std::to_string(image.sw) +
                       " (sh x sw)" + row_ref(probe, image));
        continue;
      }
      std::set<int> unknown;
      size_t first_unknown = 0;
      int32_t last = 0;  // masks are mostly long runs of one label
      std::vector<uint8_t>* mask = nullptr;
      for (size_t p = 0; p < map.labels.size(); ++p) {
        const int32_t value = map.labels[p];
        if (value == 0) continue;
        if (value != last) {
          last = value;
          mask = nullptr;
          if (!probe.label(value)) {
            if (unknown.empty()) first_unknown = p;
            unknown.insert(value);
            continue;
          }
          auto [it, added] = masks.try_emplace(value);
          if (added) {
            it->second.assign(pixels, 0);
            in_category(value, c);
          }
          mask = &it->second;
        }
        if (mask) (*mask)[p] = 1;
      }
      if (!unknown.empty()) {
        std::string list;
        for (int u : unknown) list += (list.empty() ? "" : ", ") + std::to_string(u);
        fail(file, path + ": label number" + (unknown.size() > 1 ? "s " : " ") + list +
                       " not in label.csv (first at pixel y=" + std::to_string(first_unknown / map.width) +
                       ", x=" + std::to_string(first_unknown % map.width) + ")" + row_ref(probe, image));
      }
    }
  }
  for (const auto& [label, mask] : masks)
    out.present.emplace_back(label, std::count(mask.begin(), mask.end(), uint8_t{1}));
  for (size_t c = 0; c < image.image_labels.size(); ++c)
    for (int label : image.image_labels[c]) {
      in_category(label, c);
      const bool known = std::any_of(out.present.begin(), out.present.end(),
                                     [&](const auto& entry) { return entry.first == label; });
      if (!known) out.present.emplace_back(label, 0);
    }
  return out;
}

// Scans every row on a few threads; results in row order.
std::vector<RowScan> scan_rows(const ProbeSet& probe, const ScanOptions& options) {
  const size_t n = probe.images().size();
  std::vector<RowScan> rows(n);
  int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::clamp(threads, 1, 16);
  if (static_cast<size_t>(threads) > n) threads = static_cast<int>(std::max<size_t>(n, 1));
  std::atomic<size_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex progress_mutex;
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      rows[i] = scan_row(probe, i, options.decode_images);
      const int64_t d = ++done;
      if (options.progress) {
        const std::lock_guard lock(progress_mutex);
        options.progress(d, static_cast<int64_t>(n));
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  return rows;
}

// Counts per concept over the rows without an error; fills the per-concept warnings.
ProbeContents count_contents(const ProbeSet& probe, const std::vector<RowScan>& rows) {
  ProbeContents out;
  const auto& labels = probe.labels();
  std::map<int, size_t> index;
  for (const Label& label : labels) {
    index[label.number] = out.concepts.size();
    ProbeConceptCount c;
    c.number = label.number;
    c.name = label.name;
    c.category = label.category;
    out.concepts.push_back(std::move(c));
  }
  out.train_rows.assign(labels.size(), {});
  out.val_rows.assign(labels.size(), {});
  std::vector<double> fraction_sum(labels.size(), 0.0);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].ok) continue;
    const ProbeImage& image = probe.images()[i];
    const bool train = image.split == Split::kTrain;
    ++(train ? out.train_images : out.val_images);
    const double S = static_cast<double>(image.sh) * image.sw;
    for (const auto& [label, pixels] : rows[i].present) {
      const auto it = index.find(label);
      if (it == index.end()) continue;
      ProbeConceptCount& c = out.concepts[it->second];
      (train ? out.train_rows : out.val_rows)[it->second].push_back(static_cast<int>(i));
      ++(train ? c.train_images : c.val_images);
      if (pixels > 0) {
        ++(train ? c.train_masked : c.val_masked);
        if (train) fraction_sum[it->second] += static_cast<double>(pixels) / S;
      }
    }
  }
  for (size_t c = 0; c < out.concepts.size(); ++c)
    if (out.concepts[c].train_masked > 0) out.concepts[c].alpha = 1.0 - fraction_sum[c] / out.concepts[c].train_masked;
  return out;
}

// Which file of the folder an error of ProbeSet::open is about (its message names it).
std::string file_named(const std::string& message) {
  for (const char* name : {"index.csv", "label.csv", "category.csv"})
    if (message.find(std::string("/") + name) != std::string::npos) return name;
  const size_t c = message.find("/c_");
  if (c != std::string::npos) {
    const size_t end = message.find(".csv", c);
    if (end != std::string::npos) return message.substr(c + 1, end + 4 - c - 1);
  }
  return "";
}

// category.csv and c_<category>.csv against index.csv's columns and label.csv.
void check_category_files(const ProbeSet& probe, const std::function<void(ProbeProblem)>& add) {
  const std::string& dir = probe.dir();
  std::set<std::string> columns;
  for (const Category& c : probe.categories()) columns.insert(c.name);
  std::error_code ec;
  if (!fs::exists(dir + "/category.csv", ec)) {
    add({Severity::kWarning, "category.csv", 0,
         dir + "/category.csv: missing (BRODEN has one; net2vec reads the categories from index.csv's header)", 0});
  } else {
    try {
      const detail::CsvFile file = detail::read_csv(dir + "/category.csv");
      const auto header = detail::header_columns(file);
      const auto name_column = header.find("name");
      if (name_column == header.end()) {
        add({Severity::kError, "category.csv", file.header.line,
             file.path + ":" + std::to_string(file.header.line) + ": header lacks the column 'name'", 0});
      } else {
        std::set<std::string> listed;
        for (const detail::CsvRow& row : file.rows) {
          if (static_cast<size_t>(name_column->second) >= row.fields.size()) continue;
          const std::string& name = row.fields[name_column->second];
          listed.insert(name);
          if (!columns.count(name))
            add({Severity::kError, "category.csv", row.line,
                 file.path + ":" + std::to_string(row.line) + ": category '" + name +
                     "' is not a column of index.csv",
                 0});
        }
        for (const std::string& column : columns)
          if (!listed.count(column))
            add({Severity::kError, "category.csv", 0,
                 file.path + ": lacks the category '" + column + "', a column of index.csv", 0});
      }
    } catch (const Error& e) {
      add({Severity::kError, "category.csv", 0, e.message(), 0});
    }
  }
  for (const Label& label : probe.labels())
    for (const auto& [name, count] : label.category_counts)
      if (!columns.count(name))
        add({Severity::kError, "label.csv", 0,
             dir + "/label.csv: label " + std::to_string(label.number) + " (" + label.name + ") has category '" +
                 name + "', which is not a column of index.csv",
             label.number});
  for (const Category& category : probe.categories()) {
    const std::string name = "c_" + category.name + ".csv", path = dir + "/" + name;
    if (!fs::exists(path, ec)) {
      add({Severity::kWarning, name, 0,
           path + ": missing (BRODEN has one per category; net2vec uses label.csv's numbers)", 0});
      continue;
    }
    try {
      const detail::CsvFile file = detail::read_csv(path);
      const auto header = detail::header_columns(file);
      const auto number_column = header.find("number"), name_column = header.find("name");
      if (number_column == header.end() || name_column == header.end()) {
        add({Severity::kError, name, file.header.line,
             path + ":" + std::to_string(file.header.line) + ": header lacks the column 'number' or 'name'", 0});
        continue;
      }
      for (const detail::CsvRow& row : file.rows) {
        const size_t need = static_cast<size_t>(std::max(number_column->second, name_column->second));
        if (need >= row.fields.size()) continue;
        const std::string where = path + ":" + std::to_string(row.line) + ": ";
        const std::string& text = row.fields[number_column->second];
        const auto number = parse_int(text);
        if (number && *number == 0) continue;  // code 0: "unused" in BRODEN's own files
        const Label* label = number ? probe.label(static_cast<int>(*number)) : nullptr;
        if (!label) {
          add({Severity::kError, name, row.line, where + "label number '" + text + "' is not in label.csv", 0});
        } else if (label->name != row.fields[name_column->second]) {
          add({Severity::kError, name, row.line,
               where + "label " + text + " is '" + row.fields[name_column->second] + "' here but '" + label->name +
                   "' in label.csv",
               label->number});
        }
      }
    } catch (const Error& e) {
      add({Severity::kError, name, 0, e.message(), 0});
    }
  }
}

}  // namespace

ProbeContents probe_contents(const ProbeSet& probe, const ProbeCheckOptions& options) {
  ScanOptions scan;
  scan.decode_images = false;
  scan.threads = options.threads;
  scan.progress = options.progress;
  return count_contents(probe, scan_rows(probe, scan));
}

ProbeCheckReport check_probe_set(const std::string& dir, const ProbeCheckOptions& options) {
  N2V_CHECK(options.max_problems >= 0, kInvalidArgument, "max-problems must be >= 0, got " << options.max_problems);
  ProbeCheckReport report;
  report.dir = dir;
  auto add = [&](ProbeProblem problem) {
    ++(problem.severity == Severity::kError ? report.errors : report.warnings);
    if (report.problems.size() < static_cast<size_t>(options.max_problems)) report.problems.push_back(std::move(problem));
  };
  try {
    report.content_hash = ProbeSet::content_hash(dir);
  } catch (const Error&) {
    // A folder that cannot be listed fails to open just below, with the reason.
  }
  std::optional<ProbeSet> opened;
  try {
    ProbeOptions open;
    open.skip_bad = true;  // every malformed row is a problem of its own
    opened = ProbeSet::open(dir, open);
  } catch (const Error& e) {
    add({Severity::kError, file_named(e.message()), 0, e.message(), 0});
    return report;
  }
  const ProbeSet& probe = *opened;
  for (const Category& c : probe.categories()) report.categories.push_back(c.name);
  for (const SkippedRow& row : probe.skipped())
    add({Severity::kError, "index.csv", row.line, row.file + ":" + std::to_string(row.line) + ": " + row.reason, 0});
  report.rows = static_cast<int>(probe.images().size() + probe.skipped().size());

  check_category_files(probe, add);

  ScanOptions scan;
  scan.threads = options.threads;
  scan.progress = options.progress;
  std::vector<RowScan> rows = scan_rows(probe, scan);
  // Ingest stacks every mask of the set into one tensor: the first good row's size is the set's.
  std::set<std::pair<int, int>> off_category_seen;
  for (size_t i = 0; i < rows.size(); ++i) {
    const ProbeImage& image = probe.images()[i];
    if (rows[i].ok && report.mask_height == 0) {
      report.mask_height = image.sh;
      report.mask_width = image.sw;
    } else if (rows[i].ok && (image.sh != report.mask_height || image.sw != report.mask_width)) {
      rows[i].problems.push_back({Severity::kError, "index.csv", image.line,
                                  dir + "/index.csv:" + std::to_string(image.line) + ": mask size " +
                                      std::to_string(image.sh) + "x" + std::to_string(image.sw) + " differs from " +
                                      std::to_string(report.mask_height) + "x" + std::to_string(report.mask_width) +
                                      " of the rows before (every mask of a set has one size)",
                                  0});
      rows[i].ok = false;
    }
    for (ProbeProblem& p : rows[i].problems) add(std::move(p));
    // Once per (label, column): BRODEN's label.csv lists every category a label is used in.
    for (const auto& [number, column] : rows[i].off_category) {
      if (!off_category_seen.insert({number, column}).second) continue;
      const Label* label = probe.label(number);
      add({Severity::kWarning, "index.csv", image.line,
           dir + "/index.csv:" + std::to_string(image.line) + ": label " + std::to_string(number) + " (" +
               label->name + ") appears in column '" + probe.categories()[column].name +
               "', which label.csv does not list among its categories (" + label->category + ")",
           number});
    }
    if (rows[i].ok) ++report.rows_ok;
  }
  report.contents = count_contents(probe, rows);
  if (report.contents.train_images == 0)
    add({Severity::kError, "index.csv", 0, dir + "/index.csv: no usable train images (the split column)", 0});
  if (report.contents.val_images == 0)
    add({Severity::kError, "index.csv", 0, dir + "/index.csv: no usable val images (the split column)", 0});
  for (const ProbeConceptCount& c : report.contents.concepts) {
    const std::string who = "label " + std::to_string(c.number) + " (" + c.name + ")";
    if (c.train_images + c.val_images == 0)
      add({Severity::kWarning, "label.csv", 0, who + " is in no image", c.number});
    else if (c.train_images == 0)
      add({Severity::kWarning, "index.csv", 0, who + " has no train image: no ingest can learn it", c.number});
    else if (c.val_images == 0)
      add({Severity::kWarning, "index.csv", 0, who + " has no val image: ingest cannot score it", c.number});
  }
  return report;
}

}  // namespace n2v
