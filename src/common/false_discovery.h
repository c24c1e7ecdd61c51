#pragma once
// Benjamini-Hochberg q-values: p-values corrected for testing many hypotheses at once (a
// space's hundreds of concepts, each with its permutation p against chance; docs/METHOD.md).
// Used by the analyses' Table 1 (src/analysis) and each concept's answer (src/query).

#include <vector>

namespace n2v {

// The false discovery rate net2vec reads q-values at.
inline constexpr double kFalseDiscoveryRate = 0.05;

// q of each p, in p's order: q_(i) = min over j >= i of p_(j) m / j for the sorted
// p_(1) <= ... <= p_(m), capped at 1. A NaN p is left out of the family and gets a NaN q.
// Rejecting q <= alpha holds the false discovery rate at alpha for independent or positively
// dependent tests (Benjamini & Hochberg 1995).
std::vector<double> benjamini_hochberg(const std::vector<double>& p);

}  // namespace n2v
