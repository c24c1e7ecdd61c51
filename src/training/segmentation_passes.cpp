// The segmentation passes declared in training/detail/segmentation_passes.h.

#include "training/detail/segmentation_passes.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <numeric>

#include "activations/device_maps.h"
#include "common/deciles.h"
#include "common/error.h"
#include "common/progress.h"

namespace n2v::detail {

// Where output index o of an axis samples the input: detail::source_coordinate
// (align_corners = false, today's PyTorch; true, the PyTorch the authors used, so the first and
// last samples sit on the first and last inputs).

namespace {

// The interpolation matrix of one axis (the taps of detail::resample_taps as a matrix).
torch::Tensor upsample_matrix(int64_t in, int64_t out, bool align_corners) {
  torch::Tensor R = torch::zeros({out, in}, torch::kFloat32);
  auto a = R.accessor<float, 2>();
  const std::vector<detail::Tap> taps = detail::resample_taps(in, out, align_corners);
  for (int64_t o = 0; o < out; ++o) {
    a[o][taps[o].i0] += 1.0f - taps[o].f;
    a[o][taps[o].i1] += taps[o].f;
  }
  return R;
}

}  // namespace

SegData prepare(const ProbeActivations& acts, const ProbeAnnotations& ann,
                const SegmentationOptions& options) {
  N2V_CHECK(static_cast<size_t>(acts.n) == ann.rows.size(), kInternal,
            "activations and annotations disagree on the images (" << acts.n << " vs "
                                                                   << ann.rows.size() << ")");
  SegData d;
  d.k = acts.k;
  d.h = acts.h;
  d.w = acts.w;
  d.mh = ann.mask_height;
  d.mw = ann.mask_width;
  d.device = detail::to_device(options.device);

  // Concepts: every label with a pixel mask in enough train images and some val image.
  std::map<int, std::pair<int, int>> counts;  // label -> (train, val) images
  for (const ConceptMask& m : ann.masks) {
    auto& c = counts[m.label];
    (ann.splits[m.image] == Split::kTrain ? c.first : c.second)++;
  }
  std::map<int, int> index;  // label -> concept index
  for (const auto& [label, c] : counts) {
    if (c.first >= std::max(1, options.min_train_images) && c.second >= 1) {
      index[label] = static_cast<int>(d.concept_numbers.size());
      d.concept_numbers.push_back(label);
    }
  }
  const size_t C = d.concept_numbers.size();
  d.train.resize(C);
  d.val.resize(C);
  std::vector<double> pixel_sum(C, 0);

  const size_t mask_bytes = (static_cast<size_t>(d.mh) * d.mw + 7) / 8;
  std::vector<uint8_t> mask_data;
  std::vector<int64_t> pair_concept;
  std::vector<float> pixels;
  for (const ConceptMask& m : ann.masks) {
    auto it = index.find(m.label);
    if (it == index.end()) continue;
    const int c = it->second;
    const int64_t p = static_cast<int64_t>(pair_concept.size());
    N2V_ASSERT(m.mask.bytes.size() == mask_bytes);
    mask_data.insert(mask_data.end(), m.mask.bytes.begin(), m.mask.bytes.end());
    pair_concept.push_back(c);
    d.pair_image_cpu.push_back(m.image);
    pixels.push_back(static_cast<float>(m.mask.pixels));
    if (ann.splits[m.image] == Split::kTrain) {
      d.train[c].push_back(p);
      pixel_sum[c] += m.mask.pixels;
    } else {
      d.val[c].push_back(p);
    }
  }
  // alpha = 1 - mean fraction of concept pixels over the concept's train images X_train,c
  // (the images its loss is computed on); see docs/METHOD.md.
  const double S = static_cast<double>(d.mh) * d.mw;
  for (size_t c = 0; c < C; ++c)
    d.alpha.push_back(static_cast<float>(1.0 - pixel_sum[c] / (S * d.train[c].size())));

  const int64_t P = static_cast<int64_t>(pair_concept.size());
  d.masks = torch::from_blob(mask_data.data(), {P, static_cast<int64_t>(mask_bytes)}, torch::kUInt8)
                .clone()
                .to(d.device);
  d.mask_bytes = mask_bytes;
  d.align_corners = options.align_corners;
  d.Ry = upsample_matrix(d.h, d.mh, d.align_corners).to(d.device);
  d.Rx = upsample_matrix(d.w, d.mw, d.align_corners).to(d.device);
  d.ytaps = detail::resample_taps(d.h, d.mh, d.align_corners);
  d.xtaps = detail::resample_taps(d.w, d.mw, d.align_corners);
  d.mask_cpu = std::move(mask_data);
  d.pixels_cpu = pixels;
  d.pair_image = detail::long_tensor(d.pair_image_cpu, d.device);
  d.pair_concept = detail::long_tensor(pair_concept, d.device);
  d.pair_concept_cpu = std::move(pair_concept);

  d.mask_pixels = detail::float_tensor(pixels, d.device);
  d.dense = resolve_kernel(options.kernel, options.device) == SegmentationKernel::kDense;
  const size_t stride = acts.bytes_per_image();
  if (d.dense) {
    d.maps = acts.device_bits
                 ? acts.device_bits->bits.to(d.device)
                 : torch::from_blob(const_cast<uint8_t*>(acts.bits.data()),
                                    {static_cast<int64_t>(acts.n), static_cast<int64_t>(stride)}, torch::kUInt8)
                       .clone()
                       .to(d.device);
    return d;
  }
  std::vector<uint8_t> copied;  // the maps come from the device: one host copy
  if (acts.device_bits) copied = host_bits(acts);
  const std::vector<uint8_t>& bits = acts.device_bits ? copied : acts.bits;
  const int64_t bits_per_image = d.k * d.h * d.w;
  d.active_offset.push_back(0);
  for (int i = 0; i < acts.n; ++i) {
    const uint8_t* row = bits.data() + i * stride;
    for (size_t byte = 0; byte < stride; ++byte) {
      if (!row[byte]) continue;
      for (int j = 0; j < 8; ++j) {
        int64_t bit = static_cast<int64_t>(byte) * 8 + j;
        if (bit < bits_per_image && ((row[byte] >> j) & 1)) d.active_entry.push_back(static_cast<int32_t>(bit));
      }
    }
    d.active_offset.push_back(static_cast<int64_t>(d.active_entry.size()));
  }
  return d;
}

torch::Tensor pair_targets(const SegData& d, const torch::Tensor& pairs) {
  return detail::unpack_bits(d.masks.index_select(0, pairs), d.mh * d.mw);
}

namespace {

SparseSum sparse_sum(const SegData& d, std::span<const int64_t> pairs) {
  const int64_t hw = d.h * d.w;
  std::vector<int64_t> weight_index, target_index;
  for (size_t p = 0; p < pairs.size(); ++p) {
    const int64_t img = d.pair_image_cpu[pairs[p]];
    const int64_t row = d.pair_concept_cpu[pairs[p]] * d.k;
    for (int64_t e = d.active_offset[img]; e < d.active_offset[img + 1]; ++e) {
      const int64_t bit = d.active_entry[e];
      weight_index.push_back(row + bit / hw);
      target_index.push_back(static_cast<int64_t>(p) * hw + bit % hw);
    }
  }
  return {detail::long_tensor(weight_index, d.device), detail::long_tensor(target_index, d.device),
          static_cast<int64_t>(pairs.size())};
}

}  // namespace

ChunkMaps chunk_maps(const SegData& d, std::span<const int64_t> pairs, const torch::Tensor& idx) {
  ChunkMaps m;
  m.pairs = idx.size(0);
  m.concepts = d.pair_concept.index_select(0, idx);
  if (d.dense) {
    const torch::Tensor images = d.pair_image.index_select(0, idx);
    m.dense = detail::unpack_bits(d.maps.index_select(0, images), d.k * d.h * d.w).reshape({m.pairs, d.k, d.h * d.w});
  } else {
    m.sparse = sparse_sum(d, pairs);
  }
  return m;
}

namespace {

// z = sum_k w_k I(A_k > T_k) per pair at the map size, [B, h, w].
torch::Tensor filter_sum(const SegData& d, const ChunkMaps& m, const torch::Tensor& W) {
  if (d.dense) return torch::bmm(W.index_select(0, m.concepts).unsqueeze(1), m.dense).view({m.pairs, d.h, d.w});
  torch::Tensor z = torch::zeros({m.pairs * d.h * d.w}, W.options());
  if (m.sparse.weight_index.numel() > 0)
    z.index_add_(0, m.sparse.target_index, W.view({-1}).index_select(0, m.sparse.weight_index));
  return z.view({m.pairs, d.h, d.w});
}

}  // namespace

void filter_sum_adjoint(const SegData& d, const ChunkMaps& m, const torch::Tensor& gz, torch::Tensor& gW) {
  if (d.dense) {
    gW.index_add_(0, m.concepts, torch::bmm(m.dense, gz.view({m.pairs, d.h * d.w, 1})).squeeze(2));
  } else if (m.sparse.weight_index.numel() > 0) {
    gW.view({-1}).index_add_(0, m.sparse.weight_index, gz.index_select(0, m.sparse.target_index));
  }
}

namespace {

// filter_sum for R replicas of every concept (W: [R * C, K], replica r's concept c in row
// r * C + c): [R * B, h, w], replica-major. The dense kernel unpacks each pair's maps once for
// all replicas (one [B, R, K] x [B, K, hw] product).
torch::Tensor replica_filter_sum(const SegData& d, const ChunkMaps& m, const torch::Tensor& W, int64_t R) {
  if (R == 1) return filter_sum(d, m, W);
  const int64_t C = static_cast<int64_t>(d.concept_numbers.size());
  const torch::Tensor Wr = W.view({R, C, d.k});
  if (d.dense)
    return torch::bmm(Wr.index_select(1, m.concepts).transpose(0, 1), m.dense)  // [B, R, hw]
        .transpose(0, 1)
        .reshape({R * m.pairs, d.h, d.w});
  std::vector<torch::Tensor> parts;
  for (int64_t r = 0; r < R; ++r) parts.push_back(filter_sum(d, m, Wr.select(0, r)));
  return torch::cat(parts, 0);
}

}  // namespace

void replica_filter_sum_adjoint(const SegData& d, const ChunkMaps& m, const torch::Tensor& gz, torch::Tensor& gW,
                                int64_t R) {
  if (R == 1) return filter_sum_adjoint(d, m, gz, gW);
  const int64_t C = static_cast<int64_t>(d.concept_numbers.size()), hw = d.h * d.w;
  torch::Tensor gWr = gW.view({R, C, d.k});
  if (d.dense) {
    const torch::Tensor per_pair = torch::bmm(gz.view({R, m.pairs, hw}).transpose(0, 1), m.dense.transpose(1, 2));
    gWr.index_add_(1, m.concepts, per_pair.transpose(0, 1));  // [R, B, K] into [R, C, K]
    return;
  }
  for (int64_t r = 0; r < R; ++r) {
    torch::Tensor rows = gWr.select(0, r);  // a contiguous [C, K] block of gW
    filter_sum_adjoint(d, m, gz.narrow(0, r * m.pairs * hw, m.pairs * hw), rows);
  }
}

torch::Tensor pair_logits(const SegData& d, const ChunkMaps& m, const torch::Tensor& W, const torch::Tensor& b,
                          int64_t R, const torch::Tensor& rows) {
  torch::Tensor up = torch::matmul(torch::matmul(d.Ry, replica_filter_sum(d, m, W, R)), d.Rx.t());
  if (b.defined()) up = up + b.index_select(0, rows.defined() ? rows : m.concepts).view({-1, 1, 1});
  return up;
}

torch::Tensor pair_logits(const SegData& d, const std::vector<int64_t>& pairs,
                          const torch::Tensor& W, const torch::Tensor& b) {
  return pair_logits(d, chunk_maps(d, pairs, detail::long_tensor(pairs, d.device)), W, b)
      .view({static_cast<int64_t>(pairs.size()), d.mh * d.mw});
}

namespace {

// Intersection and union of (z > 0, i.e. sigmoid > 1/2) with the target, per pair.
// `bits_to(k, packed, n)`: pairs k .. k+n-1's packed predictions (with_bits only), handed over
// chunk by chunk so that the caller files them where they belong without a second copy.
using BitsSink = std::function<void(size_t first, const uint8_t* packed, size_t n)>;

PairIou evaluate_pairs(const SegData& d, const std::vector<int64_t>& pairs, const torch::Tensor& W,
                       const torch::Tensor& b, int64_t chunk, const BitsSink& bits_to) {
  torch::NoGradGuard no_grad;
  PairIou out;
  const bool with_bits = static_cast<bool>(bits_to);
  const int64_t S = d.mh * d.mw, bytes = static_cast<int64_t>(d.mask_bytes);
  // Bit j of byte i = pixel 8i + j, as the targets are packed.
  const torch::Tensor place = torch::tensor({1, 2, 4, 8, 16, 32, 64, 128}, torch::kInt32).to(d.device);
  for (size_t begin = 0; begin < pairs.size(); begin += chunk) {
    std::vector<int64_t> part(pairs.begin() + begin,
                              pairs.begin() + std::min(pairs.size(), begin + chunk));
    torch::Tensor idx = detail::long_tensor(part, d.device);
    torch::Tensor pred = (pair_logits(d, part, W, b) > 0).to(torch::kFloat32);
    torch::Tensor target = pair_targets(d, idx);
    torch::Tensor inter = (pred * target).sum(1);
    torch::Tensor uni = pred.sum(1) + d.mask_pixels.index_select(0, idx) - inter;
    inter = inter.cpu();
    uni = uni.cpu();
    out.inter.insert(out.inter.end(), inter.data_ptr<float>(), inter.data_ptr<float>() + part.size());
    out.uni.insert(out.uni.end(), uni.data_ptr<float>(), uni.data_ptr<float>() + part.size());
    if (with_bits) {
      torch::Tensor on = torch::constant_pad_nd(pred.to(torch::kInt32), {0, bytes * 8 - S});
      torch::Tensor packed = (on.view({-1, bytes, 8}) * place).sum(2).to(torch::kUInt8).cpu().contiguous();
      bits_to(begin, packed.data_ptr<uint8_t>(), part.size());
    }
  }
  return out;
}

}  // namespace

std::vector<PairIou> evaluate_groups(const SegData& d, const std::vector<std::vector<int64_t>>& groups,
                                     const torch::Tensor& W, const torch::Tensor& b, int64_t chunk,
                                     bool with_bits) {
  std::vector<int64_t> all;
  std::vector<size_t> start;  // each group's first pair in `all`
  for (const auto& g : groups) {
    start.push_back(all.size());
    all.insert(all.end(), g.begin(), g.end());
  }
  std::vector<PairIou> out(groups.size());
  // The bits go straight to their group (sized beforehand): collecting them in one flat buffer
  // and splitting it held twice the val predictions at once, +375 MiB at BRODEN scale.
  BitsSink sink;
  if (with_bits) {
    for (size_t i = 0; i < groups.size(); ++i) out[i].bits.resize(groups[i].size() * d.mask_bytes);
    sink = [&](size_t first, const uint8_t* packed, size_t n) {
      size_t g = std::upper_bound(start.begin(), start.end(), first) - start.begin() - 1;
      for (size_t k = 0; k < n; ++k) {
        const size_t pair = first + k;
        while (pair >= start[g] + groups[g].size()) ++g;  // empty groups are skipped
        std::memcpy(out[g].bits.data() + (pair - start[g]) * d.mask_bytes, packed + k * d.mask_bytes, d.mask_bytes);
      }
    };
  }
  PairIou flat = evaluate_pairs(d, all, W, b, chunk, sink);
  for (size_t i = 0; i < groups.size(); ++i) {
    const size_t at = start[i], n = groups[i].size();
    out[i].inter.assign(flat.inter.begin() + at, flat.inter.begin() + at + n);
    out[i].uni.assign(flat.uni.begin() + at, flat.uni.begin() + at + n);
  }
  return out;
}

namespace {

// Bit-packs rows of a 0/1 tensor [B, n] (bit j of byte i = element 8i + j).
std::vector<std::vector<uint8_t>> pack_rows(const torch::Tensor& on) {
  torch::Tensor cpu = on.to(torch::kUInt8).cpu().contiguous();
  const int64_t rows = cpu.size(0), n = cpu.size(1);
  const uint8_t* p = cpu.data_ptr<uint8_t>();
  std::vector<std::vector<uint8_t>> out(rows, std::vector<uint8_t>((n + 7) / 8, 0));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i)
      if (p[r * n + i]) out[r][i / 8] |= static_cast<uint8_t>(1u << (i % 8));
  return out;
}

}  // namespace

