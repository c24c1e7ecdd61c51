#include "reference/reference.h"

#include <algorithm>
#include <sstream>
#include <unordered_set>

#include "common/error.h"
#include "reference/detail/word_vectors.h"
#include "reference/detail/wordnet.h"

namespace n2v {

namespace {

std::vector<std::string> catalog_concepts(const Catalog& catalog) {
  std::vector<std::string> names = catalog.concept_names();
  N2V_CHECK(!names.empty(), kNotFound,
            "the catalog has no concepts: ingest a probe set before importing reference spaces");
  return names;
}

// Up to `limit` names, for messages.
std::string some(const std::vector<std::string>& names, size_t limit = 10) {
  std::ostringstream text;
  for (size_t i = 0; i < names.size() && i < limit; ++i) text << (i ? ", " : "") << names[i];
  if (names.size() > limit) text << ", ... (" << names.size() << " in all)";
  return text.str();
}

}  // namespace

ReferenceImportReport import_wordnet(Catalog& catalog, const std::string& wordnet_dir,
                                     const std::string& overrides_tsv, bool instance_hypernyms) {
  const std::vector<std::string> names = catalog_concepts(catalog);
  const SynsetOverrides overrides =
      overrides_tsv.empty() ? SynsetOverrides{} : read_synset_overrides(overrides_tsv);
  // Nouns, plus the data file of any other part of speech an override names (textures map
  // to adjective senses).
  std::string other_parts;
  for (const auto& [name, o] : overrides)
    if (const char pos = synset_pos(o.offset); pos != 'n' && other_parts.find(pos) == std::string::npos)
      other_parts += pos;
  const WordNet wordnet = WordNet::load(wordnet_dir, other_parts);
  const std::vector<ConceptSynset> mapped =
      map_concepts_to_synsets(wordnet, names, overrides, overrides_tsv);

  ReferenceImportReport report;
  report.space_id = "wordnet";
  int used_overrides = 0;
  for (const ConceptSynset& m : mapped) {
    if (m.rule == SynsetRule::kUnmapped) report.unmapped.push_back(m.name);
    if (m.rule == SynsetRule::kOverride) ++used_overrides;
  }
  N2V_CHECK(report.unmapped.size() < names.size(), kNotFound,
            "no catalog concept is a WordNet noun in " << wordnet_dir << ": " << some(names));
  std::vector<SynsetOffset> dims;
  const auto vectors = wordnet_vectors(wordnet, mapped, &dims, instance_hypernyms);
  report.mapped = static_cast<int>(vectors.size());
  report.dim = static_cast<int>(dims.size());

  std::ostringstream source;
  std::string parts;
  for (char pos : other_parts) parts += std::string(parts.empty() ? "" : ", ") + (pos == 'a' ? "adjective" : pos == 'v' ? "verb" : "adverb");
  source << "WordNet hypernym closures of nouns" << (parts.empty() ? "" : " (and " + parts + " synsets the overrides name)") << (instance_hypernyms ? " with instance hypernyms" : " (hypernyms only)")
         << " (indicator, L2-normalised) from " << wordnet_dir << " ("
         << wordnet.synset_count() << " synsets); overrides: "
         << (overrides_tsv.empty() ? std::string("none") : overrides_tsv) << " (" << used_overrides
         << " used); " << report.mapped << " concepts, " << report.dim
         << " synsets in their closures";
  catalog.write_reference_space(report.space_id, source.str(), report.dim, vectors);
  std::sort(report.unmapped.begin(), report.unmapped.end());
  return report;
}

ReferenceImportReport import_word_vectors(Catalog& catalog, const std::string& name,
                                          const std::string& path, WordVectorFormat format,
                                          bool average_words) {
  check_id_part(name, "reference space id");
  const std::vector<std::string> names = catalog_concepts(catalog);
  std::unordered_set<std::string> wanted;
  for (const std::string& concept_name : names)
    for (std::string& key : word_vector_keys(concept_name)) wanted.insert(std::move(key));
  const WordVectors vectors = read_word_vectors(
      path, format, [&](std::string_view word) { return wanted.count(std::string(word)) != 0; });

  ReferenceImportReport report;
  report.space_id = name;
  report.dim = vectors.dim;
  std::vector<std::pair<std::string, std::vector<float>>> rows;
  for (const std::string& concept_name : names) {
    if (auto v = concept_word_vector(vectors, concept_name, average_words))
      rows.emplace_back(concept_name, std::move(*v));
    else
      report.unmapped.push_back(concept_name);
  }
  N2V_CHECK(!rows.empty(), kNotFound,
            "no catalog concept has a vector in " << path << ": " << some(names));
  report.mapped = static_cast<int>(rows.size());

  std::ostringstream source;
  const char* kind = vectors.format == WordVectorFormat::kWord2VecBinary ? "word2vec binary"
                     : vectors.has_header                                ? "word2vec text"
                                                                         : "GloVe text";
  source << "word vectors (" << kind << ", as stored: not normalised) from " << path << " ("
         << vectors.file_words << " words, dim " << vectors.dim << "); " << report.mapped
         << " concepts (multi-word names: " << (average_words ? "mean of their words" : "only as whole phrases") << ")";
  catalog.write_reference_space(name, source.str(), vectors.dim, rows);
  std::sort(report.unmapped.begin(), report.unmapped.end());
  return report;
}

}  // namespace n2v
