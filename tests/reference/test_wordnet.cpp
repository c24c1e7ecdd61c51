// The WNDB reader, synset mapping and WordNet vectors: on the hand-made fixture
// (data/fixtures/wordnet, closures worked out by hand in its README) and on the real
// WordNet 3.0 (/usr/share/wordnet, Debian wordnet-base; skipped when absent).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "reference/detail/wordnet.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::expect_error;

const std::string kFixture = std::string(NET2VEC_SOURCE_DIR) + "/data/fixtures/wordnet";
const std::string kRealWordNet = "/usr/share/wordnet";

// Fixture offsets (data/fixtures/wordnet/README.md).
constexpr SynsetOffset kEntity = 354, kPhysicalEntity = 504, kAbstraction = 621, kObject = 792,
                       kOrganism = 910, kAnimal = 1094, kDomesticAnimal = 1242, kCanine = 1424,
                       kDog = 1559, kPuppy = 1725, kBird = 1788, kHeronBird = 1892, kMouse = 1998,
                       kPerson = 2079, kInventor = 2176, kMathematician = 2317, kHero = 2427,
                       kColor = 2559, kChromatic = 2666, kBlue = 2766, kSky = 2869, kBlueSky = 2992,
                       kTrafficLight = 3213;

std::vector<SynsetOffset> sorted(std::vector<SynsetOffset> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

const WordNet& fixture() {
  static const WordNet wn = WordNet::load(kFixture);
  return wn;
}

TEST(WordNetFixture, ParsesIndexAndData) {
  const WordNet& wn = fixture();
  EXPECT_EQ(wn.synset_count(), 23u);
  EXPECT_EQ(wn.lemma_count(), 48u);
  // Sense order as in index.noun: heron's first sense is Hero of Alexandria.
  EXPECT_EQ(wn.senses("heron"), (std::vector<SynsetOffset>{kHero, kHeronBird}));
  EXPECT_EQ(wn.senses("blue"), (std::vector<SynsetOffset>{kBlue, kBlueSky}));
  EXPECT_EQ(wn.senses("dog"), (std::vector<SynsetOffset>{kDog}));
  EXPECT_EQ(wn.senses("traffic_light"), (std::vector<SynsetOffset>{kTrafficLight}));
  EXPECT_TRUE(wn.senses("unicorn").empty());
  EXPECT_TRUE(wn.senses("Dog").empty());  // index.noun lemmas are lower case

  const Synset* dog = wn.synset(kDog);
  ASSERT_NE(dog, nullptr);
  EXPECT_EQ(dog->words, (std::vector<std::string>{"dog", "domestic_dog", "Canis_familiaris"}));
  EXPECT_EQ(dog->lex_filenum, 5);
  EXPECT_EQ(lexfile_name(dog->lex_filenum), "noun.animal");
  // Two hypernyms, in file order; '#m' and '~' pointers are not hypernyms.
  EXPECT_EQ(dog->hypernyms, (std::vector<SynsetOffset>{kCanine, kDomesticAnimal}));
  EXPECT_TRUE(dog->instance_hypernyms.empty());
  EXPECT_EQ(dog->gloss, "a member of the genus Canis");

  // An instance: only '@i' pointers, two of them.
  const Synset* hero = wn.synset(kHero);
  ASSERT_NE(hero, nullptr);
  EXPECT_TRUE(hero->hypernyms.empty());
  EXPECT_EQ(hero->instance_hypernyms, (std::vector<SynsetOffset>{kInventor, kMathematician}));
  // The inventor's '-i' (instance hyponym) pointer is not a hypernym.
  EXPECT_EQ(wn.synset(kInventor)->hypernyms, (std::vector<SynsetOffset>{kPerson}));
  EXPECT_TRUE(wn.synset(kInventor)->instance_hypernyms.empty());

  // w_cnt is hexadecimal: "0c" = 12 words, the last of which is azure.
  const Synset* blue_sky = wn.synset(kBlueSky);
  ASSERT_NE(blue_sky, nullptr);
  ASSERT_EQ(blue_sky->words.size(), 12u);
  EXPECT_EQ(blue_sky->words.back(), "azure");
  EXPECT_EQ(blue_sky->hypernyms, (std::vector<SynsetOffset>{kSky}));
  EXPECT_EQ(wn.senses("azure"), (std::vector<SynsetOffset>{kBlueSky}));

  EXPECT_EQ(wn.synset(12345), nullptr);
  EXPECT_EQ(wn.synset(kEntity)->hypernyms.size(), 0u);
}

TEST(WordNetFixture, OffsetsAreByteOffsets) {
  // The fixture is in WordNet's real format: each offset is where its line starts.
  const std::string data = read_bytes(kFixture + "/data.noun");
  for (SynsetOffset o : {kEntity, kDog, kHero, kBlueSky, kTrafficLight})
    EXPECT_EQ(data.substr(o, 8), format_offset(o));
}

TEST(WordNetFixture, ClosuresWorkedOutByHand) {
  const WordNet& wn = fixture();
  // Two paths (canine, domestic_animal) meeting again at animal: every synset once.
  EXPECT_EQ(wn.hypernym_closure(kDog), sorted({kDog, kCanine, kDomesticAnimal, kAnimal, kOrganism,
                                               kObject, kPhysicalEntity, kEntity}));
  EXPECT_EQ(wn.hypernym_closure(kPuppy), sorted({kPuppy, kDog, kCanine, kDomesticAnimal, kAnimal,
                                                 kOrganism, kObject, kPhysicalEntity, kEntity}));
  // Instance hypernyms are followed, both of them.
  EXPECT_EQ(wn.hypernym_closure(kHero), sorted({kHero, kInventor, kMathematician, kPerson,
                                                kOrganism, kObject, kPhysicalEntity, kEntity}));
  // The authors' closure (hypernyms only): Hero has no '@' pointer, so it stays alone.
  EXPECT_EQ(wn.hypernym_closure(kHero, false), (std::vector<SynsetOffset>{kHero}));
  EXPECT_EQ(wn.hypernym_closure(kDog, false), wn.hypernym_closure(kDog));
  EXPECT_EQ(wn.hypernym_closure(kHeronBird),
            sorted({kHeronBird, kBird, kAnimal, kOrganism, kObject, kPhysicalEntity, kEntity}));
  EXPECT_EQ(wn.hypernym_closure(kBlue), sorted({kBlue, kChromatic, kColor, kAbstraction, kEntity}));
  EXPECT_EQ(wn.hypernym_closure(kTrafficLight),
            sorted({kTrafficLight, kObject, kPhysicalEntity, kEntity}));
  EXPECT_EQ(wn.hypernym_closure(kEntity), (std::vector<SynsetOffset>{kEntity}));
  expect_error([&] { wn.hypernym_closure(12345); }, ErrorCode::kNotFound, {"00012345"});
}

TEST(WordNetFixture, LemmaFormsAndBaseForms) {
  EXPECT_EQ(wordnet_lemma("Traffic  Light "), "traffic_light");
  EXPECT_EQ(wordnet_lemma("traffic_light"), "traffic_light");
  EXPECT_EQ(wordnet_lemma("t-shirt"), "t-shirt");
  EXPECT_EQ(strip_broden_suffix("blue-c"), "blue");
  EXPECT_EQ(strip_broden_suffix("kitchen-s"), "kitchen");
  EXPECT_EQ(strip_broden_suffix("t-shirt"), std::nullopt);
  EXPECT_EQ(strip_broden_suffix("dog"), std::nullopt);
  EXPECT_EQ(parse_offset("n02084071"), 2084071u);
  EXPECT_EQ(parse_offset("02084071"), 2084071u);
  EXPECT_EQ(parse_offset("2084071"), std::nullopt);
  EXPECT_EQ(parse_offset("0208407x"), std::nullopt);

  const WordNet& wn = fixture();
  EXPECT_EQ(wn.base_form("dog"), "dog");
  EXPECT_EQ(wn.base_form("dogs"), "dog");       // detachment rule -s
  EXPECT_EQ(wn.base_form("mice"), "mouse");     // noun.exc
  EXPECT_EQ(wn.base_form("puppies"), "puppy");  // -ies -> -y
  EXPECT_EQ(wn.base_form("unicorns"), std::nullopt);
}

TEST(WordNetFixture, MapsConceptNames) {
  const WordNet& wn = fixture();
  const std::vector<std::string> names = {"dog",  "heron",   "blue-c", "traffic light", "mice",
                                          "Dogs", "unicorn", "sky-s",  "Blue"};
  auto rules = [&](const SynsetOverrides& overrides) {
    std::vector<std::pair<SynsetRule, SynsetOffset>> result;
    for (const ConceptSynset& m : map_concepts_to_synsets(wn, names, overrides))
      result.emplace_back(m.rule, m.offset);
    return result;
  };
  using R = SynsetRule;
  const std::vector<std::pair<SynsetRule, SynsetOffset>> first_senses = {
      {R::kFirstSense, kDog},      {R::kFirstSense, kHero},  // wrong, as in WordNet 3.0
      {R::kSuffixStripped, kBlue}, {R::kFirstSense, kTrafficLight},
      {R::kBaseForm, kMouse},      {R::kBaseForm, kDog},
      {R::kUnmapped, 0},           {R::kSuffixStripped, kSky},
      {R::kFirstSense, kBlue}};
  EXPECT_EQ(rules({}), first_senses);

  // The override table wins, by exact concept name.
  SynsetOverrides overrides;
  overrides["heron"] = {kHeronBird, "heron", 3};
  overrides["Blue"] = {kBlueSky, "", 4};
  auto with_overrides = first_senses;
  with_overrides[1] = {R::kOverride, kHeronBird};
  with_overrides[8] = {R::kOverride, kBlueSky};
  EXPECT_EQ(rules(overrides), with_overrides);

  // An override whose word is not a lemma of its synset: another WordNet, or a typo.
  overrides["heron"] = {kHero, "heron bird", 7};
  expect_error([&] { map_concepts_to_synsets(wn, names, overrides, "/x/overrides.tsv"); },
               ErrorCode::kCorrupt, {"/x/overrides.tsv:7", "00002427", "heron bird", "Hero"});
  overrides["heron"] = {1234, "", 9};
  expect_error([&] { map_concepts_to_synsets(wn, names, overrides, "/x/overrides.tsv"); },
               ErrorCode::kCorrupt, {"/x/overrides.tsv:9", "00001234"});
}

TEST(WordNetFixture, OverrideTableFile) {
  test::TempDir dir;
  const std::string path = dir.file("overrides.tsv");
  write_text(path,
             "# concept\toffset\tword\tcomment\n"
             "\n"
             "heron\tn00001892\theron\tthe bird, not Hero\n"
             "blue-c\t00002766\n");
  const SynsetOverrides overrides = read_synset_overrides(path);
  ASSERT_EQ(overrides.size(), 2u);
  EXPECT_EQ(overrides.at("heron").offset, kHeronBird);
  EXPECT_EQ(overrides.at("heron").word, "heron");
  EXPECT_EQ(overrides.at("heron").line, 3);
  EXPECT_EQ(overrides.at("blue-c").offset, kBlue);
  EXPECT_EQ(overrides.at("blue-c").word, "");

  write_text(path, "heron\t1892\n");
  expect_error([&] { read_synset_overrides(path); }, ErrorCode::kCorrupt, {path + ":1", "1892"});
  write_text(path, "heron\t00001892\nheron\t00002427\n");
  expect_error([&] { read_synset_overrides(path); }, ErrorCode::kCorrupt,
               {path + ":2", "appears twice"});
  write_text(path, "heron 00001892\n");
  expect_error([&] { read_synset_overrides(path); }, ErrorCode::kCorrupt, {path + ":1"});
  expect_error([&] { read_synset_overrides(dir.file("none.tsv")); }, ErrorCode::kNotFound,
               {"none.tsv"});
}

TEST(WordNetFixture, VectorsAreNormalisedClosureIndicators) {
  const WordNet& wn = fixture();
  SynsetOverrides overrides;
  overrides["heron"] = {kHeronBird, "heron", 1};
  const auto mapped = map_concepts_to_synsets(
      wn, {"dog", "heron", "blue-c", "traffic light", "unicorn"}, overrides);
  std::vector<SynsetOffset> dims;
  const auto vectors = wordnet_vectors(wn, mapped, &dims);
  // Union: dog's 8 + heron, bird + blue, chromatic_color, color, abstraction + traffic_light.
  EXPECT_EQ(dims, sorted({kDog, kCanine, kDomesticAnimal, kAnimal, kOrganism, kObject,
                          kPhysicalEntity, kEntity, kHeronBird, kBird, kBlue, kChromatic, kColor,
                          kAbstraction, kTrafficLight}));
  ASSERT_EQ(vectors.size(), 4u);  // unicorn is left out
  const std::vector<size_t> closure_sizes = {8, 7, 5, 4};
  const std::vector<std::string> expected_names = {"dog", "heron", "blue-c", "traffic light"};
  for (size_t i = 0; i < vectors.size(); ++i) {
    const auto& [name, v] = vectors[i];
    EXPECT_EQ(name, expected_names[i]);
    ASSERT_EQ(v.size(), dims.size());
    const std::vector<SynsetOffset> closure = wn.hypernym_closure(mapped[i].offset);
    const float value = static_cast<float>(1.0 / std::sqrt(double(closure_sizes[i])));
    for (size_t d = 0; d < dims.size(); ++d) {
      const bool in = std::binary_search(closure.begin(), closure.end(), dims[d]);
      EXPECT_EQ(v[d], in ? value : 0.0f) << name << " dim " << d;
    }
    EXPECT_NEAR(dot(v, v), 1.0, 1e-6) << name;
  }
  // Cosine = shared synsets / sqrt(product of closure sizes).
  EXPECT_NEAR(dot(vectors[0].second, vectors[1].second), 5 / std::sqrt(56.0), 1e-6);
  EXPECT_NEAR(dot(vectors[0].second, vectors[2].second), 1 / std::sqrt(40.0), 1e-6);
  EXPECT_NEAR(dot(vectors[0].second, vectors[3].second), 3 / std::sqrt(32.0), 1e-6);
}

// ---- Damaged databases ----

class DamagedWordNet : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"index.noun", "data.noun", "noun.exc"})
      std::filesystem::copy_file(kFixture + "/" + name, dir_.file(name));
  }
  // Replaces the first occurrence of `from` in `file` by `to`.
  void damage(const std::string& file, const std::string& from, const std::string& to) {
    std::string text = read_bytes(dir_.file(file));
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    write_text(dir_.file(file), text);
  }
  test::TempDir dir_;
};

