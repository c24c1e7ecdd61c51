#include "reference/detail/wordnet.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unordered_set>

#include "common/error.h"
#include "common/text.h"

namespace n2v {

namespace {

// The whole file; kNotFound when it does not exist, kIo when it cannot be read.
std::string read_file(const std::string& path) {
  std::error_code ec;
  N2V_CHECK(std::filesystem::is_regular_file(path, ec), kNotFound, "file not found: " << path);
  std::ifstream in(path, std::ios::binary);
  N2V_CHECK(in, kIo, "cannot open " << path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  N2V_CHECK(!in.bad(), kIo, "cannot read " << path);
  return text;
}

// Calls f(line, number) for each line (without '\n' or a trailing '\r'), numbered from 1.
template <typename F>
void for_each_line(const std::string& text, F f) {
  size_t start = 0;
  int number = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f(line, ++number);
    start = end + 1;
  }
}

std::optional<long> parse_number(std::string_view text, int base) {
  long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || value < 0)
    return std::nullopt;
  return value;
}

// Throws kCorrupt "<file>:<line>: <what>" when `value` is empty.
template <typename T>
T require(std::optional<T> value, const std::string& file, int line, std::string_view what) {
  N2V_CHECK(value.has_value(), kCorrupt, file << ":" << line << ": " << what);
  return *value;
}

bool is_header_line(std::string_view line) {
  return line.size() >= 2 && line[0] == ' ' && line[1] == ' ';  // the license text
}

std::string_view trim_gloss(std::string_view gloss) {
  while (!gloss.empty() && gloss.front() == ' ') gloss.remove_prefix(1);
  while (!gloss.empty() && gloss.back() == ' ') gloss.remove_suffix(1);
  return gloss;
}

const std::vector<SynsetOffset> kNoSenses;

constexpr uint32_t kPosStride = 100000000;  // offsets are 8 decimal digits

int pos_index(char pos) {
  switch (pos) {
    case 'n': return 0;
    case 'v': return 1;
    case 'a':
    case 's': return 2;
    case 'r': return 3;
    default: return -1;
  }
}

// One WNDB data file (data.noun, data.verb, data.adj, data.adv) into `synsets`, keyed by
// synset_key(pos, offset). Keeps '@' and '@i' pointers to the same part of speech.
void read_data(const std::string& data_path, char pos, std::unordered_map<SynsetOffset, Synset>& synsets) {
  // offset lex_filenum ss_type w_cnt (word lex_id)... p_cnt (ptr)... [frames] | gloss
  const std::string data = read_file(data_path);
  const std::string types = pos == 'a' ? "as" : std::string(1, pos);
  size_t count = 0;
  for_each_line(data, [&](std::string_view line, int number) {
    if (line.empty() || is_header_line(line)) return;
    const size_t bar = line.find('|');
    std::string_view fields_text = line.substr(0, bar);
    const std::vector<std::string_view> f = tokens(fields_text);
    auto at = [&](size_t i, std::string_view what) -> std::string_view {
      N2V_CHECK(i < f.size(), kCorrupt,
                data_path << ":" << number << ": line ends before the " << what);
      return f[i];
    };
    auto offset_at = [&](size_t i, std::string_view what, char part) {
      const std::string_view text = at(i, what);
      const std::optional<long> raw = text.size() == 8 ? parse_number(text, 10) : std::nullopt;
      return synset_key(part, static_cast<uint32_t>(require(raw, data_path, number,
                                                            std::string(what) + " '" + std::string(text) +
                                                                "' is not 8 digits")));
    };
    Synset s;
    s.line = number;
    s.offset = offset_at(0, "synset offset", pos);
    s.lex_filenum = static_cast<int>(require(parse_number(at(1, "lexicographer file"), 10),
                                             data_path, number, "bad lexicographer file number"));
    N2V_CHECK(at(2, "synset type").size() == 1 && types.find(f[2][0]) != std::string::npos, kCorrupt,
              data_path << ":" << number << ": synset type '" << f[2] << "' is not " << types);
    const long w_cnt = require(parse_number(at(3, "word count"), 16), data_path, number,
                               "word count '" + std::string(at(3, "word count")) + "' is not hexadecimal");  // not f[3]: the
                               // message may be built before the at(3) of the first argument checks the size
    N2V_CHECK(w_cnt > 0, kCorrupt, data_path << ":" << number << ": synset without words");
    size_t i = 4;
    for (long w = 0; w < w_cnt; ++w) {
      std::string_view word = at(i, "word");
      // data.adj marks a syntactic position after the word: "long(a)", "elect(ip)".
      if (pos == 'a' && word.ends_with(")") && word.find('(') != std::string_view::npos)
        word = word.substr(0, word.find('('));
      s.words.emplace_back(word);
      require(parse_number(at(i + 1, "lex_id"), 16), data_path, number,
              "lex_id of '" + std::string(f[i]) + "' is not hexadecimal");
      i += 2;
    }
    const long p_cnt = require(parse_number(at(i, "pointer count"), 10), data_path, number,
                               "pointer count '" + std::string(at(i, "")) + "' is not a number");
    ++i;
    for (long p = 0; p < p_cnt; ++p) {
      const std::string_view symbol = at(i, "pointer symbol");
      const std::string_view part = at(i + 2, "pointer part of speech");
      N2V_CHECK(part.size() == 1 && pos_index(part[0]) >= 0, kCorrupt,
                data_path << ":" << number << ": pointer part of speech '" << part << "' is not n, v, a, s or r");
      const SynsetOffset target = offset_at(i + 1, "pointer offset", part[0]);
      at(i + 3, "pointer source/target");
      if (part[0] == pos && symbol == "@") s.hypernyms.push_back(target);
      if (part[0] == pos && symbol == "@i") s.instance_hypernyms.push_back(target);
      i += 4;
    }
    if (pos == 'v' && i < f.size()) {  // verb frames: f_cnt + f_cnt x (+ f_num w_num)
      const long frames = require(parse_number(f[i], 10), data_path, number, "frame count is not a number");
      N2V_CHECK(static_cast<size_t>(frames) <= f.size(), kCorrupt,
                data_path << ":" << number << ": " << frames << " verb frames on a line of " << f.size() << " fields");
      i += 1 + 3 * static_cast<size_t>(frames);
    }
    N2V_CHECK(i == f.size(), kCorrupt,
              data_path << ":" << number << ": " << (f.size() > i ? f.size() - i : i - f.size())
                        << (f.size() > i ? " unexpected fields after the pointers" : " fields missing"));
    N2V_CHECK(bar != std::string_view::npos, kCorrupt,
              data_path << ":" << number << ": no '|' before the gloss");
    s.gloss = std::string(trim_gloss(line.substr(bar + 1)));
    const SynsetOffset key = s.offset;
    N2V_CHECK(synsets.emplace(key, std::move(s)).second, kCorrupt,
              data_path << ":" << number << ": synset " << format_offset(key) << " appears twice");
    ++count;
  });
  N2V_CHECK(count > 0, kCorrupt, data_path << ": no synsets");
}

}  // namespace

