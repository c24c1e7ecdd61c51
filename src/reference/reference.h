#pragma once
// Reference stage: concept spaces that come from outside the network -- WordNet (hypernym
// closure indicators, as the paper's authors built them) and word vectors (word2vec, GloVe).
// They are stored in the catalog as spaces of kind "reference" (ids "wordnet",
// "glove-100d", ...) so queries compare them with network spaces by concept name.
// Torch-free.

#include <string>
#include <vector>

#include "catalog/catalog.h"

namespace n2v {

// What an import did: the space written and the catalog concepts it could not map.
struct ReferenceImportReport {
  std::string space_id;
  int mapped = 0;                      // distinct concept names given a vector
  std::vector<std::string> unmapped;   // concept names without one (sorted)
  int dim = 0;
};

// WordNet 3.0 from WNDB files (index.noun, data.noun under `wordnet_dir`, Debian
// wordnet-base: /usr/share/wordnet). `overrides_tsv`: concept name -> synset offset table
// (data/wordnet_overrides.tsv); "" for none. Writes space "wordnet" (replacing it).
// instance_hypernyms: follow instance-hypernym pointers ('@i') too (default); the authors'
// closure uses hypernyms ('@') only.
ReferenceImportReport import_wordnet(Catalog& catalog, const std::string& wordnet_dir,
                                     const std::string& overrides_tsv, bool instance_hypernyms = true);

enum class WordVectorFormat { kAuto, kWord2VecBinary, kText };
// Word vectors (word2vec binary, word2vec text with a "count dim" header, or GloVe text
// without one). Writes space `name` (e.g. "glove-100d"), replacing it.
// average_words: a multi-word concept name the file lacks as a phrase gets the mean of its
// words' vectors (default); false leaves it out (the authors' choice).
ReferenceImportReport import_word_vectors(Catalog& catalog, const std::string& name,
                                          const std::string& path, WordVectorFormat format,
                                          bool average_words = true);

}  // namespace n2v
