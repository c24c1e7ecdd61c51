#pragma once
// What the reliability tests share: running the real binaries as child processes (output
// read line by line, so a test can kill a child when a stage line appears), a toy catalog
// built once per test binary, and the checks every fault ends with: the catalog opens,
// PRAGMA integrity_check says ok, and every space holds exactly what it held before.

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace n2v::test {

// ---- Child processes ----

struct Child {
  pid_t pid = -1;
  int out = -1;       // read end of the child's stdout and stderr together
  std::string text;   // what has been read from `out` so far
};

// Starts argv[0] with argv, the current environment plus `env` ("NAME=value"), stdout and
// stderr into one pipe. `in_child` runs in the child between fork and exec (async-signal-safe
// calls only: setrlimit, signal, setuid, ...).
Child spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
            const std::function<void()>& in_child = {});
// Reads until `needle` appears in the output or timeout_s passes; true when it appeared.
bool read_until(Child& child, const std::string& needle, double timeout_s);
// Reads the rest of the output and reaps the child; returns the wait status.
int finish(Child& child);

struct Outcome {
  int status = -1;   // wait status
  std::string out;   // stdout and stderr
};
Outcome run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
            const std::function<void()>& in_child = {});

bool exited_with(int status, int code);
bool killed_by(int status, int signal);
std::string describe(int status);  // "exit 4", "signal 9"

// ---- The toy set-up ----

// The paths of the binaries under test.
std::string ingest_binary();
std::string net2vec_binary();

// Written once per process (first call): the toy probe set and TorchScript network
// (support/toy_fixture.h), a small GloVe-style file for the toy concepts, and a base catalog:
// toy.features.seg and toy.features.cls (seed 1) and the reference space glove-toy.
struct Toy {
  std::string dir, probe, model, glove, base_catalog;
};
const Toy& toy();

// The ingest's arguments for the toy network into `db` (progress as plain lines).
std::vector<std::string> ingest_args(const std::string& db, const std::string& layer = "features",
                                     const std::vector<std::string>& extra = {});
// `net2vec reference vectors --db db --name name --file file`.
std::vector<std::string> reference_args(const std::string& db, const std::string& name,
                                        const std::string& file);

// Writes a GloVe text file with the toy concept words (values from `seed`) and `filler`
// further words no concept uses, 50 values each when filler > 0 (3 otherwise).
void write_glove(const std::string& path, int seed, int filler = 0);

// ---- What a catalog holds ----

struct SpaceState {
  std::string kind;
  int concept_count = 0, dim = 0;
  int64_t run_id = 0;
  std::string created_at;
  std::map<std::string, std::vector<float>> vectors;  // by concept name
  bool operator==(const SpaceState&) const = default;
};
using Snapshot = std::map<std::string, SpaceState>;  // by space id

// Every space with every vector, read through Catalog (read-write open, as the next ingest
// would: that also runs SQLite's recovery of a killed writer).
Snapshot snapshot(const std::string& db);
// PRAGMA integrity_check (and foreign_key_check) through a plain SQLite connection:
// "ok" or what they report.
std::string integrity(const std::string& db);
// Checks the catalog opens, is intact and holds `before` exactly (gtest expectations).
void expect_intact(const std::string& db, const Snapshot& before);
std::string describe(const Snapshot& s);

// FNV-1a 64 of the file's bytes, with its size: "size:hash".
std::string file_hash(const std::string& path);
void copy_file(const std::string& from, const std::string& to);

}  // namespace n2v::test
