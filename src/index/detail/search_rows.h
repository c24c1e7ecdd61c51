#pragma once
// What every VectorIndex implementation shares (vector_index.cpp, faiss_index.cpp): input
// checks, normalisation and the order of hits. Not for other stages.

#include <cstdint>
#include <utility>
#include <vector>

#include "index/vector_index.h"

namespace n2v::detail {

// Normalised copy of n rows; throws kInvalidArgument on a non-finite value or a zero row.
std::vector<float> normalized_rows(int64_t n, int d, const float* x, const char* what);

// nq >= 0, k > 0, and a selection (if any) covering the index's ids.
void check_search_args(const VectorIndex& index, int64_t nq, int k, const IdSelection* allowed);

// An empty result of nq rows of min(k, index.size()) entries (ids -1, scores -inf).
SearchResult empty_result(const VectorIndex& index, int64_t nq, int k);

// Writes the best k of `hits` (score, id) into one result row, best first (ties: lower id),
// padding with -1 / -inf. Reorders `hits`.
void finish_row(std::vector<std::pair<float, int64_t>>& hits, int k, int64_t* ids, float* scores);

// Top k of each row of an nq x n score matrix (row-major) over the allowed ids, into nq rows
// of k entries at ids / out (as finish_row writes them).
void top_k_rows(const float* scores, int64_t nq, int64_t n, const IdSelection* allowed, int k, int64_t* ids,
                float* out);

}  // namespace n2v::detail
