#include "reference/detail/word_vectors.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>

#include "common/error.h"
#include "common/text.h"
#include "reference/detail/wordnet.h"

namespace n2v {

namespace {

constexpr size_t kBufferSize = 1 << 20;
constexpr size_t kMaxWordBytes = 4096;  // a longer "word" means the file is not word2vec

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using FileHandle = std::unique_ptr<FILE, FileCloser>;

// Buffered reading with the byte offset, for binary records and text lines alike.
class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path), buffer_(kBufferSize) {
    std::error_code ec;
    N2V_CHECK(std::filesystem::is_regular_file(path, ec), kNotFound,
              "word vector file not found: " << path);
    file_.reset(std::fopen(path.c_str(), "rb"));
    N2V_CHECK(file_ != nullptr, kIo, "cannot open " << path << ": " << std::strerror(errno));
  }

  int get() {
    if (pos_ == end_ && !fill()) return -1;
    ++offset_;
    return static_cast<unsigned char>(buffer_[pos_++]);
  }
  int peek() {
    if (pos_ == end_ && !fill()) return -1;
    return static_cast<unsigned char>(buffer_[pos_]);
  }
  // Up to n bytes; fewer only at the end of the file.
  size_t read(char* out, size_t n) {
    size_t done = 0;
    while (done < n) {
      if (pos_ == end_ && !fill()) break;
      const size_t chunk = std::min(n - done, end_ - pos_);
      std::memcpy(out + done, buffer_.data() + pos_, chunk);
      pos_ += chunk;
      done += chunk;
    }
    offset_ += done;
    return done;
  }
  // The next line without '\n' (and a trailing '\r'); false at the end of the file.
  bool getline(std::string& line) {
    line.clear();
    bool any = false;
    while (true) {
      if (pos_ == end_ && !fill()) return any;
      any = true;
      const char* start = buffer_.data() + pos_;
      const void* nl = std::memchr(start, '\n', end_ - pos_);
      if (nl != nullptr) {
        const size_t n = static_cast<const char*>(nl) - start;
        line.append(start, n);
        pos_ += n + 1;
        offset_ += n + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return true;
      }
      line.append(start, end_ - pos_);
      offset_ += end_ - pos_;
      pos_ = end_;
    }
  }
  uint64_t offset() const { return offset_; }
  const std::string& path() const { return path_; }

 private:
  bool fill() {
    pos_ = 0;
    end_ = std::fread(buffer_.data(), 1, buffer_.size(), file_.get());
    N2V_CHECK(!std::ferror(file_.get()), kIo,
              "cannot read " << path_ << ": " << std::strerror(errno));
    return end_ > 0;
  }

  std::string path_;
  FileHandle file_;
  std::vector<char> buffer_;
  size_t pos_ = 0, end_ = 0;
  uint64_t offset_ = 0;
};

std::optional<long long> parse_count(std::string_view text) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

