// The re-execution protocol of common/process.h: the plan as a pure function of the
// environment, then the real thing through process_settings_probe.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <map>

#include "common/process.h"

namespace n2v {
namespace {

using Env = std::map<std::string, std::string>;
const std::string kLib = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4";

detail::ProcessPlan plan(const Env& env, bool active = false, const std::string& lib = kLib, bool sanitized = false) {
  return detail::plan_process_settings(
      [&env](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
      },
      active, lib, sanitized);
}

// The environment after the plan (nullopt entries removed).
Env applied(Env env, const detail::ProcessPlan& p) {
  for (const auto& [name, value] : p.env) {
    if (value) env[name] = *value;
    else env.erase(name);
  }
  return env;
}

TEST(ProcessPlan, FreshEnvironmentPreloadsTcmallocAndSetsPassiveWaiting) {
  detail::ProcessPlan p = plan({});
  EXPECT_TRUE(p.reexec);
  EXPECT_EQ(p.note, "");
  Env after = applied({}, p);
  EXPECT_EQ(after["OMP_WAIT_POLICY"], "PASSIVE");
  EXPECT_EQ(after["LD_PRELOAD"], kLib);
  EXPECT_EQ(after[detail::kPreloadMarker], "");  // the user had no LD_PRELOAD
  EXPECT_TRUE(after.count("TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD"));

  // The re-executed process (tcmalloc now loaded) puts LD_PRELOAD back and stops there.
  detail::ProcessPlan second = plan(after, /*active=*/true);
  EXPECT_FALSE(second.reexec);
  EXPECT_EQ(second.note, "");
  Env settled = applied(after, second);
  EXPECT_FALSE(settled.count("LD_PRELOAD"));
  EXPECT_FALSE(settled.count(detail::kPreloadMarker));
  EXPECT_EQ(settled["OMP_WAIT_POLICY"], "PASSIVE");
}

TEST(ProcessPlan, UsersPreloadIsKeptAfterOursAndRestored) {
  Env env{{"LD_PRELOAD", "/opt/x.so"}, {"OMP_WAIT_POLICY", "ACTIVE"}};
  detail::ProcessPlan p = plan(env);
  EXPECT_TRUE(p.reexec);
  Env after = applied(env, p);
  EXPECT_EQ(after["LD_PRELOAD"], kLib + ":/opt/x.so");
  EXPECT_EQ(after["OMP_WAIT_POLICY"], "ACTIVE");  // the user's choice
  Env settled = applied(after, plan(after, true));
  EXPECT_EQ(settled["LD_PRELOAD"], "/opt/x.so");
  EXPECT_FALSE(settled.count(detail::kPreloadMarker));
}

TEST(ProcessPlan, NothingToDoWhenBothAreInPlace) {
  detail::ProcessPlan p = plan({{"OMP_WAIT_POLICY", "PASSIVE"}}, /*active=*/true);
  EXPECT_FALSE(p.reexec);
  EXPECT_TRUE(p.env.empty());
  EXPECT_EQ(p.note, "");
}

TEST(ProcessPlan, SystemAllocatorOptsOut) {
  for (const char* value : {"system", "glibc"}) {
    detail::ProcessPlan p = plan({{"NET2VEC_ALLOCATOR", value}, {"OMP_WAIT_POLICY", "PASSIVE"}});
    EXPECT_FALSE(p.reexec) << value;
    EXPECT_TRUE(p.env.empty()) << value;
    EXPECT_EQ(p.note, "") << value;
  }
  // Only the OpenMP setting left to make.
  Env after = applied({{"NET2VEC_ALLOCATOR", "system"}}, plan({{"NET2VEC_ALLOCATOR", "system"}}));
  EXPECT_EQ(after["OMP_WAIT_POLICY"], "PASSIVE");
  EXPECT_FALSE(after.count("LD_PRELOAD"));
}

TEST(ProcessPlan, MissingLibraryRunsOnGlibcWithOneNote) {
  detail::ProcessPlan p = plan({{"OMP_WAIT_POLICY", "PASSIVE"}}, false, "");
  EXPECT_FALSE(p.reexec);
  EXPECT_NE(p.note.find("libtcmalloc-minimal4"), std::string::npos) << p.note;
  EXPECT_EQ(plan({{"OMP_WAIT_POLICY", "PASSIVE"}, {"NET2VEC_ALLOCATOR", "system"}}, false, "").note, "");
}

TEST(ProcessPlan, FailedPreloadDoesNotLoop) {
  // Re-executed, but the loader refused the library: say so, restore, never exec again.
  Env env{{"OMP_WAIT_POLICY", "PASSIVE"}, {"LD_PRELOAD", kLib}, {detail::kPreloadMarker, ""}};
  detail::ProcessPlan p = plan(env, /*active=*/false);
  EXPECT_FALSE(p.reexec);
  EXPECT_NE(p.note.find("could not preload"), std::string::npos) << p.note;
  Env settled = applied(env, p);
  EXPECT_FALSE(settled.count("LD_PRELOAD"));
  EXPECT_FALSE(settled.count(detail::kPreloadMarker));
}

TEST(ProcessPlan, SanitizerBuildsKeepTheirAllocator) {
  detail::ProcessPlan p = plan({{"OMP_WAIT_POLICY", "PASSIVE"}}, false, kLib, /*sanitized=*/true);
  EXPECT_FALSE(p.reexec);
  EXPECT_TRUE(p.env.empty());
  EXPECT_EQ(p.note, "");
}

TEST(ProcessPlan, UnknownChoiceUsesTheDefaultAndSaysSo) {
  detail::ProcessPlan p = plan({{"NET2VEC_ALLOCATOR", "jemalloc"}, {"OMP_WAIT_POLICY", "PASSIVE"}});
  EXPECT_TRUE(p.reexec);
  EXPECT_NE(p.note.find("jemalloc"), std::string::npos) << p.note;
  EXPECT_EQ(applied({}, p)["LD_PRELOAD"], kLib);
}

// --- the real re-execution ---

std::string run_probe(const std::string& env) {
  std::string cmd = "env -u NET2VEC_ALLOCATOR -u LD_PRELOAD -u " + std::string(detail::kPreloadMarker) +
                    " -u OMP_WAIT_POLICY " + env + " " + PROCESS_SETTINGS_PROBE + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "popen failed";
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) out += "\n(exit status " + std::to_string(st) + ")";
  return out;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(ProcessSettings, DefaultRunsOnTcmallocAndChildrenDoNotInheritIt) {
  if (sanitizer_build()) GTEST_SKIP() << "sanitizer build: its own allocator";
  if (find_tcmalloc_library().empty()) GTEST_SKIP() << "tcmalloc not installed (libtcmalloc-minimal4)";
  std::string out = run_probe("");
  EXPECT_TRUE(has(out, "allocator=tcmalloc\n")) << out;
  EXPECT_TRUE(has(out, "LD_PRELOAD=(unset)\n")) << out;
  EXPECT_TRUE(has(out, std::string(detail::kPreloadMarker) + "=(unset)\n")) << out;
  EXPECT_TRUE(has(out, "OMP_WAIT_POLICY=PASSIVE\n")) << out;
  EXPECT_EQ(run_probe("NET2VEC_ALLOCATOR=tcmalloc"), out);
}

TEST(ProcessSettings, UsersPreloadSurvives) {
  if (sanitizer_build()) GTEST_SKIP() << "sanitizer build: its own allocator";
  if (find_tcmalloc_library().empty()) GTEST_SKIP() << "tcmalloc not installed (libtcmalloc-minimal4)";
  // A library the loader cannot find: it says so and goes on, with tcmalloc loaded.
  std::string out = run_probe("LD_PRELOAD=/nonexistent/libnothing.so");
  EXPECT_TRUE(has(out, "allocator=tcmalloc\n")) << out;
  EXPECT_TRUE(has(out, "LD_PRELOAD=/nonexistent/libnothing.so\n")) << out;
}

TEST(ProcessSettings, SystemOptOutRunsOnGlibc) {
  std::string out = run_probe("NET2VEC_ALLOCATOR=system");
  EXPECT_TRUE(has(out, std::string("allocator=") + (sanitizer_build() ? "sanitizer" : "glibc") + "\n")) << out;
  EXPECT_TRUE(has(out, "LD_PRELOAD=(unset)\n")) << out;
  EXPECT_TRUE(has(out, "OMP_WAIT_POLICY=PASSIVE\n")) << out;
  EXPECT_FALSE(has(out, "tcmalloc not found")) << out;
}

TEST(ProcessSettings, AMarkerWithoutTcmallocMeansTheLoaderRefusedIt) {
  if (sanitizer_build()) GTEST_SKIP() << "sanitizer build: its own allocator";
  // As if re-executed with a preload that failed: one note, no second exec, glibc.
  std::string out = run_probe("OMP_WAIT_POLICY=PASSIVE " + std::string(detail::kPreloadMarker) + "=");
  EXPECT_TRUE(has(out, "allocator=glibc\n")) << out;
  EXPECT_TRUE(has(out, "could not preload")) << out;
  EXPECT_TRUE(has(out, std::string(detail::kPreloadMarker) + "=(unset)\n")) << out;
}

}  // namespace
}  // namespace n2v
