// libFuzzer target: the WNDB reader (WordNet::load: data.noun, index.noun, noun.exc), the
// override table (read_synset_overrides) and what import_wordnet does with them (senses,
// morphy base forms, hypernym closures, concept -> synset mapping, indicator vectors).
//
// Input: data.noun, index.noun, noun.exc and the override table, separated by lines
// "====" (the seeds hold real WordNet 3.0 lines: tests/fuzz/corpus/wndb).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "reference/detail/wordnet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace n2v;
  static const std::string dir = fuzz::scratch_path("wndb");
  static const bool made = std::filesystem::create_directories(dir);
  (void)made;
  const std::string_view sep = "\n====\n";
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::string_view parts[4];
  for (auto& part : parts) std::tie(part, rest) = fuzz::split_once(rest, sep);
  fuzz::write_bytes(dir + "/data.noun", parts[0]);
  fuzz::write_bytes(dir + "/index.noun", parts[1]);
  fuzz::write_bytes(dir + "/noun.exc", parts[2]);
  fuzz::write_bytes(dir + "/overrides.tsv", parts[3]);

  N2V_FUZZ_EXPECTED({
    const WordNet wn = WordNet::load(dir);
    // Concept names: the first word of each of the first index.noun lines, plus some
    // inflected and suffixed forms, as import_wordnet maps BRODEN names.
    std::vector<std::string> names;
    std::string_view index = parts[1];
    while (!index.empty() && names.size() < 24) {
      auto [line, after] = fuzz::split_once(index, "\n");
      index = after;
      const std::string word(line.substr(0, line.find(' ')));
      if (word.empty() || word[0] == ' ') continue;
      names.push_back(word);
      names.push_back(word + "s");
      names.push_back(word + "-c");
    }
    for (const std::string& name : names) {
      (void)wn.base_form(name);
      for (const SynsetOffset offset : wn.senses(name)) N2V_FUZZ_EXPECTED(wn.hypernym_closure(offset, false));
    }
    SynsetOverrides overrides;
    N2V_FUZZ_EXPECTED(overrides = read_synset_overrides(dir + "/overrides.tsv"));
    const auto mapped = map_concepts_to_synsets(wn, names, overrides, dir + "/overrides.tsv");
    std::vector<SynsetOffset> dims;
    (void)wordnet_vectors(wn, mapped, &dims, true);
  });
  return 0;
}