SynsetOffset synset_key(char pos, uint32_t offset) {
  const int i = pos_index(pos);
  N2V_CHECK(i >= 0 && offset < kPosStride, kInvalidArgument,
            "no synset key for part of speech '" << pos << "' and offset " << offset);
  return static_cast<SynsetOffset>(i) * kPosStride + offset;
}

char synset_pos(SynsetOffset key) { return "nvar"[std::min<uint32_t>(key / kPosStride, 3)]; }

std::string data_file_name(SynsetOffset key) {
  static const char* const kFiles[] = {"data.noun", "data.verb", "data.adj", "data.adv"};
  return kFiles[std::min<uint32_t>(key / kPosStride, 3)];
}

// ---- Small helpers ----

std::string lexfile_name(int lex_filenum) {
  static const std::array<const char*, 45> kNames = {
      "adj.all",          "adj.pert",           "adv.all",
      "noun.Tops",        "noun.act",           "noun.animal",
      "noun.artifact",    "noun.attribute",     "noun.body",
      "noun.cognition",   "noun.communication", "noun.event",
      "noun.feeling",     "noun.food",          "noun.group",
      "noun.location",    "noun.motive",        "noun.object",
      "noun.person",      "noun.phenomenon",    "noun.plant",
      "noun.possession",  "noun.process",       "noun.quantity",
      "noun.relation",    "noun.shape",         "noun.state",
      "noun.substance",   "noun.time",          "verb.body",
      "verb.change",      "verb.cognition",     "verb.communication",
      "verb.competition", "verb.consumption",   "verb.contact",
      "verb.creation",    "verb.emotion",       "verb.motion",
      "verb.perception",  "verb.possession",    "verb.social",
      "verb.stative",     "verb.weather",       "adj.ppl"};
  if (lex_filenum >= 0 && lex_filenum < static_cast<int>(kNames.size())) return kNames[lex_filenum];
  return "lexfile." + std::to_string(lex_filenum);
}

