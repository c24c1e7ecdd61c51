// broden-mini: runs tools/make_broden_mini.py on a few images into a temporary folder and
// reads the result back with the project's BRODEN reader (ProbeSet + collect_annotations).
// Skips when Debian's /usr/bin/python3 with python3-numpy and python3-pil, or the unpacked
// source packages (tuxpaint-stamps-default, python3-skimage, opencv-doc; see
// docs/BRODEN_MINI.md) are absent: the generator exits with code 3 then.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "probe/annotations.h"
#include "probe/probe_set.h"
#include "support/temp_dir.h"

namespace n2v {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

constexpr int kSourcesMissing = 3;  // make_broden_mini.py's exit code for absent sources
const char* kPython = "/usr/bin/python3";

struct GeneratorRun {
  int code = -1;
  std::string output;
};

// Runs the generator with `args`, capturing stdout and stderr.
GeneratorRun generate(const std::string& args) {
  GeneratorRun run;
  if (!fs::exists(kPython)) {
    run.code = kSourcesMissing;
    run.output = std::string(kPython) + " is absent";
    return run;
  }
  const std::string command = std::string(kPython) + " " NET2VEC_SOURCE_DIR
                              "/tools/make_broden_mini.py " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) run.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// Generates into dir; skips the test when the sources are missing.
#define GENERATE_OR_SKIP(args) \
  do { \
    const GeneratorRun run_ = generate(args); \
    if (run_.code == kSourcesMissing) GTEST_SKIP() << run_.output; \
    ASSERT_EQ(run_.code, 0) << run_.output; \
  } while (0)

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<size_t> all_rows(const ProbeSet& probe) {
  std::vector<size_t> rows(probe.images().size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  return rows;
}

// Opens a generated set and checks everything the reader can: rows, sizes, categories,
// masks, label figures against the masks.
void check_probe_set(const std::string& dir, int images, int size, int mask) {
  ProbeSet probe = ProbeSet::open(dir);
  ASSERT_EQ(static_cast<int>(probe.images().size()), images);
  ASSERT_EQ(probe.categories().size(), 3u);
  EXPECT_EQ(probe.categories()[0].name, "color");
  EXPECT_EQ(probe.categories()[1].name, "object");
  EXPECT_EQ(probe.categories()[2].name, "material");
  EXPECT_EQ(probe.categories()[0].first, 1);
  EXPECT_EQ(probe.categories()[0].count, 11);

  // BRODEN's 11 colour concepts are labels 1-11.
  const std::vector<std::string> colours = {"black-c", "blue-c", "brown-c", "green-c",
                                            "grey-c", "orange-c", "pink-c", "purple-c",
                                            "red-c", "white-c", "yellow-c"};
  for (int i = 0; i < 11; ++i) {
    const Label* label = probe.label(i + 1);
    ASSERT_NE(label, nullptr);
    EXPECT_EQ(label->name, colours[i]);
    EXPECT_EQ(label->category, "color");
  }
  int objects = 0;
  for (const Label& label : probe.labels()) objects += label.category == "object";
  EXPECT_GE(objects, 40);

  int train = 0;
  for (const ProbeImage& image : probe.images()) {
    EXPECT_EQ(image.ih, size);
    EXPECT_EQ(image.iw, size);
    EXPECT_EQ(image.sh, mask);
    EXPECT_EQ(image.sw, mask);
    EXPECT_EQ(image.masks[0].size(), 1u) << image.path;  // a colour mask
    EXPECT_EQ(image.masks[1].size(), 1u) << image.path;  // an object mask
    train += image.split == Split::kTrain;
  }
  EXPECT_GT(train, 0);
  EXPECT_LT(train, images);

  const RgbImage first = probe.load_image(0);
  EXPECT_EQ(first.height, size);
  EXPECT_EQ(first.width, size);

  ProbeAnnotations annotations = collect_annotations(probe, all_rows(probe), false);
  EXPECT_TRUE(probe.skipped().empty());
  EXPECT_EQ(annotations.mask_height, mask);
  EXPECT_EQ(annotations.mask_width, mask);
  ASSERT_EQ(static_cast<int>(annotations.rows.size()), images);

  // label.csv's frequency and coverage agree with the masks.
  std::map<int, int> frequency;
  std::map<int, double> coverage;
  for (const ConceptMask& m : annotations.masks) {
    ++frequency[m.label];
    coverage[m.label] += static_cast<double>(m.mask.pixels) / (mask * mask);
  }
  for (const Label& label : probe.labels()) {
    EXPECT_EQ(label.frequency, frequency[label.number]) << label.name;
    EXPECT_NEAR(label.coverage, coverage[label.number], 1e-5) << label.name;
  }
  for (size_t i = 0; i < annotations.present.size(); ++i) {
    int colour = 0, object = 0;
    for (int number : annotations.present[i]) {
      const Label* label = probe.label(number);
      ASSERT_NE(label, nullptr);
      colour += label->category == "color";
      object += label->category == "object";
    }
    EXPECT_GT(colour, 0) << probe.images()[annotations.rows[i]].path;
    EXPECT_GT(object, 0) << probe.images()[annotations.rows[i]].path;
  }
}

TEST(BrodenMini, ColourRuleNamesTheReferenceColours) {
  const GeneratorRun run = generate("--check-colours");
  if (run.code == kSourcesMissing) GTEST_SKIP() << run.output;
  EXPECT_EQ(run.code, 0) << run.output;
}

TEST(BrodenMini, Size224IsReadableWith112Masks) {
  TempDir dir;
  GENERATE_OR_SKIP("--images 60 --size 224 --seed 5 --out " + dir.file("set"));
  check_probe_set(dir.file("set"), 60, 224, 112);
}

TEST(BrodenMini, Size299IsReadableWith149Masks) {
  TempDir dir;
  GENERATE_OR_SKIP("--images 20 --size 299 --seed 5 --out " + dir.file("set"));
  check_probe_set(dir.file("set"), 20, 299, 149);
}

TEST(BrodenMini, SameSeedGivesByteIdenticalFilesWhateverTheWorkers) {
  TempDir dir;
  GENERATE_OR_SKIP("--images 24 --seed 9 --jobs 1 --out " + dir.file("a"));
  GENERATE_OR_SKIP("--images 24 --seed 9 --jobs 2 --out " + dir.file("b"));
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir.file("a")))
    if (entry.is_regular_file()) files.push_back(fs::relative(entry.path(), dir.file("a")));
  EXPECT_GT(files.size(), 24u * 3);
  for (const fs::path& rel : files)
    EXPECT_EQ(slurp(fs::path(dir.file("a")) / rel), slurp(fs::path(dir.file("b")) / rel)) << rel;

