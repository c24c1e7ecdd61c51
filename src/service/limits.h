#pragma once
// What one request may ask of a Service (docs/API.md, "Limits"). A server's operator sets the
// ceilings (`net2vec serve --max-...`); a client may ask for less, never more: above a ceiling
// the request is kInvalidArgument (HTTP 400) naming it, so no request costs unbounded CPU or
// memory. The defaults are the server's; the CLI, whose user is the operator, lifts the
// compare ceilings (ServiceLimits::local()).

#include <limits>

namespace n2v {

struct ServiceLimits {
  int max_k = 5000;                  // results of a search (--max-k)
  int max_compare_mb = 1024;         // compare's memory budget in MiB (--max-compare-mb); 0: none.
                                     // The default budget (256 MiB) is lowered to it.
  int max_compare_spaces = 100;      // spaces in one comparison (--max-compare-spaces); 0: none
  int max_compare_permutations = 9999;  // R of compare's permutation test (--max-compare-permutations)
  // R x pairs x C^2 of one permutation test asked for (multiply-adds; 0: none). A request that
  // leaves R to its default is held to the smaller CompareRequest::kDefaultPermutationWork and
  // skips the test above it instead of failing.
  double max_permutation_work = 2e10;
  int max_map_concepts = 2000;       // concepts of a space a map lays out (--max-map-concepts; O(n^2))
  int max_map_iterations = 5000;     // t-SNE iterations (--max-map-iterations; 250 to 5000)
  int max_analogy_terms = 100;       // positive + negative terms of one analogy, repeats counted
  int max_examples_hits = 10'000;    // (queries + sums) x k of one examples request
  int max_examples = 200;            // queries + sums of one examples request

  // The CLI's: compare over any number of spaces with any budget (docs/SCALE.md) and any
  // permutation test asked for (the default one still stops at kDefaultPermutationWork), a map
  // (net2vec report) of any space.
  static ServiceLimits local() {
    ServiceLimits l;
    l.max_compare_mb = 0;
    l.max_compare_spaces = 0;
    l.max_permutation_work = 0;  // a permutation test asked for runs whatever its size
    l.max_map_concepts = std::numeric_limits<int>::max();
    return l;
  }
};

}  // namespace n2v
