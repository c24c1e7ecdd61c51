// A real crash: catalog_crash_writer rewrites two spaces in a loop, each write with new
// values, and is SIGKILLed at various moments. Afterwards the catalog must open and hold
// one complete write, both spaces from the same one, never a mix: the last one the writer
// reported done, or the one it had started (a kill after COMMIT, during the checkpoint
// that follows it, before the writer could say so).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "catalog/catalog.h"
#include "raw_sql.h"
#include "support/records.h"
#include "support/temp_dir.h"

extern char** environ;

namespace n2v {
namespace {

struct Child {
  pid_t pid = -1;
  int out = -1;  // the read end of its stdout
};

Child spawn_writer(const std::string& db, long first) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::string program = CATALOG_CRASH_WRITER, file = db, start = std::to_string(first);
  char* argv[] = {program.data(), file.data(), start.data(), nullptr};
  Child child;
  const int rc = posix_spawn(&child.pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) throw std::runtime_error("cannot start " + program);
  child.out = fds[0];
  return child;
}

// One line from fd, without the newline; false at end of file.
bool read_line(int fd, std::string& line) {
  line.clear();
  char c;
  while (read(fd, &c, 1) == 1) {
    if (c == '\n') return true;
    line += c;
  }
  return !line.empty();
}

struct Version {
  uint64_t seg = 0, cls = 0;  // vector checksums
  int embedded = 0, images = 0, subsets = 0, filters = 0;
};

Version expected(long version) {
  const test::RecordShape shape = test::crash_shape(version);
  const IngestRecord record = test::make_record(shape);
  Version v{0, 0, shape.embedded, shape.images, shape.subsets, shape.filters};
  for (const SpaceRecord& space : record.spaces)
    (space.task == Task::kSegmentation ? v.seg : v.cls) = test::checksum(space);
  return v;
}

// Checks that the file holds exactly write `want`, in every table.
void expect_complete_version(const std::string& path, const Version& want) {
  Catalog catalog = Catalog::open(path);  // a read-write open, as the next ingest would do
  const std::vector<ConceptVector> seg = catalog.vectors("crash.conv5.seg");
  const std::vector<ConceptVector> cls = catalog.vectors("crash.conv5.cls");
  EXPECT_EQ(seg.size(), static_cast<size_t>(want.embedded));
  EXPECT_EQ(cls.size(), static_cast<size_t>(want.embedded));
  EXPECT_EQ(test::checksum(seg), want.seg);
  EXPECT_EQ(test::checksum(cls), want.cls);
  test::RawDb db(path);
  EXPECT_EQ(db.value("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(db.rows("PRAGMA foreign_key_check").size(), 0u);
  EXPECT_EQ(db.count("space"), 2);
  EXPECT_EQ(db.count("embedding"), 2 * want.embedded);
  EXPECT_EQ(db.count("subset_score"), 2 * want.embedded * want.subsets);
  EXPECT_EQ(db.count("image_iou"), want.embedded * want.images);
  EXPECT_EQ(db.count("run"), 1);  // the replaced run went in the same transaction
  EXPECT_EQ(db.count("threshold"), want.filters);
}

TEST(CatalogCrash, SigkillDuringWriteLeavesTheOldOrTheNewRecord) {
  test::TempDir dir;
  const std::string path = dir.file("catalog.db");
  long stored = 0;  // the write the file holds
  Catalog::open(path).write_ingest(test::make_record(test::crash_shape(stored)));

  int interrupted = 0, reads_during_writes = 0;
  for (int delay_ms : {0, 15, 35, 60, 90, 130, 180, 240, 310, 400, 500, 600}) {
    SCOPED_TRACE("kill after " + std::to_string(delay_ms) + " ms");
    const long first = stored + 1;
    Child child = spawn_writer(path, first);
    std::string line;
    ASSERT_TRUE(read_line(child.out, line)) << "the writer died before writing";
    ASSERT_EQ(line, "start " + std::to_string(first));

    // Readers keep working while the writer holds its transaction (WAL), and always see a
    // whole committed write.
    {
      std::vector<uint64_t> whole_writes;  // what a reader may see
      for (long v = stored; v < first + 50; ++v) whole_writes.push_back(expected(v).seg);
      Catalog reader = Catalog::open(path, Catalog::Mode::kReadOnly);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
      do {
        const std::vector<ConceptVector> seen = reader.vectors("crash.conv5.seg");
        EXPECT_NE(std::find(whole_writes.begin(), whole_writes.end(), test::checksum(seen)),
                  whole_writes.end())
            << "a reader saw " << seen.size() << " vectors of no write";
        ++reads_during_writes;
      } while (std::chrono::steady_clock::now() < deadline);
    }
    ASSERT_EQ(kill(child.pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
    // It must have died by our signal, not by an error of its own.
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;

    // The writer's last words: after "done K" the file must hold write K; after "start K",
    // write K-1 (K interrupted) or K (killed between COMMIT and saying so).
    std::string last = line;
    while (read_line(child.out, line)) last = line;
    close(child.out);
    const bool started = last.rfind("start ", 0) == 0;
    const long k = std::stol(last.substr(last.find(' ') + 1));
    long holds = k;
    if (started) {
      const uint64_t sum = test::checksum(Catalog::open(path).vectors("crash.conv5.seg"));
      if (sum == expected(k - 1).seg) holds = k - 1;
      interrupted += holds == k - 1;
    }
    std::printf("kill after %d ms: writer's last line '%s', file holds write %ld\n", delay_ms,
                last.c_str(), holds);
    expect_complete_version(path, expected(holds));
    stored = holds;
  }
  // Writing is nearly all the writer does, so most kills land inside a transaction.
  EXPECT_GE(interrupted, 6);
  EXPECT_GT(reads_during_writes, 0);
}

}  // namespace
}  // namespace n2v
