// net2vec: explores the concept embeddings of a catalog -- lists, neighbours, analogies,
// space comparisons, concept and filter reports, exports -- and imports reference spaces.
// Option parsing, tables and JSON only: the analyses are src/query (docs/QUERIES.md).
// Torch-free: starts in milliseconds.

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/exit_codes.h"
#include "common/text.h"
#include "common/version.h"
#include "index/vector_index.h"
#include "query/query.h"

#if N2V_HAVE_REFERENCE
#include "reference/reference.h"
#endif

namespace {

// Keys in the order written, so the JSON reads like the tables.
using json = nlohmann::ordered_json;
using n2v::Catalog;
using n2v::QueryEngine;

// ---- output helpers ----

// Fixed-point with `digits` decimals; "-" for a missing or non-finite value.
std::string num(double v, int digits = 4) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
std::string num(const std::optional<float>& v, int digits = 4) { return v ? num(*v, digits) : "-"; }
std::string num(const std::optional<double>& v, int digits = 4) { return v ? num(*v, digits) : "-"; }

// JSON null for missing or non-finite numbers.
json jnum(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
json jnum(const std::optional<float>& v) { return v ? jnum(static_cast<double>(*v)) : json(nullptr); }
json jnum(const std::optional<double>& v) { return v ? jnum(*v) : json(nullptr); }

// An aligned text table: columns separated by two spaces, numbers right-aligned.
class Table {
 public:
  // A header starting with '>' is right-aligned (the '>' is not printed).
  explicit Table(std::vector<std::string> headers) {
    for (std::string& h : headers) {
      right_.push_back(!h.empty() && h[0] == '>');
      headers_.push_back(right_.back() ? h.substr(1) : h);
    }
  }
  void add(std::vector<std::string> row) {
    row.resize(headers_.size());
    rows_.push_back(std::move(row));
  }
  void print(std::FILE* out = stdout) const {
    std::vector<size_t> width(headers_.size());
    for (size_t c = 0; c < headers_.size(); ++c) width[c] = display_width(headers_[c]);
    for (const auto& row : rows_)
      for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], display_width(row[c]));
    auto line = [&](const std::vector<std::string>& cells) {
      std::string s;
      for (size_t c = 0; c < cells.size(); ++c) {
        const std::string pad(width[c] - display_width(cells[c]), ' ');
        const bool last = c + 1 == cells.size();
        s += right_[c] ? pad + cells[c] : cells[c] + (last ? "" : pad);
        if (!last) s += "  ";
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      std::fprintf(out, "%s\n", s.c_str());
    };
    line(headers_);
    std::vector<std::string> rule;
    for (size_t c = 0; c < headers_.size(); ++c) rule.push_back(std::string(width[c], '-'));
    line(rule);
    for (const auto& row : rows_) line(row);
  }

 private:
  // UTF-8 code points, so names with accents still align.
  static size_t display_width(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

void print_json(const json& j) { std::printf("%s\n", j.dump(2).c_str()); }

bool is_network(const n2v::SpaceInfo& s) { return s.kind == "network"; }
// What a space's scores are: set IoU (segmentation), accuracy (classification), nothing for
// reference spaces (they have no task).
const char* score_name(const std::string& kind, n2v::Task task) {
  if (kind != "network") return "score";
  return task == n2v::Task::kSegmentation ? "set IoU" : "accuracy";
}
json task_json(const std::string& kind, n2v::Task task) {
  return kind == "network" ? json(n2v::to_string(task)) : json(nullptr);
}

// ---- options shared by the subcommands ----

struct Common {
  std::string db;
  bool json = false;
};

void add_common(CLI::App* cmd, Common& c) {
  cmd->add_option("--db", c.db, "Catalog file (SQLite) written by net2vec-ingest")->required();
  cmd->add_flag("--json", c.json, "Machine-readable JSON on stdout instead of tables");
}

// Queries only read, but a catalog from an older net2vec is migrated on open (the schema's
// promise): a file we may write is opened read-write, one we may not stays read-only.
// A missing file is never created here.
Catalog open_read(const Common& c) {
  const bool writable = ::access(c.db.c_str(), W_OK) == 0;
  return Catalog::open(c.db, writable ? Catalog::Mode::kReadWrite : Catalog::Mode::kReadOnly);
}

std::vector<float> parse_vector(const std::string& text) {
  std::vector<float> v;
  for (const std::string& part : n2v::split(text, ',')) {
    const auto x = n2v::parse_double(n2v::trim(part));
    N2V_CHECK(x, kInvalidArgument, "--vector: '" << part << "' is not a number");
    v.push_back(static_cast<float>(*x));
  }
  return v;
}

// ---- spaces / concepts ----

int cmd_spaces(const Common& c) {
  Catalog catalog = open_read(c);
  const std::vector<n2v::SpaceInfo> spaces = catalog.spaces();
  if (c.json) {
    json out = json::array();
    for (const auto& s : spaces)
      out.push_back({{"id", s.id}, {"kind", s.kind}, {"network", s.network}, {"layer", s.layer},
                     {"task", task_json(s.kind, s.task)}, {"dim", s.dim}, {"concepts", s.concept_count},
                     {"run_id", s.run_id ? json(s.run_id) : json(nullptr)}, {"created_at", s.created_at},
                     {"source", s.source.empty() ? json(nullptr) : json(s.source)}});
    print_json({{"spaces", out}});
    return 0;
  }
  if (spaces.empty()) {
    std::printf("The catalog %s has no spaces yet (net2vec-ingest writes them).\n", c.db.c_str());
    return 0;
  }
  Table t({"space", "kind", "network", "layer", "task", ">dim", ">concepts", "created"});
  for (const auto& s : spaces)
    t.add({s.id, s.kind, is_network(s) ? s.network : "-", is_network(s) ? s.layer : "-",
           is_network(s) ? n2v::to_string(s.task) : "-", std::to_string(s.dim), std::to_string(s.concept_count),
           s.created_at});
  t.print();
  return 0;
}

struct ConceptsArgs {
  std::string space, category;
};

int cmd_concepts(const Common& c, const ConceptsArgs& a) {
  Catalog catalog = open_read(c);
  QueryEngine engine(catalog);
  const n2v::SpaceInfo info = engine.space_info(a.space);
  const auto rows = engine.concepts(a.space, a.category.empty() ? std::nullopt : std::optional(a.category));
  if (c.json) {
    json out = json::array();
    for (const auto& r : rows)
      out.push_back({{"number", r.concept_number}, {"name", r.name}, {"category", r.category},
                     {"score_val", jnum(r.score_val)}, {"best_filter", r.best_filter},
                     {"best_filter_val", jnum(r.best_filter_val)}, {"norm", jnum(r.l2_norm)}});
    print_json({{"space", a.space}, {"kind", info.kind}, {"task", task_json(info.kind, info.task)}, {"concepts", out}});
    return 0;
  }
  const std::string name = score_name(info.kind, info.task);
  Table t({">number", "concept", "category", ">" + name + " (val)", ">best filter", ">its " + name + " (val)", ">norm"});
  for (const auto& r : rows)
    t.add({std::to_string(r.concept_number), r.name, r.category, num(r.score_val),
           r.best_filter >= 0 ? std::to_string(r.best_filter) : "-", num(r.best_filter_val), num(r.l2_norm)});
  t.print();
  std::printf("%zu concepts in %s (%s, dimension %d)\n", rows.size(), a.space.c_str(),
              is_network(info) ? n2v::to_string(info.task) : "reference space", info.dim);
  return 0;
}

// ---- neighbors / analogy ----

json hits_json(const std::vector<n2v::ConceptHit>& hits) {
  json out = json::array();
  for (const auto& h : hits)
    out.push_back({{"name", h.name}, {"category", h.category}, {"number", h.concept_number}, {"score", jnum(h.score)}});
  return out;
}

void print_hits(const std::vector<n2v::ConceptHit>& hits, const char* score) {
  Table t({">rank", "concept", "category", std::string(">") + score});
  for (size_t i = 0; i < hits.size(); ++i)
    t.add({std::to_string(i + 1), hits[i].name, hits[i].category, num(hits[i].score)});
  t.print();
}

struct NeighborsArgs {
  std::string space, concept_name, vector, category;
  int k = 10;
};

int cmd_neighbors(const Common& c, const NeighborsArgs& a) {
  N2V_CHECK(a.concept_name.empty() != a.vector.empty(), kInvalidArgument,
            "neighbors takes either --concept or --vector (one of them)");
  Catalog catalog = open_read(c);
  QueryEngine engine(catalog);
  const std::optional<std::string> category = a.category.empty() ? std::nullopt : std::optional(a.category);
  const n2v::NeighborsResult r = a.vector.empty() ? engine.neighbors(a.space, a.concept_name, a.k, category)
                                                  : engine.neighbors(a.space, parse_vector(a.vector), a.k, category);
  if (c.json) {
    print_json({{"space", r.space},
                {"query", a.vector.empty() ? json(r.query) : json(nullptr)},
                {"category", category ? json(*category) : json(nullptr)},
                {"k", r.k},
                {"candidates", r.candidates},
                {"neighbors", hits_json(r.hits)}});
    return 0;
  }
  std::printf("Nearest concepts to %s in %s%s (cosine similarity; %d candidates)\n",
              a.vector.empty() ? ("'" + r.query + "'").c_str() : "the given vector", r.space.c_str(),
              category ? (", category " + *category).c_str() : "", r.candidates);
  print_hits(r.hits, "cosine");
  return 0;
}

struct AnalogyArgs {
  std::string space, method = "add", category;
  std::vector<std::string> positive, negative;
  int k = 10;
};

int cmd_analogy(const Common& c, const AnalogyArgs& a) {
  const n2v::AnalogyMethod method = n2v::parse_analogy_method(a.method);
  Catalog catalog = open_read(c);
  QueryEngine engine(catalog);
  const std::optional<std::string> category = a.category.empty() ? std::nullopt : std::optional(a.category);
  const n2v::AnalogyResult r = engine.analogy(a.space, a.positive, a.negative, a.k, method, category);
  if (c.json) {
    print_json({{"space", r.space},
                {"positive", r.positive},
                {"negative", r.negative},
                {"method", n2v::to_string(r.method)},
                {"category", category ? json(*category) : json(nullptr)},
                {"k", r.k},
                {"candidates", r.candidates},
                {"results", hits_json(r.hits)}});
    return 0;
  }
  std::string expr;
  for (size_t i = 0; i < r.positive.size(); ++i) expr += (i ? " + " : "") + r.positive[i];
  for (const std::string& n : r.negative) expr += (expr.empty() ? "- " : " - ") + n;
  std::printf("%s in %s (%s; inputs excluded)\n", expr.c_str(), r.space.c_str(),
              method == n2v::AnalogyMethod::kAdd ? "3CosAdd: cosine with the normalised mean"
                                                 : "3CosMul: prod (1+cos)/2 of positives / (prod of negatives + 1e-6)");
  print_hits(r.hits, method == n2v::AnalogyMethod::kAdd ? "cosine" : "3CosMul");
  return 0;
}

// ---- compare ----

struct CompareArgs {
  std::vector<std::string> spaces, concepts;
  bool all = false;
  int per_concept = -1;  // -1: not shown; 0: every concept; N: top N per pair
};

int cmd_compare(const Common& c, CompareArgs a) {
  Catalog catalog = open_read(c);
  if (a.all) {
    N2V_CHECK(a.spaces.empty(), kInvalidArgument, "compare takes --spaces or --all, not both");
    for (const auto& s : catalog.spaces()) a.spaces.push_back(s.id);
  }
  N2V_CHECK(a.per_concept >= -1, kInvalidArgument, "--per-concept must be 0 (all) or a positive count");
  QueryEngine engine(catalog);
  const n2v::SpaceComparison r = engine.compare(a.spaces, a.concepts);
  const int m = r.m;

  // The concepts of a pair by D_ijc, largest first.
  auto top_concepts = [&](const n2v::PairComparison& p) {
    std::vector<int> order(r.shared());
    for (int i = 0; i < r.shared(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return p.per_concept[x] > p.per_concept[y]; });
    if (a.per_concept > 0 && static_cast<int>(order.size()) > a.per_concept) order.resize(a.per_concept);
    return order;
  };

  if (c.json) {
    json matrix_d = json::array(), matrix_cka = json::array(), pairs = json::array();
    for (int i = 0; i < m; ++i) {
      json rd = json::array(), rc = json::array();
      for (int j = 0; j < m; ++j) {
        rd.push_back(jnum(r.distance[static_cast<size_t>(i) * m + j]));
        rc.push_back(jnum(r.cka[static_cast<size_t>(i) * m + j]));
      }
      matrix_d.push_back(rd);
      matrix_cka.push_back(rc);
    }
    for (const auto& p : r.pairs) {
      json cats = json::object();
      for (const auto& cd : p.categories) cats[cd.category] = {{"concepts", cd.concepts}, {"mean", jnum(cd.mean)}};
      json pj = {{"i", p.i}, {"j", p.j}, {"a", r.spaces[p.i]}, {"b", r.spaces[p.j]}, {"distance", jnum(p.distance)},
                 {"cka", jnum(p.cka)}, {"categories", cats}};
      if (a.per_concept >= 0) {
        json pc = json::array();
        for (int ci : top_concepts(p))
          pc.push_back({{"name", r.concepts[ci]}, {"category", r.categories[ci]}, {"d", jnum(p.per_concept[ci])}});
        pj["per_concept"] = pc;
      }
      pairs.push_back(pj);
    }
    print_json({{"spaces", r.spaces},
                {"shared", r.shared()},
                {"concepts", r.concepts},
                {"categories", r.categories},
                {"excluded", r.excluded},
                {"distance", matrix_d},
                {"cka", matrix_cka},
                {"pairs", pairs}});
    return 0;
  }

  std::printf("Compared %d spaces on the %d concepts they all have", m, r.shared());
  if (!r.excluded.empty()) std::printf(" (%zu left out: zero vector)", r.excluded.size());
  std::printf("\n\n");
  for (int i = 0; i < m; ++i) std::printf("  [%d] %s\n", i + 1, r.spaces[i].c_str());
  auto matrix = [&](const char* title, const std::vector<double>& v, int digits) {
    std::printf("\n%s\n", title);
    std::vector<std::string> headers = {""};
    for (int j = 0; j < m; ++j) headers.push_back(">[" + std::to_string(j + 1) + "]");
    Table t(headers);
    for (int i = 0; i < m; ++i) {
      std::vector<std::string> row = {"[" + std::to_string(i + 1) + "]"};
      for (int j = 0; j < m; ++j) row.push_back(num(v[static_cast<size_t>(i) * m + j], digits));
      t.add(row);
    }
    t.print();
  };
  matrix("D_ij = ||d(W_i) - d(W_j)||_F^2, d(W) = W'W'^T over unit-length rows (paper 5.3)", r.distance, 3);
  matrix("Linear CKA of the centred Gram matrices (1 = same geometry up to rotation and scale)", r.cka, 3);

  std::printf("\nMean D_ijc by concept category (concepts per category in the header)\n");
  std::map<std::string, int> category_sizes;
  for (const std::string& cat : r.categories) ++category_sizes[cat];
  std::vector<std::string> headers = {"pair"};
  for (const auto& [cat, n] : category_sizes) headers.push_back(">" + cat + " (" + std::to_string(n) + ")");
  Table t(headers);
  for (const auto& p : r.pairs) {
    std::vector<std::string> row = {"[" + std::to_string(p.i + 1) + "] / [" + std::to_string(p.j + 1) + "]"};
    for (const auto& cd : p.categories) row.push_back(num(cd.mean, 3));
    t.add(row);
  }
  t.print();

  if (a.per_concept >= 0) {
    for (const auto& p : r.pairs) {
      std::printf("\nD_ijc for [%d] / [%d], largest first\n", p.i + 1, p.j + 1);
      Table pc({"concept", "category", ">D_ijc"});
      for (int ci : top_concepts(p)) pc.add({r.concepts[ci], r.categories[ci], num(p.per_concept[ci], 4)});
      pc.print();
    }
  }
  return 0;
}

// ---- concept / filter ----

struct ConceptArgs {
  std::string space, concept_name;
  int top = 10;
};

int cmd_concept(const Common& c, const ConceptArgs& a) {
  Catalog catalog = open_read(c);
  QueryEngine engine(catalog);
  const n2v::ConceptReport r = engine.concept_report(a.space, a.concept_name, a.top);
  if (c.json) {
    json subsets = json::array(), top = json::array();
    for (const auto& s : r.subsets) subsets.push_back({{"filters", s.filters}, {"score", jnum(static_cast<double>(s.score))}});
    for (const auto& f : r.top_filters)
      top.push_back({{"filter", f.filter}, {"weight", f.weight}, {"share", jnum(f.share)}, {"cumulative", jnum(f.cumulative)}});
    print_json({{"space", r.space},
                {"name", r.name},
                {"category", r.category},
                {"number", r.concept_number},
                {"kind", r.kind},
                {"task", task_json(r.kind, r.task)},
                {"dim", r.dim},
                {"train_count", r.train_count},
                {"val_count", r.val_count},
                {"bias", r.bias},
                {"alpha", r.alpha},
                {"set_iou_train", jnum(r.set_iou_train)},
                {"set_iou_val", jnum(r.set_iou_val)},
                {"accuracy_train", jnum(r.accuracy_train)},
                {"accuracy_val", jnum(r.accuracy_val)},
                {"best_filter", r.best_filter},
                {"best_filter_train", jnum(r.best_filter_train)},
                {"best_filter_val", jnum(r.best_filter_val)},
                {"best_filter_rank", r.best_filter_rank},
                {"single_over_learned", jnum(r.single_over_learned)},
                {"subsets", subsets},
                {"image_count", r.image_count},
                {"mean_image_iou_learned", jnum(r.mean_image_iou_learned)},
                {"mean_image_iou_single", jnum(r.mean_image_iou_single)},
                {"zero_iou_learned", r.zero_iou_learned},
                {"zero_iou_single", r.zero_iou_single},
                {"l1_norm", jnum(r.l1_norm)},
                {"l2_norm", jnum(r.l2_norm)},
                {"filters_for_half", r.filters_for_half},
                {"filters_for_90", r.filters_for_90},
                {"top_filters", top}});
    return 0;
  }
  const bool seg = r.kind == "network" && r.task == n2v::Task::kSegmentation;
  const char* score = score_name(r.kind, r.task);
  if (r.kind != "network") {
    std::printf("%s (%s, label %d) in %s: a reference space (no scores; dimensions are not filters)\n",
                r.name.c_str(), r.category.c_str(), r.concept_number, r.space.c_str());
    std::printf("||w||_1 %s, ||w||_2 %s\n", num(r.l1_norm).c_str(), num(r.l2_norm).c_str());
  } else {
    std::printf("%s (%s, label %d) in %s: %d train / %d val images\n\n", r.name.c_str(), r.category.c_str(),
                r.concept_number, r.space.c_str(), r.train_count, r.val_count);
    Table scores({"", ">train", ">val"});
    scores.add({std::string("all filters (learned w): ") + score, num(seg ? r.set_iou_train : r.accuracy_train),
                num(seg ? r.set_iou_val : r.accuracy_val)});
    scores.add({"best single filter " + (r.best_filter >= 0 ? std::to_string(r.best_filter) : std::string("-")),
                num(r.best_filter_train), num(r.best_filter_val)});
    scores.print();
    std::printf("\nbest filter / learned weights (val): %s; best filter's rank by |w|: %s\n",
                num(r.single_over_learned, 3).c_str(),
                r.best_filter_rank ? std::to_string(r.best_filter_rank).c_str() : "-");
    std::printf("bias %s, alpha %s, ||w||_1 %s, ||w||_2 %s\n", num(r.bias).c_str(), num(r.alpha).c_str(),
                num(r.l1_norm).c_str(), num(r.l2_norm).c_str());
  }
  std::printf("filters carrying half of ||w||_1: %d; 90%%: %d (of %d)\n", r.filters_for_half, r.filters_for_90, r.dim);
  if (r.image_count)
    std::printf("per-image val IoU over %d images: learned mean %s (%d zero), best filter mean %s (%d zero)\n",
                r.image_count, num(r.mean_image_iou_learned).c_str(), r.zero_iou_learned,
                num(r.mean_image_iou_single).c_str(), r.zero_iou_single);
  if (!r.subsets.empty()) {
    std::printf("\nTop-F filter subsets, retrained (val %s)\n", score);
    Table t({">F", std::string(">") + score});
    for (const auto& s : r.subsets) t.add({std::to_string(s.filters), num(static_cast<double>(s.score))});
    t.print();
  }
  std::printf("\nTop filters by |w_k| (share = |w_k| / ||w||_1)\n");
  Table t({">rank", ">filter", ">w_k", ">share", ">cumulative"});
  for (size_t i = 0; i < r.top_filters.size(); ++i) {
    const auto& f = r.top_filters[i];
    t.add({std::to_string(i + 1), std::to_string(f.filter), num(f.weight), num(f.share), num(f.cumulative)});
  }
  t.print();
  return 0;
}

struct FilterArgs {
  std::string space;
  int filter = -1;
  int top = 10;
};

json filter_concepts_json(const std::vector<n2v::FilterConcept>& v) {
  json out = json::array();
  for (const auto& f : v)
    out.push_back({{"name", f.name}, {"category", f.category}, {"number", f.concept_number}, {"weight", f.weight},
                   {"share", jnum(f.share)}, {"rank", f.rank}, {"best", f.best},
                   {"best_filter_val", jnum(f.best_filter_val)}});
  return out;
}

int cmd_filter(const Common& c, const FilterArgs& a) {
  Catalog catalog = open_read(c);
  QueryEngine engine(catalog);
  if (a.filter < 0) {
    // Paper Figure 5: how many concepts pick each filter as their best.
    const n2v::FilterUsage u = engine.filter_usage(a.space);
    if (c.json) {
      print_json({{"space", u.space}, {"dim", u.dim}, {"concepts", u.concept_count},
                  {"concepts_per_filter", u.concepts_per_filter}, {"never_selected", u.never_selected}});
      return 0;
    }
    std::map<int, int> histogram;  // concepts -> filters
    for (int n : u.concepts_per_filter) ++histogram[n];
    std::printf("Best single filters of the %d concepts of %s: %d of %d filters are never selected\n\n",
                u.concept_count, u.space.c_str(), u.never_selected, u.dim);
    Table t({">concepts", ">filters"});
    for (const auto& [n, filters] : histogram) t.add({std::to_string(n), std::to_string(filters)});
    t.print();
    std::vector<int> order(u.dim);
    for (int k = 0; k < u.dim; ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&](int x, int y) { return u.concepts_per_filter[x] > u.concepts_per_filter[y]; });
    std::printf("\nMost selected filters\n");
    Table most({">filter", ">concepts"});
    for (int i = 0; i < std::min(a.top, u.dim) && u.concepts_per_filter[order[i]] > 0; ++i)
      most.add({std::to_string(order[i]), std::to_string(u.concepts_per_filter[order[i]])});
    most.print();
    return 0;
  }
  const n2v::FilterReport r = engine.filter_report(a.space, a.filter, a.top);
  if (c.json) {
    print_json({{"space", r.space}, {"filter", r.filter}, {"dim", r.dim}, {"concepts", r.concept_count},
                {"best_for", filter_concepts_json(r.best_for)}, {"top_weighted", filter_concepts_json(r.top_weighted)}});
    return 0;
  }
  std::printf("Filter %d of %s (%d filters, %d concepts)\n\n", r.filter, r.space.c_str(), r.dim, r.concept_count);
  std::printf("Best single filter of %zu concept%s\n", r.best_for.size(), r.best_for.size() == 1 ? "" : "s");
  if (!r.best_for.empty()) {
    Table t({"concept", "category", ">its score (val)", ">w_k", ">share", ">rank by |w|"});
    for (const auto& f : r.best_for)
      t.add({f.name, f.category, num(f.best_filter_val), num(f.weight), num(f.share), std::to_string(f.rank)});
    t.print();
  }
  std::printf("\nConcepts that weight it most (share = |w_k| / ||w||_1)\n");
  Table t({"concept", "category", ">w_k", ">share", ">rank by |w|", "best"});
  for (const auto& f : r.top_weighted)
    t.add({f.name, f.category, num(f.weight), num(f.share), std::to_string(f.rank), f.best ? "yes" : ""});
  t.print();
  return 0;
}

// ---- export ----

struct ExportArgs {
  std::string space, format = "tsv", out;
  bool normalize = false;
};

// Names may not break a TSV row.
std::string tsv_cell(std::string s) {
  for (char& ch : s)
    if (ch == '\t' || ch == '\n' || ch == '\r') ch = ' ';
  return s;
}

std::ofstream open_out(const std::string& path) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  N2V_CHECK(f, kIo, "cannot write " << path << ": " << std::strerror(errno));
  return f;
}

void close_out(std::ofstream& f, const std::string& path) {
  f.close();
  N2V_CHECK(!f.fail(), kIo, "writing " << path << " failed");
}

// NPY format 1.0: magic, version, little-endian uint16 header length, a Python dict literal
// padded with spaces and ended by '\n' so the data starts at a multiple of 64 bytes, then the
// data (little-endian float32, C order).
void write_npy(const std::string& path, const std::vector<float>& data, size_t rows, size_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  const size_t preamble = 10;  // magic (6) + version (2) + header length (2)
  const size_t total = (preamble + header.size() + 1 + 63) / 64 * 64;
  header.append(total - preamble - header.size() - 1, ' ');
  header += '\n';
  N2V_CHECK(header.size() <= 65535, kInternal, "NPY header too long");
  std::ofstream f = open_out(path);
  const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  f.write(reinterpret_cast<const char*>(magic), 8);
  const unsigned char len[2] = {static_cast<unsigned char>(header.size() & 0xFF),
                                static_cast<unsigned char>(header.size() >> 8)};
  f.write(reinterpret_cast<const char*>(len), 2);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (float v : data) {
    uint32_t bits = std::bit_cast<uint32_t>(v);
    const unsigned char b[4] = {static_cast<unsigned char>(bits), static_cast<unsigned char>(bits >> 8),
                                static_cast<unsigned char>(bits >> 16), static_cast<unsigned char>(bits >> 24)};
    f.write(reinterpret_cast<const char*>(b), 4);
  }
  close_out(f, path);
}

int cmd_export(const Common& c, const ExportArgs& a) {
  N2V_CHECK(a.format == "tsv" || a.format == "npy", kInvalidArgument, "--format must be tsv or npy, got '" << a.format << "'");
  Catalog catalog = open_read(c);
  QueryEngine engine(catalog);
  const n2v::SpaceInfo info = engine.space_info(a.space);
  std::vector<n2v::ConceptVector> vectors = engine.vectors(a.space);
  std::error_code ec;
  std::filesystem::create_directories(a.out, ec);
  N2V_CHECK(!ec && std::filesystem::is_directory(a.out), kIo, "cannot create directory " << a.out << ": " << ec.message());
  const size_t d = static_cast<size_t>(info.dim);
  std::vector<float> data;
  data.reserve(vectors.size() * d);
  for (auto& v : vectors) {
    if (a.normalize) {
      std::vector<float> u(d, 0.0f);
      const double norm = n2v::normalize(v.weights.data(), static_cast<int>(d), u.data());
      if (norm > 0 && std::isfinite(norm)) v.weights = u;  // a zero vector stays zero
    }
    data.insert(data.end(), v.weights.begin(), v.weights.end());
  }
  std::vector<std::string> files;
  const std::filesystem::path dir(a.out);
  const std::string meta_path = (dir / "metadata.tsv").string();
  {
    std::ofstream f = open_out(meta_path);
    f << "name\tcategory\n";
    for (const auto& v : vectors) f << tsv_cell(v.name) << '\t' << tsv_cell(v.category) << '\n';
    close_out(f, meta_path);
  }
  if (a.format == "tsv") {
    const std::string path = (dir / "vectors.tsv").string();
    std::ofstream f = open_out(path);
    char buf[32];
    for (size_t i = 0; i < vectors.size(); ++i) {
      for (size_t j = 0; j < d; ++j) {
        std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(data[i * d + j]));  // round-trips a float
        f << (j ? "\t" : "") << buf;
      }
      f << '\n';
    }
    close_out(f, path);
    files.push_back(path);
  } else {
    const std::string path = (dir / "vectors.npy").string();
    write_npy(path, data, vectors.size(), d);
    files.push_back(path);
  }
  files.push_back(meta_path);
  if (c.json) {
    print_json({{"space", a.space}, {"format", a.format}, {"normalized", a.normalize}, {"concepts", vectors.size()},
                {"dim", info.dim}, {"files", files}});
    return 0;
  }
  std::printf("Exported %zu concepts x %d dimensions of %s%s:\n", vectors.size(), info.dim, a.space.c_str(),
              a.normalize ? " (L2-normalised)" : "");
  for (const std::string& f : files) std::printf("  %s\n", f.c_str());
  if (a.format == "tsv")
    std::printf("Load both in the TensorBoard Embedding Projector (projector.tensorflow.org: Load).\n");
  else
    std::printf("numpy.load('%s') gives a float32 array; metadata.tsv has its row labels.\n", files[0].c_str());
  return 0;
}

