// Concurrent use of one catalog: the real HTTP server (in process, loopback, an ephemeral
// port) keeps answering while the real net2vec-ingest and `net2vec reference` commit into
// the same file, and shows each new space only whole; two ingests at once both land; an
// ingest that finds the write lock held waits for it (SQLite's busy timeout, 5 s) and fails
// clearly when it is not released in time. Every loop is bounded in requests and time.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "catalog/catalog.h"
#include "harness.h"
#include "server/server.h"
#include "support/http_client.h"
#include "support/temp_dir.h"

namespace n2v::test {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class Concurrent : public ::testing::Test {
 protected:
  void SetUp() override {
    db = dir.file("catalog.db");
    copy_file(toy().base_catalog, db);
    before = snapshot(db);
  }
  TempDir dir;
  std::string db;
  Snapshot before;
};

// What one client saw.
struct Seen {
  int requests = 0, during_writes = 0;
  double max_ms = 0;
  std::vector<std::string> failures;
  // Per /api/spaces answer, in order: space id -> concept count.
  std::vector<std::map<std::string, int>> listings;
  std::map<std::string, std::set<std::string>> neighbor_bodies;  // 200 bodies per target
};

TEST_F(Concurrent, ServerAnswersWhileAnIngestAndAReferenceImportCommit) {
  const std::string glove = dir.file("glove-new.txt");
  write_glove(glove, 7);
  Catalog catalog = Catalog::open(db, Catalog::Mode::kReadOnly);
  ServerOptions options;
  options.port = 0;
  options.threads = 2;
  options.quiet = true;
  options.web_root = "";
  Server server(catalog, options);
  server.start();
  const int port = server.port();

  // The existing space is never written here: its answer must not change. The new spaces
  // answer 404 (JSON) until they exist, then always the same body.
  const std::string existing = "/api/neighbors?space=toy.features.seg&concept=redsquare&k=2";
  const std::vector<std::string> fresh = {"/api/neighbors?space=toy.coarse.seg&concept=redsquare&k=2",
                                          "/api/neighbors?space=toy.coarse.cls&concept=leaf&k=2",
                                          "/api/neighbors?space=glove-new&concept=leaf&k=2"};
  const HttpResult reference_answer = http_request(port, "GET", existing);
  ASSERT_EQ(reference_answer.status, 200) << reference_answer.body;

  std::atomic<bool> writing{false}, stop{false};
  constexpr int kMaxRequests = 20000;  // per client; a 1 ms pause between requests
  constexpr auto kTimeLimit = std::chrono::seconds(45);
  const auto t0 = Clock::now();
  auto client = [&](Seen& seen) {
    try {
      HttpConnection conn(port);
      std::vector<std::string> targets = {"/api/spaces", existing};
      targets.insert(targets.end(), fresh.begin(), fresh.end());
      for (size_t i = 0; !stop && seen.requests < kMaxRequests && Clock::now() - t0 < kTimeLimit; ++i) {
        if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        const std::string& target = targets[i % targets.size()];
        const bool during = writing;
        const auto start = Clock::now();
        const HttpResult r = conn.request("GET", target);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        ++seen.requests;
        seen.during_writes += during;
        seen.max_ms = std::max(seen.max_ms, ms);
        const json body = json::parse(r.body, nullptr, false);
        if (body.is_discarded()) {
          seen.failures.push_back(target + ": status " + std::to_string(r.status) + ", not JSON: " + r.body.substr(0, 200));
          continue;
        }
        if (target == "/api/spaces") {
          if (r.status != 200) {
            seen.failures.push_back(target + ": status " + std::to_string(r.status) + " " + r.body);
            continue;
          }
          std::map<std::string, int> listing;
          for (const json& s : body["spaces"]) listing[s["id"].get<std::string>()] = s["concept_count"].get<int>();
          seen.listings.push_back(std::move(listing));
        } else if (target == existing) {
          if (r.status != 200 || r.body != reference_answer.body)
            seen.failures.push_back(target + ": status " + std::to_string(r.status) + " " + r.body);
        } else if (r.status == 200) {
          seen.neighbor_bodies[target].insert(r.body);
        } else if (r.status != 404 || !body.contains("error") || body["error"]["code"] != "not_found") {
          seen.failures.push_back(target + ": status " + std::to_string(r.status) + " " + r.body);
        }
      }
    } catch (const std::exception& e) {
      seen.failures.push_back(std::string("client: ") + e.what());
    }
  };
  Seen a, b;
  std::thread ta(client, std::ref(a)), tb(client, std::ref(b));

  // The ingest (a new layer: toy.coarse.seg and .cls) and the reference import (glove-new)
  // run at the same time, into the catalog the server reads.
  writing = true;
  const auto w0 = Clock::now();
  Child ingest = spawn(ingest_args(db, "coarse", {"--seed", "2"}));
  Child reference = spawn(reference_args(db, "glove-new", glove));
  const int reference_status = finish(reference);
  const int ingest_status = finish(ingest);
  const double write_s = std::chrono::duration<double>(Clock::now() - w0).count();
  writing = false;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a few answers after both
  stop = true;
  ta.join();
  tb.join();
  server.stop();

  ASSERT_TRUE(exited_with(ingest_status, 0)) << describe(ingest_status) << "\n" << ingest.text;
  ASSERT_TRUE(exited_with(reference_status, 0)) << describe(reference_status) << "\n" << reference.text;
  const Snapshot after = snapshot(db);
  EXPECT_EQ(integrity(db), "ok");
  ASSERT_EQ(after.size(), 6u) << describe(after);
  for (const auto& [id, state] : before) EXPECT_TRUE(after.at(id) == state) << id;
  const std::map<std::string, int> final_counts = {
      {"toy.coarse.seg", after.at("toy.coarse.seg").concept_count},
      {"toy.coarse.cls", after.at("toy.coarse.cls").concept_count},
      {"glove-new", after.at("glove-new").concept_count}};

  for (Seen* seen : {&a, &b}) {
    for (const std::string& f : seen->failures) ADD_FAILURE() << f;
    EXPECT_GT(seen->during_writes, 0) << "no request was answered while the writers ran";
    std::set<std::string> listed;  // new spaces seen so far by this client
    for (const auto& listing : seen->listings) {
      for (const auto& [id, count] : final_counts) {
        const bool now = listing.count(id) != 0;
        // Whole when listed, and never gone again once listed.
        if (now) EXPECT_EQ(listing.at(id), count) << id;
        EXPECT_TRUE(now || listed.count(id) == 0) << id << " was listed, then not";
        if (now) listed.insert(id);
      }
      // One transaction wrote both spaces of the layer: never one without the other.
      EXPECT_EQ(listing.count("toy.coarse.seg"), listing.count("toy.coarse.cls"));
      for (const auto& [id, state] : before) EXPECT_EQ(listing.count(id), 1u) << id;
    }
    EXPECT_EQ(listed.size(), 3u) << "the client never saw every new space";
  }
  // Every 200 answer about a new space is the final one.
  for (const std::string& target : fresh) {
    const HttpResult final_answer = [&] {
      Server again(catalog, options);
      again.start();
      return http_request(again.port(), "GET", target);
    }();
    EXPECT_EQ(final_answer.status, 200) << target << " " << final_answer.body;
    for (Seen* seen : {&a, &b})
      for (const std::string& body : seen->neighbor_bodies[target]) EXPECT_EQ(body, final_answer.body) << target;
  }
  std::printf("writers ran %.2f s; %d + %d requests, %d + %d of them during the writes; "
              "slowest answer %.1f ms; %zu + %zu /api/spaces listings\n",
              write_s, a.requests, b.requests, a.during_writes, b.during_writes, std::max(a.max_ms, b.max_ms),
              a.listings.size(), b.listings.size());
}

// Which run a space belongs to, and that run's seed.
int64_t seed_of(Catalog& catalog, const std::string& space) {
  return catalog.run(catalog.space(space)->run_id).seed;
}

TEST_F(Concurrent, TwoIngestsAtOnceBothLand) {
  // Different layers: both must land. Started together, their catalog writes overlap or
  // queue on SQLite's write lock (BEGIN IMMEDIATE, busy timeout).
  Child one = spawn(ingest_args(db, "features", {"--seed", "3"}));
  Child two = spawn(ingest_args(db, "coarse", {"--seed", "4"}));
  const int s1 = finish(one), s2 = finish(two);
  EXPECT_TRUE(exited_with(s1, 0)) << describe(s1) << "\n" << one.text;
  EXPECT_TRUE(exited_with(s2, 0)) << describe(s2) << "\n" << two.text;
  EXPECT_EQ(integrity(db), "ok");
  Catalog catalog = Catalog::open(db);
  EXPECT_EQ(catalog.spaces().size(), 5u);
  EXPECT_EQ(seed_of(catalog, "toy.features.seg"), 3);
  EXPECT_EQ(seed_of(catalog, "toy.features.cls"), 3);
  EXPECT_EQ(seed_of(catalog, "toy.coarse.seg"), 4);
  EXPECT_EQ(seed_of(catalog, "toy.coarse.cls"), 4);
  EXPECT_EQ(catalog.vectors("glove-toy").size(), before.at("glove-toy").vectors.size());
}

TEST_F(Concurrent, TwoIngestsOfTheSameSpaceLeaveOneWholeRun) {
  Child one = spawn(ingest_args(db, "features", {"--seed", "3"}));
  Child two = spawn(ingest_args(db, "features", {"--seed", "4"}));
  const int s1 = finish(one), s2 = finish(two);
  EXPECT_TRUE(exited_with(s1, 0)) << describe(s1) << "\n" << one.text;
  EXPECT_TRUE(exited_with(s2, 0)) << describe(s2) << "\n" << two.text;
  EXPECT_EQ(integrity(db), "ok");
  Catalog catalog = Catalog::open(db);
  EXPECT_EQ(catalog.spaces().size(), 3u);
  // The last commit wins whole: both spaces from one run, never a mix.
  const int64_t seed = seed_of(catalog, "toy.features.seg");
  EXPECT_TRUE(seed == 3 || seed == 4) << seed;
  EXPECT_EQ(catalog.space("toy.features.seg")->run_id, catalog.space("toy.features.cls")->run_id);
}

// Holds the catalog's write lock (BEGIN IMMEDIATE on a connection of its own).
class WriteLock {
 public:
  explicit WriteLock(const std::string& db) {
    sqlite3_open(db.c_str(), &db_);
    sqlite3_busy_timeout(db_, 5000);
    locked_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~WriteLock() {
    release();
    sqlite3_close_v2(db_);
  }
  bool locked() const { return locked_; }
  void release() {
    if (locked_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    locked_ = false;
  }

 private:
  sqlite3* db_ = nullptr;
  bool locked_ = false;
};

TEST_F(Concurrent, AnIngestWaitsForTheWriteLock) {
  // Another writer holds the lock when the ingest comes to write, and lets go 1 s later:
  // the ingest waits (busy timeout) and lands.
  WriteLock lock(db);
  ASSERT_TRUE(lock.locked());
  Child child = spawn(ingest_args(db, "features", {"--seed", "3"}));
  ASSERT_TRUE(read_until(child, "[classification training] done", 40)) << child.text;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  lock.release();
  const int status = finish(child);
  EXPECT_TRUE(exited_with(status, 0)) << describe(status) << "\n" << child.text;
  EXPECT_EQ(integrity(db), "ok");
  Catalog catalog = Catalog::open(db);
  EXPECT_EQ(seed_of(catalog, "toy.features.seg"), 3);
}

TEST_F(Concurrent, AnIngestFailsClearlyWhenTheWriteLockIsNeverReleased) {
  WriteLock lock(db);
  ASSERT_TRUE(lock.locked());
  const auto t0 = Clock::now();
  const Outcome o = run(ingest_args(db, "features", {"--seed", "3"}));
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  lock.release();
  EXPECT_TRUE(exited_with(o.status, 4)) << describe(o.status) << "\n" << o.out;
  EXPECT_TRUE(has(o.out, db)) << o.out;
  EXPECT_TRUE(has(o.out, "database is locked")) << o.out;
  EXPECT_TRUE(has(o.out, "another process kept the catalog locked")) << o.out;
  std::printf("ingest gave up after %.1f s: %s", s, o.out.substr(o.out.rfind("error:")).c_str());
  expect_intact(db, before);
}

}  // namespace
}  // namespace n2v::test
