#include "probe/probe_folders.h"

#include <filesystem>

#include "common/error.h"
#include "probe/probe_set.h"

namespace n2v {

namespace fs = std::filesystem;

ProbeFolders::ProbeFolders(const std::vector<std::string>& dirs) {
  for (const std::string& d : dirs) {
    std::error_code ec;
    const fs::path dir = fs::canonical(d, ec);
    N2V_CHECK(!ec && fs::is_regular_file(dir / "index.csv"), kNotFound,
              "probe folder " << d << " not found (a BRODEN-format folder with index.csv)");
    dirs_.push_back(dir.string());
    hashes_.push_back(ProbeSet::content_hash(dirs_.back()));  // the CSVs only, once
  }
}

std::optional<std::string> ProbeFolders::match(const std::string& name, const std::string& path,
                                               const std::string& hash) const {
  std::error_code ec;
  const fs::path stored = fs::weakly_canonical(path, ec);
  for (size_t i = 0; i < dirs_.size(); ++i) {
    if (!ec && stored.string() == dirs_[i]) return dirs_[i];
    if (hash.empty() ? fs::path(dirs_[i]).filename() == name : hashes_[i] == hash) return dirs_[i];
  }
  return std::nullopt;
}

}  // namespace n2v
