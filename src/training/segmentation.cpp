// Segmentation embeddings (paper 3.1): single-filter set IoU and learned filter weights.

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <random>

#include "common/error.h"
#include "common/progress.h"
#include "training/detail/tensors.h"
#include "training/training.h"

namespace n2v {

std::vector<int> paper_segmentation_subsets() { return {1, 2, 4, 8, 16, 32, 64, 128, 160, 192, 224}; }

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

namespace F = torch::nn::functional;

// Everything the segmentation passes read, on the training device.
struct SegData {
  int64_t k = 0, h = 0, w = 0, mh = 0, mw = 0;
  torch::Device device{torch::kCPU};
  torch::Tensor bits;          // uint8 [n, ceil(k*h*w/8)]: thresholded activations
  torch::Tensor masks;         // uint8 [P, ceil(mh*mw/8)]: target masks of all pairs
  torch::Tensor pair_image;    // long [P]
  torch::Tensor pair_concept;  // long [P]: concept index
  torch::Tensor mask_pixels;   // float [P]: |L_c(x)|
  std::vector<int64_t> pair_image_cpu;
  std::vector<int> labels;                     // concept index -> label number
  std::vector<std::vector<int64_t>> train, val;  // per concept: pair indices
  std::vector<float> alpha;                    // per concept
};

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
  d.bits = torch::from_blob(const_cast<uint8_t*>(acts.bits.data()),
                            {acts.n, static_cast<int64_t>(acts.bytes_per_image())}, torch::kUInt8)
               .clone()
               .to(d.device);
  d.pair_image = detail::long_tensor(d.pair_image_cpu, d.device);
  d.pair_concept = detail::long_tensor(pair_concept, d.device);
  d.mask_pixels = detail::float_tensor(pixels, d.device);
  return d;
}

// Thresholded activations of the pairs' images: float [B, k, h*w].
torch::Tensor pair_activations(const SegData& d, const torch::Tensor& pairs) {
  torch::Tensor img = d.pair_image.index_select(0, pairs);
  return detail::unpack_bits(d.bits.index_select(0, img), d.k * d.h * d.w)
      .view({pairs.size(0), d.k, d.h * d.w});
}

torch::Tensor pair_targets(const SegData& d, const torch::Tensor& pairs) {
  return detail::unpack_bits(d.masks.index_select(0, pairs), d.mh * d.mw);
}