TEST_F(DamagedWordNet, BadWordCount) {
  damage("data.noun", "00001559 05 n 03 dog", "00001559 05 n zz dog");
  expect_error([&] { WordNet::load(dir_.path()); }, ErrorCode::kCorrupt,
               {"data.noun:13", "word count 'zz'"});
}

TEST_F(DamagedWordNet, HypernymThatDoesNotExist) {
  damage("data.noun", "@ 00001424 n 0000", "@ 00001425 n 0000");
  expect_error([&] { WordNet::load(dir_.path()); }, ErrorCode::kCorrupt,
               {"data.noun:13", "00001425", "lacks"});
}

TEST_F(DamagedWordNet, TruncatedPointers) {
  damage("data.noun", "00001725 05 n 01 puppy 0 001 @ 00001559 n 0000 |",
         "00001725 05 n 01 puppy 0 002 @ 00001559 n 0000 |");
  expect_error([&] { WordNet::load(dir_.path()); }, ErrorCode::kCorrupt, {"data.noun:14"});
}

TEST_F(DamagedWordNet, IndexSenseCountDisagrees) {
  damage("index.noun", "heron n 2 2 @i @ 2 0", "heron n 3 2 @i @ 3 0");
  expect_error([&] { WordNet::load(dir_.path()); }, ErrorCode::kCorrupt,
               {"index.noun:", "fields, expected"});
}

