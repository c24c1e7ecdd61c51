#pragma once
// Process-level settings that must be in place before libraries initialise.

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace n2v {

// Two settings that only take effect when a process starts, so a program that wants them
// sets them and re-executes itself (/proc/self/exe, same argv), once:
//
//  - OMP_WAIT_POLICY=PASSIVE. LibTorch and OpenBLAS run many short parallel regions; with
//    libgomp's default ACTIVE wait policy their idle threads spin between regions and fight
//    each other (and any other load) for the cores: on 2 cores, training ran 3-20x slower
//    (docs/PERFORMANCE.md). libgomp reads the variable once, when it is loaded. A value the
//    user set is kept.
//  - tcmalloc (gperftools, Debian libtcmalloc-minimal4) as malloc, through LD_PRELOAD.
//    LibTorch's tensors above glibc's 32 MiB mmap ceiling are mapped and unmapped on every
//    batch (~5,100 page faults per image, ~45% of ingest's CPU time in the kernel); tcmalloc
//    keeps them (docs/PERFORMANCE.md, "Allocator"). NET2VEC_ALLOCATOR=system (or glibc)
//    keeps glibc's malloc; tcmalloc (or unset) is the default. When the library is not
//    installed the program runs on glibc and says so once on stderr. Sanitizer builds keep
//    their own allocator. The re-executed process puts LD_PRELOAD back as the user had it,
//    so that programs it starts do not inherit tcmalloc (net2vec-ingest starts none).
//
// Call first thing in main, before any thread starts. Does nothing when neither setting is
// needed; if re-execution fails, carries on in the current process.
void reexec_with_process_settings(char** argv);

// The malloc this process runs on: "tcmalloc" when malloc is tcmalloc's, "sanitizer" in an
// ASan/TSan build, otherwise "glibc". Recorded in ingest runs' parameters.
std::string active_allocator();

// An installed tcmalloc library to preload ("" if none): libtcmalloc_minimal.so.4 or
// libtcmalloc.so.4 in the usual library folders.
std::string find_tcmalloc_library();

// True in an AddressSanitizer or ThreadSanitizer build (they replace malloc themselves).
bool sanitizer_build();

namespace detail {

// The environment variables of the re-execution protocol.
inline constexpr const char* kAllocatorVariable = "NET2VEC_ALLOCATOR";
// Set only between the re-exec and the new process's call: the user's LD_PRELOAD ("" when
// it was unset).
inline constexpr const char* kPreloadMarker = "NET2VEC_REEXEC_LD_PRELOAD";

struct ProcessPlan {
  bool reexec = false;
  // Environment changes, in order: value, or nullopt to unset.
  std::vector<std::pair<std::string, std::optional<std::string>>> env;
  std::string note;  // one line for stderr (without the program name), or ""
};

// What reexec_with_process_settings does, as a pure function of the environment (getenv),
// whether malloc is already tcmalloc's, the library found ("" if none) and whether this is
// a sanitizer build. The note is printed only by a process that does not re-execute.
ProcessPlan plan_process_settings(const std::function<const char*(const char*)>& getenv, bool tcmalloc_active,
                                  const std::string& tcmalloc_library, bool sanitized);

}  // namespace detail
}  // namespace n2v