bool parse_float(std::string_view text, float& value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

// A "count dim" header line: both non-negative integers, dim positive.
std::optional<std::pair<long long, int>> parse_header(std::string_view line) {
  const auto t = tokens(line);
  if (t.size() != 2) return std::nullopt;
  const auto count = parse_count(t[0]), dim = parse_count(t[1]);
  if (!count || !dim || *dim <= 0 || *dim > (1 << 20)) return std::nullopt;
  return std::make_pair(*count, static_cast<int>(*dim));
}

// The shared value checks; `where` names the record ("file:line: word 'x'").
template <typename Where>
void check_values(const float* values, int dim, Where where) {
  bool all_zero = true;
  for (int k = 0; k < dim; ++k) {
    N2V_CHECK(std::isfinite(values[k]), kCorrupt,
              where() << ": value " << k << " is " << values[k] << " (not finite)");
    if (values[k] != 0.0f) all_zero = false;
  }
  N2V_CHECK(!all_zero, kCorrupt, where() << ": all-zero vector");
}

void read_text(Reader& in, WordVectors& out, const std::function<bool(std::string_view)>& keep) {
  const std::string& path = in.path();
  std::string line;
  long long line_no = 0;
  std::optional<long long> header_count;
  std::vector<float> values;
  while (in.getline(line)) {
    ++line_no;
    const std::string_view text(line);
    if (tokens(text).empty()) continue;  // blank line
    if (out.file_words == 0 && !header_count && out.dim == 0) {
      if (const auto header = parse_header(text)) {
        header_count = header->first;
        out.dim = header->second;
        out.has_header = true;
        values.resize(out.dim);
        continue;
      }
    }
    // word v1 ... vdim, parsed in place.
    size_t i = 0;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    const size_t word_start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    const std::string_view word = text.substr(word_start, i - word_start);
    auto where = [&]() {
      std::ostringstream s;
      s << path << ":" << line_no << ": word '" << word << "'";
      return s.str();
    };
    if (out.dim == 0) {  // GloVe: the first line gives the dimension
      const size_t n = tokens(text.substr(i)).size();
      N2V_CHECK(n > 0, kCorrupt, where() << ": no values");
      out.dim = static_cast<int>(n);
      values.resize(out.dim);
    }
    int k = 0;
    while (true) {
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
      if (i == text.size()) break;
      const size_t start = i;
      while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
      if (k < out.dim) {
        const std::string_view token = text.substr(start, i - start);
        N2V_CHECK(parse_float(token, values[k]), kCorrupt,
                  where() << ": value " << k << " '" << token << "' is not a number");
      }
      ++k;
    }
    N2V_CHECK(
        k == out.dim, kCorrupt,
        where() << ": " << k << " values, expected " << out.dim
                << (out.has_header ? " (the header's dimension)" : " (as on the first line)"));
    check_values(values.data(), out.dim, where);
    ++out.file_words;
    if (!keep || keep(word)) out.add(std::string(word), values.data());
  }
  N2V_CHECK(out.file_words > 0 || header_count.value_or(-1) == 0, kCorrupt,
            path << ": no word vectors");
  N2V_CHECK(
      !header_count || static_cast<size_t>(*header_count) == out.file_words, kCorrupt,
      path << ": the header says " << *header_count << " words, the file has " << out.file_words);
}

void read_binary(Reader& in, WordVectors& out, const std::function<bool(std::string_view)>& keep) {
  const std::string& path = in.path();
  std::string line;
  N2V_CHECK(in.getline(line), kCorrupt, path << ": empty file");
  const auto header = parse_header(line);
  N2V_CHECK(header.has_value(), kCorrupt,
            path << ": word2vec binary must start with a 'count dim' line, found '"
                 << line.substr(0, 80) << "'");
  const long long count = header->first;
  out.dim = header->second;
  const size_t bytes = static_cast<size_t>(out.dim) * 4;
  std::vector<char> raw(bytes);
  std::vector<float> values(out.dim);
  std::string word;
  for (long long r = 1; r <= count; ++r) {
    int c = in.get();
    while (c == ' ' || c == '\n' || c == '\r' || c == '\t') c = in.get();
    const uint64_t record_offset = in.offset() - (c >= 0 ? 1 : 0);
    N2V_CHECK(c >= 0, kCorrupt,
              path << ": truncated: the header says " << count << " words, the file ends after "
                   << r - 1);
    word.clear();
    while (c != ' ') {
      N2V_CHECK(c >= 0, kCorrupt,
                path << ": truncated in record " << r << " (byte " << record_offset
                     << "): the file ends inside its word");
      N2V_CHECK(c != '\n' && word.size() < kMaxWordBytes, kCorrupt,
                path << ": record " << r << " (byte " << record_offset
                     << ") has no ' ' after its word: not word2vec binary, or a wrong dimension");
      word += static_cast<char>(c);
      c = in.get();
    }
    auto where = [&]() {
      std::ostringstream s;
      s << path << ": record " << r << " (byte " << record_offset << "), word '" << word << "'";
      return s.str();
    };
    N2V_CHECK(in.read(raw.data(), bytes) == bytes, kCorrupt,
              where() << ": truncated: the file ends inside its " << bytes << " bytes of vector");
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(values.data(), raw.data(), bytes);
    } else {
      for (int k = 0; k < out.dim; ++k) {
        uint32_t bits = 0;
        for (int b = 0; b < 4; ++b)
          bits |= static_cast<uint32_t>(static_cast<unsigned char>(raw[4 * k + b])) << (8 * b);
        values[k] = std::bit_cast<float>(bits);
      }
    }
    check_values(values.data(), out.dim, where);
    ++out.file_words;
    if (!keep || keep(word)) out.add(word, values.data());
  }
  int c = in.get();
  while (c == ' ' || c == '\n' || c == '\r' || c == '\t') c = in.get();
  N2V_CHECK(c < 0, kCorrupt,
            path << ": data after the " << count << " words the header announces (byte "
                 << in.offset() - 1 << ")");
}

