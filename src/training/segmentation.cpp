// Segmentation embeddings (paper 3.1): single-filter set IoU and learned filter weights.

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <span>

#include "common/clock.h"
#include "common/deciles.h"
#include "common/error.h"
#include "common/progress.h"
#include "activations/detail/device_maps.h"
#include "training/detail/cpu_kernels.h"
#include "training/detail/tensors.h"
#include "training/training.h"

namespace n2v {

SegmentationKernel parse_segmentation_kernel(const std::string& name) {
  if (name == "auto") return SegmentationKernel::kAuto;
  if (name == "sparse") return SegmentationKernel::kSparse;
  if (name == "dense") return SegmentationKernel::kDense;
  N2V_THROW(kInvalidArgument, "unknown segmentation kernel '" << name << "' (expected auto, sparse or dense)");
}

const char* to_string(SegmentationKernel kernel) {
  switch (kernel) {
    case SegmentationKernel::kAuto: return "auto";
    case SegmentationKernel::kSparse: return "sparse";
    case SegmentationKernel::kDense: return "dense";
  }
  return "unknown";
}

SegmentationKernel resolve_kernel(SegmentationKernel kernel, DeviceKind device) {
  if (kernel != SegmentationKernel::kAuto) return kernel;
  return device == DeviceKind::kCuda ? SegmentationKernel::kDense : SegmentationKernel::kSparse;
}

std::vector<int> paper_segmentation_subsets() { return {1, 2, 4, 8, 16, 32, 64, 128, 160, 192, 224}; }

namespace {



// Everything the segmentation passes read, on the training device.
struct SegData {
  int64_t k = 0, h = 0, w = 0, mh = 0, mw = 0;
  torch::Device device{torch::kCPU};
  torch::Tensor masks;         // uint8 [P, ceil(mh*mw/8)]: target masks of all pairs
  torch::Tensor pair_image;    // long [P]
  torch::Tensor pair_concept;  // long [P]: concept index
  torch::Tensor mask_pixels;   // float [P]: |L_c(x)|
  std::vector<int64_t> pair_image_cpu;
  std::vector<int64_t> pair_concept_cpu;
  std::vector<uint8_t> mask_cpu;     // [P, mask_bytes]: the targets, for the CPU passes
  std::vector<float> pixels_cpu;     // [P]: |L_c(x)|
  size_t mask_bytes = 0;
  // The thresholded maps as lists of active (filter, position) entries per image, f*h*w + p
  // (CSR): at tau = 0.005 about 0.5% of positions are on, so the weighted sum over filters
  // is a sparse gather rather than a dense K x H x W product.
  std::vector<int64_t> active_offset;  // n + 1
  std::vector<int32_t> active_entry;
  // The dense kernel's maps instead: uint8 [n, bytes_per_image] on the device.
  bool dense = false;
  torch::Tensor maps;
  std::vector<int> labels;                     // concept index -> label number
  std::vector<std::vector<int64_t>> train, val;  // per concept: pair indices
  std::vector<float> alpha;                    // per concept
  // Bilinear upsampling is separable: S(z) = Ry z Rx^T with Ry [mh, h], Rx [mw, w]. As
  // matrices it runs as batched BLAS products, forward and adjoint alike.
  torch::Tensor Ry, Rx;
  // The same resampling as taps (the fused CPU step, detail/cpu_kernels.h).
  std::vector<detail::Tap> ytaps, xtaps;
  bool align_corners = false;
};

// Where output index o of an axis samples the input: detail::source_coordinate
// (align_corners = false, today's PyTorch; true, the PyTorch the authors used, so the first and
// last samples sit on the first and last inputs).
using detail::source_coordinate;

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
      index[label] = static_cast<int>(d.labels.size());
      d.labels.push_back(label);
    }
  }
  const size_t C = d.labels.size();
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

// The sparse weighted sum of a chunk of pairs: z_p = sum over the active (k, position)
// entries of the pair's image of w[c, k], as two index lists into W.view(-1) and
// z.view(-1) (z: [B, h*w]).
struct SparseSum {
  torch::Tensor weight_index, target_index;
  int64_t pairs = 0;
};

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

