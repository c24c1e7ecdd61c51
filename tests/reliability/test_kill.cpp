// SIGKILL of the real net2vec-ingest and `net2vec reference` at known points. The points
// outside the catalog write are found from outside: the ingest's progress lines
// ("[activations features] started", ...) and, for the reference import, the vectors file
// showing up among the process's open files (/proc/PID/fd). The points inside the catalog
// write, which nothing shows from outside, use the fault hook of src/catalog/catalog.cpp
// (NET2VEC_FAULT=catalog-write-after-N / catalog-write-before-commit: the process SIGKILLs
// itself there). After every kill: the catalog opens, PRAGMA integrity_check is ok, and
// every space (the two network spaces and the reference space) holds exactly its previous
// rows and vector values.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "harness.h"
#include "support/temp_dir.h"

namespace n2v::test {
namespace {

class Kill : public ::testing::Test {
 protected:
  void SetUp() override {
    db = dir.file("catalog.db");
    copy_file(toy().base_catalog, db);
    before = snapshot(db);
    ASSERT_EQ(before.size(), 3u) << describe(before);
  }

  // Starts `args`, waits for `line` in its output and `delay_ms` more, SIGKILLs it.
  // Returns its output up to its death.
  std::string kill_when(const std::vector<std::string>& args, const std::string& line, int delay_ms) {
    Child child = spawn(args);
    const bool seen = read_until(child, line, 40);
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(child.pid, SIGKILL);
    const int status = finish(child);
    EXPECT_TRUE(seen) << "never printed '" << line << "':\n" << child.text;
    EXPECT_TRUE(killed_by(status, SIGKILL)) << describe(status) << "\n" << child.text;
    return child.text;
  }

  // Runs `args` with the catalog fault hook set; it must die by its own SIGKILL.
  std::string hook(const std::vector<std::string>& args, const std::string& fault) {
    const Outcome o = run(args, {"NET2VEC_FAULT=" + fault});
    EXPECT_TRUE(killed_by(o.status, SIGKILL)) << fault << ": " << describe(o.status) << "\n" << o.out;
    return o.out;
  }

