#include "common/process.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define N2V_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define N2V_SANITIZED 1
#endif

namespace n2v {
namespace detail {

ProcessPlan plan_process_settings(const std::function<const char*(const char*)>& getenv, bool tcmalloc_active,
                                  const std::string& tcmalloc_library, bool sanitized) {
  ProcessPlan plan;
  auto add_note = [&plan](const std::string& text) { plan.note += (plan.note.empty() ? "" : "; ") + text; };

  if (getenv("OMP_WAIT_POLICY") == nullptr) {
    plan.env.emplace_back("OMP_WAIT_POLICY", "PASSIVE");
    plan.reexec = true;
  }

  bool want_tcmalloc = true;
  if (const char* choice = getenv(kAllocatorVariable)) {
    const std::string value = choice;
    if (value == "system" || value == "glibc") {
      want_tcmalloc = false;
    } else if (!value.empty() && value != "tcmalloc") {
      add_note(std::string(kAllocatorVariable) + "='" + value + "' is neither tcmalloc nor system: using tcmalloc");
    }
  }

  if (const char* saved = getenv(kPreloadMarker)) {
    // The re-executed process: tcmalloc is loaded (or the loader refused it); put the
    // user's LD_PRELOAD back so that child processes do not inherit ours, and never
    // re-execute for the allocator again.
    plan.env.emplace_back("LD_PRELOAD", *saved ? std::optional<std::string>(saved) : std::nullopt);
    plan.env.emplace_back(kPreloadMarker, std::nullopt);
    if (want_tcmalloc && !tcmalloc_active && !sanitized)
      add_note("could not preload " + (tcmalloc_library.empty() ? std::string("tcmalloc") : tcmalloc_library) +
               ": running on glibc's malloc");
  } else if (want_tcmalloc && !tcmalloc_active && !sanitized) {
    if (tcmalloc_library.empty()) {
      add_note(
          "tcmalloc not found (Debian package libtcmalloc-minimal4): running on glibc's malloc, several times "
          "slower for LibTorch's large tensors (docs/PERFORMANCE.md); NET2VEC_ALLOCATOR=system silences this");
    } else {
      const char* user = getenv("LD_PRELOAD");
      const std::string user_preload = user ? user : "";
      plan.env.emplace_back(kPreloadMarker, user_preload);
      plan.env.emplace_back("LD_PRELOAD",
                            user_preload.empty() ? tcmalloc_library : tcmalloc_library + ":" + user_preload);
      // tcmalloc reports every allocation above 1 GiB on stderr by default ("tcmalloc:
      // large alloc ..."); BRODEN-sized activation tensors are that large, on purpose.
      if (getenv("TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD") == nullptr)
        plan.env.emplace_back("TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD", "1125899906842624");  // 1 PiB
      plan.reexec = true;
    }
  }
  return plan;
}

}  // namespace detail

bool sanitizer_build() {
#ifdef N2V_SANITIZED
  return true;
#else
  return false;
#endif
}

std::string find_tcmalloc_library() {
#if defined(__x86_64__)
  const char* multiarch = "x86_64-linux-gnu";
#elif defined(__aarch64__)
  const char* multiarch = "aarch64-linux-gnu";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const char* multiarch = "powerpc64le-linux-gnu";
#else
  const char* multiarch = nullptr;
#endif
  std::vector<std::string> folders;
  if (multiarch) {
    folders.push_back(std::string("/usr/lib/") + multiarch);
    folders.push_back(std::string("/lib/") + multiarch);
  }
  for (const char* f : {"/usr/lib64", "/usr/lib", "/usr/local/lib", "/usr/local/lib64"}) folders.emplace_back(f);
  for (const char* name : {"libtcmalloc_minimal.so.4", "libtcmalloc.so.4"})
    for (const std::string& folder : folders) {
      const std::string path = folder + "/" + name;
      if (access(path.c_str(), R_OK) == 0) return path;
    }
  return "";
}

std::string active_allocator() {
  void* tc_malloc = dlsym(RTLD_DEFAULT, "tc_malloc");
  if (tc_malloc != nullptr && tc_malloc == dlsym(RTLD_DEFAULT, "malloc")) return "tcmalloc";
  return sanitizer_build() ? "sanitizer" : "glibc";
}

void reexec_with_process_settings(char** argv) {
  const detail::ProcessPlan plan =
      detail::plan_process_settings([](const char* name) { return std::getenv(name); },
                                    active_allocator() == "tcmalloc", find_tcmalloc_library(), sanitizer_build());
  std::vector<std::pair<std::string, std::optional<std::string>>> previous;
  for (const auto& [name, value] : plan.env) {
    const char* old = std::getenv(name.c_str());
    previous.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    if (value) setenv(name.c_str(), value->c_str(), 1);
    else unsetenv(name.c_str());
  }
  if (plan.reexec) {
    execv("/proc/self/exe", argv);
    // Only reached if exec failed: carry on in the current process, environment as it was.
    for (auto it = previous.rbegin(); it != previous.rend(); ++it) {
      if (it->second) setenv(it->first.c_str(), it->second->c_str(), 1);
      else unsetenv(it->first.c_str());
    }
  }
  if (!plan.note.empty()) {
    const char* slash = argv[0] ? std::strrchr(argv[0], '/') : nullptr;
    std::fprintf(stderr, "%s: %s\n", slash ? slash + 1 : (argv[0] ? argv[0] : "net2vec"), plan.note.c_str());
  }
}

}  // namespace n2v