// The thresholded maps of a chunk of pairs as the kernel reads them: the sparse kernel's
// index lists, or the dense kernel's unpacked maps, float [B, K, h*w] (the bits of the pairs'
// images, gathered and unpacked on the device).
struct ChunkMaps {
  SparseSum sparse;
  torch::Tensor dense;
  torch::Tensor concepts;  // long [B]: each pair's concept index
  int64_t pairs = 0;
};

// `pairs`: the chunk's pair indices on the host (read by the sparse kernel only), `idx` the same
// on the device.
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

// z = sum_k w_k I(A_k > T_k) per pair at the map size, [B, h, w].
torch::Tensor filter_sum(const SegData& d, const ChunkMaps& m, const torch::Tensor& W) {
  if (d.dense) return torch::bmm(W.index_select(0, m.concepts).unsqueeze(1), m.dense).view({m.pairs, d.h, d.w});
  torch::Tensor z = torch::zeros({m.pairs * d.h * d.w}, W.options());
  if (m.sparse.weight_index.numel() > 0)
    z.index_add_(0, m.sparse.target_index, W.view({-1}).index_select(0, m.sparse.weight_index));
  return z.view({m.pairs, d.h, d.w});
}

// The adjoint of filter_sum: gW[c] += sum over the chunk's pairs of concept c of their maps
// weighted by gz (float [B * h * w]).
void filter_sum_adjoint(const SegData& d, const ChunkMaps& m, const torch::Tensor& gz, torch::Tensor& gW) {
  if (d.dense) {
    gW.index_add_(0, m.concepts, torch::bmm(m.dense, gz.view({m.pairs, d.h * d.w, 1})).squeeze(2));
  } else if (m.sparse.weight_index.numel() > 0) {
    gW.view({-1}).index_add_(0, m.sparse.weight_index, gz.index_select(0, m.sparse.target_index));
  }
}

// filter_sum for R replicas of every concept (W: [R * C, K], replica r's concept c in row
// r * C + c): [R * B, h, w], replica-major. The dense kernel unpacks each pair's maps once for
// all replicas (one [B, R, K] x [B, K, hw] product).
torch::Tensor replica_filter_sum(const SegData& d, const ChunkMaps& m, const torch::Tensor& W, int64_t R) {
  if (R == 1) return filter_sum(d, m, W);
  const int64_t C = static_cast<int64_t>(d.labels.size());
  const torch::Tensor Wr = W.view({R, C, d.k});
  if (d.dense)
    return torch::bmm(Wr.index_select(1, m.concepts).transpose(0, 1), m.dense)  // [B, R, hw]
        .transpose(0, 1)
        .reshape({R * m.pairs, d.h, d.w});
  std::vector<torch::Tensor> parts;
  for (int64_t r = 0; r < R; ++r) parts.push_back(filter_sum(d, m, Wr.select(0, r)));
  return torch::cat(parts, 0);
}

// The adjoint of replica_filter_sum: gz is float [R * B * h * w], gW [R * C, K].
void replica_filter_sum_adjoint(const SegData& d, const ChunkMaps& m, const torch::Tensor& gz, torch::Tensor& gW,
                                int64_t R) {
  if (R == 1) return filter_sum_adjoint(d, m, gz, gW);
  const int64_t C = static_cast<int64_t>(d.labels.size()), hw = d.h * d.w;
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

// Logits S(sum_k w_k I(A_k > T_k)) + b at the mask size, [B, mh, mw] (paper eq. 2).
// Upsampling is linear, so it is applied once to the weighted sum.
// With R replicas (replica_filter_sum): [R * B, mh, mw], `rows` the rows of W and b of the
// (replica, pair)s, replica-major (undefined: the chunk's concepts, R = 1).
torch::Tensor pair_logits(const SegData& d, const ChunkMaps& m, const torch::Tensor& W, const torch::Tensor& b,
                          int64_t R = 1, const torch::Tensor& rows = {}) {
  torch::Tensor up = torch::matmul(torch::matmul(d.Ry, replica_filter_sum(d, m, W, R)), d.Rx.t());
  if (b.defined()) up = up + b.index_select(0, rows.defined() ? rows : m.concepts).view({-1, 1, 1});
  return up;
}

torch::Tensor pair_logits(const SegData& d, const std::vector<int64_t>& pairs,
                          const torch::Tensor& W, const torch::Tensor& b) {
  return pair_logits(d, chunk_maps(d, pairs, detail::long_tensor(pairs, d.device)), W, b)
      .view({static_cast<int64_t>(pairs.size()), d.mh * d.mw});
}

struct PairIou {
  std::vector<float> inter, uni;  // per pair of the list
};

// Intersection and union of (z > 0, i.e. sigmoid > 1/2) with the target, per pair.
PairIou evaluate_pairs(const SegData& d, const std::vector<int64_t>& pairs, const torch::Tensor& W,
                       const torch::Tensor& b, int64_t chunk) {
  torch::NoGradGuard no_grad;
  PairIou out;
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
  }
  return out;
}

