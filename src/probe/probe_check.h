#pragma once
// Probe stage: what a probe set holds, concept by concept, and everything wrong with it --
// `net2vec probe check DIR` (before a long ingest) and the probe browser (service stage).
//
// check_probe_set reads every index.csv row, decodes every image and mask PNG, and reports
// instead of throwing: rows that do not parse, images and masks missing, undecodable or not
// at the declared size (ih x iw, sh x sw), label numbers label.csv lacks, a split with no
// image, categories that disagree between index.csv, label.csv, category.csv and c_*.csv,
// and mask sizes that change between rows (ingest stacks all masks, so they must agree).
// For each concept it counts its train and val images and its coverage alpha (docs/METHOD.md).
// Nothing here depends on LibTorch.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "probe/probe_set.h"

namespace n2v {

// One thing wrong with a probe set. An error breaks an ingest (or silently loses data); a
// warning is worth knowing (a concept no ingest can train, a file BRODEN has and this set lacks).
struct ProbeProblem {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  std::string file;  // the file at fault, relative to the probe folder ("index.csv", "images/a.png")
  int line = 0;      // the index.csv line of the row (or the CSV file's own line); 0: the file as a whole
  std::string message;     // a whole sentence, naming the file and line as every error does
  int concept_number = 0;  // the concept it is about (0: none)
};
const char* to_string(ProbeProblem::Severity severity);  // "error", "warning"

// A concept of the probe set and where it occurs.
struct ProbeConceptCount {
  int number = 0;
  std::string name, category;  // category: the primary one (label.csv)
  // Images carrying the concept, by pixel mask or as a whole-image label, per split.
  int train_images = 0, val_images = 0;
  // Of those, the images where it has pixels (the images segmentation learns from).
  int train_masked = 0, val_masked = 0;
  // Coverage: alpha = 1 - mean over the concept's masked train images of |L_c(x)| / S, the
  // weight of eq. 4 as training computes it (docs/METHOD.md). None without masked train images.
  std::optional<double> alpha;
};

// Which images carry each concept: the probe browser's index.
struct ProbeContents {
  std::vector<ProbeConceptCount> concepts;  // every label of label.csv, by number
  // Per concept (same order): ProbeSet::images() positions of the images carrying it, by split,
  // in index.csv order.
  std::vector<std::vector<int>> train_rows, val_rows;
  int train_images = 0, val_images = 0;  // rows read without a problem, per split
};

struct ProbeCheckOptions {
  int max_problems = 50;  // problems listed (all are counted); 0: none listed
  int threads = 0;        // decoding threads (0: one per core)
  // Called as rows are checked (a progress bar); may be called from the decoding threads, one
  // call at a time.
  std::function<void(int64_t done, int64_t total)> progress;
};

struct ProbeCheckReport {
  std::string dir;
  std::string content_hash;  // ProbeSet::content_hash ("" when the folder has no tables)
  int rows = 0;              // index.csv data rows
  int rows_ok = 0;           // rows whose image and masks are all as declared
  int mask_height = 0, mask_width = 0;  // of the first good row
  std::vector<std::string> categories;  // index.csv category columns
  ProbeContents contents;
  std::vector<ProbeProblem> problems;  // the first max_problems, in file order
  int errors = 0, warnings = 0;        // all of them
  bool ok() const { return errors == 0; }
};

// Never throws for what it finds: a set it cannot open at all (no index.csv, a malformed
// label.csv) is one error in the report. Throws only kInvalidArgument for bad options.
ProbeCheckReport check_probe_set(const std::string& dir, const ProbeCheckOptions& options = {});

// The contents alone, of an opened probe set (the browser): rows whose files fail are left
// out, as ingest with --skip-bad leaves them out.
ProbeContents probe_contents(const ProbeSet& probe, const ProbeCheckOptions& options = {});

}  // namespace n2v