// Logits z = S(sum_k w_k * I(A_k > T_k)) + b, upsampled to the mask size: float [B, mh*mw].
// Upsampling is linear, so it is applied once to the weighted sum (paper eq. 2).
torch::Tensor pair_logits(const SegData& d, const torch::Tensor& pairs, const torch::Tensor& W,
                          const torch::Tensor& b) {
  torch::Tensor con = d.pair_concept.index_select(0, pairs);
  torch::Tensor A = pair_activations(d, pairs);
  torch::Tensor z = torch::bmm(W.index_select(0, con).unsqueeze(1), A)
                        .view({pairs.size(0), 1, d.h, d.w});
  if (b.defined()) z = z + b.index_select(0, con).view({-1, 1, 1, 1});
  torch::Tensor up = F::interpolate(z, F::InterpolateFuncOptions()
                                           .size(std::vector<int64_t>{d.mh, d.mw})
                                           .mode(torch::kBilinear)
                                           .align_corners(false));
  return up.view({pairs.size(0), d.mh * d.mw});
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
    torch::Tensor pred = (pair_logits(d, idx, W, b) > 0).to(torch::kFloat32);
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

float set_iou(const PairIou& r) {
  double i = std::accumulate(r.inter.begin(), r.inter.end(), 0.0);
  double u = std::accumulate(r.uni.begin(), r.uni.end(), 0.0);
  return u > 0 ? static_cast<float>(i / u) : 0.0f;
}

// Learns W (and b) for all concepts at once. Each round gives every concept its next batch
// of its own train images; a concept's update depends only on its batch, so this equals
// training concepts one by one with their own optimiser (the authors' protocol).
void train_weights(const SegData& d, const SegmentationOptions& opt, torch::Tensor& W,
                   torch::Tensor& b, const torch::Tensor& keep, const std::string& stage,
                   int64_t* pair_steps) {
  const int64_t C = static_cast<int64_t>(d.labels.size());
  W = torch::zeros({C, d.k}, torch::TensorOptions().device(d.device)).set_requires_grad(true);
  if (opt.bias) b = torch::zeros({C}, torch::TensorOptions().device(d.device)).set_requires_grad(true);
  torch::Tensor vW = torch::zeros_like(W), vb = opt.bias ? torch::zeros_like(b) : torch::Tensor();
  torch::Tensor alpha = detail::float_tensor(d.alpha, d.device);

  const int bs = opt.sgd.batch_size;
  std::mt19937_64 rng(opt.seed);
  int64_t total_pairs = 0;
  for (const auto& t : d.train) total_pairs += static_cast<int64_t>(t.size());
  Progress progress(stage, total_pairs * opt.sgd.epochs, "pairs");

  std::vector<std::vector<int64_t>> order = d.train;
  for (int epoch = 0; epoch < opt.sgd.epochs; ++epoch) {
    size_t rounds = 0;
    for (auto& o : order) {
      std::shuffle(o.begin(), o.end(), rng);
      rounds = std::max(rounds, (o.size() + bs - 1) / bs);
    }
    for (size_t r = 0; r < rounds; ++r) {
      std::vector<int64_t> pairs;
      std::vector<float> weight;            // 1 / (the concept's batch size)
      std::vector<float> active(C, 0.0f);
      for (int64_t c = 0; c < C; ++c) {
        const auto& o = order[c];
        size_t begin = r * bs;
        if (begin >= o.size()) continue;
        size_t end = std::min(o.size(), begin + bs);
        active[c] = 1.0f;
        for (size_t i = begin; i < end; ++i) {
          pairs.push_back(o[i]);
          weight.push_back(1.0f / static_cast<float>(end - begin));
        }
      }
      for (size_t begin = 0; begin < pairs.size(); begin += opt.pairs_per_chunk) {
        size_t end = std::min(pairs.size(), begin + static_cast<size_t>(opt.pairs_per_chunk));
        torch::Tensor idx = detail::long_tensor({pairs.begin() + begin, pairs.begin() + end}, d.device);
        torch::Tensor wts = detail::float_tensor({weight.begin() + begin, weight.begin() + end}, d.device);
        torch::Tensor z = pair_logits(d, idx, W, b);
        torch::Tensor t = pair_targets(d, idx);
        torch::Tensor a = alpha.index_select(0, d.pair_concept.index_select(0, idx)).unsqueeze(1);
        torch::Tensor per_pixel;
        if (opt.log_loss) {
          per_pixel = a * t * F::logsigmoid(z) + (1 - a) * (1 - t) * F::logsigmoid(-z);
        } else {  // eq. 4 as printed: linear in M = sigmoid(z)
          torch::Tensor M = torch::sigmoid(z);
          per_pixel = a * M * t + (1 - a) * (1 - M) * (1 - t);
        }
        torch::Tensor loss = -(per_pixel.sum(1) * wts).sum();
        loss.backward();
      }
      torch::Tensor on = detail::float_tensor(active, d.device);
      detail::sgd_rows_step(W, vW, W.grad(), on, opt.sgd.lr, opt.sgd.momentum, keep);
      W.mutable_grad().zero_();
      if (opt.bias) {
        detail::sgd_rows_step(b, vb, b.grad(), on, opt.sgd.lr, opt.sgd.momentum);
        b.mutable_grad().zero_();
      }
      if (pair_steps) *pair_steps += static_cast<int64_t>(pairs.size());
      progress.advance(static_cast<int64_t>(pairs.size()));
    }
  }
  W = W.detach();
  if (b.defined()) b = b.detach();
}

// Single filters (paper 3.1.1): IoU_set(c; M_k, s) for every k, M_k = S(A_k > T_k) > 1/2.
// Sums of intersections and unions per (concept, split, filter), one image chunk at a time:
// the upsampled maps of an image are shared by all its concepts.
void single_filter_sums(const SegData& d, torch::Tensor& inter_sum, torch::Tensor& union_sum,
                        const std::vector<uint8_t>& pair_is_val) {
  torch::NoGradGuard no_grad;
  const int64_t C = static_cast<int64_t>(d.labels.size());
  inter_sum = torch::zeros({2 * C, d.k}, torch::TensorOptions().dtype(torch::kFloat64).device(d.device));
  union_sum = torch::zeros_like(inter_sum);
  // Pairs grouped by image (pairs are sorted by image already).
  const int64_t P = static_cast<int64_t>(d.pair_image_cpu.size());
  const int64_t per_pair_bytes = d.k * d.mh * d.mw * 4;
  const int64_t chunk_pairs = std::max<int64_t>(1, (256LL << 20) / per_pair_bytes);
  std::vector<int64_t> concept_cpu(P);
  {
    torch::Tensor pc = d.pair_concept.cpu();
    std::copy(pc.data_ptr<int64_t>(), pc.data_ptr<int64_t>() + P, concept_cpu.begin());
  }
  Progress progress("single filters", P, "pairs");
  for (int64_t begin = 0; begin < P; begin += chunk_pairs) {
    int64_t end = std::min(P, begin + chunk_pairs);
    torch::Tensor idx = torch::arange(begin, end, torch::TensorOptions().dtype(torch::kLong).device(d.device));
    torch::Tensor A = pair_activations(d, idx).view({end - begin, d.k, d.h, d.w});
    torch::Tensor U = (F::interpolate(A, F::InterpolateFuncOptions()
                                             .size(std::vector<int64_t>{d.mh, d.mw})
                                             .mode(torch::kBilinear)
                                             .align_corners(false)) > 0.5)
                          .to(torch::kFloat32)
                          .view({end - begin, d.k, d.mh * d.mw});
    torch::Tensor L = pair_targets(d, idx);
    torch::Tensor inter = torch::bmm(U, L.unsqueeze(2)).squeeze(2);      // [B, k]
    torch::Tensor uni = U.sum(2) + d.mask_pixels.index_select(0, idx).unsqueeze(1) - inter;
    std::vector<int64_t> rows(end - begin);
    for (int64_t p = begin; p < end; ++p) rows[p - begin] = 2 * concept_cpu[p] + pair_is_val[p];
    torch::Tensor row_idx = detail::long_tensor(rows, d.device);
    inter_sum.index_add_(0, row_idx, inter.to(torch::kFloat64));
    union_sum.index_add_(0, row_idx, uni.to(torch::kFloat64));
    progress.advance(end - begin);
  }
}

}  // namespace