  TempDir dir;
  std::string db;
  Snapshot before;
};

// The last progress line the process wrote before it died.
std::string last_stage_line(const std::string& out) {
  std::string last;
  size_t pos = 0;
  while ((pos = out.find('[', pos)) != std::string::npos) {
    if (pos == 0 || out[pos - 1] == '\n') last = out.substr(pos, out.find('\n', pos) - pos);
    ++pos;
  }
  return last;
}

// With a million epochs the ingest cannot reach its catalog write before the kill.
std::vector<std::string> endless(const std::string& db, std::vector<std::string> extra = {}) {
  extra.insert(extra.end(), {"--seed", "2", "--epochs", "1000000"});
  return ingest_args(db, "features", extra);
}

TEST_F(Kill, IngestDuringActivations) {
  // One image per forward pass: the pass takes long enough to be inside when the kill lands.
  const std::string out =
      kill_when(endless(db, {"--activation-batch", "1"}), "[activations features] started", 0);
  std::printf("last line before the kill: %s\n", last_stage_line(out).c_str());
  expect_intact(db, before);
}

TEST_F(Kill, IngestAfterActivationsAtThresholds) {
  // Right after the pass: exact thresholds, binarised maps, single-filter IoU.
  const std::string out = kill_when(endless(db), "[activations features] done", 0);
  std::printf("last line before the kill: %s\n", last_stage_line(out).c_str());
  EXPECT_EQ(out.find("[segmentation training] done"), std::string::npos) << out;
  expect_intact(db, before);
}

TEST_F(Kill, IngestDuringSegmentationTraining) {
  const std::string out = kill_when(endless(db), "[segmentation training] started", 300);
  EXPECT_EQ(last_stage_line(out).rfind("[segmentation training]", 0), 0u) << out;
  expect_intact(db, before);
}

TEST_F(Kill, IngestDuringClassificationTraining) {
  // Segmentation done (one epoch), classification endless: its space is still in memory.
  const std::vector<std::string> args = ingest_args(
      db, "features", {"--seed", "2", "--epochs", "1", "--cls-epochs", "1000000"});
  const std::string out = kill_when(args, "[classification training] started", 300);
  EXPECT_NE(out.find("[segmentation training] done"), std::string::npos) << out;
  EXPECT_EQ(last_stage_line(out).rfind("[classification training]", 0), 0u) << out;
  expect_intact(db, before);
}

// Inside write_ingest's transaction (a toy ingest inserts ~125 rows): right after BEGIN
// IMMEDIATE; after 60 row inserts (probe set, 5 concepts, 48 images, network, run, 4
// thresholds), just after the old toy.features.seg was deleted (with its rows, by cascade)
// and before the new one is inserted; and after every row, just before COMMIT.
class KillInsideIngestWrite : public Kill, public ::testing::WithParamInterface<const char*> {};

TEST_P(KillInsideIngestWrite, LeavesThePreviousSpaces) {
  const std::string out = hook(ingest_args(db, "features", {"--seed", "2"}), GetParam());
  // Training finished: the kill was in the write.
  EXPECT_NE(out.find("[classification training] done"), std::string::npos) << out;
  expect_intact(db, before);
}

// Inside write_reference_space's transaction (5 vectors): after BEGIN IMMEDIATE and the
// old space's deletion, after 3 vectors, before COMMIT.
class KillInsideReferenceWrite : public Kill, public ::testing::WithParamInterface<const char*> {};

TEST_P(KillInsideReferenceWrite, LeavesThePreviousSpaces) {
  const std::string glove = dir.file("glove-2.txt");
  write_glove(glove, 2);
  hook(reference_args(db, "glove-toy", glove), GetParam());
  expect_intact(db, before);
}

std::string param_name(const ::testing::TestParamInfo<const char*>& info) {
  std::string name = info.param;
  for (char& c : name)
    if (c == '-') c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Points, KillInsideIngestWrite,
                         ::testing::Values("catalog-write-after-0", "catalog-write-after-60",
                                           "catalog-write-before-commit"),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Points, KillInsideReferenceWrite,
                         ::testing::Values("catalog-write-after-0", "catalog-write-after-3",
                                           "catalog-write-before-commit"),
                         param_name);

// True when process `pid` has `path` open.
bool has_open(pid_t pid, const std::string& path) {
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code link_ec;
    if (std::filesystem::read_symlink(fd.path(), link_ec) == path) return true;
  }
  return false;
}

TEST_F(Kill, ReferenceWhileReadingTheVectorFile) {
  // 30,000 words of 50 values (~14 MB): reading them takes a while, and the file is open
  // only while it is read (before the catalog write).
  const std::string glove = dir.file("glove-big.txt");
  write_glove(glove, 3, 30000);
  Child child = spawn(reference_args(db, "glove-toy", glove));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool open = false;
  while (!(open = has_open(child.pid, glove)) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  kill(child.pid, SIGKILL);
  const int status = finish(child);
  EXPECT_TRUE(open) << "never saw the file open:\n" << child.text;
  EXPECT_TRUE(killed_by(status, SIGKILL)) << describe(status) << "\n" << child.text;
  expect_intact(db, before);
}

TEST_F(Kill, CatalogStillTakesAnIngestAfterAKill) {
  hook(ingest_args(db, "features", {"--seed", "2"}), "catalog-write-after-3");
  expect_intact(db, before);
  const Outcome o = run(ingest_args(db, "features", {"--seed", "2"}));
  ASSERT_TRUE(exited_with(o.status, 0)) << describe(o.status) << "\n" << o.out;
  const Snapshot after = snapshot(db);
  EXPECT_EQ(integrity(db), "ok");
  ASSERT_EQ(after.size(), 3u) << describe(after);
  EXPECT_NE(after.at("toy.features.seg").run_id, before.at("toy.features.seg").run_id);
  EXPECT_EQ(after.at("toy.features.seg").run_id, after.at("toy.features.cls").run_id);
  EXPECT_TRUE(after.at("glove-toy") == before.at("glove-toy"));
}

}  // namespace
}  // namespace n2v::test