void decile_masks(const SegData& d, const torch::Tensor& W, const torch::Tensor& b, const torch::Tensor& W_single,
                  const torch::Tensor& b_single, int64_t chunk, std::vector<ConceptEmbedding>& out) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> pairs;  // (concept, image) pairs to draw, concept by concept
  for (size_t c = 0; c < out.size(); ++c) {
    ConceptEmbedding& e = out[c];
    e.mask_height = static_cast<int>(d.mh);
    e.mask_width = static_cast<int>(d.mw);
    std::vector<float> learned, single;
    std::vector<int64_t> keys;
    for (const ImageIou& r : e.image_iou) {
      learned.push_back(r.learned);
      single.push_back(r.single);
      keys.push_back(r.image);  // kept images are in index.csv order, like the rows
    }
    for (size_t i : decile_images(learned, single, keys)) {
      pairs.push_back(d.val[c][i]);
      e.decile_masks.push_back({e.image_iou[i].image, {}, {}});
    }
  }
  std::vector<std::vector<uint8_t>> learned, single;
  for (size_t begin = 0; begin < pairs.size(); begin += chunk) {
    const std::vector<int64_t> part(pairs.begin() + begin, pairs.begin() + std::min(pairs.size(), begin + chunk));
    for (auto& bits : pack_rows(pair_logits(d, part, W, b) > 0)) learned.push_back(std::move(bits));
    for (auto& bits : pack_rows(pair_logits(d, part, W_single, b_single) > 0)) single.push_back(std::move(bits));
  }
  size_t at = 0;
  for (ConceptEmbedding& e : out)
    for (PredictedMask& m : e.decile_masks) {
      m.learned = std::move(learned[at]);
      m.single = std::move(single[at]);
      ++at;
    }
}