std::string format_offset(SynsetOffset key) {
  std::string digits = std::to_string(key % kPosStride);
  if (digits.size() < 8) digits.insert(0, 8 - digits.size(), '0');
  const char pos = synset_pos(key);
  return pos == 'n' ? digits : pos + digits;
}

std::optional<SynsetOffset> parse_offset(std::string_view text) {
  char pos = 'n';
  if (!text.empty() && pos_index(text[0]) >= 0) {
    pos = text[0];
    text.remove_prefix(1);
  }
  if (text.size() != 8) return std::nullopt;
  const std::optional<long> value = parse_number(text, 10);
  if (!value) return std::nullopt;
  return synset_key(pos, static_cast<uint32_t>(*value));
}

std::string wordnet_lemma(std::string_view concept_name) {
  return join_words(ascii_lower(concept_name), " \t_");
}

std::optional<std::string> strip_broden_suffix(std::string_view name) {
  const size_t n = name.size();
  if (n < 3 || name[n - 2] != '-') return std::nullopt;
  const char c = name[n - 1];
  if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return std::nullopt;
  return std::string(name.substr(0, n - 2));
}

const char* to_string(SynsetRule rule) {
  switch (rule) {
    case SynsetRule::kOverride:
      return "override";
    case SynsetRule::kFirstSense:
      return "first sense";
    case SynsetRule::kSuffixStripped:
      return "first sense without suffix";
    case SynsetRule::kBaseForm:
      return "first sense of base form";
    case SynsetRule::kUnmapped:
      return "unmapped";
  }
  return "?";
}

// ---- WNDB reader ----

WordNet WordNet::load(const std::string& dir, const std::string& other_parts) {
  WordNet wn;
  wn.dir_ = dir;
  const std::string index_path = dir + "/index.noun";
  read_data(dir + "/data.noun", 'n', wn.synsets_);
  for (size_t i = 0; i < other_parts.size(); ++i) {
    const char pos = other_parts[i];
    N2V_CHECK(pos == 'v' || pos == 'a' || pos == 'r', kInvalidArgument,
              "WordNet part of speech '" << pos << "' is not v, a or r");
    if (other_parts.find(pos) < i) continue;  // listed twice
    read_data(dir + "/" + data_file_name(synset_key(pos, 0)), pos, wn.synsets_);
  }
  for (const auto& [offset, s] : wn.synsets_) {
    for (const auto* list : {&s.hypernyms, &s.instance_hypernyms})
      for (SynsetOffset target : *list)
        N2V_CHECK(wn.synsets_.count(target) != 0, kCorrupt,
                  dir << "/" << data_file_name(offset) << ":" << s.line << ": synset " << format_offset(offset)
                      << " has hypernym " << format_offset(target) << ", which " << data_file_name(target)
                      << " lacks");
  }

  // index.noun: lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt offsets
  const std::string index = read_file(index_path);
  for_each_line(index, [&](std::string_view line, int number) {
    if (line.empty() || is_header_line(line)) return;
    const std::vector<std::string_view> f = tokens(line);
    N2V_CHECK(f.size() >= 6, kCorrupt,
              index_path << ":" << number << ": " << f.size() << " fields, expected at least 6");
    N2V_CHECK(f[1] == "n", kCorrupt,
              index_path << ":" << number << ": part of speech '" << f[1] << "' is not n");
    const long synset_cnt = require(parse_number(f[2], 10), index_path, number,
                                    "synset count '" + std::string(f[2]) + "' is not a number");
    const long p_cnt = require(parse_number(f[3], 10), index_path, number,
                               "pointer count '" + std::string(f[3]) + "' is not a number");
    const size_t expected = 4 + static_cast<size_t>(p_cnt) + 2 + static_cast<size_t>(synset_cnt);
    N2V_CHECK(f.size() == expected, kCorrupt,
              index_path << ":" << number << ": " << f.size() << " fields, expected " << expected
                         << " for " << synset_cnt << " senses and " << p_cnt << " pointer symbols");
    std::vector<SynsetOffset> senses;
    for (size_t i = expected - synset_cnt; i < expected; ++i) {
      const SynsetOffset offset =
          require(parse_offset(f[i]), index_path, number,
                  "synset offset '" + std::string(f[i]) + "' is not 8 digits");
      N2V_CHECK(wn.synsets_.count(offset) != 0, kCorrupt,
                index_path << ":" << number << ": lemma '" << f[0] << "' names synset "
                           << format_offset(offset) << ", which data.noun lacks");
      senses.push_back(offset);
    }
    N2V_CHECK(wn.index_.emplace(std::string(f[0]), std::move(senses)).second, kCorrupt,
              index_path << ":" << number << ": lemma '" << f[0] << "' appears twice");
  });

  // noun.exc (optional): inflected base [base...]
  const std::string exc_path = dir + "/noun.exc";
  std::error_code ec;
  if (std::filesystem::is_regular_file(exc_path, ec)) {
    const std::string exc = read_file(exc_path);
    for_each_line(exc, [&](std::string_view line, int) {
      const std::vector<std::string_view> f = tokens(line);
      if (f.size() < 2) return;
      auto& bases = wn.exceptions_[std::string(f[0])];
      for (size_t i = 1; i < f.size(); ++i) bases.emplace_back(f[i]);
    });
  }
  return wn;
}