  // Another seed gives other images.
  GENERATE_OR_SKIP("--images 24 --seed 10 --out " + dir.file("c"));
  EXPECT_NE(slurp(fs::path(dir.file("a")) / "sources.csv"), slurp(fs::path(dir.file("c")) / "sources.csv"));
}

TEST(BrodenMini, MissingStampsNameThePackageAndTheCommand) {
  TempDir dir;
  const GeneratorRun run = generate("--images 2 --stamps " + dir.file("no-such-dir") + " --out " + dir.file("set"));
  if (run.output.find("python3-numpy") != std::string::npos) GTEST_SKIP() << run.output;
  EXPECT_EQ(run.code, kSourcesMissing) << run.output;
  EXPECT_NE(run.output.find("no-such-dir"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("apt-get download tuxpaint-stamps-default"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("dpkg -x"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(dir.file("set") + "/index.csv"));
}

TEST(BrodenMini, RefusesToOverwriteWithoutForce) {
  TempDir dir;
  GENERATE_OR_SKIP("--images 2 --out " + dir.file("set"));
  const GeneratorRun again = generate("--images 2 --out " + dir.file("set"));
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.output.find("--force"), std::string::npos) << again.output;
  GENERATE_OR_SKIP("--images 3 --force --out " + dir.file("set"));
  EXPECT_EQ(ProbeSet::open(dir.file("set")).images().size(), 3u);
}

}  // namespace
}  // namespace n2v
