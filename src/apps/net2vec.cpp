// net2vec: explores the concept embeddings of a catalog -- every query of the table of
// queries (service/queries.h: lists, neighbours, analogies, comparisons, concept, filter and
// image reports, the paper's analyses, maps), exports and reports --, imports reference
// spaces and serves the HTTP API and web page. Option parsing only: the query subcommands are
// built from the same table as the API's routes and print its tables or its JSON.
// Torch-free: starts in milliseconds.

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/exit_codes.h"
#include "common/progress.h"
#include "common/text.h"
#include "common/version.h"
#include "server/server.h"
#include "probe/probe_check.h"
#include "service/json.h"
#include "service/probe_browser.h"
#include "service/queries.h"
#include "service/render.h"
#include "service/report.h"
#include "reference/reference.h"
#include "service/service.h"

namespace {

using n2v::Catalog;
using n2v::Json;
using n2v::Service;

// ---- options shared by the subcommands ----

struct Common {
  std::string db;
  bool json = false;
};

void add_common(CLI::App* cmd, Common& c) {
  cmd->add_option("--db", c.db, "Catalog file (SQLite) written by net2vec-ingest")->required();
  cmd->add_flag("--json", c.json, "Machine-readable JSON on stdout instead of tables (docs/API.md)");
}

// Queries only read, but a catalog from an older net2vec is migrated on open (the schema's
// promise): a file we may write is opened read-write, one we may not stays read-only.
// A missing file is never created here.
Catalog open_read(const std::string& db) {
  const bool writable = ::access(db.c_str(), W_OK) == 0;
  return Catalog::open(db, writable ? Catalog::Mode::kReadWrite : Catalog::Mode::kReadOnly);
}





// ---- export ----

struct ExportArgs {
  std::string space, format = "tsv", out;
  bool normalize = false;
};

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  N2V_CHECK(f, kIo, "cannot write " << path.string() << ": " << std::strerror(errno));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  N2V_CHECK(!f.fail(), kIo, "writing " << path.string() << " failed");
}

int cmd_export(const Common& c, const ExportArgs& a) {
  const n2v::ExportFormat format = n2v::parse_export_format(a.format);
  N2V_CHECK(format != n2v::ExportFormat::kMetadata, kInvalidArgument,
            "export format must be tsv or npy (metadata.tsv is written with both)");
  Catalog catalog = open_read(c.db);
  Service service(catalog, {}, n2v::ServiceLimits::local());  // the CLI's user is the operator
  const n2v::ExportResponse r = service.export_vectors({a.space, a.normalize});
  std::error_code ec;
  std::filesystem::create_directories(a.out, ec);
  N2V_CHECK(!ec && std::filesystem::is_directory(a.out), kIo, "cannot create directory " << a.out << ": " << ec.message());
  const std::filesystem::path dir(a.out);
  const std::vector<std::string> files = {(dir / n2v::export_file_name(format)).string(),
                                          (dir / n2v::export_file_name(n2v::ExportFormat::kMetadata)).string()};
  write_file(files[0], n2v::export_bytes(r, format));
  write_file(files[1], n2v::metadata_tsv(r));
  if (c.json) {
    std::printf("%s\n", Json{{"space", r.space.id}, {"format", a.format}, {"normalized", r.normalized},
                             {"concept_count", r.vectors.size()}, {"dim", r.space.dim}, {"files", files}}
                             .dump(2, ' ', false, Json::error_handler_t::replace)
                             .c_str());
    return 0;
  }
  std::printf("Exported %zu concepts x %d dimensions of %s%s:\n", r.vectors.size(), r.space.dim, r.space.id.c_str(),
              r.normalized ? " (L2-normalised)" : "");
  for (const std::string& f : files) std::printf("  %s\n", f.c_str());
  if (format == n2v::ExportFormat::kTsv)
    std::printf("Load both in the TensorBoard Embedding Projector (projector.tensorflow.org: Load).\n");
  else
    std::printf("numpy.load('%s') gives a float32 array; metadata.tsv has its row labels.\n", files[0].c_str());
  return 0;
}

