// Bad files and a full disk under the real binaries: a catalog on a full file system (a small
// tmpfs, as root) or over the file size limit (RLIMIT_FSIZE, any user), a read-only catalog
// file or folder, a catalog written by a newer schema, a file that is not SQLite, a truncated
// safetensors model. Each must end with the documented exit status (common/exit_codes.h), a
// message that names the file, and nothing lost: the catalog file byte-identical (size and
// FNV-1a hash) and, where it is a catalog, every space as before.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "harness.h"
#include "support/temp_dir.h"

namespace n2v::test {
namespace {

namespace fs = std::filesystem;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void sql(const std::string& db, const std::string& statement) {
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  const int rc = sqlite3_exec(raw, statement.c_str(), nullptr, nullptr, nullptr);
  EXPECT_EQ(rc, SQLITE_OK) << statement << ": " << sqlite3_errmsg(raw);
  sqlite3_close_v2(raw);
}

class Files : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::permissions(dir.path(), fs::perms(0755));  // the setuid runs below must enter it
    db = dir.file("catalog.db");
    copy_file(toy().base_catalog, db);
  }
  // The catalog's state now: its spaces and its bytes.
  void remember() {
    before = snapshot(db);
    hash = file_hash(db);
  }
  // `o` failed with exit status `code` and a message naming `file` and every one of `words`;
  // the catalog's bytes did not change.
  void expect_clear_failure(const Outcome& o, int code, const std::string& file,
                            const std::vector<std::string>& words = {}) {
    EXPECT_TRUE(exited_with(o.status, code)) << "expected exit " << code << ", got " << describe(o.status)
                                             << "\n" << o.out;
    EXPECT_TRUE(has(o.out, file)) << "the message does not name " << file << ":\n" << o.out;
    for (const std::string& w : words) EXPECT_TRUE(has(o.out, w)) << "no '" << w << "' in:\n" << o.out;
    EXPECT_EQ(file_hash(db), hash) << db << " changed";
    std::printf("exit %d: %s", code, o.out.substr(o.out.rfind("error:") == std::string::npos ? 0 : o.out.rfind("error:")).c_str());
  }

  TempDir dir;
  std::string db;
  Snapshot before;
  std::string hash;
};

