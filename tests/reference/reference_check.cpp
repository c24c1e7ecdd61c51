// reference-check: the demo's sanity check of the reference spaces (not a test, no asserts).
//
//   reference-check CATALOG CONCEPTS_TSV WORDNET_DIR OVERRIDES_TSV VECTORS [NAME]
//
// When CATALOG has no concepts yet, writes the names of CONCEPTS_TSV (first column, header
// line skipped; e.g. shared/demo/concepts.tsv) plus BRODEN's 11 colours (blue-c, ...) as a
// fake probe set "reference-check" (with an empty placeholder network space, since an ingest
// needs one). Then imports WordNet ("wordnet") and the word vectors (NAME, default
// "glove-100d"), and prints the unmapped names, the WordNet senses that differ from the
// TSV's wn30_offset column (when it has one), and nearest neighbours by cosine over the
// catalog's concepts for dog and car, plus the lime - green + yellow analogy.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "common/error.h"
#include "reference/reference.h"
#include "reference/detail/wordnet.h"
#include "support/records.h"

using namespace n2v;

namespace {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> cols;
  std::stringstream in(line);
  std::string col;
  while (std::getline(in, col, '\t')) cols.push_back(col);
  return cols;
}

void normalise(std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += double(x) * x;
  const double n = std::sqrt(sum);
  if (n > 0)
    for (float& x : v) x = static_cast<float>(x / n);
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += double(a[i]) * b[i];
  return sum;
}

void neighbours(const std::map<std::string, std::vector<float>>& space,
                const std::vector<float>& query, const std::vector<std::string>& exclude,
                const std::string& label, int k) {
  std::vector<std::pair<double, std::string>> scored;
  for (const auto& [name, v] : space)
    if (std::find(exclude.begin(), exclude.end(), name) == exclude.end())
      scored.emplace_back(dot(query, v), name);
  std::sort(scored.rbegin(), scored.rend());
  std::cout << "  " << label << " ->";
  for (int i = 0; i < k && i < static_cast<int>(scored.size()); ++i)
    std::printf(" %s (%.3f)%s", scored[i].second.c_str(), scored[i].first, i + 1 < k ? "," : "");
  std::cout << "\n";
}

void report_space(Catalog& catalog, const std::string& id) {
  std::map<std::string, std::vector<float>> space;
  for (ConceptVector& v : catalog.vectors(id)) {
    normalise(v.weights);
    space[v.name] = v.weights;
  }
  std::cout << id << " (" << space.size() << " concepts, dim " << catalog.space(id)->dim
            << "): nearest by cosine, query excluded\n";
  for (const char* q : {"dog", "car", "heron", "apple"})
    if (space.count(q)) neighbours(space, space[q], {q}, q, 5);
  if (space.count("lime") && space.count("green-c") && space.count("yellow-c")) {
    std::vector<float> a = space["lime"];
    for (size_t i = 0; i < a.size(); ++i) a[i] += space["yellow-c"][i] - space["green-c"][i];
    normalise(a);
    neighbours(space, a, {"lime", "green-c", "yellow-c"}, "lime - green-c + yellow-c", 3);
  }
}

void print_report(const ReferenceImportReport& r) {
  std::cout << r.space_id << ": " << r.mapped << " concepts, dim " << r.dim << "; unmapped ("
            << r.unmapped.size() << "):";
  for (const std::string& name : r.unmapped) std::cout << " " << name;
  std::cout << "\n";
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 6) {
    std::cerr << "usage: reference-check CATALOG CONCEPTS_TSV WORDNET_DIR OVERRIDES_TSV VECTORS"
                 " [NAME]\n";
    return 2;
  }
  const std::string catalog_path = argv[1], concepts_tsv = argv[2], wordnet_dir = argv[3],
                    overrides = argv[4], vectors = argv[5];
  const std::string name = argc > 6 ? argv[6] : "glove-100d";

  std::ifstream in(concepts_tsv);
  N2V_CHECK(in, kNotFound, "cannot read " << concepts_tsv);
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = split_tabs(line);
  const auto offset_col = std::find(header.begin(), header.end(), "wn30_offset") - header.begin();
  std::vector<std::string> names;
  std::map<std::string, std::string> intended;  // name -> wn30_offset
  while (std::getline(in, line)) {
    const std::vector<std::string> cols = split_tabs(line);
    if (cols.empty() || cols[0].empty()) continue;
    names.push_back(cols[0]);
    if (offset_col < static_cast<long>(cols.size())) intended[cols[0]] = cols[offset_col];
  }
  for (const char* c : {"black-c", "blue-c", "brown-c", "green-c", "grey-c", "orange-c", "pink-c",
                        "purple-c", "red-c", "white-c", "yellow-c"})
    names.push_back(c);

  Catalog catalog = Catalog::open(catalog_path);
  if (catalog.concept_names().empty()) {
    IngestRecord r = test::minimal_ingest_record("names", "none", 1);
    r.probe = {"reference-check", "/reference-check/" + concepts_tsv, 0, 0, 0, {"object"}};
    int number = 0;
    for (const std::string& n : names)
      r.concepts.push_back({++number, n, n.ends_with("-c") ? "color" : "object", "", 0, 0, ""});
    r.run.model_path = "-";
    r.run.software_version = "reference-check";
    r.run.started_at = r.run.finished_at = "1970-01-01T00:00:00Z";
    r.run.act_height = r.run.act_width = 0;
    r.run.thresholds = {0.0f};
    r.spaces.push_back({space_id("names", "none", Task::kSegmentation), Task::kSegmentation, {}});
    catalog.write_ingest(r);
    std::cout << "wrote " << names.size() << " concept names to " << catalog_path << "\n";
  }

  const ReferenceImportReport wn = import_wordnet(catalog, wordnet_dir, overrides);
  print_report(wn);
  // Senses chosen vs the TSV's intended ones.
  const WordNet wordnet = WordNet::load(wordnet_dir);
  const auto mapped = map_concepts_to_synsets(wordnet, catalog.concept_names(),
                                              read_synset_overrides(overrides), overrides);
  std::map<std::string, int> rules;
  int differ = 0;
  for (const ConceptSynset& m : mapped) {
    ++rules[to_string(m.rule)];
    const auto it = intended.find(m.name);
    if (it == intended.end() || m.rule == SynsetRule::kUnmapped) continue;
    if (parse_offset(it->second) != m.offset) {
      ++differ;
      std::cout << "  sense differs: " << m.name << " -> " << format_offset(m.offset)
                << " (intended " << it->second << ")\n";
    }
  }
  std::cout << "  rules:";
  for (const auto& [rule, count] : rules) std::cout << " " << rule << " " << count << ";";
  std::cout << " senses differing from " << concepts_tsv << ": " << differ << "\n";

  const ReferenceImportReport wv =
      import_word_vectors(catalog, name, vectors, WordVectorFormat::kAuto);
  print_report(wv);
  std::cout << "  source: " << catalog.space(name)->source << "\n";
  report_space(catalog, name);
  report_space(catalog, "wordnet");
  return 0;
} catch (const n2v::Error& e) {
  std::cerr << "reference-check: " << e.what() << "\n";
  return 1;
}