// ---- report ----

struct ReportArgs {
  std::string out;
  std::vector<std::string> spaces;
  std::vector<std::string> probe_dirs;  // --probe: photos and ground truth for the example strips
};

int cmd_report(const Common& c, const ReportArgs& a) {
  Catalog catalog = open_read(c.db);
  Service service(catalog, {}, n2v::ServiceLimits::local());  // the CLI's user is the operator
  const Json report = n2v::report_json(service, a.spaces, a.probe_dirs);
  std::error_code ec;
  std::filesystem::create_directories(a.out, ec);
  N2V_CHECK(!ec && std::filesystem::is_directory(a.out), kIo, "cannot create directory " << a.out << ": " << ec.message());
  const std::filesystem::path dir(a.out);
  write_file(dir / "report.json", report.dump(1, ' ', false, Json::error_handler_t::replace) + "\n");
  write_file(dir / "index.html", n2v::report_html(report));
  if (c.json) {
    std::printf("%s\n", Json{{"spaces", report["spaces"].size()},
                             {"files", {(dir / "index.html").string(), (dir / "report.json").string()}}}
                             .dump(2, ' ', false, Json::error_handler_t::replace)
                             .c_str());
    return 0;
  }
  std::printf("Report on %zu network space%s: %s (open in a browser), %s\n", report["spaces"].size(),
              report["spaces"].size() == 1 ? "" : "s", (dir / "index.html").c_str(), (dir / "report.json").c_str());
  return 0;
}

// ---- reference ----

struct ReferenceArgs {
  std::string wordnet_dir = "/usr/share/wordnet", overrides, name, file, format = "auto", multi_word = "mean";
  bool no_instance_hypernyms = false;
};

int print_import(const Common& c, const n2v::ReferenceImportReport& r) {
  if (c.json) {
    std::printf("%s\n", Json{{"space", r.space_id}, {"concept_count", r.mapped}, {"unmapped", r.unmapped}, {"dim", r.dim}}
                             .dump(2, ' ', false, Json::error_handler_t::replace)
                             .c_str());
    return 0;
  }
  std::printf("Wrote space %s: %d concepts, dimension %d; %zu catalog concepts have no vector", r.space_id.c_str(),
              r.mapped, r.dim, r.unmapped.size());
  const size_t shown = std::min<size_t>(r.unmapped.size(), 20);
  for (size_t i = 0; i < shown; ++i) std::printf("%s%s", i ? ", " : ": ", r.unmapped[i].c_str());
  std::printf("%s\n", r.unmapped.size() > shown ? ", ..." : "");
  return 0;
}

