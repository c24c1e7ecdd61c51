// libFuzzer target: the word-vector readers (read_word_vectors: word2vec binary, word2vec
// text, GloVe text) and the concept lookups import_word_vectors makes with what they read.
//
// Input: one byte choosing the format (0 auto-detect, 1 word2vec binary, 2 text; the value
// modulo 3), then the file. Seeds: GloVe 100d lines (data/demo/glove.6B.100d.txt), the same
// with a word2vec header, and word2vec binary files written by write_word2vec_binary.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_common.h"
#include "reference/detail/word_vectors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace n2v;
  if (size == 0) return 0;
  static const std::string path = fuzz::scratch_path("vectors");
  const WordVectorFormat formats[] = {WordVectorFormat::kAuto, WordVectorFormat::kWord2VecBinary,
                                      WordVectorFormat::kText};
  const WordVectorFormat format = formats[data[0] % 3];
  fuzz::write_bytes(path, data + 1, size - 1);
  N2V_FUZZ_EXPECTED({
    // Keep every other word, as a catalog keeps only its concepts' words.
    size_t seen = 0;
    const WordVectors v = read_word_vectors(path, format, [&](std::string_view) { return seen++ % 2 == 0; });
    if (v.dim <= 0) std::abort();
    for (size_t i = 0; i < v.size(); ++i) {
      const float* x = v.values(i);
      for (int d = 0; d < v.dim; ++d)
        if (!std::isfinite(x[d])) std::abort();  // documented: NaN/Inf are refused
      if (v.find(v.word(i)) == nullptr) std::abort();
    }
    for (const char* name : {"dog", "blue-c", "traffic light", "the", "a_b"}) (void)concept_word_vector(v, name);
    if (v.size() > 0) (void)concept_word_vector(v, v.word(0) + " " + v.word(v.size() - 1));
  });
  return 0;
}