float set_iou(const PairIou& r) {
  double i = std::accumulate(r.inter.begin(), r.inter.end(), 0.0);
  double u = std::accumulate(r.uni.begin(), r.uni.end(), 0.0);
  return u > 0 ? static_cast<float>(i / u) : 0.0f;
}

namespace {

// Where each image's pairs start (the annotations, so the pairs, are sorted by image), with
// the pair count appended: image group g is pairs [starts[g], starts[g + 1]).
std::vector<int64_t> image_starts(const SegData& d) {
  const int64_t P = static_cast<int64_t>(d.pair_image_cpu.size());
  std::vector<int64_t> starts;
  for (int64_t p = 0; p < P; ++p)
    if (p == 0 || d.pair_image_cpu[p] != d.pair_image_cpu[p - 1]) starts.push_back(p);
  starts.push_back(P);
  return starts;
}

// Bilinear upsampling along one axis, as a splat: for each input index, the output indices
// it contributes to and with what weight (the same coordinates as upsample_matrix).
std::vector<std::vector<std::pair<int, double>>> splat_weights(int in, int out, bool align_corners) {
  std::vector<std::vector<std::pair<int, double>>> w(in);
  for (int o = 0; o < out; ++o) {
    double src = source_coordinate(o, in, out, align_corners);
    int i0 = std::min(static_cast<int>(src), in - 1);
    int i1 = std::min(i0 + 1, in - 1);
    double f = src - i0;
    if (i1 == i0) {
      w[i0].emplace_back(o, 1.0);
      continue;
    }
    if (1 - f > 0) w[i0].emplace_back(o, 1 - f);
    if (f > 0) w[i1].emplace_back(o, f);
  }
  return w;
}

}  // namespace