const Synset* WordNet::synset(SynsetOffset offset) const {
  const auto it = synsets_.find(offset);
  return it == synsets_.end() ? nullptr : &it->second;
}

const std::vector<SynsetOffset>& WordNet::senses(std::string_view lemma) const {
  const auto it = index_.find(std::string(lemma));
  return it == index_.end() ? kNoSenses : it->second;
}

std::optional<std::string> WordNet::base_form(std::string_view word) const {
  const std::string w(word);
  if (!senses(w).empty()) return w;
  if (const auto it = exceptions_.find(w); it != exceptions_.end())
    for (const std::string& base : it->second)
      if (!senses(base).empty()) return base;
  // WordNet's noun detachment rules (morphy(7WN)).
  static const std::array<std::pair<std::string_view, std::string_view>, 8> kRules = {
      {{"s", ""},
       {"ses", "s"},
       {"xes", "x"},
       {"zes", "z"},
       {"ches", "ch"},
       {"shes", "sh"},
       {"men", "man"},
       {"ies", "y"}}};
  for (const auto& [suffix, ending] : kRules) {
    if (w.size() <= suffix.size() || !w.ends_with(suffix)) continue;
    std::string base = w.substr(0, w.size() - suffix.size());
    base += ending;
    if (!senses(base).empty()) return base;
  }
  return std::nullopt;
}

std::vector<SynsetOffset> WordNet::hypernym_closure(SynsetOffset offset, bool instance_hypernyms) const {
  N2V_CHECK(synset(offset) != nullptr, kNotFound,
            "no synset " << format_offset(offset) << " in " << dir_ << "/" << data_file_name(offset));
  std::unordered_set<SynsetOffset> seen = {offset};
  std::vector<SynsetOffset> stack = {offset};
  while (!stack.empty()) {
    const Synset& s = synsets_.at(stack.back());
    stack.pop_back();
    for (const auto* list : {&s.hypernyms, &s.instance_hypernyms}) {
      if (list == &s.instance_hypernyms && !instance_hypernyms) continue;
      for (SynsetOffset target : *list)
        if (seen.insert(target).second) stack.push_back(target);
    }
  }
  std::vector<SynsetOffset> result(seen.begin(), seen.end());
  std::sort(result.begin(), result.end());
  return result;
}

// ---- Overrides and mapping ----

SynsetOverrides read_synset_overrides(const std::string& path) {
  const std::string text = read_file(path);
  SynsetOverrides overrides;
  for_each_line(text, [&](std::string_view line, int number) {
    if (line.empty() || line[0] == '#') return;
    std::vector<std::string> cols;
    size_t start = 0;
    while (true) {
      const size_t tab = line.find('\t', start);
      cols.emplace_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
      if (tab == std::string_view::npos) break;
      start = tab + 1;
    }
    if (cols.size() == 1 && tokens(cols[0]).empty()) return;  // blank
    N2V_CHECK(cols.size() >= 2 && !cols[0].empty(), kCorrupt,
              path << ":" << number << ": expected 'concept<TAB>offset[<TAB>word...]'");
    SynsetOverride o;
    o.line = number;
    o.offset = require(parse_offset(cols[1]), path, number,
                       "offset '" + cols[1] + "' is not 8 digits (optionally after n, v, a, s or r)");
    if (cols.size() >= 3) o.word = cols[2];
    N2V_CHECK(overrides.emplace(cols[0], o).second, kCorrupt,
              path << ":" << number << ": concept '" << cols[0] << "' appears twice");
  });
  return overrides;
}