// Whitespace runs -> one '_' (word2vec phrases: "New_York"); trimmed.
// Spaces and tabs become one '_' (underscores in the name are kept).
std::string phrase(std::string_view text) { return join_words(text, " \t"); }

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string current;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '_') {
      if (!current.empty()) words.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) words.push_back(std::move(current));
  return words;
}

// The whole-name keys and the name whose words are averaged.
std::vector<std::string> whole_keys(std::string_view name, std::string* base) {
  std::vector<std::string> keys;
  auto add = [&](std::string key) {
    if (!key.empty() && std::find(keys.begin(), keys.end(), key) == keys.end())
      keys.push_back(std::move(key));
  };
  add(std::string(name));
  add(ascii_lower(name));
  add(phrase(name));
  add(ascii_lower(phrase(name)));
  std::string words_of = phrase(name);
  if (const auto stripped = strip_broden_suffix(phrase(name))) {
    add(*stripped);
    add(ascii_lower(*stripped));
    words_of = *stripped;
  }
  if (base != nullptr) *base = words_of;
  return keys;
}

}  // namespace

// ---- WordVectors ----

void WordVectors::add(std::string word, const float* values) {
  if (index_.count(word) != 0) {
    ++duplicates;
    return;
  }
  index_.emplace(word, words_.size());
  words_.push_back(std::move(word));
  values_.insert(values_.end(), values, values + dim);
}

const float* WordVectors::find(std::string_view word) const {
  const auto it = index_.find(std::string(word));
  return it == index_.end() ? nullptr : values(it->second);
}

const char* to_string(WordVectorFormat format) {
  switch (format) {
    case WordVectorFormat::kAuto:
      return "auto";
    case WordVectorFormat::kWord2VecBinary:
      return "word2vec binary";
    case WordVectorFormat::kText:
      return "text";
  }
  return "?";
}

// ---- Reading ----

WordVectorFormat detect_word_vector_format(const std::string& path) {
  Reader in(path);
  std::string first;
  N2V_CHECK(in.getline(first), kCorrupt, path << ": empty file");
  const auto header = parse_header(first);
  if (!header) return WordVectorFormat::kText;  // GloVe: no header
  // word2vec: a text record is "word v1 ... vdim\n"; a binary one has raw bytes after the
  // word, which (almost surely) do not read as dim numbers up to a newline.
  std::string second;
  if (!in.getline(second)) return WordVectorFormat::kText;  // header only: no records
  const auto t = tokens(second);
  if (t.size() != static_cast<size_t>(header->second) + 1) return WordVectorFormat::kWord2VecBinary;
  float value = 0;
  for (size_t i = 1; i < t.size(); ++i)
    if (!parse_float(t[i], value)) return WordVectorFormat::kWord2VecBinary;
  return WordVectorFormat::kText;
}

