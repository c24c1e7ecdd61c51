#pragma once
// Word vector files, read and written without any dependency:
//   * word2vec binary (GoogleNews format): a header line "count dim\n", then per word: the
//     word's bytes, one space, dim float32 little-endian, and an optional '\n' (the original
//     C tool writes it, gensim does not);
//   * word2vec text: the same header, then "word v1 ... vdim" per line;
//   * GloVe text: no header, "word v1 ... vdim" per line (dim taken from the first line).
// Every vector of the file is checked, kept or not: a NaN/Inf value, an all-zero vector, a
// line of another dimension or a truncated record is kCorrupt naming the file and the line
// (text) or the record number and byte offset (binary).

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reference/reference.h"

namespace n2v {

class WordVectors {
 public:
  int dim = 0;
  WordVectorFormat format = WordVectorFormat::kAuto;  // what was read: binary or text
  bool has_header = false;  // text: a "count dim" line came first (word2vec text)
  size_t file_words = 0;    // records in the file, kept or not
  size_t duplicates = 0;    // records whose word came earlier (the first one wins)

  // Appends a word (ignored, counted in `duplicates`, when already present).
  void add(std::string word, const float* values);
  // nullptr when absent; else `dim` values.
  const float* find(std::string_view word) const;
  size_t size() const { return words_.size(); }
  const std::string& word(size_t i) const { return words_[i]; }
  const float* values(size_t i) const { return values_.data() + i * static_cast<size_t>(dim); }

 private:
  std::vector<std::string> words_;
  std::vector<float> values_;  // size() x dim, row-major
  std::unordered_map<std::string, size_t> index_;
};

const char* to_string(WordVectorFormat format);  // "auto", "word2vec binary", "text"

// kWord2VecBinary or kText, from the first bytes: a "count dim" header followed by a
// record that is not a text line of dim numbers means binary. Throws kNotFound / kCorrupt.
WordVectorFormat detect_word_vector_format(const std::string& path);

// Reads `path`. `keep`, when given, selects the words to store (all are still checked),
// so a 3-million-word file costs only the memory of the words a catalog needs.
WordVectors read_word_vectors(const std::string& path,
                              WordVectorFormat format = WordVectorFormat::kAuto,
                              const std::function<bool(std::string_view)>& keep = {});

void write_word2vec_binary(const std::string& path, const WordVectors& vectors);
// Values in their shortest round-trip form (std::to_chars), so reading gives the same bits.
// header: word2vec text ("count dim" first); without: GloVe text.
void write_word_vectors_text(const std::string& path, const WordVectors& vectors, bool header);

// The strings a concept name may be found under, most specific first: the name as is,
// lower-cased, with spaces as '_' (word2vec phrases), the same without a BRODEN suffix
// ("blue-c" -> "blue"), then its single words (split at spaces and '_').
std::vector<std::string> word_vector_keys(std::string_view concept_name);

// A concept's vector: the whole name (or phrase) when the file has it (first match among the
// keys above), else the mean of its words' vectors (each word as is or lower-cased) when it
// has several and the file has them all; nullopt otherwise.
// average_words = false leaves a multi-word name without a vector unless the file has the
// whole phrase (the authors' choice).
std::optional<std::vector<float>> concept_word_vector(const WordVectors& vectors,
                                                      std::string_view concept_name, bool average_words = true);

}  // namespace n2v