std::vector<ConceptEmbedding> train_segmentation(const ProbeActivations& acts,
                                                 const ProbeAnnotations& annotations,
                                                 const SegmentationOptions& options,
                                                 TrainingTimings* timings) {
  N2V_CHECK(options.sgd.epochs >= 0 && options.sgd.batch_size > 0 && options.pairs_per_chunk > 0,
            kInvalidArgument, "segmentation: epochs, batch size and chunk must be positive");
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
  torch::Tensor inter_sum, union_sum;
  single_filter_sums(d, inter_sum, union_sum, pair_is_val);
  torch::Tensor iou = (inter_sum / union_sum.clamp_min(1)).to(torch::kFloat32).cpu().view({C, 2, d.k});
  auto iou_a = iou.accessor<float, 3>();
  std::vector<int64_t> best(C);
  for (int64_t c = 0; c < C; ++c) {
    int64_t k_best = 0;
    for (int64_t k = 1; k < d.k; ++k)
      if (iou_a[c][0][k] > iou_a[c][0][k_best]) k_best = k;
    best[c] = k_best;
    ConceptEmbedding& e = out[c];
    e.label = d.labels[c];
    e.train_count = static_cast<int>(d.train[c].size());
    e.val_count = static_cast<int>(d.val[c].size());
    e.alpha = d.alpha[c];
    e.best_filter = static_cast<int>(k_best);
    e.best_filter_train = iou_a[c][0][k_best];
    e.best_filter_val = iou_a[c][1][k_best];
    e.filter_iou_val.resize(d.k);
    for (int64_t k = 0; k < d.k; ++k) e.filter_iou_val[k] = iou_a[c][1][k];
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
  for (int64_t c = 0; c < C; ++c) W_single[c][best[c]] = 1.0;
  torch::Tensor b_single = torch::full({C}, -0.5, torch::TensorOptions().device(d.device));
  for (int64_t c = 0; c < C; ++c) {
    ConceptEmbedding& e = out[c];
    e.weights.assign(W_cpu[c].data_ptr<float>(), W_cpu[c].data_ptr<float>() + d.k);
    e.bias = b_cpu.defined() ? b_cpu[c].item<float>() : 0.0f;
    e.score_train = set_iou(evaluate_pairs(d, d.train[c], W, b, chunk));
    PairIou val = evaluate_pairs(d, d.val[c], W, b, chunk);
    PairIou val_single = evaluate_pairs(d, d.val[c], W_single, b_single, chunk);
    e.score_val = set_iou(val);
    for (size_t i = 0; i < d.val[c].size(); ++i) {
      ImageIou r;
      r.image = static_cast<int>(d.pair_image_cpu[d.val[c][i]]);
      r.learned = val.uni[i] > 0 ? val.inter[i] / val.uni[i] : 0.0f;
      r.single = val_single.uni[i] > 0 ? val_single.inter[i] / val_single.uni[i] : 0.0f;
      e.image_iou.push_back(r);
    }
  }
  t.eval_seconds += seconds_since(t2);

  // 4. Filter subsets (paper 3.2.2, applied to segmentation): top-F filters by |w|, retrained.
  auto t3 = Clock::now();
  for (int f : options.subsets) {
    if (f <= 0 || f >= d.k) continue;  // F >= K is the full model, already trained
    torch::Tensor keep = detail::top_abs_mask(W, f);
    torch::Tensor Wf, bf;
    SegmentationOptions sub = options;
    train_weights(d, sub, Wf, bf, keep, "segmentation F=" + std::to_string(f), &t.pair_steps);
    for (int64_t c = 0; c < C; ++c)
      out[c].subsets.emplace_back(f, set_iou(evaluate_pairs(d, d.val[c], Wf, bf, chunk)));
  }
  t.subset_seconds += seconds_since(t3);
  return out;
}

}  // namespace n2v
