// Word vector files: word2vec binary and text round trips (bit-exact), GloVe detection,
// concept names (phrases, BRODEN suffixes, multi-word means) and damaged files.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "reference/detail/word_vectors.h"
#include "support/expect.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

using test::expect_error;

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Words with awkward values: extremes, subnormals, negative zero next to non-zero values,
// values with no short decimal form; and a UTF-8 word.
WordVectors sample() {
  WordVectors v;
  v.dim = 4;
  const float rows[][4] = {
      {0.1f, -0.2f, 0.3f, 1.0f / 3.0f},
      {std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest(),
       std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min()},
      {-0.0f, 1e-30f, -7.5e12f, 0.5f},
      {123456.789f, -1.17549435e-38f, 3.14159265f, 2.71828183f},
  };
  const char* words[] = {"dog", "caf\xc3\xa9", "New_York", "the"};
  for (int i = 0; i < 4; ++i) v.add(words[i], rows[i]);
  return v;
}

void expect_bit_equal(const WordVectors& a, const WordVectors& b) {
  ASSERT_EQ(a.dim, b.dim);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a.word(i), b.word(i));
    EXPECT_EQ(std::memcmp(a.values(i), b.values(i), sizeof(float) * a.dim), 0) << a.word(i);
  }
}

TEST(WordVectors, Word2VecBinaryRoundTripIsBitExact) {
  test::TempDir dir;
  const std::string path = dir.file("vectors.bin");
  const WordVectors original = sample();
  write_word2vec_binary(path, original);
  EXPECT_EQ(detect_word_vector_format(path), WordVectorFormat::kWord2VecBinary);
  const WordVectors read = read_word_vectors(path);
  EXPECT_EQ(read.format, WordVectorFormat::kWord2VecBinary);
  EXPECT_EQ(read.file_words, 4u);
  expect_bit_equal(original, read);
  expect_bit_equal(original, read_word_vectors(path, WordVectorFormat::kWord2VecBinary));
}

TEST(WordVectors, Word2VecBinaryWithoutNewlines) {
  // gensim writes no '\n' after a vector; the C tool does. Both read the same.
  test::TempDir dir;
  const std::string path = dir.file("gensim.bin");
  std::string bytes = "2 2\n";
  auto append = [&](const char* word, float a, float b) {
    bytes += word;
    bytes += ' ';
    for (float f : {a, b}) {
      const auto bits = std::bit_cast<uint32_t>(f);
      for (int i = 0; i < 4; ++i) bytes += static_cast<char>((bits >> (8 * i)) & 0xff);
    }
  };
  append("cat", 1.0f, -2.0f);
  append("dog", 0.25f, 10.0f);
  write_text(path, bytes);
  const WordVectors v = read_word_vectors(path);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v.word(1), "dog");
  EXPECT_EQ(v.find("cat")[1], -2.0f);
  EXPECT_EQ(v.find("dog")[1], 10.0f);
}

TEST(WordVectors, Word2VecTextRoundTripIsBitExact) {
  test::TempDir dir;
  const std::string path = dir.file("vectors.txt");
  const WordVectors original = sample();
  write_word_vectors_text(path, original, /*header=*/true);
  EXPECT_EQ(detect_word_vector_format(path), WordVectorFormat::kText);
  const WordVectors read = read_word_vectors(path);
  EXPECT_EQ(read.format, WordVectorFormat::kText);
  EXPECT_TRUE(read.has_header);
  expect_bit_equal(original, read);
}

TEST(WordVectors, GloveTextHasNoHeader) {
  test::TempDir dir;
  const std::string path = dir.file("glove.txt");
  const WordVectors original = sample();
  write_word_vectors_text(path, original, /*header=*/false);
  EXPECT_EQ(detect_word_vector_format(path), WordVectorFormat::kText);
  const WordVectors read = read_word_vectors(path, WordVectorFormat::kText);
  EXPECT_FALSE(read.has_header);
  expect_bit_equal(original, read);

  // A first line that starts with a number is a word, not a header, unless it is exactly
  // two integers.
  write_text(path, "2010 0.5 0.25\nthe 1 2\n");
  EXPECT_EQ(detect_word_vector_format(path), WordVectorFormat::kText);
  const WordVectors years = read_word_vectors(path);
  EXPECT_FALSE(years.has_header);
  EXPECT_EQ(years.dim, 2);
  EXPECT_EQ(years.size(), 2u);
  EXPECT_EQ(years.find("2010")[1], 0.25f);
  // GloVe's own number format; CRLF line ends and a trailing space are tolerated.
  write_text(path, "a 1e-05 -3.5E+2 \r\nb 0.0 7\r\n");
  const WordVectors glove = read_word_vectors(path);
  EXPECT_EQ(glove.find("a")[0], 1e-05f);
  EXPECT_EQ(glove.find("a")[1], -350.0f);
  EXPECT_EQ(glove.find("b")[1], 7.0f);
}