std::vector<ConceptSynset> map_concepts_to_synsets(const WordNet& wordnet,
                                                   const std::vector<std::string>& names,
                                                   const SynsetOverrides& overrides,
                                                   const std::string& overrides_path) {
  const std::string table = overrides_path.empty() ? "override table" : overrides_path;
  std::vector<ConceptSynset> result;
  result.reserve(names.size());
  for (const std::string& name : names) {
    ConceptSynset m;
    m.name = name;
    if (const auto it = overrides.find(name); it != overrides.end()) {
      const SynsetOverride& o = it->second;
      const Synset* s = wordnet.synset(o.offset);
      N2V_CHECK(s != nullptr, kCorrupt,
                table << ":" << o.line << ": concept '" << name << "' -> synset "
                      << format_offset(o.offset) << ", which " << wordnet.dir() << "/"
                      << data_file_name(o.offset) << " lacks (is it WordNet 3.0?"
                      << (synset_pos(o.offset) == 'n' ? "" : " Was that file read?") << ")");
      if (!o.word.empty()) {
        const std::string want = wordnet_lemma(o.word);
        const bool found = std::any_of(s->words.begin(), s->words.end(),
                                       [&](const auto& w) { return wordnet_lemma(w) == want; });
        std::ostringstream words;
        for (const std::string& w : s->words) words << (words.tellp() > 0 ? ", " : "") << w;
        N2V_CHECK(found, kCorrupt,
                  table << ":" << o.line << ": synset " << format_offset(o.offset) << " is {"
                        << words.str() << "}, not '" << o.word << "' (is it WordNet 3.0?)");
      }
      m.rule = SynsetRule::kOverride;
      m.offset = o.offset;
      result.push_back(std::move(m));
      continue;
    }
    const std::string lemma = wordnet_lemma(name);
    const std::optional<std::string> stripped = strip_broden_suffix(lemma);
    auto first_sense = [&](const std::string& l, SynsetRule rule) {
      const std::vector<SynsetOffset>& senses = wordnet.senses(l);
      if (senses.empty()) return false;
      m.rule = rule;
      m.offset = senses.front();
      m.lemma = l;
      return true;
    };
    bool mapped = first_sense(lemma, SynsetRule::kFirstSense) ||
                  (stripped && first_sense(*stripped, SynsetRule::kSuffixStripped));
    if (!mapped) {
      for (const std::string* candidate : {&lemma, stripped ? &*stripped : nullptr}) {
        if (candidate == nullptr || candidate->empty()) continue;
        if (const auto base = wordnet.base_form(*candidate)) {
          mapped = first_sense(*base, SynsetRule::kBaseForm);
          if (mapped) break;
        }
      }
    }
    if (!mapped) m.rule = SynsetRule::kUnmapped;
    result.push_back(std::move(m));
  }
  return result;
}

std::vector<std::pair<std::string, std::vector<float>>> wordnet_vectors(
    const WordNet& wordnet, const std::vector<ConceptSynset>& mapped,
    std::vector<SynsetOffset>* dims, bool instance_hypernyms) {
  std::vector<std::pair<const ConceptSynset*, std::vector<SynsetOffset>>> closures;
  std::vector<SynsetOffset> all;
  for (const ConceptSynset& m : mapped) {
    if (m.rule == SynsetRule::kUnmapped) continue;
    closures.emplace_back(&m, wordnet.hypernym_closure(m.offset, instance_hypernyms));
    all.insert(all.end(), closures.back().second.begin(), closures.back().second.end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  std::unordered_map<SynsetOffset, size_t> column;
  for (size_t i = 0; i < all.size(); ++i) column[all[i]] = i;

  std::vector<std::pair<std::string, std::vector<float>>> vectors;
  vectors.reserve(closures.size());
  for (const auto& [m, closure] : closures) {
    std::vector<float> v(all.size(), 0.0f);
    const float value = static_cast<float>(1.0 / std::sqrt(static_cast<double>(closure.size())));
    for (SynsetOffset offset : closure) v[column.at(offset)] = value;
    vectors.emplace_back(m->name, std::move(v));
  }
  if (dims != nullptr) *dims = std::move(all);
  return vectors;
}

}  // namespace n2v