TEST_F(DamagedWordNet, IndexNamesAMissingSynset) {
  damage("index.noun", "dog n 1 3 @ #m ~ 1 1 00001559", "dog n 1 3 @ #m ~ 1 1 00001558");
  expect_error([&] { WordNet::load(dir_.path()); }, ErrorCode::kCorrupt,
               {"index.noun:", "'dog'", "00001558"});
}

TEST_F(DamagedWordNet, MissingFiles) {
  std::filesystem::remove(dir_.file("index.noun"));
  expect_error([&] { WordNet::load(dir_.path()); }, ErrorCode::kNotFound, {"index.noun"});
  expect_error([&] { WordNet::load(dir_.file("nowhere")); }, ErrorCode::kNotFound, {"data.noun"});
  // noun.exc is optional: without it only the detachment rules remain.
  std::filesystem::copy_file(kFixture + "/index.noun", dir_.file("index.noun"));
  std::filesystem::remove(dir_.file("noun.exc"));
  const WordNet wn = WordNet::load(dir_.path());
  EXPECT_EQ(wn.base_form("mice"), std::nullopt);
  EXPECT_EQ(wn.base_form("dogs"), "dog");
}

// ---- The real WordNet 3.0 ----

class RealWordNet : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kRealWordNet + "/data.noun"))
      GTEST_SKIP() << kRealWordNet << " absent (apt-get install wordnet-base)";
    static const WordNet wn = WordNet::load(kRealWordNet, "a");  // nouns + data.adj (textures)
    wn_ = &wn;
  }
  // The first lemma of each synset in the closure.
  std::set<std::string> closure_words(SynsetOffset offset) const {
    std::set<std::string> words;
    for (SynsetOffset o : wn_->hypernym_closure(offset)) words.insert(wn_->synset(o)->words[0]);
    return words;
  }
  const WordNet* wn_ = nullptr;
};