void single_filter_sums(const SegData& d, std::vector<double>& inter_sum,
                        std::vector<double>& union_sum, const std::vector<uint8_t>& pair_is_val) {
  const int64_t C = static_cast<int64_t>(d.concept_numbers.size());
  const int64_t K = d.k, hw = d.h * d.w, S = d.mh * d.mw;
  const auto wy = splat_weights(static_cast<int>(d.h), static_cast<int>(d.mh), d.align_corners);
  const auto wx = splat_weights(static_cast<int>(d.w), static_cast<int>(d.mw), d.align_corners);
  const int64_t P = static_cast<int64_t>(d.pair_image_cpu.size());
  const std::vector<int64_t> starts = image_starts(d);
  const int64_t groups = static_cast<int64_t>(starts.size()) - 1;

  inter_sum.assign(2 * C * K, 0.0);
  union_sum.assign(2 * C * K, 0.0);
  std::mutex merge;
  Progress progress("single filters", P, "pairs");
  at::parallel_for(0, groups, 16, [&](int64_t g0, int64_t g1) {
    std::vector<double> inter(2 * C * K, 0.0), uni(2 * C * K, 0.0);
    std::vector<double> buf(S, 0.0);
    std::vector<std::vector<int64_t>> by_filter(K);
    std::vector<int> on;  // pixels of the current M_k
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t img = d.pair_image_cpu[starts[g]];
      // Every (pair, filter) starts with union |L|; active filters are corrected below.
      for (int64_t p = starts[g]; p < starts[g + 1]; ++p) {
        double* u = &uni[(2 * d.pair_concept_cpu[p] + pair_is_val[p]) * K];
        for (int64_t k = 0; k < K; ++k) u[k] += d.pixels_cpu[p];
      }
      for (auto& v : by_filter) v.clear();
      for (int64_t e = d.active_offset[img]; e < d.active_offset[img + 1]; ++e)
        by_filter[d.active_entry[e] / hw].push_back(d.active_entry[e] % hw);
      for (int64_t k = 0; k < K; ++k) {
        if (by_filter[k].empty()) continue;
        int y_lo = static_cast<int>(d.mh), y_hi = -1, x_lo = static_cast<int>(d.mw), x_hi = -1;
        for (int64_t pos : by_filter[k]) {
          const auto& ry = wy[pos / d.w];
          const auto& rx = wx[pos % d.w];
          // Maps larger than the masks (4x and more): bilinear resampling reads only some
          // positions, and an unread one contributes nothing.
          if (ry.empty() || rx.empty()) continue;
          for (const auto& [Y, a] : ry)
            for (const auto& [X, b] : rx) buf[Y * d.mw + X] += a * b;
          y_lo = std::min(y_lo, ry.front().first);
          y_hi = std::max(y_hi, ry.back().first);
          x_lo = std::min(x_lo, rx.front().first);
          x_hi = std::max(x_hi, rx.back().first);
        }
        on.clear();
        for (int Y = y_lo; Y <= y_hi; ++Y)
          for (int X = x_lo; X <= x_hi; ++X) {
            double& v = buf[Y * d.mw + X];
            if (v > 0.5) on.push_back(static_cast<int>(Y * d.mw + X));
            v = 0;
          }
        if (on.empty()) continue;
        for (int64_t p = starts[g]; p < starts[g + 1]; ++p) {
          const uint8_t* mask = d.mask_cpu.data() + p * d.mask_bytes;
          int hit = 0;
          for (int px : on) hit += (mask[px >> 3] >> (px & 7)) & 1;
          const int64_t row = (2 * d.pair_concept_cpu[p] + pair_is_val[p]) * K + k;
          inter[row] += hit;
          uni[row] += static_cast<double>(on.size()) - hit;
        }
      }
    }
    std::lock_guard<std::mutex> lock(merge);
    for (size_t i = 0; i < inter.size(); ++i) {
      inter_sum[i] += inter[i];
      union_sum[i] += uni[i];
    }
    progress.advance(starts[g1] - starts[g0]);
  });
}