int cmd_reference(const Common& c, const ReferenceArgs& a, bool wordnet) {
  Catalog catalog = Catalog::open(c.db, Catalog::Mode::kReadWrite);
  if (wordnet)
    return print_import(c, n2v::import_wordnet(catalog, a.wordnet_dir, a.overrides, !a.no_instance_hypernyms));
  N2V_CHECK(a.multi_word == "mean" || a.multi_word == "skip", kInvalidArgument,
            "multi-word must be mean or skip, got '" << a.multi_word << "'");
  n2v::WordVectorFormat format = n2v::WordVectorFormat::kAuto;
  if (a.format == "bin") format = n2v::WordVectorFormat::kWord2VecBinary;
  else if (a.format == "text") format = n2v::WordVectorFormat::kText;
  else N2V_CHECK(a.format == "auto", kInvalidArgument, "word-vector format must be auto, bin or text, got '" << a.format << "'");
  return print_import(c, n2v::import_word_vectors(catalog, a.name, a.file, format, a.multi_word == "mean"));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "net2vec: explore Net2Vec concept embeddings (Fong & Vedaldi, CVPR 2018) stored in a catalog\n"
      "by net2vec-ingest. Each concept is a vector of weights over a layer's filters; a space is\n"
      "<network>.<layer>.seg|cls. Similarities are cosines of L2-normalised vectors. Definitions:\n"
      "docs/QUERIES.md; the JSON of --json and of the HTTP API: docs/API.md. Every query takes\n"
      "--db FILE and --json; `net2vec SUBCOMMAND --help` explains its options. `net2vec serve`\n"
      "answers the same queries over HTTP and serves the web page.\n\n"
      "Exit status: 0 ok, 1 internal error, 2 invalid input or usage, 3 not found, 4 I/O error,\n"
      "5 corrupt catalog, 6 unsupported, 7 unavailable (a writer kept replacing what it read:\n"
      "try again)."};
  app.set_version_flag("--version", std::string("net2vec ") + n2v::kVersion);
  app.require_subcommand(1);
  app.get_formatter()->column_width(30);
  Common common;

  // The queries: one subcommand each, built from the table (service/queries.h), so that
  // every query the API answers exists here with the same parameters.
  struct QueryCommand {
    const n2v::Query* query;
    CLI::App* command;
    std::map<std::string, std::vector<std::string>> values;
    std::map<std::string, bool> switches;
    std::vector<std::string> probe_dirs;  // --probe: folders the probe browser may read
  };
  std::vector<std::unique_ptr<QueryCommand>> query_commands;
  for (const n2v::Query& q : n2v::queries()) {
    auto qc = std::make_unique<QueryCommand>();
    qc->query = &q;
    qc->command = app.add_subcommand(q.name, q.summary);
    add_common(qc->command, common);
    for (const n2v::QueryParam& p : q.params) {
      std::string names = "--" + p.cli_name();
      if (p.short_flag) names = std::string("-") + p.short_flag + "," + names;
      std::string help = p.help;
      if (p.min && p.max) help += " (" + std::to_string(*p.min) + " to " + std::to_string(*p.max) + ")";
      else if (p.min) help += " (at least " + std::to_string(*p.min) + ")";
      if (p.type == n2v::ParamType::kFlag) {
        qc->command->add_flag(names, qc->switches[p.name], help);
        continue;
      }
      if (p.type == n2v::ParamType::kList) help += " (comma-separated or repeated)";
      CLI::Option* o = qc->command->add_option(names, qc->values[p.name], help);
      if (p.type == n2v::ParamType::kList) o->delimiter(',');
      else o->expected(1);
      if (p.required) o->required();
      if (!p.fallback.empty()) o->default_str(p.fallback);
    }
    // The command line's own option (never the API's: a client must not name server folders).
    if (q.name.rfind("probe-", 0) == 0)
      qc->command->add_option("--probe", qc->probe_dirs,
                              "Probe-set folder to read (repeatable); default: the folder the space was ingested from");
    query_commands.push_back(std::move(qc));
  }

  ExportArgs ex;
  CLI::App* export_cmd = app.add_subcommand(
      "export", "Write a space's vectors for the TensorBoard Embedding Projector (vectors.tsv + metadata.tsv) or "
                "numpy (vectors.npy + metadata.tsv)");
  add_common(export_cmd, common);
  export_cmd->add_option("--space", ex.space, "Space id")->required();
  export_cmd->add_option("--format", ex.format, "tsv or npy")->capture_default_str();
  export_cmd->add_option("--out", ex.out, "Output directory (created if absent; files in it are replaced)")->required();
  export_cmd->add_flag("--normalize", ex.normalize, "Write L2-normalised vectors instead of the stored weights");

  ReportArgs rp;
  CLI::App* report = app.add_subcommand(
      "report", "The paper's analyses for every network space (Table 1, Figures 2, 3, 5, 7-9, 10, failures) as a\n"
                "self-contained index.html (inline SVG; Figure 8's strips with --probe photos) and report.json");
  add_common(report, common);
  report->add_option("--out", rp.out, "Output directory (created if absent; index.html and report.json replaced)")
      ->required();
  report->add_option("--spaces", rp.spaces, "Only these network spaces (comma-separated or repeated)")->delimiter(',');
  report->add_option("--probe", rp.probe_dirs,
                     "Probe-set folder (repeatable) whose photos and ground truth the example strips (Figure 8)\n"
                     "embed; without it a space's strip shows the predicted masks alone");

  // probe check: a probe set validated before a long ingest (probe/probe_check.h). No catalog.
  std::string check_dir;
  bool check_json = false;
  int check_max_problems = 50;
  CLI::App* probe = app.add_subcommand("probe", "Probe sets (BRODEN layout, docs/PROBES.md)");
  probe->require_subcommand(1);
  CLI::App* probe_check = probe->add_subcommand(
      "check",
      "Check a probe set before a long ingest: every index.csv row, image and mask read at its declared size, label\n"
      "numbers, splits, categories; each concept's train/val images and coverage alpha; the content hash (the one\n"
      "merge and serve --probe match probe sets by). Exit status 2 when it finds an error.");
  probe_check->add_option("dir", check_dir, "Probe-set folder (index.csv, label.csv, images/)")->required();
  probe_check->add_flag("--json", check_json, "Machine-readable JSON on stdout (docs/PROBES.md, \"What probe check reports\")");
  probe_check->add_option("--max-problems", check_max_problems, "Problems listed (all are counted)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();

  ReferenceArgs ra;
  CLI::App* reference = app.add_subcommand(
      "reference", "Import reference spaces (kind 'reference') to compare network spaces with");
  reference->require_subcommand(1);
  CLI::App* wordnet = reference->add_subcommand(
      "wordnet", "WordNet 3.0 hypernym-closure indicator vectors for the catalog's concepts (space 'wordnet')");
  add_common(wordnet, common);
  wordnet->add_option("--wordnet-dir", ra.wordnet_dir, "WNDB files (index.noun, data.noun)")->capture_default_str();
  wordnet->add_option("--overrides", ra.overrides, "TSV of concept name -> synset offset (e.g. data/wordnet_overrides.tsv)");
  wordnet->add_flag("--no-instance-hypernyms", ra.no_instance_hypernyms,
                    "Follow hypernym pointers only, as the paper's authors did (default: instance hypernyms too)");
  CLI::App* vectors = reference->add_subcommand("vectors", "Word vectors (word2vec / GloVe) for the catalog's concepts");
  add_common(vectors, common);
  vectors->add_option("--name", ra.name, "Space id to write, e.g. glove-100d")->required();
  vectors->add_option("--file", ra.file, "Vector file")->required();
  vectors->add_option("--format", ra.format, "auto, bin (word2vec binary) or text (word2vec / GloVe text)")
      ->capture_default_str();
  vectors->add_option("--multi-word", ra.multi_word,
                      "A multi-word name the file lacks as a phrase: mean (of its words' vectors) or skip (the "
                      "authors' choice)")
      ->capture_default_str();

  std::string merge_into, merge_conflict = "newer";
  std::vector<std::string> merge_shards;
  CLI::App* merge = app.add_subcommand(
      "merge",
      "Fold catalog shards (one per cluster job, docs/SCALE.md) into one catalog, in one transaction: a kill or an\n"
      "error leaves it as it was. Probe sets match by content, networks by name; a space already there from the\n"
      "same run is left alone (merging a shard twice changes nothing), from another run the later one wins.");
  merge->add_option("--into", merge_into, "Target catalog (created if absent)")->required();
  merge->add_option("--on-conflict", merge_conflict,
                    "A space in the target from another run: newer (keep the run that finished later) or error")
      ->capture_default_str();
  merge->add_option("shards", merge_shards, "Shard catalogs, merged in this order")->required();

  n2v::ServerOptions so;
  std::string serve_db;
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Serve the HTTP/JSON API (docs/API.md) and the web page over the catalog, read-only. Binds loopback unless\n"
      "told otherwise; a new ingest or reference import shows up without a restart. Ctrl-C (SIGINT) or SIGTERM\n"
      "stops it after the requests in flight. One access-log line per request on stderr.");
  serve->add_option("--db", serve_db, "Catalog file (SQLite) written by net2vec-ingest")->required();
  serve->add_option("--host", so.host, "Address to bind (127.0.0.1, ::1, or 0.0.0.0 to listen on every interface)")
      ->capture_default_str();
  serve->add_option("--port", so.port, "TCP port (0: any free port; the URL is printed)")->capture_default_str();
  serve->add_option("--threads", so.threads, "I/O threads: read requests, answer the light routes, write (0: one per core)")
      ->capture_default_str();
  serve->add_option("--web", so.web_root, "Folder of the web page (index.html, js/, ...); empty: API only")
      ->capture_default_str();
  serve->add_option("--probe", so.probe_dirs, "Probe-set folders whose images the concept pages may show (repeatable)");
  serve->add_flag("--quiet", so.quiet, "No access log");
  serve->add_option("--cache-mb", so.cache_mb,
                    "Memory for cached spaces in MiB (0: unlimited); past it the least recently used are dropped and\n"
                    "read again when asked for (a catalog of many spaces, docs/SCALE.md)")
      ->capture_default_str();
  // The transport's bounds (docs/API.md, "Limits"): heavy routes on their own pool, answers'
  // write deadline and the bytes being written.
  serve->add_option("--heavy-workers", so.heavy_workers,
                    "Threads for the heavy routes (map, compare, examples, export), apart from the I/O threads\n"
                    "(0: one per core)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve->add_option("--heavy-route-limit", so.heavy_route_limit,
                    "Most requests of one heavy route computed at once (0: half the heavy workers, at least 1)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve->add_option("--heavy-queue", so.heavy_queue,
                    "Most requests of one heavy route waiting beyond those; past it 503 with Retry-After")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve->add_option("--write-timeout-ms", so.write_timeout_ms,
                    "Time a client has to take each answer whole; a slower one is disconnected")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve
      ->add_option_function<size_t>(
          "--max-write-mb", [&so](const size_t& mb) { so.max_write_bytes = mb << 20; },
          "Most MiB of answers being written at once, server-wide (slow readers hold them); a large answer\n"
          "past it is a 503 with Retry-After (0: no cap)")
      ->default_str(std::to_string(so.max_write_bytes >> 20));
  // Ceilings of what one request may ask (docs/API.md, "Limits"): above one, a 400 naming it.
  serve->add_option("--max-k", so.limits.max_k, "Most results one search may ask for (1 to 5000)")
      ->check(CLI::Range(1, 5000))
      ->capture_default_str();
  serve->add_option("--max-compare-mb", so.limits.max_compare_mb,
                    "Largest memory budget (MiB) a comparison may ask for; the default budget, 256 MiB, is lowered to it\n"
                    "(0: no ceiling)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve->add_option("--max-compare-spaces", so.limits.max_compare_spaces,
                    "Most spaces one comparison may take, spaces=all included (0: no ceiling)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve->add_option("--max-compare-permutations", so.limits.max_compare_permutations,
                    "Most permutations (R) of compare's permutation test a request may ask for")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve->add_option("--max-permutation-work", so.limits.max_permutation_work,
                    "Largest permutation test (R x pairs x C^2 multiply-adds) a request may ask for; the default R is\n"
                    "skipped above 1e9 instead (0: no ceiling)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve->add_option("--max-map-concepts", so.limits.max_map_concepts,
                    "Largest space (in concepts) /api/map lays out (t-SNE is O(n^2) an iteration)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve->add_option("--max-map-iterations", so.limits.max_map_iterations, "Most t-SNE iterations of a map (250 to 5000)")
      ->check(CLI::Range(250, 5000))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    for (const auto& qc : query_commands) {
      if (!*qc->command) continue;
      n2v::QueryArgs args(n2v::QueryArgs::Style::kCli);
      for (const auto& [name, values] : qc->values)
        if (!values.empty()) args.set(name, values);
      for (const auto& [name, on] : qc->switches)
        if (on) args.set(name, {"true"});
      // Progress on stderr only for a long run (e.g. compare --all over many spaces): the bar
      // starts once the query has taken 2 s.
      std::unique_ptr<n2v::Progress> bar;
      int64_t shown = 0;
      const auto start = std::chrono::steady_clock::now();
      args.progress = [&](int64_t done, int64_t total) {
        if (!bar) {
          if (std::chrono::steady_clock::now() - start < std::chrono::seconds(2)) return;
          bar = std::make_unique<n2v::Progress>(qc->query->name, total, "steps");
        }
        bar->advance(done - shown);
        shown = done;
      };
      Catalog catalog = open_read(common.db);
      Service service(catalog, {}, n2v::ServiceLimits::local());  // the CLI's user is the operator
      service.set_probe_library(std::make_shared<const n2v::ProbeLibrary>(qc->probe_dirs, true));
      const n2v::QueryAnswer answer = qc->query->run(service, args);
      if (bar) bar->finish();
      // replace: a concept name with a stray non-UTF-8 byte (label.csv) prints as U+FFFD
      // rather than failing the whole answer.
      if (common.json) std::printf("%s\n", answer.json().dump(2, ' ', false, Json::error_handler_t::replace).c_str());
      else std::fputs(answer.text().c_str(), stdout);
      return 0;
    }
    if (*probe_check) {
      n2v::ProbeCheckOptions options;
      options.max_problems = check_max_problems;
      // A bar on stderr once a big set has taken 2 s.
      std::unique_ptr<n2v::Progress> bar;
      int64_t shown = 0;
      const auto start = std::chrono::steady_clock::now();
      options.progress = [&](int64_t done, int64_t total) {
        if (!bar) {
          if (std::chrono::steady_clock::now() - start < std::chrono::seconds(2)) return;
          bar = std::make_unique<n2v::Progress>("probe check", total, "rows");
        }
        bar->advance(done - shown);
        shown = done;
      };
      const n2v::ProbeCheckReport r = n2v::check_probe_set(check_dir, options);
      if (bar) bar->finish();
      if (check_json) std::printf("%s\n", n2v::to_json(r).dump(2, ' ', false, Json::error_handler_t::replace).c_str());
      else std::fputs(n2v::render_text(r).c_str(), stdout);
      return r.ok() ? 0 : n2v::exit_code(n2v::ErrorCode::kInvalidArgument);  // a broken set: invalid input
    }
    if (*export_cmd) return cmd_export(common, ex);
    if (*report) return cmd_report(common, rp);
    if (*wordnet) return cmd_reference(common, ra, true);
    if (*vectors) return cmd_reference(common, ra, false);
    if (*merge) {
      N2V_CHECK(merge_conflict == "newer" || merge_conflict == "error", kInvalidArgument,
                "on-conflict must be newer or error, got '" << merge_conflict << "'");
      Catalog target = Catalog::open(merge_into, Catalog::Mode::kReadWrite);
      const Catalog::MergeReport r = target.merge(
          merge_shards, merge_conflict == "error" ? Catalog::OnConflict::kError : Catalog::OnConflict::kNewer);
      std::printf("merged %d shard%s into %s: %d space%s added, %d replaced by a later run, %d unchanged, %d kept "
                  "(the target's run is later)\n",
                  r.shards, r.shards == 1 ? "" : "s", merge_into.c_str(), r.spaces_added, r.spaces_added == 1 ? "" : "s",
                  r.spaces_replaced, r.spaces_unchanged, r.spaces_kept);
      for (const std::string& id : r.added) std::printf("  added     %s\n", id.c_str());
      for (const std::string& id : r.replaced) std::printf("  replaced  %s\n", id.c_str());
      for (const std::string& id : r.kept) std::printf("  kept      %s\n", id.c_str());
      return 0;
    }
    if (*serve) {
      Catalog catalog = Catalog::open(serve_db, Catalog::Mode::kReadOnly);
      return n2v::serve(catalog, so);
    }
    return 2;
  } catch (const n2v::Error& e) {
    std::fprintf(stderr, "net2vec: error: %s\n", e.message().c_str());
    return n2v::exit_code(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "net2vec: internal error: %s\n", e.what());
    return 1;
  }
}