TEST_F(RealWordNet, DogClosure) {
  EXPECT_GT(wn_->synset_count(), 82000u);  // 82,115 noun synsets in WordNet 3.0
  ASSERT_FALSE(wn_->senses("dog").empty());
  const SynsetOffset dog = wn_->senses("dog")[0];
  EXPECT_EQ(dog, 2084071u);  // dog.n.01
  const std::vector<SynsetOffset> closure = wn_->hypernym_closure(dog);
  for (SynsetOffset o :
       {2084071u, 2083346u /*canine*/, 2075296u /*carnivore*/, 1861778u /*mammal*/,
        15388u /*animal*/, 1740u /*entity*/, 1317541u /*domestic_animal: the second path*/})
    EXPECT_TRUE(std::binary_search(closure.begin(), closure.end(), o)) << format_offset(o);
  const std::set<std::string> words = closure_words(dog);
  for (const char* w : {"dog", "canine", "carnivore", "mammal", "animal", "entity",
                        "domestic_animal", "vertebrate", "organism"})
    EXPECT_EQ(words.count(w), 1u) << w;
  EXPECT_EQ(words.count("plant"), 0u);
}

TEST_F(RealWordNet, InstanceHypernymsAndOverrides) {
  // heron's first sense is Hero of Alexandria, an instance of mathematician and inventor.
  ASSERT_EQ(wn_->senses("heron"), (std::vector<SynsetOffset>{11045106u, 2008041u}));
  const Synset* hero = wn_->synset(11045106u);
  EXPECT_TRUE(hero->hypernyms.empty());
  EXPECT_EQ(hero->instance_hypernyms.size(), 2u);
  const std::set<std::string> words = closure_words(11045106u);
  EXPECT_EQ(words.count("person"), 1u);
  EXPECT_EQ(words.count("mathematician"), 1u);
  EXPECT_EQ(words.count("inventor"), 1u);

  // The project's override table fits WordNet 3.0: every word check passes, and it fixes
  // heron, peacock and the grey colour.
  const std::string table = std::string(NET2VEC_SOURCE_DIR) + "/data/wordnet_overrides.tsv";
  const SynsetOverrides overrides = read_synset_overrides(table);
  EXPECT_GE(overrides.size(), 60u);
  std::vector<std::string> names;
  for (const auto& entry : overrides) names.push_back(entry.first);
  names.push_back("dog");
  names.push_back("blue-c");
  const auto mapped = map_concepts_to_synsets(*wn_, names, overrides, table);
  for (const ConceptSynset& m : mapped) {
    if (m.name == "heron") EXPECT_EQ(m.offset, 2008041u);
    if (m.name == "peacock") EXPECT_EQ(m.offset, 1806143u);
    if (m.name == "grey-c")
      EXPECT_EQ(lexfile_name(wn_->synset(m.offset)->lex_filenum), "noun.attribute");
    if (m.name == "blue-c") {
      EXPECT_EQ(m.rule, SynsetRule::kSuffixStripped);
      EXPECT_EQ(m.offset, 4968895u);  // blue, blueness
    }
    EXPECT_NE(m.rule, SynsetRule::kUnmapped) << m.name;
  }
  const auto vectors = wordnet_vectors(*wn_, mapped);
  ASSERT_EQ(vectors.size(), names.size());
  for (const auto& [name, v] : vectors) EXPECT_NEAR(dot(v, v), 1.0, 1e-5) << name;
}