TEST_F(Files, FullFileSystemWhileWritingTheCatalog) {
  if (geteuid() != 0)
    GTEST_SKIP() << "mounting a small tmpfs needs root; FileSizeLimitWhileWritingTheCatalog "
                    "covers a write that cannot grow the file without it";
  const std::string small = dir.file("small");
  fs::create_directory(small);
  // Room for the catalog, SQLite's 32 KiB shared-memory index and one WAL frame, no more.
  const uintmax_t bytes = (fs::file_size(db) + 32768 + 8192 + 4095) / 4096 * 4096;
  const std::string options = "size=" + std::to_string(bytes);
  if (mount("tmpfs", small.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0)
    GTEST_SKIP() << "cannot mount a tmpfs (" << std::strerror(errno) << "), e.g. in a container without CAP_SYS_ADMIN";
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{small};
  const std::string full_db = small + "/catalog.db";
  copy_file(db, full_db);
  db = full_db;
  remember();

  const Outcome o = run(ingest_args(db, "features", {"--seed", "2"}));
  expect_clear_failure(o, 4, db, {"database or disk is full"});
  expect_intact(db, before);
  // And once there is room again, the same ingest lands.
  ASSERT_EQ(mount(nullptr, small.c_str(), nullptr, MS_REMOUNT | MS_NOSUID | MS_NODEV, "size=16m"), 0)
      << std::strerror(errno);
  const Outcome again = run(ingest_args(db, "features", {"--seed", "2"}));
  EXPECT_TRUE(exited_with(again.status, 0)) << describe(again.status) << "\n" << again.out;
  EXPECT_EQ(integrity(db), "ok");
  EXPECT_NE(snapshot(db).at("toy.features.seg").run_id, before.at("toy.features.seg").run_id);
}

TEST_F(Files, FileSizeLimitWhileWritingTheCatalog) {
  remember();
  // Files may grow to 36 KiB: SQLite's shared-memory index (32 KiB) and a WAL of 4 pages,
  // less than the ingest writes. Layer "coarse" keeps the activation cache under it too.
  const Outcome o = run(ingest_args(db, "coarse", {"--seed", "2"}), {}, [] {
    signal(SIGXFSZ, SIG_IGN);  // the write fails with EFBIG instead of killing the process
    const rlimit limit{36864, 36864};
    setrlimit(RLIMIT_FSIZE, &limit);
  });
  expect_clear_failure(o, 4, db, {"disk I/O error", "file size limit"});
  expect_intact(db, before);
}

// As root, permissions do not stop a writer: the child gives its root up first.
void drop_root() {
  if (geteuid() == 0) {
    setgroups(0, nullptr);
    setgid(65534);
    setuid(65534);
  }
}

TEST_F(Files, ReadOnlyCatalogFile) {
  remember();
  fs::permissions(db, fs::perms(0444));
  const Outcome o = run(ingest_args(db, "features", {"--seed", "2"}), {}, drop_root);
  expect_clear_failure(o, 4, db, {"not writable"});
  const std::string glove = dir.file("glove-2.txt");
  write_glove(glove, 2);
  const Outcome r = run(reference_args(db, "glove-toy", glove), {}, drop_root);
  expect_clear_failure(r, 4, db, {"not writable"});
  fs::permissions(db, fs::perms(0644));
  expect_intact(db, before);
}

TEST_F(Files, CatalogInAReadOnlyFolder) {
  remember();
  fs::permissions(dir.path(), fs::perms(0555));
  const Outcome o = run(ingest_args(db, "features", {"--seed", "2"}), {}, drop_root);
  fs::permissions(dir.path(), fs::perms(0755));
  expect_clear_failure(o, 4, db, {"not writable"});
  expect_intact(db, before);
}

TEST_F(Files, CatalogOfANewerSchemaVersion) {
  sql(db, "PRAGMA user_version = 999");
  hash = file_hash(db);
  const Outcome o = run(ingest_args(db, "features", {"--seed", "2"}));
  expect_clear_failure(o, 6, db, {"schema version 999", "newer"});
  const Outcome r = run(reference_args(db, "glove-toy", toy().glove));
  expect_clear_failure(r, 6, db, {"newer"});
  const Outcome s = run({net2vec_binary(), "spaces", "--db", db});
  expect_clear_failure(s, 6, db, {"newer"});
}

TEST_F(Files, FilesThatAreNotACatalog) {
  std::mt19937 rng(5);
  std::string random(8192, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  std::string text;
  for (int i = 0; i < 100; ++i) text += "dog,cat,leaf,sky,ground " + std::to_string(i) + "\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"random bytes", random},
      {"a text file", text},
      {"a short text file", "id,name\n1,dog\n"},
  };
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    { std::ofstream(db, std::ios::binary | std::ios::trunc) << bytes; }
    hash = file_hash(db);
    const Outcome o = run(ingest_args(db, "features", {"--seed", "2"}));
    expect_clear_failure(o, 5, db, {"not a net2vec catalog"});
    const Outcome r = run(reference_args(db, "glove-toy", toy().glove));
    expect_clear_failure(r, 5, db, {"not a net2vec catalog"});
    const Outcome s = run({net2vec_binary(), "spaces", "--db", db});
    expect_clear_failure(s, 5, db, {"not a net2vec catalog"});
  }
  // An SQLite database of another program.
  fs::remove(db);
  sql(db, "CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes(text) VALUES ('keep me')");
  hash = file_hash(db);
  const Outcome o = run(ingest_args(db, "features", {"--seed", "2"}));
  expect_clear_failure(o, 5, db, {"not a net2vec catalog"});
}

// A u64 little-endian header length, the JSON header, the data.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

TEST_F(Files, TruncatedSafetensorsModel) {
  remember();
  const std::string header =
      R"({"__metadata__":{"architecture":"mobilenet_v2"},)"
      R"("Conv1/kernel":{"dtype":"F32","shape":[3,3,3,32],"data_offsets":[0,3456]}})";
  const std::string whole = safetensors_bytes(header, std::string(3456, '\1'));
  const std::string model = dir.file("mobilenet.safetensors");
  // Cut in the data, in the header, and in the length prefix.
  for (size_t keep : {whole.size() - 1000, size_t{40}, size_t{5}}) {
    SCOPED_TRACE("kept " + std::to_string(keep) + " bytes");
    { std::ofstream(model, std::ios::binary | std::ios::trunc) << whole.substr(0, keep); }
    std::vector<std::string> args = ingest_args(db, "block_1_expand_relu", {"--seed", "2"});
    for (size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i] == "--model") args[i + 1] = model;
    const Outcome o = run(args);
    expect_clear_failure(o, 5, model);
  }
  expect_intact(db, before);
}

}  // namespace
}  // namespace n2v::test
