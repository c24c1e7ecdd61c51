#pragma once
// Runs a shell command line (a binary under test with its arguments) and returns its exit
// status and its stdout and stderr together: the end-to-end tests' way to drive net2vec-ingest.

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace n2v::test {

struct CommandResult {
  int status = -1;  // exit status; -1 when it did not exit normally (or could not start)
  std::string out;  // stdout and stderr together
};

inline CommandResult run_command(const std::string& command_line) {
  const std::string cmd = command_line + " 2>&1";
  CommandResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace n2v::test