// ---- reference ----

struct ReferenceArgs {
  std::string wordnet_dir = "/usr/share/wordnet", overrides, name, file, format = "auto";
};

#if N2V_HAVE_REFERENCE
int print_import(const Common& c, const n2v::ReferenceImportReport& r) {
  if (c.json) {
    print_json({{"space", r.space_id}, {"mapped", r.mapped}, {"unmapped", r.unmapped}, {"dim", r.dim}});
    return 0;
  }
  std::printf("Wrote space %s: %d concepts, dimension %d; %zu catalog concepts have no vector", r.space_id.c_str(),
              r.mapped, r.dim, r.unmapped.size());
  const size_t shown = std::min<size_t>(r.unmapped.size(), 20);
  for (size_t i = 0; i < shown; ++i) std::printf("%s%s", i ? ", " : ": ", r.unmapped[i].c_str());
  std::printf("%s\n", r.unmapped.size() > shown ? ", ..." : "");
  return 0;
}
#endif

int cmd_reference(const Common& c, const ReferenceArgs& a, bool wordnet) {
#if N2V_HAVE_REFERENCE
  Catalog catalog = Catalog::open(c.db, Catalog::Mode::kReadWrite);
  if (wordnet) return print_import(c, n2v::import_wordnet(catalog, a.wordnet_dir, a.overrides));
  n2v::WordVectorFormat format = n2v::WordVectorFormat::kAuto;
  if (a.format == "bin") format = n2v::WordVectorFormat::kWord2VecBinary;
  else if (a.format == "text") format = n2v::WordVectorFormat::kText;
  else N2V_CHECK(a.format == "auto", kInvalidArgument, "--format must be auto, bin or text, got '" << a.format << "'");
  return print_import(c, n2v::import_word_vectors(catalog, a.name, a.file, format));
#else
  (void)c;
  (void)a;
  (void)wordnet;
  N2V_THROW(kUnsupported, "this net2vec was built without the reference importers (src/reference)");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "net2vec: explore Net2Vec concept embeddings (Fong & Vedaldi, CVPR 2018) stored in a catalog\n"
      "by net2vec-ingest. Each concept is a vector of weights over a layer's filters; a space is\n"
      "<network>.<layer>.seg|cls. Similarities are cosines of L2-normalised vectors. Definitions:\n"
      "docs/QUERIES.md. Every subcommand takes --db FILE and --json; `net2vec SUBCOMMAND --help`\n"
      "explains its options.\n\n"
      "Exit status: 0 ok, 1 internal error, 2 invalid input or usage, 3 not found, 4 I/O error,\n"
      "5 corrupt catalog, 6 unsupported."};
  app.set_version_flag("--version", std::string("net2vec ") + n2v::kVersion);
  app.require_subcommand(1);
  app.get_formatter()->column_width(30);
  Common common;

  CLI::App* spaces = app.add_subcommand("spaces", "List the catalog's spaces: id, kind, dimension, concepts");
  add_common(spaces, common);

  ConceptsArgs concepts_args;
  CLI::App* concepts = app.add_subcommand(
      "concepts", "List a space's concepts with their val score, best single filter and vector norm");
  add_common(concepts, common);
  concepts->add_option("--space", concepts_args.space, "Space id, e.g. alexnet.conv5.seg")->required();
  concepts->add_option("--category", concepts_args.category, "Only concepts of this category (object, part, ...)");

  NeighborsArgs nb;
  CLI::App* neighbors = app.add_subcommand(
      "neighbors", "Nearest concepts by cosine similarity, the query excluded (paper Table 2)");
  add_common(neighbors, common);
  neighbors->add_option("--space", nb.space, "Space id")->required();
  auto* concept_opt = neighbors->add_option("--concept", nb.concept_name, "Concept name to start from");
  auto* vector_opt = neighbors->add_option("--vector", nb.vector, "Or a raw vector: comma-separated numbers, one per filter");
  concept_opt->excludes(vector_opt);
  neighbors->add_option("-k,--k", nb.k, "How many results (more than there are concepts: all of them)")->capture_default_str();
  neighbors->add_option("--category", nb.category, "Only return concepts of this category");

  AnalogyArgs an;
  CLI::App* analogy = app.add_subcommand(
      "analogy", "Vector arithmetic: concepts nearest to sum(positive) - sum(negative), inputs excluded (paper Table 3)");
  add_common(analogy, common);
  analogy->add_option("--space", an.space, "Space id")->required();
  analogy->add_option("--positive", an.positive, "Concepts added (comma-separated or repeated)")->delimiter(',');
  analogy->add_option("--negative", an.negative, "Concepts subtracted (comma-separated or repeated)")->delimiter(',');
  analogy->add_option("-k,--k", an.k, "How many results")->capture_default_str();
  analogy->add_option("--method", an.method,
                      "add: 3CosAdd, cosine with the renormalised mean of +/- unit vectors (gensim most_similar); "
                      "mul: 3CosMul, prod (1+cos)/2 over positives / (prod over negatives + 1e-6) (Levy & Goldberg)")
      ->capture_default_str();
  analogy->add_option("--category", an.category, "Only return concepts of this category");

  CompareArgs cmp;
  CLI::App* compare = app.add_subcommand(
      "compare",
      "Distances between spaces on the concepts they all share: D_ij, mean D_ijc per category (paper Figure 10), "
      "linear CKA");
  add_common(compare, common);
  compare->add_option("--spaces", cmp.spaces, "Two or more space ids (comma-separated or repeated)")->delimiter(',');
  compare->add_flag("--all", cmp.all, "Compare every space of the catalog");
  compare->add_option("--concepts", cmp.concepts, "Only these concepts (each must be in every space)")->delimiter(',');
  compare->add_option("--per-concept", cmp.per_concept,
                      "Also list D_ijc per concept for each pair: the N largest (0: all)");

  ConceptArgs ca;
  CLI::App* concept_cmd = app.add_subcommand(
      "concept", "Every stored score of a concept (learned weights vs best single filter, F sweep, per-image IoU) "
                 "and its top filters by |w_k| and share |w_k|/||w||_1 (paper 5.2)");
  add_common(concept_cmd, common);
  concept_cmd->add_option("--space", ca.space, "Space id")->required();
  concept_cmd->add_option("--concept", ca.concept_name, "Concept name")->required();
  concept_cmd->add_option("--top", ca.top, "How many filters to list")->capture_default_str();

  FilterArgs fa;
  CLI::App* filter = app.add_subcommand(
      "filter", "Concepts for which a filter is the best single filter, and those that weight it most (paper 4.2); "
                "without --filter, how many concepts pick each filter (paper Figure 5)");
  add_common(filter, common);
  filter->add_option("--space", fa.space, "Space id")->required();
  filter->add_option("--filter", fa.filter, "Filter index k (0-based)");
  filter->add_option("--top", fa.top, "How many concepts (or filters) to list")->capture_default_str();

  ExportArgs ex;
  CLI::App* export_cmd = app.add_subcommand(
      "export", "Write a space's vectors for the TensorBoard Embedding Projector (vectors.tsv + metadata.tsv) or "
                "numpy (vectors.npy + metadata.tsv)");
  add_common(export_cmd, common);
  export_cmd->add_option("--space", ex.space, "Space id")->required();
  export_cmd->add_option("--format", ex.format, "tsv or npy")->capture_default_str();
  export_cmd->add_option("--out", ex.out, "Output directory (created if absent; files in it are replaced)")->required();
  export_cmd->add_flag("--normalize", ex.normalize, "Write L2-normalised vectors instead of the stored weights");

  ReferenceArgs ra;
  CLI::App* reference = app.add_subcommand(
      "reference", "Import reference spaces (kind 'reference') to compare network spaces with");
  reference->require_subcommand(1);
  CLI::App* wordnet = reference->add_subcommand(
      "wordnet", "WordNet 3.0 hypernym-closure indicator vectors for the catalog's concepts (space 'wordnet')");
  add_common(wordnet, common);
  wordnet->add_option("--wordnet-dir", ra.wordnet_dir, "WNDB files (index.noun, data.noun)")->capture_default_str();
  wordnet->add_option("--overrides", ra.overrides, "TSV of concept name -> synset offset (e.g. data/wordnet_overrides.tsv)");
  CLI::App* vectors = reference->add_subcommand("vectors", "Word vectors (word2vec / GloVe) for the catalog's concepts");
  add_common(vectors, common);
  vectors->add_option("--name", ra.name, "Space id to write, e.g. glove-100d")->required();
  vectors->add_option("--file", ra.file, "Vector file")->required();
  vectors->add_option("--format", ra.format, "auto, bin (word2vec binary) or text (word2vec / GloVe text)")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    if (*spaces) return cmd_spaces(common);
    if (*concepts) return cmd_concepts(common, concepts_args);
    if (*neighbors) return cmd_neighbors(common, nb);
    if (*analogy) return cmd_analogy(common, an);
    if (*compare) return cmd_compare(common, cmp);
    if (*concept_cmd) return cmd_concept(common, ca);
    if (*filter) return cmd_filter(common, fa);
    if (*export_cmd) return cmd_export(common, ex);
    if (*wordnet) return cmd_reference(common, ra, true);
    if (*vectors) return cmd_reference(common, ra, false);
    return 2;
  } catch (const n2v::Error& e) {
    std::fprintf(stderr, "net2vec: error: %s\n", e.message().c_str());
    return n2v::exit_code(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "net2vec: internal error: %s\n", e.what());
    return 1;
  }
}
