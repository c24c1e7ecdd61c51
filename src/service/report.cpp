// The catalog report: its JSON document and the HTML page drawn from it (report.h).

#include "service/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "common/version.h"
#include "service/detail/html.h"
#include "service/detail/report_strip.h"

namespace n2v {

namespace {

// Paper Tables 2 and 3: the nearest concepts of its examples and its vector arithmetic,
// for those whose concepts the space has (Service::examples).
Json examples_json(Service& service, const std::string& space) {
  ExamplesRequest request;
  request.space = space;
  const Json all = to_json(service.examples(request));
  return {{"nearest", all["nearest"]}, {"arithmetic", all["arithmetic"]}};
}

// Paper Figure 5: how many concepts pick each filter as their best single filter (Service::
// filter_usage). Null for a reference space (no filters).
Json filter_usage_json(Service& service, const std::string& space, bool network) {
  if (!network) return nullptr;
  FilterRequest request;
  request.space = space;
  const Json all = to_json(service.filter_usage(request));
  return {{"dim", all["dim"]},
          {"never_selected", all["never_selected"]},
          {"histogram", all["histogram"]},
          {"most_selected", all["most_selected"]}};
}

// Paper Figures 7 and 8 by category: each concept's per-image val IoU summarised as the paper
// does, the mean and standard deviation of its non-zero part (learned weights and best single
// filter; Service::concept_detail), then averaged over the category's concepts where defined.
// Null unless a segmentation space (classification has no per-image IoU).
Json image_iou_by_category(Service& service, const std::string& space, bool segmentation) {
  if (!segmentation) return nullptr;
  struct Sums {
    int concepts = 0, learned_mean_n = 0, learned_sd_n = 0, single_mean_n = 0, single_sd_n = 0;
    double learned_mean = 0, learned_sd = 0, single_mean = 0, single_sd = 0;
  };
  std::map<std::string, Sums> by;
  ConceptsRequest list;
  list.space = space;
  for (const ConceptSummary& c : service.concepts(list).concepts) {
    ConceptRequest one;
    one.space = space;
    one.name = c.name;
    one.top = 1;
    const ImageIouDistribution d = service.concept_detail(one).distribution;
    Sums& s = by[c.category];
    ++s.concepts;
    const auto add = [](double v, double& sum, int& n) {
      if (std::isfinite(v)) sum += v, ++n;
    };
    add(d.learned.mean, s.learned_mean, s.learned_mean_n);
    add(d.learned.sd, s.learned_sd, s.learned_sd_n);
    add(d.single.mean, s.single_mean, s.single_mean_n);
    add(d.single.sd, s.single_sd, s.single_sd_n);
  }
  const auto mean = [](double sum, int n) { return n ? Json(sum / n) : Json(nullptr); };
  Json out = Json::array();
  for (const auto& [category, s] : by)
    out.push_back({{"category", category},
                   {"concept_count", s.concepts},
                   {"learned_mean", mean(s.learned_mean, s.learned_mean_n)},
                   {"learned_sd", mean(s.learned_sd, s.learned_sd_n)},
                   {"single_mean", mean(s.single_mean, s.single_mean_n)},
                   {"single_sd", mean(s.single_sd, s.single_sd_n)},
                   {"with_nonzero", s.learned_mean_n}});
  return out;
}

}  // namespace

Json report_json(Service& service, const std::vector<std::string>& requested, const std::vector<std::string>& probe_dirs) {
  detail::ExampleStrips strips(probe_dirs);  // before the analyses: a missing folder fails at once
  std::vector<std::string> network, reference;
  for (const SpaceInfo& s : service.spaces().spaces) (is_reference(s) ? reference : network).push_back(s.id);
  const std::vector<std::string> analysed = requested.empty() ? network : requested;
  Json spaces = Json::array();
  for (const std::string& id : analysed) {
    Json a = to_json(service.analyses(id));
    a["examples"] = examples_json(service, id);
    a["filter_usage"] = filter_usage_json(service, id, a["kind"] == "network");
    a["image_iou_by_category"] = image_iou_by_category(service, id, a["task"] == "segmentation");
    a["example_strip"] = a["kind"] == "network" && a["task"] == "segmentation" ? strips.strip(service, id) : Json(nullptr);
    MapRequest map;
    map.space = id;
    a["map"] = to_json(service.map(map));
    spaces.push_back(std::move(a));
  }
  Json comparison = nullptr;
  std::vector<std::string> compared = analysed;
  compared.insert(compared.end(), reference.begin(), reference.end());
  if (compared.size() >= 2) {
    CompareRequest c;
    c.spaces = compared;
    c.per_concept = 5;
    try {
      comparison = to_json(service.compare(c));
    } catch (const Error& e) {  // e.g. no concept shared by all: say so in the report
      comparison = error_json(e)["error"];
    }
  }
  return {{"report", "net2vec"}, {"version", kVersion}, {"spaces", std::move(spaces)}, {"compare", std::move(comparison)}};
}

namespace {

std::string esc(const std::string& s) { return detail::html_escape(s); }

std::string fmt(const Json& v, int digits = 3) {
  if (!v.is_number()) return "&ndash;";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v.get<double>());
  return buf;
}

double val(const Json& v) { return v.is_number() ? v.get<double>() : NAN; }

const char* kSingle = "#d97706";   // the best single filter
const char* kLearned = "#1d4ed8";  // the learned weights

// Figure 2: per category, val mean +- SE of best single filter and learned weights.
std::string category_bars(const Json& categories, const std::string& metric) {
  const int n = static_cast<int>(categories.size());
  if (n == 0) return "<p class=note>No scores.</p>";
  double top = 0;
  for (const Json& c : categories)
    for (const char* who : {"single", "learned"}) {
      const Json& m = c[who]["val"];
      if (m["mean"].is_number()) top = std::max(top, val(m["mean"]) + (m["se"].is_number() ? val(m["se"]) : 0));
    }
  top = top > 0 ? top * 1.1 : 1;
  const int group = 70, w = 60 + n * group, h = 220, base = 180, left = 50;
  std::string svg = "<svg viewBox='0 0 " + std::to_string(w) + " " + std::to_string(h) +
                    "' width='" + std::to_string(w) + "' height='" + std::to_string(h) + "' role='img'>";
  svg += "<line x1='" + std::to_string(left) + "' y1='" + std::to_string(base) + "' x2='" + std::to_string(w - 5) +
         "' y2='" + std::to_string(base) + "' stroke='#999'/>";
  for (int t = 0; t <= 4; ++t) {
    const double v = top * t / 4;
    const double y = base - 160.0 * t / 4;
    char label[32];
    std::snprintf(label, sizeof label, "%.2f", v);
    svg += "<text x='" + std::to_string(left - 4) + "' y='" + std::to_string(y + 4) + "' font-size='10' text-anchor='end'>" +
           label + "</text>";
  }
  for (int i = 0; i < n; ++i) {
    const Json& c = categories[i];
    const int x0 = left + 10 + i * group;
    int k = 0;
    for (const char* who : {"single", "learned"}) {
      const Json& m = c[who]["val"];
      const double mean = val(m["mean"]), se = val(m["se"]);
      if (std::isfinite(mean)) {
        const double bh = 160 * mean / top, x = x0 + k * 26;
        char bar[512];
        std::snprintf(bar, sizeof bar,
                      "<rect x='%.1f' y='%.1f' width='24' height='%.1f' fill='%s'><title>%s %s: %.3f &#177; %.3f "
                      "(n %d)</title></rect>",
                      x, base - bh, bh, k ? kLearned : kSingle, esc(c["category"].get<std::string>()).c_str(),
                      k ? "learned weights" : "best single filter", mean, std::isfinite(se) ? se : 0.0,
                      m["n"].get<int>());
        svg += bar;
        if (std::isfinite(se)) {
          std::snprintf(bar, sizeof bar, "<line x1='%.1f' x2='%.1f' y1='%.1f' y2='%.1f' stroke='#111'/>", x + 12, x + 12,
                        base - 160 * (mean + se) / top, base - 160 * std::max(0.0, mean - se) / top);
          svg += bar;
        }
      }
      ++k;
    }
    svg += "<text x='" + std::to_string(x0 + 25) + "' y='" + std::to_string(base + 16) +
           "' font-size='11' text-anchor='middle'>" + esc(c["category"].get<std::string>()) + "</text>";
  }
  svg += "<text x='12' y='100' font-size='11' transform='rotate(-90 12 100)' text-anchor='middle'>val " + esc(metric) +
         "</text></svg>";
  return svg;
}

// Figure 3: mean val score against F (log scale), one line per category.
std::string subset_lines(const Json& curves, const std::string& metric) {
  if (curves.empty()) return "<p class=note>No top-F filter sweep stored for this space.</p>";
  static const char* colours[] = {"#1d4ed8", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2"};
  double fmax = 1, top = 0;
  for (const Json& c : curves)
    for (const Json& p : c["points"]) {
      fmax = std::max(fmax, val(p["filters"]));
      if (p["mean"].is_number()) top = std::max(top, val(p["mean"]));
    }
  top = top > 0 ? top * 1.1 : 1;
  const int w = 420, left = 50, base = 180, right = w - 110;
  auto X = [&](double f) { return left + (right - left) * std::log(f) / std::max(std::log(fmax), 1e-9); };
  auto Y = [&](double v) { return base - 160 * v / top; };
  std::string svg = "<svg viewBox='0 0 420 220' width='420' height='220' role='img'>";
  svg += "<line x1='50' y1='180' x2='" + std::to_string(right) + "' y2='180' stroke='#999'/>";
  for (size_t i = 0; i < curves.size(); ++i) {
    const Json& c = curves[i];
    const char* colour = colours[i % 6];
    std::string points;
    for (const Json& p : c["points"]) {
      if (!p["mean"].is_number()) continue;
      char xy[64];
      std::snprintf(xy, sizeof xy, "%.1f,%.1f ", X(val(p["filters"])), Y(val(p["mean"])));
      points += xy;
      char dot[256];
      std::snprintf(dot, sizeof dot, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'><title>%s, F = %d: %.3f</title></circle>",
                    X(val(p["filters"])), Y(val(p["mean"])), colour, esc(c["category"].get<std::string>()).c_str(),
                    p["filters"].get<int>(), val(p["mean"]));
      svg += dot;
    }
    svg += "<polyline fill='none' stroke='" + std::string(colour) + "' points='" + points + "'/>";
    svg += "<text x='" + std::to_string(right + 8) + "' y='" + std::to_string(30 + 16 * i) + "' font-size='11' fill='" +
           colour + "'>" + esc(c["category"].get<std::string>()) + "</text>";
  }
  for (const Json& p : curves[0]["points"])
    svg += "<text x='" + std::to_string(static_cast<int>(X(val(p["filters"])))) + "' y='196' font-size='10' text-anchor='middle'>" +
           std::to_string(p["filters"].get<int>()) + "</text>";
  svg += "<text x='" + std::to_string((left + right) / 2) + "' y='214' font-size='11' text-anchor='middle'>filters F (log scale)</text>";
  svg += "<text x='12' y='100' font-size='11' transform='rotate(-90 12 100)' text-anchor='middle'>val " + esc(metric) + "</text></svg>";
  return svg;
}

// Figure 9: histogram of r over concepts, significant ones darker.
std::string correlation_histogram(const Json& concepts) {
  int all[10] = {}, sig[10] = {};
  for (const Json& c : concepts) {
    if (!c["r"].is_number()) continue;
    const int b = std::clamp(static_cast<int>(std::floor((val(c["r"]) + 1) * 5)), 0, 9);
    ++all[b];
    if (c["p"].is_number() && val(c["p"]) < 0.01) ++sig[b];
  }
  const int top = std::max(1, *std::max_element(all, all + 10));
  std::string svg = "<svg viewBox='0 0 360 170' width='360' height='170' role='img'>";
  for (int b = 0; b < 10; ++b) {
    char bar[400];
    const double ha = 120.0 * all[b] / top, hs = 120.0 * sig[b] / top;
    std::snprintf(bar, sizeof bar,
                  "<rect x='%d' y='%.1f' width='30' height='%.1f' fill='#bfdbfe'><title>r in [%.1f, %.1f): %d "
                  "concepts, %d with p &lt; 0.01</title></rect><rect x='%d' y='%.1f' width='30' height='%.1f' fill='%s'/>",
                  20 + b * 33, 140 - ha, ha, -1 + b * 0.2, -0.8 + b * 0.2, all[b], sig[b], 20 + b * 33, 140 - hs, hs, kLearned);
    svg += bar;
  }
  svg += "<line x1='20' y1='140' x2='350' y2='140' stroke='#999'/>";
  for (int t = 0; t <= 10; t += 5) {
    char label[96];
    std::snprintf(label, sizeof label, "<text x='%d' y='156' font-size='10' text-anchor='middle'>%.0f</text>", 20 + t * 33,
                  -1.0 + t * 0.2);
    svg += label;
  }
  svg += "<text x='185' y='168' font-size='11' text-anchor='middle'>Pearson r of max(w, 0) and per-filter val IoU</text></svg>";
  return svg;
}

// The t-SNE map coloured by k-means cluster, and each cluster's members.
std::string map_svg(const Json& map) {
  static const char* colours[] = {"#1d4ed8", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2",
                                  "#65a30d", "#db2777", "#92400e", "#475569"};
  const Json& points = map["points"];
  if (points.empty()) return "";
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Json& p : points) {
    x0 = std::min(x0, val(p["x"]));
    x1 = std::max(x1, val(p["x"]));
    y0 = std::min(y0, val(p["y"]));
    y1 = std::max(y1, val(p["y"]));
  }
  const double sx = 380 / std::max(x1 - x0, 1e-9), sy = 380 / std::max(y1 - y0, 1e-9);
  std::string svg = "<svg viewBox='0 0 400 400' width='400' height='400' role='img'>";
  for (const Json& p : points) {
    char dot[512];
    std::snprintf(dot, sizeof dot, "<circle cx='%.1f' cy='%.1f' r='3.5' fill='%s'><title>%s (%s), cluster %d</title></circle>",
                  10 + (val(p["x"]) - x0) * sx, 10 + (val(p["y"]) - y0) * sy, colours[p["cluster"].get<int>() % 10],
                  esc(p["name"].get<std::string>()).c_str(), esc(p["category"].get<std::string>()).c_str(),
                  p["cluster"].get<int>());
    svg += dot;
  }
  svg += "</svg><table>";
  for (const Json& c : map["clusters"]) {
    std::string names;
    for (const Json& m : c["members"]) names += (names.empty() ? "" : ", ") + esc(m.get<std::string>());
    svg += "<tr><th><span style='color:" + std::string(colours[c["cluster"].get<int>() % 10]) + "'>&#9679;</span> " +
           std::to_string(c["cluster"].get<int>()) + "</th><td>" + std::to_string(c["concept_count"].get<int>()) +
           "</td><td style='text-align:left'>" + names + "</td></tr>";
  }
  return svg + "</table>";
}

// An example's column title: the query, or the arithmetic "a + b - c".
std::string example_title(const Json& e) {
  if (e.contains("query")) return esc(e["query"].get<std::string>());
  std::string t;
  for (const Json& p : e["positive"]) t += (t.empty() ? "" : " + ") + esc(p.get<std::string>());
  for (const Json& n : e["negative"]) t += " &minus; " + esc(n.get<std::string>());
  return t;
}

// Mean val score per category (rows) and bin (columns; only bins some concept falls in),
// the concept count in each cell's title.
std::string binned_table(const Json& rows, const std::vector<std::string>& labels) {
  std::vector<size_t> used;
  for (size_t b = 0; b < labels.size(); ++b)
    for (const Json& row : rows)
      if (b < row["bins"].size() && row["bins"][b]["n"].get<int>() > 0) {
        used.push_back(b);
        break;
      }
  if (used.empty()) return "<p class=note>No concepts to bin.</p>";
  std::string h = "<table><tr><th>category</th>";
  for (size_t b : used) h += "<th>" + labels[b] + "</th>";
  h += "</tr>";
  for (const Json& row : rows) {
    h += "<tr><th>" + esc(row["category"].get<std::string>()) + "</th>";
    for (size_t b : used) {
      const Json& bin = row["bins"][b];
      const int n = bin["n"].get<int>();
      h += "<td title='n " + std::to_string(n) + "'>" + (n ? fmt(bin["mean"], 3) + " <small>(" + std::to_string(n) + ")</small>" : "") + "</td>";
    }
    h += "</tr>";
  }
  return h + "</table>";
}

// Tables 2 and 3: one column per example (title, its hits), the top 5 hits down the rows.
std::string examples_table(const std::vector<std::pair<std::string, const Json*>>& columns) {
  std::string t = "<table><tr>";
  for (const auto& [title, e] : columns) t += "<th>" + title + "</th>";
  t += "</tr>";
  for (size_t rank = 0; rank < 5; ++rank) {
    t += "<tr>";
    for (const auto& [title, e] : columns) {
      const Json& hits = (*e)["hits"];
      t += rank < hits.size() ? "<td style='text-align:left'>" + esc(hits[rank]["name"].get<std::string>()) + " (" +
                                    fmt(hits[rank]["score"], 2) + ")</td>"
                              : "<td></td>";
    }
    t += "</tr>";
  }
  return t + "</table>";
}

// The paper's Tables 2 and 3 put segmentation and classification side by side: for each
// layer with both spaces, every example either has, seg column then cls column.
std::string examples_side_by_side(const Json& spaces) {
  std::string out;
  for (const Json& seg : spaces) {
    const std::string id = seg["space"].get<std::string>();
    if (seg["task"] != "segmentation") continue;
    const std::string layer = id.substr(0, id.size() - 4);  // "<network>.<layer>"
    const Json* cls = nullptr;
    for (const Json& s : spaces)
      if (s["space"] == layer + ".cls") cls = &s;
    if (cls == nullptr) continue;
    std::vector<std::pair<std::string, const Json*>> columns;
    for (const char* kind : {"nearest", "arithmetic"})
      for (const Json& e : seg["examples"][kind])
        for (const Json& c : (*cls)["examples"][kind])
          if (example_title(c) == example_title(e)) {
            columns.emplace_back(example_title(e) + " (seg)", &e);
            columns.emplace_back(example_title(c) + " (cls)", &c);
          }
    if (!columns.empty()) out += "<h3>" + esc(layer) + "</h3>" + examples_table(columns);
  }
  return out;
}

// A matrix as a table with shaded cells (darker = larger).
std::string matrix_table(const Json& spaces, const Json& matrix, bool higher_is_closer) {
  double lo = INFINITY, hi = -INFINITY;
  for (const Json& row : matrix)
    for (const Json& v : row)
      if (v.is_number()) {
        lo = std::min(lo, val(v));
        hi = std::max(hi, val(v));
      }
  std::string t = "<table class=matrix><tr><th></th>";
  for (const Json& s : spaces) t += "<th>" + esc(s["id"].get<std::string>()) + "</th>";
  t += "</tr>";
  for (size_t i = 0; i < matrix.size(); ++i) {
    t += "<tr><th>" + esc(spaces[i]["id"].get<std::string>()) + "</th>";
    for (const Json& v : matrix[i]) {
      const double x = hi > lo && v.is_number() ? (val(v) - lo) / (hi - lo) : 0;
      char cell[160];
      std::snprintf(cell, sizeof cell, "<td style='background:rgba(%s,%.2f)'>%s</td>",
                    higher_is_closer ? "5,150,105" : "29,78,216", 0.08 + 0.6 * x, fmt(v, higher_is_closer ? 3 : 1).c_str());
      t += cell;
    }
    t += "</tr>";
  }
  return t + "</table>";
}

// Paper Figure 5 (filters by how many concepts pick them as best single filter) and Figures 7
// and 8 by category (the non-zero part of the per-image val IoU), each next to the web view that
// shows it per filter or per concept.
std::string filters_and_images_section(const Json& s) {
  std::string h;
  const std::string space = s["space"].get<std::string>();
  const Json& usage = s["filter_usage"];
  if (usage.is_object()) {
    int most = 1;
    for (const Json& b : usage["histogram"]) most = std::max(most, b["filters"].get<int>());
    h += "<h3>Filters by how many concepts pick them as best single filter (Figure 5)</h3><p class=note>" +
         std::to_string(usage["never_selected"].get<int>()) + " of " + std::to_string(usage["dim"].get<int>()) +
         " filters are no concept's best. Web: the Filters view (#/filters?space=" + esc(space) +
         ").</p><table class=usage><tr><th>concepts</th><th>filters</th><th></th></tr>";
    for (const Json& b : usage["histogram"]) {
      const int n = b["filters"].get<int>();
      h += "<tr><td>" + std::to_string(b["concepts"].get<int>()) + "</td><td>" + std::to_string(n) +
           "</td><td style='text-align:left'><span style='display:inline-block;height:0.8em;background:#0072B2;width:" +
           std::to_string(std::max(1, 200 * n / most)) + "px'></span></td></tr>";
    }
    h += "</table>";
    if (!usage["most_selected"].empty()) {
      std::string list;
      for (const Json& f : usage["most_selected"])
        list += (list.empty() ? "" : ", ") + std::string("filter ") + std::to_string(f["filter"].get<int>()) + " (" +
                std::to_string(f["concept_count"].get<int>()) + ")";
      h += "<p class=note>Most selected: " + list + ".</p>";
    }
  }
  const Json& by = s["image_iou_by_category"];
  if (by.is_array()) {
    h += "<h3>Per-image val IoU, non-zero part, by category (Figures 7 and 8)</h3><p class=note>Per concept the mean "
         "&mu; and standard deviation &sigma; of its non-zero per-image IoU (as the paper's Figure 7), averaged over the "
         "category's concepts where defined. Web: each concept's page (#/concept/NAME?space=" +
         esc(space) + ") shows the distribution and an example at each decile (Figure 8).</p>"
         "<table class=image-iou><tr><th>category</th><th>concepts</th><th>with a non-zero image</th>"
         "<th>learned &mu;</th><th>learned &sigma;</th><th>single filter &mu;</th><th>single filter &sigma;</th></tr>";
    for (const Json& c : by)
      h += "<tr><th>" + esc(c["category"].get<std::string>()) + "</th><td>" + std::to_string(c["concept_count"].get<int>()) +
           "</td><td>" + std::to_string(c["with_nonzero"].get<int>()) + "</td><td>" + fmt(c["learned_mean"]) + "</td><td>" +
           fmt(c["learned_sd"]) + "</td><td>" + fmt(c["single_mean"]) + "</td><td>" + fmt(c["single_sd"]) + "</td></tr>";
    h += "</table>";
    h += s["example_strip"].is_object()
             ? detail::example_strip_html(s["example_strip"])
             : "<p class=note>No example images: the catalog stores no predicted masks for this space (ingested "
               "before catalog schema 4).</p>";
  }
  return h;
}

// Figure 10's trust (issue 21): unbiased CKA, and each pair's permutation test with why a
// measure is undefined.
std::string significance_section(const Json& cmp) {
  std::string h = "<h3>Unbiased CKA (unbiased HSIC, Song et al. 2012; Nguyen et al. 2021)</h3>" +
                  matrix_table(cmp["spaces"], cmp["cka_unbiased"], true);
  const Json& test = cmp["permutation_test"];
  if (!test["skipped"].is_null()) return h + "<p class=note>Permutation test skipped: " + esc(test["skipped"].get<std::string>()) + "</p>";
  if (test["permutations"].get<int>() == 0) return h + "<p class=note>No permutation test.</p>";
  h += "<h3>Are two spaces more alike than chance? (permutation test, R = " + std::to_string(test["permutations"].get<int>()) +
       ", seed " + std::to_string(test["seed"].get<long long>()) +
       ")</h3><p class=note>p = (1 + random concept orders of the second space at least as alike) / (R + 1); chance = the "
       "mean over those orders.</p><table><tr><th>pair</th><th>D<sub>ij</sub></th><th>chance</th><th>p</th><th>CKA</th>"
       "<th>chance</th><th>p</th><th>unbiased CKA</th><th>chance</th><th>p</th><th>undefined</th></tr>";
  for (const Json& p : cmp["pairs"]) {
    const Json& t = p["permutation"];
    std::string why;
    for (const char* key : {"cka_undefined", "cka_unbiased_undefined"})
      if (!p[key].is_null()) why += (why.empty() ? "" : "; ") + esc(p[key].get<std::string>());
    h += "<tr><th>" + esc(p["a"].get<std::string>()) + " / " + esc(p["b"].get<std::string>()) + "</th><td>" +
         fmt(p["distance"], 1) + "</td><td>" + fmt(t["null_distance"], 1) + "</td><td>" + fmt(t["p_distance"], 3) +
         "</td><td>" + fmt(p["cka"]) + "</td><td>" + fmt(t["null_cka"]) + "</td><td>" + fmt(t["p_cka"], 3) + "</td><td>" +
         fmt(p["cka_unbiased"]) + "</td><td>" + fmt(t["null_cka_unbiased"]) + "</td><td>" + fmt(t["p_cka_unbiased"], 3) +
         "</td><td style='text-align:left'>" + why + "</td></tr>";
  }
  return h + "</table>";
}

}  // namespace

