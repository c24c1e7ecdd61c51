#pragma once
// ProbeActivations built by the training tests: n images, k filters at h x w, thresholds 1/2,
// zero spatial means, every image kept, no bit set until set_bit.

#include <cstdint>

#include "activations/activations.h"

namespace n2v::test {

inline ProbeActivations blank_activations(int n, int k, int h, int w) {
  ProbeActivations a;
  a.n = n;
  a.k = k;
  a.h = h;
  a.w = w;
  a.thresholds.assign(k, 0.5f);
  a.pooled.assign(static_cast<size_t>(n) * k, 0.0f);
  a.bits.assign(a.bytes_per_image() * n, 0);
  for (int i = 0; i < n; ++i) a.rows.push_back(i);
  a.kept.assign(n, true);
  return a;
}

// Sets filter f's position p (row-major h x w) of image i.
inline void set_bit(ProbeActivations& a, int i, int f, int p) {
  const size_t bit = static_cast<size_t>(f) * a.h * a.w + p;
  a.bits[i * a.bytes_per_image() + bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
}

}  // namespace n2v::test