void single_filter_sums_dense(const SegData& d, std::vector<double>& inter_sum, std::vector<double>& union_sum,
                              const std::vector<uint8_t>& pair_is_val, int64_t chunk) {
  torch::NoGradGuard no_grad;
  const int64_t C = static_cast<int64_t>(d.concept_numbers.size());
  const int64_t K = d.k, S = d.mh * d.mw;
  const int64_t P = static_cast<int64_t>(d.pair_image_cpu.size());
  const std::vector<int64_t> starts = image_starts(d);
  const int64_t groups = static_cast<int64_t>(starts.size()) - 1;
  std::vector<int64_t> row_cpu(P);
  for (int64_t p = 0; p < P; ++p) row_cpu[p] = 2 * d.pair_concept_cpu[p] + pair_is_val[p];
  const torch::Tensor rows = detail::long_tensor(row_cpu, d.device);
  const auto dopt = torch::TensorOptions().dtype(torch::kFloat64).device(d.device);
  torch::Tensor inter = torch::zeros({2 * C, K}, dopt), uni = torch::zeros({2 * C, K}, dopt);
  Progress progress("single filters", P, "pairs");
  for (int64_t g = 0; g < groups;) {
    int64_t g1 = g + 1;
    while (g1 < groups && g1 - g < 32 && starts[g1 + 1] - starts[g] <= chunk) ++g1;
    const int64_t p0 = starts[g], p1 = starts[g1], n = g1 - g, B = p1 - p0;
    int64_t most = 0;
    for (int64_t i = g; i < g1; ++i) most = std::max(most, starts[i + 1] - starts[i]);
    std::vector<int64_t> images(n), slot(B);  // slot: where pair p0 + j sits in [n * most]
    for (int64_t i = 0; i < n; ++i) {
      images[i] = d.pair_image_cpu[starts[g + i]];
      for (int64_t p = starts[g + i]; p < starts[g + i + 1]; ++p) slot[p - p0] = i * most + (p - starts[g + i]);
    }
    const torch::Tensor z = detail::unpack_bits(d.maps.index_select(0, detail::long_tensor(images, d.device)), K * d.h * d.w)
                                .reshape({n * K, d.h, d.w});
    const torch::Tensor M = (torch::matmul(torch::matmul(d.Ry, z), d.Rx.t()) > 0.5).to(torch::kFloat32).view({n, K, S});
    const torch::Tensor area = M.sum(2);  // [n, K]
    const torch::Tensor pidx = torch::arange(p0, p1, torch::TensorOptions().dtype(torch::kLong).device(d.device));
    const torch::Tensor at = detail::long_tensor(slot, d.device);
    const torch::Tensor targets =
        torch::zeros({n * most, S}, torch::TensorOptions().dtype(torch::kFloat32).device(d.device))
            .index_copy_(0, at, pair_targets(d, pidx));
    const torch::Tensor in = torch::bmm(targets.view({n, most, S}), M.transpose(1, 2)).view({n * most, K}).index_select(0, at);
    const torch::Tensor image_of_pair = at.div(most, "floor");
    const torch::Tensor un = area.index_select(0, image_of_pair) + d.mask_pixels.index_select(0, pidx).unsqueeze(1) - in;
    const torch::Tensor r = rows.index_select(0, pidx);
    inter.index_add_(0, r, in.to(torch::kFloat64));
    uni.index_add_(0, r, un.to(torch::kFloat64));
    progress.advance(B);
    g = g1;
  }
  const torch::Tensor i_cpu = inter.cpu().contiguous(), u_cpu = uni.cpu().contiguous();
  inter_sum.assign(i_cpu.data_ptr<double>(), i_cpu.data_ptr<double>() + i_cpu.numel());
  union_sum.assign(u_cpu.data_ptr<double>(), u_cpu.data_ptr<double>() + u_cpu.numel());
}

}  // namespace n2v::detail