std::string report_html(const Json& report) {
  std::string h =
      "<!doctype html><html lang=en><head><meta charset=utf-8><title>net2vec report</title>"
      "<meta name=viewport content='width=device-width, initial-scale=1'><style>"
      "body{font:14px/1.45 system-ui,sans-serif;color:#1f2937;max-width:1100px;margin:24px auto;padding:0 16px}"
      "h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}"
      "h3{font-size:15px;margin:18px 0 6px}table{border-collapse:collapse;margin:6px 0;display:block;max-width:100%;"
      "overflow-x:auto}svg{max-width:100%;height:auto}h1,h2,h3,p{overflow-wrap:anywhere}"
      "td,th{border:1px solid #e5e7eb;padding:3px 8px;text-align:right;font-variant-numeric:tabular-nums}"
      "th{background:#f9fafb;text-align:left}.note{color:#6b7280}.row{display:flex;flex-wrap:wrap;gap:24px}"
      ".legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}"
      "table.matrix td{min-width:64px}@media print{h2{break-before:page}}"
      // The example strip: a figure per image, two panels (single filter, learned) each the
      // photo under its masks, which stretch to it at their own (smaller) resolution.
      ".strip{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:12px;max-width:760px}"
      ".strip figure{margin:0;min-width:0}.strip-panel{position:relative;background:#1d2433;margin-bottom:4px}"
      ".strip-panel img{position:absolute;inset:0;width:100%;height:100%}.strip-mask{image-rendering:pixelated}"
      ".strip figcaption{font-size:12px;overflow-wrap:anywhere}"
      "</style></head><body><h1>net2vec report</h1>"
      "<p class=note>The analyses of Net2Vec (Fong &amp; Vedaldi, CVPR 2018) for every network space of the catalog. "
      "Every number is in report.json beside this page. net2vec " +
      esc(report.value("version", "")) + ".</p>";
  const Json& spaces = report["spaces"];
  // Table 1 across spaces.
  h += "<h2>Learned weights vs best single filter (paper Table 1)</h2><p class=note>Share of concepts whose learned "
       "weights score at least as well as their best single filter on val. <i>Intervals separate</i>: of the concepts "
       "with both 95 % bootstrap intervals, those whose learned interval lies wholly above the single filter's (&uarr;) "
       "and wholly below it (&darr;); &ndash; where the catalog has none (docs/METHOD.md). <i>Above chance</i>: of the "
       "concepts with a permutation p-value, those whose learned score passes Benjamini-Hochberg at a false discovery "
       "rate of 5 % over the space's concepts (the best single filter's in brackets).</p><table><tr><th>space</th>"
       "<th>metric</th><th>intervals separate</th><th>above chance</th><th>all</th>";
  std::vector<std::string> categories;
  for (const Json& s : spaces)
    for (const Json& row : s["learned_vs_single"])
      if (row["category"].is_string() &&
          std::find(categories.begin(), categories.end(), row["category"].get<std::string>()) == categories.end())
        categories.push_back(row["category"].get<std::string>());
  std::sort(categories.begin(), categories.end());
  for (const std::string& c : categories) h += "<th>" + esc(c) + "</th>";
  h += "</tr>";
  for (const Json& s : spaces) {
    h += "<tr><th>" + esc(s["space"].get<std::string>()) + "</th><td>" + esc(s["metric"].is_string() ? s["metric"].get<std::string>() : "") + "</td>";
    std::map<std::string, const Json*> by;
    for (const Json& row : s["learned_vs_single"]) by[row["category"].is_string() ? row["category"].get<std::string>() : ""] = &row;
    auto cell = [&](const std::string& key) {
      const auto it = by.find(key);
      if (it == by.end()) return std::string("<td>&ndash;</td>");
      const Json& r = *it->second;
      return "<td title='" + std::to_string(r["learned_at_least_single"].get<int>()) + " of " +
             std::to_string(r["concept_count"].get<int>()) + "'>" + fmt(r["share"], 2) + "</td>";
    };
    // Table 1 with intervals: the overall row's separated concepts, each direction.
    const auto all = by.find("");
    const Json* overall = all == by.end() ? nullptr : all->second;
    if (overall && overall->value("with_intervals", 0) > 0)
      h += "<td title='of " + std::to_string((*overall)["with_intervals"].get<int>()) + " concepts with intervals'>&uarr; " +
           std::to_string((*overall)["learned_interval_above"].get<int>()) + " &darr; " +
           std::to_string((*overall)["single_interval_above"].get<int>()) + " of " +
           std::to_string((*overall)["with_intervals"].get<int>()) + "</td>";
    else
      h += "<td>&ndash;</td>";
    if (overall && overall->value("with_p", 0) > 0)
      h += "<td title='learned (best single filter) of " + std::to_string((*overall)["with_p"].get<int>()) +
           " concepts with a p-value'>" + std::to_string((*overall)["learned_above_chance"].get<int>()) + " (" +
           std::to_string((*overall)["single_above_chance"].get<int>()) + ") of " +
           std::to_string((*overall)["with_p"].get<int>()) + "</td>";
    else
      h += "<td>&ndash;</td>";
    h += cell("");
    for (const std::string& c : categories) h += cell(c);
    h += "</tr>";
  }
  h += "</table>";

  if (const std::string side = examples_side_by_side(spaces); !side.empty())
    h += "<h2>Nearest concepts and vector arithmetic, segmentation vs classification (paper Tables 2 and 3)</h2>"
         "<p class=note>The paper's examples each layer's spaces both have; cosine in brackets.</p>" + side;

  for (const Json& s : spaces) {
    const std::string metric = s["metric"].is_string() ? s["metric"].get<std::string>() : "score";
    h += "<h2>" + esc(s["space"].get<std::string>()) + "</h2><div class=row><div><h3>Scores by category (Figure 2)</h3>" +
         category_bars(s["category_scores"], metric) +
         "<div class=legend><span style='background:" + kSingle + "'></span>best single filter<span style='background:" +
         kLearned + "'></span>learned weights (mean &#177; SE, val)</div></div>";
    h += "<div><h3>Score vs number of filters (Figure 3)</h3>" + subset_lines(s["subset_curves"], metric) + "</div></div>";
    const Json& corr = s["weight_iou_correlation"];
    if (corr["defined"].get<int>() > 0) {
      h += "<h3>Weights vs single-filter IoU (Figure 9, paper 5.2)</h3><p>" + std::to_string(corr["significant"].get<int>()) +
           " of " + std::to_string(corr["defined"].get<int>()) + " concepts (" + fmt(corr["share_significant"], 2) +
           ") have a significant correlation (p &lt; 0.01) between max(w, 0) and the per-filter val set IoU; " +
           fmt(corr["share_significant_positive"], 2) + " a significant positive one.</p>" +
           correlation_histogram(corr["concepts"]);
    }
    // Tables 2 and 3.
    std::vector<std::pair<std::string, const Json*>> columns;
    for (const char* kind : {"nearest", "arithmetic"})
      for (const Json& e : s["examples"][kind]) columns.emplace_back(example_title(e), &e);
    if (!columns.empty())
      h += "<h3>Nearest concepts and vector arithmetic (Tables 2 and 3)</h3>" + examples_table(columns);
    if (s.contains("map") && !s["map"]["points"].empty())
      h += "<h3>Map of the space (t-SNE, perplexity " + fmt(s["map"]["perplexity"], 0) + ", seed " +
           std::to_string(s["map"]["seed"].get<int>()) + ") and its k-means clusters</h3>" + map_svg(s["map"]);
    // Failures: mean val score by train-image count and (segmentation) by concept size.
    const Json& f = s["failures"];
    std::vector<std::string> count_labels, size_labels;
    const Json& edges = f["train_count_edges"];
    for (size_t b = 0; b + 1 < edges.size(); ++b)
      count_labels.push_back(std::to_string(static_cast<long long>(val(edges[b]))) +
                             (b + 2 < edges.size() ? "&ndash;" + std::to_string(static_cast<long long>(val(edges[b + 1])) - 1) : "+"));
    // alpha = 1 - mean concept share of its images: bin [a, b) covers (1 - b, 1 - a].
    const Json& alpha = f["alpha_edges"];
    auto pct = [](double x) { return std::to_string(static_cast<int>(std::lround(std::max(0.0, x) * 100))) + "%"; };
    for (size_t b = 0; b + 1 < alpha.size(); ++b)
      size_labels.push_back(b == 0                   ? "&gt; " + pct(1 - val(alpha[1]))
                            : b + 2 == alpha.size() ? "&lt; " + pct(1 - val(alpha[b]))
                                                    : pct(1 - val(alpha[b + 1])) + "&ndash;" + pct(1 - val(alpha[b])));
    h += "<h3>Score by number of train images</h3>" + binned_table(f["by_train_count"], count_labels);
    if (f.contains("by_alpha") && !f["by_alpha"].empty())
      h += "<h3>Score by concept size (share of its images it covers, 1 &minus; &alpha;)</h3>" +
           binned_table(f["by_alpha"], size_labels);
    h += filters_and_images_section(s);
  }

  const Json& cmp = report["compare"];
  h += "<h2>Distances between spaces (paper Figure 10)</h2>";
  if (cmp.is_object() && cmp.contains("distance")) {
    h += "<p class=note>On the " + std::to_string(cmp["concept_count"].get<int>()) +
         " concepts every space shares. D<sub>ij</sub>: lower = more alike; CKA: higher = more alike.</p><h3>D<sub>ij</sub></h3>" +
         matrix_table(cmp["spaces"], cmp["distance"], false) + "<h3>Linear CKA</h3>" +
         matrix_table(cmp["spaces"], cmp["cka"], true);
    h += significance_section(cmp);
    // Per category: the mean D_ijc of each pair (the paper's Figure 10 bars).
    std::vector<std::string> cats;
    for (const Json& p : cmp["pairs"])
      for (const Json& c : p["categories"])
        if (std::find(cats.begin(), cats.end(), c["category"].get<std::string>()) == cats.end())
          cats.push_back(c["category"].get<std::string>());
    std::sort(cats.begin(), cats.end());
    h += "<h3>Mean D<sub>ijc</sub> by category, per pair</h3><table><tr><th>pair</th>";
    for (const std::string& c : cats) h += "<th>" + esc(c) + "</th>";
    h += "<th>concepts that differ most</th></tr>";
    for (const Json& p : cmp["pairs"]) {
      h += "<tr><th>" + esc(p["a"].get<std::string>()) + " / " + esc(p["b"].get<std::string>()) + "</th>";
      for (const std::string& cat : cats) {
        std::string cell = "<td>&ndash;</td>";
        for (const Json& c : p["categories"])
          if (c["category"] == cat) cell = "<td>" + fmt(c["mean"], 2) + "</td>";
        h += cell;
      }
      std::string names;
      for (const Json& c : p["per_concept"]) names += (names.empty() ? "" : ", ") + esc(c["name"].get<std::string>());
      h += "<td style='text-align:left'>" + names + "</td></tr>";
    }
    h += "</table>";
  } else if (cmp.is_object()) {
    h += "<p class=note>Not computed: " + esc(cmp.value("message", "")) + "</p>";
  } else {
    h += "<p class=note>Fewer than two spaces.</p>";
  }
  return h + "</body></html>\n";
}

}  // namespace n2v
