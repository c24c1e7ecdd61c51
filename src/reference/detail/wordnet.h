#pragma once
// WordNet noun database (WNDB text format, wndb(5WN)) and the concept -> synset mapping
// behind import_wordnet. Our own reader: index.noun, data.noun and (optionally) noun.exc.
//
//   index.noun: lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt
//               synset_offset [synset_offset...]
//   data.noun:  offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt
//               [ptr_symbol offset pos source/target...] | gloss
// w_cnt and lex_id are hexadecimal, p_cnt is decimal; lines starting with two spaces are
// the license header. Offsets are the 8-digit synset ids (WordNet 3.0: dog.n.01 = 02084071).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace n2v {

// A synset's id: its 8-digit offset in data.noun for nouns. Offsets restart in each part of
// speech's data file, so a verb, adjective or adverb synset is keyed 100,000,000 x (1, 2 or
// 3) + offset (adjective satellites 's' share the adjectives' file and key). Nouns -- all
// but a few override-table rows -- keep their plain offset.
using SynsetOffset = uint32_t;
// Parts of speech: 'n', 'v', 'a' (adjective, satellites included), 'r' (adverb).
SynsetOffset synset_key(char pos, uint32_t offset);
char synset_pos(SynsetOffset key);

struct Synset {
  SynsetOffset offset = 0;
  int lex_filenum = 0;                  // lexicographer file (5 = noun.animal; lexfile_name)
  std::vector<std::string> words;       // lemmas as written in data.noun ("domestic_dog")
  std::vector<SynsetOffset> hypernyms;  // '@' pointers
  std::vector<SynsetOffset> instance_hypernyms;  // '@i' pointers
  std::string gloss;
  int line = 0;  // line of data.noun (for messages)
};

class WordNet {
 public:
  // Reads `dir`/index.noun and `dir`/data.noun (and `dir`/noun.exc when present), and the
  // data file of each other part of speech in `other_parts` ('v': data.verb, 'a': data.adj,
  // 'r': data.adv) -- their synsets only, for the override table's rows that name one (the
  // authors map textures to adjective senses); lemma lookups stay nouns. Throws kNotFound
  // for a missing file, kCorrupt naming the file and line for a malformed line or a pointer
  // to a synset that its data file lacks.
  static WordNet load(const std::string& dir, const std::string& other_parts = "");

  // nullptr when data.noun has no such synset.
  const Synset* synset(SynsetOffset offset) const;
  // The lemma's noun senses in index.noun order (the first is the most frequent by tagged
  // counts, when it has any); empty when it is not a noun lemma. `lemma` must already be in
  // WordNet's form: lower case, words joined by '_'.
  const std::vector<SynsetOffset>& senses(std::string_view lemma) const;
  // WordNet's morphy for nouns: `word` itself when it is a lemma, else its base form by
  // noun.exc, else by the detachment rules (-s, -ses, -xes, -zes, -ches, -shes, -men,
  // -ies); nullopt when none is a lemma.
  std::optional<std::string> base_form(std::string_view word) const;

  // Every synset reachable by hypernym and instance-hypernym pointers, along every path,
  // the synset itself included; sorted. Throws kNotFound for an unknown offset. Adjectives
  // and adverbs have no hypernyms: their closure is the synset alone.
  // instance_hypernyms = false follows '@' pointers only (the authors' closure).
  std::vector<SynsetOffset> hypernym_closure(SynsetOffset offset, bool instance_hypernyms = true) const;

  size_t synset_count() const { return synsets_.size(); }
  size_t lemma_count() const { return index_.size(); }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::unordered_map<SynsetOffset, Synset> synsets_;
  std::unordered_map<std::string, std::vector<SynsetOffset>> index_;
  std::unordered_map<std::string, std::vector<std::string>> exceptions_;  // noun.exc
};

// "noun.animal" for 5 (lexnames(5WN)); "lexfile.<n>" outside the table.
std::string lexfile_name(int lex_filenum);
// "02084071" for noun 2084071; "a01790808" for the adjective synset at 1790808.
std::string format_offset(SynsetOffset key);
// "02084071" or "n02084071" -> noun 2084071; "v", "a", "s" or "r" + 8 digits -> that part of
// speech's key; nullopt otherwise.
std::optional<SynsetOffset> parse_offset(std::string_view text);
// "data.noun", "data.verb", "data.adj", "data.adv": the file a key's synset comes from.
std::string data_file_name(SynsetOffset key);

// WordNet's lemma form of a concept name: trimmed, lower case, spaces -> '_'.
std::string wordnet_lemma(std::string_view concept_name);
// BRODEN marks some categories with a one-letter suffix ("blue-c" colour, "-s" scene):
// the name without a trailing "-<letter>", or nullopt when it has none.
std::optional<std::string> strip_broden_suffix(std::string_view name);

// The override table (data/wordnet_overrides.tsv): concept name -> synset, for names whose
// first noun sense is not the intended one. Tab-separated columns:
//   concept  offset  [word]  [comment...]
// offset is 8 digits, optionally with WordNet's 'n' prefix, or with 'v', 'a', 's' or 'r' for
// a synset of another part of speech (import_wordnet then reads that data file too); `word`, when not empty, must be
// one of the synset's lemmas (checked by map_concepts_to_synsets: it catches a table made
// for another WordNet version). '#' starts a comment line; blank lines are skipped.
struct SynsetOverride {
  SynsetOffset offset = 0;
  std::string word;
  int line = 0;
};
using SynsetOverrides = std::unordered_map<std::string, SynsetOverride>;
// Throws kNotFound (missing file), kCorrupt naming the line (bad offset, repeated concept).
SynsetOverrides read_synset_overrides(const std::string& path);

// How a concept name got its synset.
enum class SynsetRule {
  kOverride,        // the override table
  kFirstSense,      // first noun sense of wordnet_lemma(name)
  kSuffixStripped,  // ... of the name without its BRODEN suffix
  kBaseForm,        // ... of the morphy base form of either
  kUnmapped,
};
const char* to_string(SynsetRule rule);

struct ConceptSynset {
  std::string name;
  SynsetRule rule = SynsetRule::kUnmapped;
  SynsetOffset offset = 0;  // valid unless kUnmapped
  std::string lemma;        // the lemma looked up ("" for overrides and unmapped names)
};

// Maps each name, in order: the override table (by the exact concept name) first; else the
// first noun sense of wordnet_lemma(name); else of the name without its BRODEN suffix; else
// of the morphy base form of those. Throws kCorrupt when an override names a synset that
// data.noun lacks or whose lemmas do not include the override's word.
std::vector<ConceptSynset> map_concepts_to_synsets(const WordNet& wordnet,
                                                   const std::vector<std::string>& names,
                                                   const SynsetOverrides& overrides,
                                                   const std::string& overrides_path = "");

// The WordNet vectors of the mapped names (the paper's authors' construction): dimension d
// = the size of the union of the mapped synsets' hypernym closures, ordered by offset; a
// name's vector is the indicator of its synset's closure, L2-normalised (each nonzero value
// is 1/sqrt(closure size)). `dims` receives the offset of each dimension.
std::vector<std::pair<std::string, std::vector<float>>> wordnet_vectors(
    const WordNet& wordnet, const std::vector<ConceptSynset>& mapped,
    std::vector<SynsetOffset>* dims = nullptr, bool instance_hypernyms = true);

}  // namespace n2v
