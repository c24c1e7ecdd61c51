#include "harness.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

#include "catalog/catalog.h"
#include "support/temp_dir.h"
#include "support/toy_fixture.h"

extern char** environ;

namespace n2v::test {

// ---- Child processes ----

Child spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const std::function<void()>& in_child) {
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const std::string& mine : env) replaced |= mine.substr(0, mine.find('=')) == name;
    if (!replaced) environment.push_back(entry);
  }
  environment.insert(environment.end(), env.begin(), env.end());
  std::vector<char*> args, envp;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const std::string& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  Child child;
  child.pid = fork();
  if (child.pid < 0) throw std::runtime_error("fork failed");
  if (child.pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    if (in_child) in_child();
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(fds[1]);
  child.out = fds[0];
  return child;
}

namespace {
// Reads what is available within timeout_ms; false at end of file or timeout.
bool read_some(Child& child, int timeout_ms) {
  pollfd p{child.out, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  char buf[4096];
  const ssize_t n = read(child.out, buf, sizeof buf);
  if (n <= 0) return false;
  child.text.append(buf, static_cast<size_t>(n));
  return true;
}
}  // namespace

bool read_until(Child& child, const std::string& needle, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (child.text.find(needle) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{child.out, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    const ssize_t n = read(child.out, buf, sizeof buf);
    if (n <= 0) return child.text.find(needle) != std::string::npos;  // the child closed it
    child.text.append(buf, static_cast<size_t>(n));
  }
  return true;
}

int finish(Child& child) {
  while (read_some(child, 60'000)) {
  }
  close(child.out);
  child.out = -1;
  int status = 0;
  waitpid(child.pid, &status, 0);
  return status;
}

Outcome run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const std::function<void()>& in_child) {
  Child child = spawn(argv, env, in_child);
  Outcome o;
  o.status = finish(child);
  o.out = child.text;
  return o;
}

bool exited_with(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
bool killed_by(int status, int signal) { return WIFSIGNALED(status) && WTERMSIG(status) == signal; }
std::string describe(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// ---- The toy set-up ----

std::string ingest_binary() { return NET2VEC_INGEST; }
std::string net2vec_binary() { return NET2VEC_BIN; }

std::vector<std::string> ingest_args(const std::string& db, const std::string& layer,
                                     const std::vector<std::string>& extra) {
  const Toy& t = toy();
  std::vector<std::string> a = {ingest_binary(), "--probe", t.probe, "--model", t.model,
                                "--layer", layer, "--network", "toy", "--db", db,
                                "--quantile", "0.125", "--progress", "lines"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::vector<std::string> reference_args(const std::string& db, const std::string& name,
                                        const std::string& file) {
  return {net2vec_binary(), "reference", "vectors", "--db", db, "--name", name, "--file", file};
}

void write_glove(const std::string& path, int seed, int filler) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::uniform_real_distribution<float> value(-1, 1);
  const int dim = filler > 0 ? 50 : 3;
  std::ofstream out(path);
  auto line = [&](const std::string& word) {
    out << word;
    for (int k = 0; k < dim; ++k) out << ' ' << value(rng);
    out << '\n';
  };
  // The filler first: a kill while the file is read lands before the concept words.
  for (int i = 0; i < filler; ++i) line("filler" + std::to_string(i));
  for (const char* word : {"blue", "redsquare", "leaf", "sky", "ground"}) line(word);
  if (!out.good()) throw std::runtime_error("cannot write " + path);
}

const Toy& toy() {
  static std::unique_ptr<TempDir> dir;  // removed when the process exits
  static Toy t;
  if (dir != nullptr) return t;
  dir = std::make_unique<TempDir>();
  std::filesystem::permissions(dir->path(), std::filesystem::perms(0755));  // see setuid tests
  t.dir = dir->path();
  write_toy(t.dir);
  t.probe = dir->file("probe");
  t.model = dir->file("model.pt");
  t.glove = dir->file("glove-toy.txt");
  t.base_catalog = dir->file("base.db");
  write_glove(t.glove, 1);
  const Outcome a = run(ingest_args(t.base_catalog, "features", {"--seed", "1"}));
  if (!exited_with(a.status, 0)) throw std::runtime_error("base ingest failed: " + a.out);
  const Outcome b = run(reference_args(t.base_catalog, "glove-toy", t.glove));
  if (!exited_with(b.status, 0)) throw std::runtime_error("base reference import failed: " + b.out);
  return t;
}

// ---- What a catalog holds ----

Snapshot snapshot(const std::string& db) {
  Catalog catalog = Catalog::open(db);
  Snapshot s;
  for (const SpaceInfo& info : catalog.spaces()) {
    SpaceState& state = s[info.id];
    state.kind = to_string(info.kind);
    state.concept_count = info.concept_count;
    state.dim = info.dim;
    state.run_id = info.run_id;
    state.created_at = info.created_at;
    for (const ConceptVector& v : catalog.vectors(info.id)) state.vectors[v.name] = v.weights;
  }
  return s;
}

std::string integrity(const std::string& db) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> handle(raw, sqlite3_close_v2);
  if (rc != SQLITE_OK) return std::string("cannot open: ") + sqlite3_errstr(rc);
  std::string result;
  for (const char* pragma : {"PRAGMA integrity_check", "PRAGMA foreign_key_check"}) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(raw, pragma, -1, &stmt, nullptr) != SQLITE_OK)
      return std::string(pragma) + ": " + sqlite3_errmsg(raw);
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      result += std::string(result.empty() ? "" : "; ") + pragma + ": " + (text ? text : "NULL");
    }
    sqlite3_finalize(stmt);
    if (step != SQLITE_DONE) return std::string(pragma) + ": " + sqlite3_errmsg(raw);
  }
  // integrity_check answers one row "ok"; foreign_key_check answers none.
  return result == "PRAGMA integrity_check: ok" ? "ok" : result;
}

std::string describe(const Snapshot& s) {
  std::ostringstream out;
  for (const auto& [id, state] : s) {
    out << id << " (" << state.kind << ", " << state.concept_count << " concepts, dim " << state.dim
        << ", run " << state.run_id << ", " << state.created_at << ")";
    if (!state.vectors.empty()) {
      const auto& [name, v] = *state.vectors.begin();
      out << " " << name << "[0] = " << (v.empty() ? 0.0f : v[0]);
    }
    out << "\n";
  }
  return out.str();
}

void expect_intact(const std::string& db, const Snapshot& before) {
  Snapshot after;
  try {
    after = snapshot(db);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "the catalog " << db << " does not open: " << e.what();
    return;
  }
  EXPECT_EQ(integrity(db), "ok") << db;
  EXPECT_EQ(after.size(), before.size()) << "before:\n" << describe(before) << "after:\n" << describe(after);
  EXPECT_TRUE(after == before) << "before:\n" << describe(before) << "after:\n" << describe(after);
}

std::string file_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "missing";
  uint64_t h = 1469598103934665603ull, size = 0;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h = (h ^ static_cast<unsigned char>(buf[i])) * 1099511628211ull;
      ++size;
    }
  }
  std::ostringstream out;
  out << size << ":" << std::hex << h;
  return out.str();
}

void copy_file(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

}  // namespace n2v::test
