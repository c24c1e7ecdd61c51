// The table of queries (queries.h): each entry's parameters and how its arguments become the
// typed request the Service answers.

#include "service/queries.h"

#include <algorithm>
#include <cctype>
#include <memory>

#include "common/error.h"
#include "common/text.h"
#include "service/probe_browser.h"
#include "service/render.h"

namespace n2v {

const char* to_string(ParamType type) {
  switch (type) {
    case ParamType::kText: return "text";
    case ParamType::kInt: return "integer";
    case ParamType::kFlag: return "flag";
    case ParamType::kList: return "list";
    case ParamType::kNumbers: return "numbers";
  }
  return "?";
}

std::string QueryParam::cli_name() const {
  std::string out = name;
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

bool QueryArgs::has(const std::string& name) const {
  const auto* v = values(name);
  return v && std::any_of(v->begin(), v->end(), [](const std::string& s) { return !s.empty(); });
}

const std::vector<std::string>* QueryArgs::values(const std::string& name) const {
  const auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

const QueryParam* Query::param(std::string_view name) const {
  for (const QueryParam& p : params)
    if (p.name == name) return &p;
  return nullptr;
}

namespace {

// A query's arguments read as its parameters' types; messages name a parameter as the front
// end does (k for HTTP, --k for the command line). Range checks are the Service's.
class Reader {
 public:
  Reader(const Query& query, const QueryArgs& args) : query_(query), args_(args) {}

  std::string flag_name(const std::string& name) const {
    const QueryParam* p = query_.param(name);
    return args_.style() == QueryArgs::Style::kCli && p ? "--" + p->cli_name() : name;
  }

  std::optional<std::string> text(const std::string& name) const {
    const QueryParam& p = param(name);
    if (!args_.has(name)) {
      N2V_CHECK(!p.required, kInvalidArgument, "'" << flag_name(name) << "' is required");
      return p.fallback.empty() ? std::nullopt : std::optional(p.fallback);
    }
    const std::vector<std::string>& v = *args_.values(name);
    N2V_CHECK(v.size() == 1, kInvalidArgument, "'" << flag_name(name) << "' takes one value, got " << v.size());
    return v[0];
  }
  std::string required(const std::string& name) const {
    const auto t = text(name);
    N2V_CHECK(t, kInvalidArgument, "'" << flag_name(name) << "' is required");
    return *t;
  }
  std::optional<int> integer(const std::string& name) const {
    const auto t = text(name);
    if (!t) return std::nullopt;
    const auto x = parse_int(trim(*t));
    N2V_CHECK(x && *x >= INT32_MIN && *x <= INT32_MAX, kInvalidArgument,
              "'" << flag_name(name) << "' must be an integer, got '" << *t << "'");
    return static_cast<int>(*x);
  }
  int integer_or(const std::string& name, int fallback) const { return integer(name).value_or(fallback); }
  bool flag(const std::string& name) const {
    const auto t = text(name);
    if (!t) return false;
    N2V_CHECK(*t == "true" || *t == "false" || *t == "1" || *t == "0", kInvalidArgument,
              "'" << flag_name(name) << "' must be true or false, got '" << *t << "'");
    return *t == "true" || *t == "1";
  }
  // Each value as given (a list's elements are split by the front end), trimmed, empty ones
  // dropped.
  std::vector<std::string> list(const std::string& name) const {
    param(name);
    std::vector<std::string> out;
    if (const auto* v = args_.values(name))
      for (const std::string& s : *v)
        if (!trim(s).empty()) out.emplace_back(trim(s));
    return out;
  }
  std::optional<std::vector<float>> numbers(const std::string& name) const {
    if (!args_.has(name)) return std::nullopt;
    std::vector<float> out;
    for (const std::string& value : *args_.values(name))
      for (const std::string& part : split(value, ',')) {
        const auto x = parse_double(trim(part));
        N2V_CHECK(x, kInvalidArgument, "'" << flag_name(name) << "': '" << part << "' is not a number");
        out.push_back(static_cast<float>(*x));
      }
    return out;
  }

 private:
  const QueryParam& param(const std::string& name) const {
    const QueryParam* p = query_.param(name);
    N2V_CHECK(p, kInternal, "query '" << query_.name << "' has no parameter '" << name << "'");
    return *p;
  }
  const Query& query_;
  const QueryArgs& args_;
};

template <class Response>
QueryAnswer answer(Response response) {
  auto r = std::make_shared<const Response>(std::move(response));
  return {[r] { return to_json(*r); }, [r] { return render_text(*r); }, r};
}

// The parameters several queries share.
QueryParam space_param(bool in_path = false) {
  return {"space", ParamType::kText, "Space id, e.g. alexnet.conv5.seg (either spelling of a layer)", true, "", {}, {},
          0, in_path};
}
QueryParam k_param(int fallback) {
  return {"k", ParamType::kInt, "How many results (more than there are concepts: all of them)", false,
          std::to_string(fallback), 1, kMaxK, 'k'};
}
QueryParam category_param() {
  return {"category", ParamType::kText, "Only concepts of this category (object, part, scene, material, texture, color)"};
}

AnalogyRequest analogy_request(const Reader& in) {
  AnalogyRequest r;
  r.space = in.required("space");
  r.positive = in.list("positive");
  r.negative = in.list("negative");
  r.k = in.integer_or("k", r.k);
  if (const auto m = in.text("method")) r.method = parse_analogy_method(*m);
  r.category = in.text("category");
  return r;
}

std::vector<Query> make_queries() {
  std::vector<Query> t;
  t.push_back({"spaces", "List the catalog's spaces: id, kind, dimension, concepts", "GET", "/api/spaces", {},
               [](Service& s, const QueryArgs&) { return answer(s.spaces()); }});

  t.push_back({"concepts", "List a space's concepts with their val score, best single filter and vector norm", "GET",
               "/api/spaces/{space}/concepts", {space_param(true), category_param()},
               [](Service& s, const QueryArgs& a) {
                 const Reader in(*find_query("concepts"), a);
                 return answer(s.concepts({in.required("space"), in.text("category")}));
               }});

  t.push_back({"neighbors", "Nearest concepts by cosine similarity, the query excluded (paper Table 2)", "GET",
               "/api/neighbors",
               {space_param(),
                {"concept", ParamType::kText, "Concept name to start from (or --vector)"},
                {"vector", ParamType::kNumbers, "Or a raw vector: comma-separated numbers, one per filter"},
                k_param(10), category_param()},
               [](Service& s, const QueryArgs& a) {
                 const Reader in(*find_query("neighbors"), a);
                 NeighborsRequest r;
                 r.space = in.required("space");
                 r.concept_name = in.text("concept");
                 r.vector = in.numbers("vector");
                 r.k = in.integer_or("k", r.k);
                 r.category = in.text("category");
                 return answer(s.neighbors(r));
               }});

  t.push_back({"analogy",
               "Vector arithmetic: concepts nearest to sum(positive) - sum(negative), inputs excluded (paper Table 3)",
               "POST", "/api/analogy",
               {space_param(),
                {"positive", ParamType::kList, "Concepts added"},
                {"negative", ParamType::kList, "Concepts subtracted"},
                k_param(10),
                {"method", ParamType::kText,
                 "add: 3CosAdd, cosine with the renormalised mean of +/- unit vectors (gensim most_similar); mul: "
                 "3CosMul, prod (1+cos)/2 over positives / (prod over negatives + 1e-6) (Levy & Goldberg)",
                 false, "add"},
                category_param()},
               [](Service& s, const QueryArgs& a) {
                 return answer(s.analogy(analogy_request(Reader(*find_query("analogy"), a))));
               }});

  t.push_back({"compare",
               "Distances between spaces on the concepts they all share: D_ij, mean D_ijc per category (paper Figure "
               "10), linear and unbiased CKA, a permutation test of each pair, and the concepts that differ most per pair",
               "GET", "/api/compare",
               {{"spaces", ParamType::kList, "Two or more space ids (all: every space of the catalog)"},
                {"all", ParamType::kFlag, "Compare every space of the catalog"},
                {"concepts", ParamType::kList, "Only these concepts (each must be in every space)"},
                {"per_concept", ParamType::kText,
                 "Per pair, list the N concepts with the largest D_ijc (0: none; all: every one)", false, "5"},
                {"memory_mb", ParamType::kInt,
                 "Memory budget of the comparison in MiB (0: 256, or the server's ceiling); Grams that do not fit go "
                 "to an unlinked temporary file",
                 false, "0", 0, {}},
                {"permutations", ParamType::kInt,
                 "Permutation test of every pair: R random concept orders of the second space, p = (1 + #null at least "
                 "as extreme) / (R + 1) for D_ij and both CKAs, and the null's mean (0: none; default 99, skipped when "
                 "R x pairs x C^2 passes 1e9)",
                 false, "", 0, 9999},
                {"seed", ParamType::kInt, "Seed of the permutation test's draws (the same seed, the same p-values)",
                 false, "1", 0, INT32_MAX},
                {"precision", ParamType::kText,
                 "Precision of the Gram matrices: double (agrees with a float64 reference to ~1e-12 of each value), "
                 "float (half the memory and time; ~1e-5 of a value's range), or auto: double up to 2^26 Gram entries "
                 "(spaces x concepts^2), float beyond",
                 false, "auto"}},
               [](Service& s, const QueryArgs& a) {
                 const Reader in(*find_query("compare"), a);
                 CompareRequest r;
                 r.spaces = in.list("spaces");
                 r.all = in.flag("all");
                 if (r.spaces.size() == 1 && r.spaces[0] == "all") {
                   r.spaces.clear();
                   r.all = true;
                 }
                 r.concepts = in.list("concepts");
                 const std::string per = *in.text("per_concept");
                 if (per == "all") {
                   r.per_concept = CompareRequest::kAll;
                 } else {
                   const auto n = parse_int(per);
                   N2V_CHECK(n && *n >= 0 && *n <= INT32_MAX, kInvalidArgument,
                             "'" << in.flag_name("per_concept") << "' must be a count of concepts (0: none) or all, got '"
                                 << per << "'");
                   r.per_concept = static_cast<int>(*n);
                 }
                 r.memory_mb = in.integer_or("memory_mb", r.memory_mb);
                 r.permutations = in.integer("permutations");
                 r.seed = in.integer_or("seed", 1);
                 const std::string precision = *in.text("precision");
                 N2V_CHECK(precision == "auto" || precision == "double" || precision == "float", kInvalidArgument,
                           "'" << in.flag_name("precision") << "' must be auto, double or float, got '" << precision
                               << "'");
                 r.precision = precision == "double"  ? ComparePrecision::kDouble
                               : precision == "float" ? ComparePrecision::kFloat
                                                      : ComparePrecision::kAuto;
                 r.progress = a.progress;
                 return answer(s.compare(r));
               },
              QueryCost::kHeavy});

  t.push_back({"examples",
               "The paper's nearest-neighbour and arithmetic examples (Tables 2 and 3) in one space, or your own",
               "GET", "/api/examples",
               {space_param(),
                {"queries", ParamType::kList, "Concepts whose neighbours to list (default: the paper's Table 2)"},
                {"sums", ParamType::kText,
                 "Sums 'a,b/c;d/e' (positives, then after / the negatives; ; between sums; default: Table 3)"},
                k_param(5)},
               [](Service& s, const QueryArgs& a) {
                 const Reader in(*find_query("examples"), a);
                 ExamplesRequest r;
                 r.space = in.required("space");
                 r.queries = in.list("queries");
                 if (const auto sums = in.text("sums"))
                   for (const std::string& sum : split(*sums, ';'))
                     if (!trim(sum).empty()) r.sums.push_back(parse_concept_sum(sum));
                 r.k = in.integer_or("k", r.k);
                 return answer(s.examples(r));
               },
              QueryCost::kHeavy});

  t.push_back({"concept",
               "Every stored score of a concept (learned weights vs best single filter, F sweep, per-image IoU) and "
               "its top filters by |w_k| and share |w_k|/||w||_1 (paper 5.2)",
               "GET", "/api/concepts/{concept}",
               {{"concept", ParamType::kText, "Concept name", true, "", {}, {}, 0, true}, space_param(),
                {"top", ParamType::kInt, "How many filters to list", false, "10", 1, kMaxTop}},
               [](Service& s, const QueryArgs& a) {
                 const Reader in(*find_query("concept"), a);
                 ConceptRequest r;
                 r.space = in.required("space");
                 r.name = in.required("concept");
                 r.top = in.integer_or("top", r.top);
                 return answer(s.concept_detail(r));
               }});

  t.push_back({"images", "A concept's val images of the probe set with their IoU, best first (paper Figures 7, 8)",
               "GET", "/api/concepts/{concept}/images",
               {{"concept", ParamType::kText, "Concept name", true, "", {}, {}, 0, true}, space_param(),
                {"limit", ParamType::kInt, "How many images to list", false, "12", 1, 500},
                {"offset", ParamType::kInt, "How many images to skip first (paging)", false, "0", 0, {}},
                {"order", ParamType::kText, "best (highest IoU of the learned weights first) or worst", false, "best"}},
               [](Service& s, const QueryArgs& a) {
                 const Reader in(*find_query("images"), a);
                 ConceptImagesRequest r;
                 r.space = in.required("space");
                 r.name = in.required("concept");
                 r.limit = in.integer_or("limit", r.limit);
                 r.offset = in.integer_or("offset", r.offset);
                 if (const auto order = in.text("order")) {
                   N2V_CHECK(*order == "best" || *order == "worst", kInvalidArgument,
                             "'" << in.flag_name("order") << "' must be best or worst, got '" << *order << "'");
                   r.worst_first = *order == "worst";
                 }
                 return answer(s.concept_images(r));
               }});

  t.push_back({"filter",
               "Concepts for which a filter is the best single filter, those that weight it most (paper 4.2) and the "
               "probe images where it fires most, with its thresholded map (NetDissect); "
               "without a filter, how many concepts pick each filter (paper Figure 5)",
               "GET", "/api/filters",
               {space_param(), {"filter", ParamType::kInt, "Filter index k (0-based)", false, "", 0, {}},
                {"top", ParamType::kInt, "How many concepts (or filters) to list", false, "10", 1, kMaxTop}},
               [](Service& s, const QueryArgs& a) {
                 const Reader in(*find_query("filter"), a);
                 FilterRequest r;
                 r.space = in.required("space");
                 r.top = in.integer_or("top", r.top);
                 r.filter = in.integer("filter");
                 if (r.filter) {
                   N2V_CHECK(*r.filter >= 0, kInvalidArgument,
                             "'" << in.flag_name("filter") << "' must be a filter index (0 or more), got " << *r.filter);
                   return answer(s.filter(r));
                 }
                 return answer(s.filter_usage(r));
               }});

  t.push_back({"analyses",
               "The paper's analyses of one network space: Table 1, Figures 2, 3 and 9, and the failure analysis",
               "GET", "/api/analyses", {space_param()},
               [](Service& s, const QueryArgs& a) {
                 return answer(s.analyses(Reader(*find_query("analyses"), a).required("space")));
               }});

  t.push_back({"map", "A 2-D t-SNE map of a space's concepts with k-means clusters (the same seed, the same map)",
               "GET", "/api/map",
               {space_param(),
                {"perplexity", ParamType::kInt, "t-SNE perplexity", false, "30", 2, 100},
                {"iterations", ParamType::kInt, "t-SNE iterations", false, "1000", 250, 5000},
                {"seed", ParamType::kInt, "Random seed", false, "1", 0, {}},
                {"clusters", ParamType::kInt, "k of k-means", false, "8", 1, 50}},
               [](Service& s, const QueryArgs& a) {
                 const Reader in(*find_query("map"), a);
                 MapRequest r;
                 r.space = in.required("space");
                 r.options.perplexity = in.integer_or("perplexity", static_cast<int>(r.options.perplexity));
                 r.options.iterations = in.integer_or("iterations", r.options.iterations);
                 const int seed = in.integer_or("seed", static_cast<int>(r.options.seed));
                 N2V_CHECK(seed >= 0, kInvalidArgument,
                           "'" << in.flag_name("seed") << "' must be a non-negative integer, got " << seed);
                 r.options.seed = static_cast<uint32_t>(seed);
                 r.options.clusters = in.integer_or("clusters", r.options.clusters);
                 return answer(s.map(r));
               },
              QueryCost::kHeavy});

  // The probe browser (probe_browser.h): read from the probe folder itself, scanned once on
  // first use (every mask of the set decoded), hence heavy.
  t.push_back({"probe-concepts",
               "The concepts of the probe set a space was measured on: train and val images, those with pixel masks, "
               "and coverage alpha",
               "GET", "/api/probe/concepts",
               {space_param(), {"category", ParamType::kText, "Only concepts of this category (a column of index.csv)"}},
               [](Service& s, const QueryArgs& a) {
                 const Reader in(*find_query("probe-concepts"), a);
                 return answer(probe_concepts(s, {in.required("space"), in.text("category")}));
               },
               QueryCost::kHeavy});
  t.push_back({"probe-images",
               "The images of a space's probe set that carry a concept, one split, in index.csv order, paged",
               "GET", "/api/probe/concepts/{concept}/images",
               {{"concept", ParamType::kText, "Concept name (of the probe set)", true, "", {}, {}, 0, true}, space_param(),
                {"split", ParamType::kText, "train or val", false, "train"},
                {"offset", ParamType::kInt, "How many images to skip first (paging)", false, "0", 0, {}},
                {"limit", ParamType::kInt, "How many images to list", false, "24", 1, kMaxProbePage}},
               [](Service& s, const QueryArgs& a) {
                 const Reader in(*find_query("probe-images"), a);
                 ProbeImagesRequest r;
                 r.space = in.required("space");
                 r.name = in.required("concept");
                 const std::string split = *in.text("split");
                 N2V_CHECK(split == "train" || split == "val", kInvalidArgument,
                           "'" << in.flag_name("split") << "' must be train or val, got '" << split << "'");
                 r.split = split == "train" ? Split::kTrain : Split::kVal;
                 r.offset = in.integer_or("offset", r.offset);
                 r.limit = in.integer_or("limit", r.limit);
                 return answer(probe_images(s, r));
               },
               QueryCost::kHeavy});
  return t;
}


// The Service's messages name a request's fields as the HTTP API does ('per_concept'); on
// the command line they read as its flags ('--per-concept').
std::vector<Query> with_cli_spelling(std::vector<Query> table) {
  for (Query& q : table)
    q.run = [run = std::move(q.run), params = q.params](Service& s, const QueryArgs& a) {
      if (a.style() != QueryArgs::Style::kCli) return run(s, a);
      try {
        return run(s, a);
      } catch (const Error& e) {
        std::string message = e.message();
        bool changed = false;
        for (const QueryParam& p : params) {
          const std::string from = "'" + p.name + "'", to = "'--" + p.cli_name() + "'";
          for (size_t at = message.find(from); at != std::string::npos; at = message.find(from, at + to.size())) {
            message.replace(at, from.size(), to);
            changed = true;
          }
        }
        if (!changed) throw;
        Error renamed(e.code(), message);
        throw renamed.with_suggestions(e.suggestions());
      }
    };
  return table;
}

}  // namespace

const std::vector<Query>& queries() {
  static const std::vector<Query> table = with_cli_spelling(make_queries());
  return table;
}

const Query* find_query(std::string_view name) {
  for (const Query& q : queries())
    if (q.name == name) return &q;
  return nullptr;
}

AnalogyRequest analogy_request_from_json(const Json& body) {
  const Query& q = *find_query("analogy");
  return analogy_request(Reader(q, args_from_json(q, body)));
}

}  // namespace n2v
