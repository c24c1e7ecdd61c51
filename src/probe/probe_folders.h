#pragma once
// Probe stage: the probe-set folders a front end was given (`net2vec serve --probe DIR`, the
// CLI's --probe), and which of them holds the probe set a catalog names. One rule for the
// server's image files and the service's probe browser: the same path, else the same content
// (ProbeSet::content_hash), else -- only for catalogs that stored no hash (schema < 5) -- the
// same folder name, which any folder can have.

#include <optional>
#include <string>
#include <vector>

namespace n2v {

class ProbeFolders {
 public:
  // Canonicalises each folder and hashes its CSVs once; kNotFound for one that does not exist
  // or has no index.csv.
  explicit ProbeFolders(const std::vector<std::string>& dirs);

  // The given folder that holds the catalog's probe set (its name, path and content hash as
  // stored; hash empty: none stored), or nullopt.
  std::optional<std::string> match(const std::string& name, const std::string& path, const std::string& hash) const;

  const std::vector<std::string>& dirs() const { return dirs_; }  // canonical

 private:
  std::vector<std::string> dirs_, hashes_;
};

}  // namespace n2v