// evaluate_pairs over several lists at once (one per concept): one batched pass over all
// their pairs, split back per list.
std::vector<PairIou> evaluate_groups(const SegData& d, const std::vector<std::vector<int64_t>>& groups,
                                     const torch::Tensor& W, const torch::Tensor& b, int64_t chunk) {
  std::vector<int64_t> all;
  for (const auto& g : groups) all.insert(all.end(), g.begin(), g.end());
  PairIou flat = evaluate_pairs(d, all, W, b, chunk);
  std::vector<PairIou> out(groups.size());
  size_t at = 0;
  for (size_t i = 0; i < groups.size(); ++i) {
    const size_t n = groups[i].size();
    out[i].inter.assign(flat.inter.begin() + at, flat.inter.begin() + at + n);
    out[i].uni.assign(flat.uni.begin() + at, flat.uni.begin() + at + n);
    at += n;
  }
  return out;
}

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

// Figure 8: for every concept, the predicted masks (learned and best single filter) of the
// val images at the deciles of the non-zero per-image IoU of either -- at most 20 images a
// concept, so they are recomputed here rather than kept from the evaluation pass.
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

// Learns W (and b) for all concepts at once. Each round gives every concept its next batch
// of its own train images; a concept's update depends only on its batch, so this equals
// training concepts one by one with their own optimiser (the authors' protocol).
//
// `replicas` R > 1 trains R independent copies of every concept at once (W: [R * C, K], copy r
// of concept c in row r * C + c, each with its own rows of `keep`): the filter-subset sweep as
// one run. Every copy sees the same batches, as R runs from the same seed would, and a round
// moves R times the pairs for one pass over the maps: on a GPU the sweep costs about one
// training run's rounds, not R.
void train_weights(const SegData& d, const SegmentationOptions& opt, torch::Tensor& W,
                   torch::Tensor& b, const torch::Tensor& keep, const std::string& stage,
                   int64_t* pair_steps, int64_t R = 1) {
  const int64_t C = static_cast<int64_t>(d.labels.size());
  // Gradients are written out explicitly (no autograd): the loss is a per-pixel function of
  // a linear map of W, and its adjoint is two small matrix products and a scatter.
  torch::NoGradGuard no_grad;
  W = torch::zeros({R * C, d.k}, torch::TensorOptions().device(d.device));
  if (opt.bias) b = torch::zeros({R * C}, torch::TensorOptions().device(d.device));
  torch::Tensor vW = torch::zeros_like(W), vb = opt.bias ? torch::zeros_like(b) : torch::Tensor();
  torch::Tensor gW = torch::zeros_like(W), gb = opt.bias ? torch::zeros_like(b) : torch::Tensor();
  torch::Tensor alpha = detail::float_tensor(d.alpha, d.device).repeat({R});
  // Row r * C of every replica's concept index (added to a chunk's concepts).
  const torch::Tensor replica_base =
      (torch::arange(R, torch::TensorOptions().dtype(torch::kLong).device(d.device)) * C).view({R, 1});
  const size_t per_chunk = static_cast<size_t>(std::max<int64_t>(1, opt.pairs_per_chunk / R));

  const int bs = opt.sgd.batch_size;
  std::mt19937_64 rng(opt.seed);
  int64_t total_pairs = 0;
  for (const auto& t : d.train) total_pairs += static_cast<int64_t>(t.size());
  Progress progress(stage, total_pairs * opt.sgd.epochs, "pairs");

  // Rounds of each concept per epoch (ceil(train images / batch)): concept c takes part in
  // round r while r < its rounds, which the device computes itself each round.
  std::vector<float> concept_rounds(C);
  for (int64_t c = 0; c < C; ++c) concept_rounds[c] = static_cast<float>((d.train[c].size() + bs - 1) / bs);
  const torch::Tensor rounds_of = detail::float_tensor(concept_rounds, d.device).repeat({R});

  std::vector<std::vector<int64_t>> order = d.train;
  for (int epoch = 0; epoch < opt.sgd.epochs; ++epoch) {
    size_t rounds = 0;
    for (auto& o : order) {
      std::shuffle(o.begin(), o.end(), rng);
      rounds = std::max(rounds, (o.size() + bs - 1) / bs);
    }
    // The epoch's pairs in round order, with their loss weights (1 / the concept's batch size),
    // uploaded once: the rounds below slice them on the device, so a GPU is never made to wait
    // for a small host copy (a pageable upload synchronises its stream) between rounds.
    std::vector<int64_t> epoch_pairs;
    std::vector<float> epoch_weights;
    std::vector<size_t> round_start{0};
    for (size_t r = 0; r < rounds; ++r) {
      for (int64_t c = 0; c < C; ++c) {
        const auto& o = order[c];
        const size_t begin = r * bs;
        if (begin >= o.size()) continue;
        const size_t end = std::min(o.size(), begin + bs);
        for (size_t i = begin; i < end; ++i) {
          epoch_pairs.push_back(o[i]);
          epoch_weights.push_back(1.0f / static_cast<float>(end - begin));
        }
      }
      round_start.push_back(epoch_pairs.size());
    }
    const torch::Tensor pairs_dev = detail::long_tensor(epoch_pairs, d.device);
    const torch::Tensor weights_dev = detail::float_tensor(epoch_weights, d.device);
    for (size_t r = 0; r < rounds; ++r) {
      const size_t round_pairs = round_start[r + 1] - round_start[r];
      for (size_t begin = round_start[r]; begin < round_start[r + 1]; begin += per_chunk) {
        const size_t end = std::min(round_start[r + 1], begin + per_chunk);
        const int64_t B = static_cast<int64_t>(end - begin);
        const std::span<const int64_t> part(epoch_pairs.data() + begin, end - begin);
        const torch::Tensor idx = pairs_dev.narrow(0, static_cast<int64_t>(begin), B);
        if (!d.dense && d.device.is_cpu()) {  // CPU: the whole step fused, row by row (detail/cpu_kernels.h)
          const int64_t rows = R * B;
          std::vector<int64_t> row_pair(rows), row_image(rows), row_w(rows), order(rows);
          std::vector<float> row_alpha(rows), row_weight(rows);
          for (int64_t r = 0; r < rows; ++r) {
            const int64_t p = r % B, c = d.pair_concept_cpu[part[p]];
            row_pair[r] = part[p];
            row_image[r] = d.pair_image_cpu[part[p]];
            row_w[r] = (r / B) * C + c;  // replica-major, as W's rows
            row_alpha[r] = d.alpha[c];
            row_weight[r] = epoch_weights[begin + p];
          }
          // Rows grouped by their row of W, so that each thread owns the rows of gW it writes.
          std::iota(order.begin(), order.end(), 0);
          std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return row_w[x] < row_w[y]; });
          std::vector<int64_t> group{0};
          for (int64_t i = 1; i < rows; ++i)
            if (row_w[order[i]] != row_w[order[i - 1]]) group.push_back(i);
          group.push_back(rows);
          detail::SparseStep step;
          step.k = d.k, step.h = d.h, step.w = d.w, step.mh = d.mh, step.mw = d.mw;
          step.ytaps = d.ytaps.data(), step.xtaps = d.xtaps.data();
          step.active_offset = d.active_offset.data(), step.active_entry = d.active_entry.data();
          step.W = W.data_ptr<float>();
          step.b = opt.bias ? b.data_ptr<float>() : nullptr;
          step.masks = d.mask_cpu.data(), step.mask_bytes = d.mask_bytes;
          step.pair = row_pair.data(), step.image = row_image.data(), step.w_row = row_w.data();
          step.alpha = row_alpha.data(), step.weight = row_weight.data();
          step.log_loss = opt.log_loss;
          float* gW_data = gW.data_ptr<float>();
          float* gb_data = opt.bias ? gb.data_ptr<float>() : nullptr;
          at::parallel_for(0, static_cast<int64_t>(group.size()) - 1, 1, [&](int64_t g0, int64_t g1) {
            detail::sparse_step(step, order.data(), group[g0], group[g1], gW_data, gb_data);
          });
          continue;
        }
        const torch::Tensor wts = weights_dev.narrow(0, static_cast<int64_t>(begin), B).repeat({R}).view({-1, 1, 1});
        const ChunkMaps maps = chunk_maps(d, part, idx);
        // Rows of W of the chunk's (replica, pair)s, replica-major: [R * B].
        const torch::Tensor concepts = R == 1 ? maps.concepts : (replica_base + maps.concepts.view({1, -1})).reshape({-1});
        torch::Tensor up = pair_logits(d, maps, W, b, R, concepts);  // [R * B, mh, mw]
        torch::Tensor t = pair_targets(d, idx).view({-1, d.mh, d.mw});
        if (R > 1) t = t.repeat({R, 1, 1});
        torch::Tensor a = alpha.index_select(0, concepts).view({-1, 1, 1});
        torch::Tensor M = up.sigmoid_();
        // dL/d(up) per pixel, L = -(1/B) sum [a t m(up) + (1 - a)(1 - t) m(-up)]:
        //   linear (eq. 4 as printed, m = sigmoid): -(t - (1 - a)) M (1 - M)
        //     (a t - (1 - a)(1 - t) = t - (1 - a) for t in {0, 1});
        //   log (m = log sigmoid): -(a t (1 - M) - (1 - a)(1 - t) M) = M (1 - a + t (2a - 1)) - a t.
        // In place where possible: these [B, mh, mw] tensors dominate memory traffic.
        torch::Tensor g;
        if (opt.log_loss) {
          g = t * (2 * a - 1);
          g.add_(1 - a).mul_(M).sub_(t * a);
        } else {
          g = t - (1 - a);
          g.mul_(M);
          g.mul_(M.neg_().add_(1));
          g.neg_();
        }
        g.mul_(wts);
        // Adjoint of the upsampling, then of the filter sum: into W's rows.
        torch::Tensor gz = torch::matmul(torch::matmul(d.Ry.t(), g), d.Rx).reshape({-1});
        replica_filter_sum_adjoint(d, maps, gz, gW, R);
        if (opt.bias) gb.index_add_(0, concepts, g.sum({1, 2}));
      }
      const torch::Tensor on = (rounds_of > static_cast<float>(r)).to(torch::kFloat32);
      detail::sgd_rows_step(W, vW, gW, on, opt.sgd.lr, opt.sgd.momentum, keep);
      gW.zero_();
      if (opt.bias) {
        detail::sgd_rows_step(b, vb, gb, on, opt.sgd.lr, opt.sgd.momentum);
        gb.zero_();
      }
      if (pair_steps) *pair_steps += static_cast<int64_t>(round_pairs) * R;
      progress.advance(static_cast<int64_t>(round_pairs));
    }
  }
}

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