// Parts of speech beyond nouns: the override table maps BRODEN textures to adjective senses
// (the authors' choice). Adjective synsets are keyed apart from nouns (offsets restart in
// data.adj), read with their words' syntactic markers removed, and have no hypernyms: a
// texture's vector is its synset alone.
TEST_F(RealWordNet, TexturesMapToAdjectiveSenses) {
  const SynsetOffset striped = synset_key('a', 1790808u);
  EXPECT_EQ(parse_offset("s01790808"), striped);  // a satellite lives in data.adj
  EXPECT_EQ(parse_offset("a01790808"), striped);
  EXPECT_EQ(format_offset(striped), "a01790808");
  EXPECT_EQ(data_file_name(striped), "data.adj");
  EXPECT_EQ(synset_pos(striped), 'a');
  EXPECT_EQ(format_offset(2084071u), "02084071");  // nouns unchanged
  const Synset* s = wn_->synset(striped);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->words, (std::vector<std::string>{"striped", "stripy"}));
  EXPECT_NE(s->gloss.find("stripes"), std::string::npos) << s->gloss;
  EXPECT_EQ(wn_->hypernym_closure(striped), std::vector<SynsetOffset>{striped});
  // data.adj's "outback(a)" is read as the lemma "outback".
  const Synset* outback = wn_->synset(synset_key('a', 20103u));
  ASSERT_NE(outback, nullptr);
  EXPECT_EQ(outback->words[0], "outback");
  // The same digits in data.noun are not this synset (there, no synset starts at that byte).
  EXPECT_NE(striped, 1790808u);
  EXPECT_EQ(wn_->synset(1790808u), nullptr);

  const std::string table = std::string(NET2VEC_SOURCE_DIR) + "/data/wordnet_overrides.tsv";
  const SynsetOverrides overrides = read_synset_overrides(table);
  const auto mapped = map_concepts_to_synsets(*wn_, {"striped", "dotted", "flecked", "dog"}, overrides, table);
  EXPECT_EQ(mapped[0].rule, SynsetRule::kOverride);
  EXPECT_EQ(mapped[0].offset, striped);
  EXPECT_EQ(mapped[1].offset, mapped[2].offset);  // dotted and flecked share a synset
  const auto vectors = wordnet_vectors(*wn_, mapped);
  ASSERT_EQ(vectors.size(), 4u);
  EXPECT_NEAR(dot(vectors[0].second, vectors[0].second), 1.0, 1e-6);
  EXPECT_NEAR(dot(vectors[0].second, vectors[1].second), 0.0, 1e-9);  // no shared hypernym
  EXPECT_NEAR(dot(vectors[1].second, vectors[2].second), 1.0, 1e-6);
  EXPECT_NEAR(dot(vectors[0].second, vectors[3].second), 0.0, 1e-9);

  // Without data.adj the override cannot resolve, and the error says which file.
  static const WordNet nouns = WordNet::load(kRealWordNet);
  expect_error([&] { map_concepts_to_synsets(nouns, {"striped"}, overrides, table); }, ErrorCode::kCorrupt,
               {"a01790808", "data.adj"});
}

}  // namespace
}  // namespace n2v