WordVectors read_word_vectors(const std::string& path, WordVectorFormat format,
                              const std::function<bool(std::string_view)>& keep) {
  if (format == WordVectorFormat::kAuto) format = detect_word_vector_format(path);
  WordVectors out;
  out.format = format;
  Reader in(path);
  if (format == WordVectorFormat::kWord2VecBinary)
    read_binary(in, out, keep);
  else
    read_text(in, out, keep);
  return out;
}

// ---- Writing ----

namespace {
FileHandle open_for_writing(const std::string& path) {
  FileHandle file(std::fopen(path.c_str(), "wb"));
  N2V_CHECK(file != nullptr, kIo, "cannot create " << path << ": " << std::strerror(errno));
  return file;
}

void finish(FileHandle file, const std::string& path) {
  const bool ok = !std::ferror(file.get());
  N2V_CHECK(std::fclose(file.release()) == 0 && ok, kIo, "cannot write " << path);
}
}  // namespace

void write_word2vec_binary(const std::string& path, const WordVectors& vectors) {
  FileHandle file = open_for_writing(path);
  std::fprintf(file.get(), "%zu %d\n", vectors.size(), vectors.dim);
  std::vector<unsigned char> raw(static_cast<size_t>(vectors.dim) * 4);
  for (size_t i = 0; i < vectors.size(); ++i) {
    std::fputs(vectors.word(i).c_str(), file.get());
    std::fputc(' ', file.get());
    const float* v = vectors.values(i);
    for (int k = 0; k < vectors.dim; ++k) {
      const auto bits = std::bit_cast<uint32_t>(v[k]);
      for (int b = 0; b < 4; ++b) raw[4 * k + b] = static_cast<unsigned char>(bits >> (8 * b));
    }
    std::fwrite(raw.data(), 1, raw.size(), file.get());
    std::fputc('\n', file.get());
  }
  finish(std::move(file), path);
}

void write_word_vectors_text(const std::string& path, const WordVectors& vectors, bool header) {
  FileHandle file = open_for_writing(path);
  if (header) std::fprintf(file.get(), "%zu %d\n", vectors.size(), vectors.dim);
  std::string line;
  char number[64];
  for (size_t i = 0; i < vectors.size(); ++i) {
    line = vectors.word(i);
    const float* v = vectors.values(i);
    for (int k = 0; k < vectors.dim; ++k) {
      const auto result = std::to_chars(number, number + sizeof(number), v[k]);
      line += ' ';
      line.append(number, result.ptr);
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), file.get());
  }
  finish(std::move(file), path);
}

// ---- Concept names ----

std::vector<std::string> word_vector_keys(std::string_view concept_name) {
  std::string base;
  std::vector<std::string> keys = whole_keys(concept_name, &base);
  for (const std::string& w : split_words(base)) {
    for (std::string key : {w, ascii_lower(w)})
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(std::move(key));
  }
  return keys;
}

std::optional<std::vector<float>> concept_word_vector(const WordVectors& vectors,
                                                      std::string_view concept_name, bool average_words) {
  std::string base;
  for (const std::string& key : whole_keys(concept_name, &base))
    if (const float* v = vectors.find(key)) return std::vector<float>(v, v + vectors.dim);
  const std::vector<std::string> words = split_words(base);
  if (words.size() < 2 || !average_words) return std::nullopt;
  std::vector<double> sum(vectors.dim, 0.0);
  for (const std::string& w : words) {
    const float* v = vectors.find(w);
    if (v == nullptr) v = vectors.find(ascii_lower(w));
    if (v == nullptr) return std::nullopt;
    for (int k = 0; k < vectors.dim; ++k) sum[k] += v[k];
  }
  std::vector<float> mean(vectors.dim);
  for (int k = 0; k < vectors.dim; ++k)
    mean[k] = static_cast<float>(sum[k] / static_cast<double>(words.size()));
  return mean;
}

}  // namespace n2v