TEST(WordVectors, KeepSelectsStoredWordsButAllAreChecked) {
  test::TempDir dir;
  const std::string path = dir.file("glove.txt");
  write_text(path, "a 1 2\nb 3 4\nc 5 6\na 7 8\n");
  const WordVectors v =
      read_word_vectors(path, WordVectorFormat::kAuto, [](std::string_view w) { return w != "b"; });
  EXPECT_EQ(v.file_words, 4u);
  EXPECT_EQ(v.size(), 2u);
  EXPECT_EQ(v.find("b"), nullptr);
  EXPECT_EQ(v.find("a")[0], 1.0f);  // the first of a repeated word wins
  EXPECT_EQ(v.duplicates, 1u);

  write_text(path, "a 1 2\nb 3 nan\n");
  expect_error(
      [&] {
        read_word_vectors(path, WordVectorFormat::kAuto,
                          [](std::string_view w) { return w == "a"; });
      },
      ErrorCode::kCorrupt, {path + ":2", "'b'"});
}

TEST(WordVectors, ConceptNames) {
  WordVectors v;
  v.dim = 2;
  const float traffic[] = {1, 2}, light[] = {3, 6}, blue[] = {0.5f, 0.25f}, york[] = {9, 9},
              ny[] = {-1, 1}, big[] = {4, 4};
  v.add("traffic", traffic);
  v.add("light", light);
  v.add("blue", blue);
  v.add("york", york);
  v.add("New_York", ny);
  v.add("Big", big);

  auto vec = [&](const char* name) { return concept_word_vector(v, name); };
  EXPECT_EQ(vec("traffic light"), (std::vector<float>{2, 4}));  // mean of the words
  EXPECT_EQ(vec("traffic_light"), (std::vector<float>{2, 4}));
  EXPECT_EQ(vec("Traffic Light"), (std::vector<float>{2, 4}));  // lower-cased words
  EXPECT_EQ(vec("blue-c"), (std::vector<float>{0.5f, 0.25f}));  // BRODEN suffix
  EXPECT_EQ(vec("Blue"), (std::vector<float>{0.5f, 0.25f}));
  EXPECT_EQ(vec("New York"), (std::vector<float>{-1, 1}));     // a word2vec phrase wins
  EXPECT_EQ(vec("Big light"), (std::vector<float>{3.5f, 5}));  // each word as is first
  EXPECT_EQ(vec("big light"), std::nullopt);  // ... or lower-cased, never capitalised
  EXPECT_EQ(vec("red light"), std::nullopt);  // a missing word: absent
  EXPECT_EQ(vec("unicorn"), std::nullopt);
  // The authors' choice: multi-word names only as whole phrases.
  EXPECT_EQ(concept_word_vector(v, "traffic light", false), std::nullopt);
  EXPECT_EQ(concept_word_vector(v, "New York", false), (std::vector<float>{-1, 1}));
  EXPECT_EQ(concept_word_vector(v, "blue-c", false), (std::vector<float>{0.5f, 0.25f}));

  const auto keys = word_vector_keys("Traffic Light-c");
  for (const char* k : {"Traffic Light-c", "traffic light-c", "Traffic_Light-c", "Traffic_Light",
                        "traffic_light", "Traffic", "traffic", "Light", "light"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
}

// ---- Damaged files ----

TEST(WordVectorErrors, NanInfAndZeroVectors) {
  test::TempDir dir;
  const std::string path = dir.file("bad.txt");
  write_text(path, "a 1 2\nb 3 4\nc nan 1\n");
  expect_error([&] { read_word_vectors(path); }, ErrorCode::kCorrupt,
               {path + ":3", "word 'c'", "value 0", "not finite"});
  write_text(path, "3 2\na 1 2\nb inf 1\nc 1 1\n");
  expect_error([&] { read_word_vectors(path); }, ErrorCode::kCorrupt,
               {path + ":3", "word 'b'", "not finite"});
  write_text(path, "a 1 2\nzero 0 -0.0\n");
  expect_error([&] { read_word_vectors(path); }, ErrorCode::kCorrupt,
               {path + ":2", "word 'zero'", "all-zero"});

  const std::string bin = dir.file("bad.bin");
  WordVectors v;
  v.dim = 2;
  const float ok[] = {1, 2}, inf[] = {1, std::numeric_limits<float>::infinity()},
              nan[] = {std::nanf(""), 1}, zero[] = {0, 0};
  v.add("fine", ok);
  v.add("infinite", inf);
  write_word2vec_binary(bin, v);
  expect_error([&] { read_word_vectors(bin); }, ErrorCode::kCorrupt,
               {bin, "record 2", "'infinite'", "value 1", "not finite"});
  WordVectors w = WordVectors();
  w.dim = 2;
  w.add("fine", ok);
  w.add("nothing", zero);
  write_word2vec_binary(bin, w);
  expect_error([&] { read_word_vectors(bin); }, ErrorCode::kCorrupt,
               {bin, "record 2", "'nothing'", "all-zero"});
  WordVectors n = WordVectors();
  n.dim = 2;
  n.add("nan", nan);
  write_word2vec_binary(bin, n);
  expect_error([&] { read_word_vectors(bin); }, ErrorCode::kCorrupt, {bin, "record 1", "'nan'"});
}

TEST(WordVectorErrors, DimensionMismatch) {
  test::TempDir dir;
  const std::string path = dir.file("bad.txt");
  write_text(path, "a 1 2 3\nb 1 2 3\n\nc 1 2\n");  // blank lines are skipped, not counted out
  expect_error([&] { read_word_vectors(path); }, ErrorCode::kCorrupt,
               {path + ":4", "word 'c'", "2 values, expected 3"});
  write_text(path, "2 3\na 1 2 3\nb 1 2 3 4\n");
  expect_error([&] { read_word_vectors(path); }, ErrorCode::kCorrupt,
               {path + ":3", "4 values, expected 3", "header"});
  write_text(path, "a 1 x\n");
  expect_error([&] { read_word_vectors(path); }, ErrorCode::kCorrupt,
               {path + ":1", "value 1 'x' is not a number"});
  write_text(path, "alone\n");
  expect_error([&] { read_word_vectors(path); }, ErrorCode::kCorrupt, {path + ":1", "no values"});
}

TEST(WordVectorErrors, CountsAndTruncation) {
  test::TempDir dir;
  const std::string path = dir.file("bad.txt");
  write_text(path, "3 2\na 1 2\nb 3 4\n");
  expect_error([&] { read_word_vectors(path); }, ErrorCode::kCorrupt,
               {path, "header says 3 words, the file has 2"});
  write_text(path, "");
  expect_error([&] { read_word_vectors(path); }, ErrorCode::kCorrupt, {path, "empty"});
  expect_error([&] { read_word_vectors(dir.file("none.bin")); }, ErrorCode::kNotFound,
               {"none.bin"});

  const std::string bin = dir.file("v.bin");
  write_word2vec_binary(bin, sample());
  std::ifstream in(bin, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_text(bin, bytes.substr(0, bytes.size() - 7));  // inside the last vector
  expect_error([&] { read_word_vectors(bin, WordVectorFormat::kWord2VecBinary); },
               ErrorCode::kCorrupt, {bin, "record 4", "'the'", "truncated"});
  write_text(bin, bytes.substr(0, bytes.size() - 1) + "\nextra");
  expect_error([&] { read_word_vectors(bin, WordVectorFormat::kWord2VecBinary); },
               ErrorCode::kCorrupt, {bin, "data after the 4 words"});
  write_text(bin, "5 4" + bytes.substr(3));
  expect_error([&] { read_word_vectors(bin, WordVectorFormat::kWord2VecBinary); },
               ErrorCode::kCorrupt, {bin, "header says 5 words", "ends after 4"});
  write_text(bin, "dog 1 2 3 4\n");
  expect_error([&] { read_word_vectors(bin, WordVectorFormat::kWord2VecBinary); },
               ErrorCode::kCorrupt, {bin, "'count dim'"});
}

}  // namespace
}  // namespace n2v