// Single filters (paper 3.1.1): IoU_set(c; M_k, s) for every k, M_k = S(A_k > T_k) > 1/2.
// Returns sums of intersections and unions per (concept, split) row and filter, [2C, K].
// Thresholded maps are sparse (tau = 0.5% of positions), so each image's upsampled masks are
// built by splatting its active positions only: the cost follows the active entries, not
// K x mask pixels. Images run in parallel; each thread keeps its own sums.
void single_filter_sums(const SegData& d, std::vector<double>& inter_sum,
                        std::vector<double>& union_sum, const std::vector<uint8_t>& pair_is_val) {
  const int64_t C = static_cast<int64_t>(d.labels.size());
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

// single_filter_sums for the dense kernel, on the device: blocks of whole images (at most 32,
// and at most `chunk` pairs unless one image has more). Each block's maps are unpacked and
// upsampled, M_k = S(.) > 1/2 as 0/1 floats [n, K, S]; the targets of each image's pairs are
// laid out [n, P, S] (P: the block's most pairs of one image, zero rows as padding), so the
// intersections of every pair with every M_k of its own image are one batched product
// [n, P, S] x [n, S, K]. Counts are exact in float32 (below 2^24) and summed in float64.
void single_filter_sums_dense(const SegData& d, std::vector<double>& inter_sum, std::vector<double>& union_sum,
                              const std::vector<uint8_t>& pair_is_val, int64_t chunk) {
  torch::NoGradGuard no_grad;
  const int64_t C = static_cast<int64_t>(d.labels.size());
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

}  // namespace

std::vector<ConceptEmbedding> train_segmentation(const ProbeActivations& acts,
                                                 const ProbeAnnotations& annotations,
                                                 const SegmentationOptions& given,
                                                 TrainingTimings* timings) {
  N2V_CHECK(given.sgd.epochs >= 0 && given.sgd.batch_size > 0 && given.pairs_per_chunk >= 0,
            kInvalidArgument, "segmentation: epochs and batch size must be positive, the chunk >= 0");
  SegmentationOptions options = given;
  if (options.pairs_per_chunk == 0) options.pairs_per_chunk = options.device == DeviceKind::kCuda ? 8192 : 512;
  torch::manual_seed(options.seed);
  SegData d = prepare(acts, annotations, options);
  const int64_t C = static_cast<int64_t>(d.labels.size());
  std::vector<ConceptEmbedding> out(C);
  if (C == 0) return out;
  TrainingTimings local;
  TrainingTimings& t = timings ? *timings : local;
  const int64_t chunk = options.pairs_per_chunk;

  // 1. Single filters: best on train, reported on val.
  auto t0 = Clock::now();
  std::vector<uint8_t> pair_is_val(d.pair_image_cpu.size(), 0);
  for (const auto& v : d.val)
    for (int64_t p : v) pair_is_val[p] = 1;
  std::vector<double> inter_sum, union_sum;
  if (d.dense)
    single_filter_sums_dense(d, inter_sum, union_sum, pair_is_val, chunk);
  else
    single_filter_sums(d, inter_sum, union_sum, pair_is_val);
  auto iou_at = [&](int64_t c, int split, int64_t k) {
    const size_t i = (2 * c + split) * d.k + k;
    return union_sum[i] > 0 ? static_cast<float>(inter_sum[i] / union_sum[i]) : 0.0f;
  };
  std::vector<int64_t> best(C);
  for (int64_t c = 0; c < C; ++c) {
    int64_t k_best = 0;
    for (int64_t k = 1; k < d.k; ++k)
      if (iou_at(c, 0, k) > iou_at(c, 0, k_best)) k_best = k;
    // No filter overlaps the concept on train: it has no best filter (-1), rather than
    // filter 0 by default, which would over-count filter 0 in Figure 5.
    if (!(iou_at(c, 0, k_best) > 0)) k_best = -1;
    best[c] = k_best;
    ConceptEmbedding& e = out[c];
    e.label = d.labels[c];
    e.train_count = static_cast<int>(d.train[c].size());
    e.val_count = static_cast<int>(d.val[c].size());
    e.alpha = d.alpha[c];
    e.best_filter = static_cast<int>(k_best);
    e.best_filter_train = k_best >= 0 ? iou_at(c, 0, k_best) : 0.0f;
    e.best_filter_val = k_best >= 0 ? iou_at(c, 1, k_best) : 0.0f;
    e.filter_iou_val.resize(d.k);
    for (int64_t k = 0; k < d.k; ++k) e.filter_iou_val[k] = iou_at(c, 1, k);
  }
  t.single_filter_seconds += seconds_since(t0);

  // 2. Learned weights over all filters.
  auto t1 = Clock::now();
  torch::Tensor W, b;
  train_weights(d, options, W, b, {}, "segmentation training", &t.pair_steps);
  t.train_seconds += seconds_since(t1);

  // 3. Scores: set IoU train/val, per-image IoU of val images (learned and best filter).
  auto t2 = Clock::now();
  torch::Tensor W_cpu = W.cpu();
  torch::Tensor b_cpu = b.defined() ? b.cpu() : torch::Tensor();
  // The best single filter as a one-hot weight vector with z = S(I(A_k>T_k)) - 1/2, so that
  // z > 0 is exactly S(.) > 1/2, the single-filter mask.
  torch::Tensor W_single = torch::zeros({C, d.k}, torch::TensorOptions().device(d.device));
  for (int64_t c = 0; c < C; ++c)
    if (best[c] >= 0) W_single[c][best[c]] = 1.0;  // none: an empty mask (z = -1/2 everywhere)
  torch::Tensor b_single = torch::full({C}, -0.5, torch::TensorOptions().device(d.device));
  const std::vector<PairIou> train_iou = evaluate_groups(d, d.train, W, b, chunk);
  const std::vector<PairIou> val_iou = evaluate_groups(d, d.val, W, b, chunk);
  const std::vector<PairIou> single_iou = evaluate_groups(d, d.val, W_single, b_single, chunk);
  for (int64_t c = 0; c < C; ++c) {
    ConceptEmbedding& e = out[c];
    e.weights.assign(W_cpu[c].data_ptr<float>(), W_cpu[c].data_ptr<float>() + d.k);
    e.bias = b_cpu.defined() ? b_cpu[c].item<float>() : 0.0f;
    e.score_train = set_iou(train_iou[c]);
    const PairIou& val = val_iou[c];
    const PairIou& val_single = single_iou[c];
    e.score_val = set_iou(val);
    for (size_t i = 0; i < d.val[c].size(); ++i) {
      ImageIou r;
      r.image = static_cast<int>(d.pair_image_cpu[d.val[c][i]]);
      r.learned = val.uni[i] > 0 ? val.inter[i] / val.uni[i] : 0.0f;
      r.single = val_single.uni[i] > 0 ? val_single.inter[i] / val_single.uni[i] : 0.0f;
      e.image_iou.push_back(r);
    }
  }
  decile_masks(d, W, b, W_single, b_single, chunk, out);
  t.eval_seconds += seconds_since(t2);

  // 4. Filter subsets (paper 3.2.2, applied to segmentation): top-F filters by |w|, retrained.
  auto t3 = Clock::now();
  // The whole sweep trains as one run of replicas (train_weights), each F its own copy of
  // every concept.
  std::vector<int> sweep;
  std::string names;
  std::vector<torch::Tensor> keeps;
  for (int f : options.subsets) {
    if (f <= 0 || f >= d.k) continue;  // F >= K is the full model, already trained
    sweep.push_back(f);
    keeps.push_back(detail::top_abs_mask(W, f));
    names += (names.empty() ? "" : ",") + std::to_string(f);
  }
  if (!sweep.empty()) {
    const int64_t R = static_cast<int64_t>(sweep.size());
    torch::Tensor Wf, bf;
    train_weights(d, options, Wf, bf, torch::cat(keeps, 0), "segmentation F=" + names, &t.pair_steps, R);
    for (int64_t r = 0; r < R; ++r) {
      const std::vector<PairIou> sub_iou =
          evaluate_groups(d, d.val, Wf.narrow(0, r * C, C), bf.defined() ? bf.narrow(0, r * C, C) : torch::Tensor(), chunk);
      for (int64_t c = 0; c < C; ++c) out[c].subsets.emplace_back(sweep[r], set_iou(sub_iou[c]));
    }
  }
  t.subset_seconds += seconds_since(t3);
  return out;
}

}  // namespace n2v
