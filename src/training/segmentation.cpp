// Segmentation embeddings (paper 3.1): single-filter set IoU and learned filter weights. The
// orchestration: training rounds, the subset sweeps, the embeddings; the passes over the
// probe's pairs are in segmentation_passes.cpp.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <span>

#include "common/clock.h"
#include "common/enum_names.h"
#include "common/error.h"
#include "common/progress.h"
#include "training/detail/segmentation_passes.h"
#include "training/detail/significance.h"
#include "training/training.h"

namespace n2v {

namespace {
constexpr EnumName<SegmentationKernel> kSegmentationKernelNames[] = {{SegmentationKernel::kAuto, "auto"},
                                                                     {SegmentationKernel::kSparse, "sparse"},
                                                                     {SegmentationKernel::kDense, "dense"}};
}  // namespace

SegmentationKernel parse_segmentation_kernel(const std::string& name) {
  return parse_enum(kSegmentationKernelNames, name, "segmentation kernel");
}

const char* to_string(SegmentationKernel kernel) { return enum_name(kSegmentationKernelNames, kernel); }

SegmentationKernel resolve_kernel(SegmentationKernel kernel, DeviceKind device) {
  if (kernel != SegmentationKernel::kAuto) return kernel;
  return device == DeviceKind::kCuda ? SegmentationKernel::kDense : SegmentationKernel::kSparse;
}

std::vector<int> paper_segmentation_subsets() { return {1, 2, 4, 8, 16, 32, 64, 128, 160, 192, 224}; }

namespace {

using detail::ChunkMaps;
using detail::PairIou;
using detail::SegData;

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
  const int64_t C = static_cast<int64_t>(d.concept_numbers.size());
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

// One val score's interval (bootstrap over the concept's val images) and chance level (its
// predicted masks against its permuted targets), from its own seeded stream (detail/
// significance.h), so threads and order do not matter.
void score_stat(const SegData& d, const SegmentationOptions& opt, const std::vector<int64_t>& pairs,
                const PairIou& iou, int concept_number, detail::StatPurpose interval, detail::StatPurpose chance,
                ScoreStats& out) {
  using detail::StatRng;
  StatRng boot(opt.seed, detail::stat_stream(concept_number, interval));
  const detail::Interval ci = detail::bootstrap_set_iou(iou.inter, iou.uni, opt.stats.resamples, boot);
  out.low = ci.low;
  out.high = ci.high;
  if (iou.bits.empty()) return;
  std::vector<const uint8_t*> pred, target;
  for (size_t i = 0; i < pairs.size(); ++i) {
    pred.push_back(iou.bits.data() + i * d.mask_bytes);
    target.push_back(d.mask_cpu.data() + pairs[i] * d.mask_bytes);
  }
  StatRng perm(opt.seed, detail::stat_stream(concept_number, chance));
  const detail::Chance ch = detail::permutation_set_iou(pred, target, d.mask_bytes, opt.stats.permutations, perm);
  out.p = ch.p;
  out.null_mean = ch.null_mean;
}

// Every concept's two val scores' intervals and chance levels (the learned weights', and the
// best single filter's where it has one: without, its score means nothing, nor do these). One
// task per score, the most val images first, handed to the threads one at a time: the cost
// grows with the val images (R x images x mask words), and BRODEN's few concepts in thousands
// of images would otherwise leave the thread with the first half of the concepts working alone.
void score_stats(const SegData& d, const SegmentationOptions& opt, const std::vector<PairIou>& learned,
                 const std::vector<PairIou>& single, const std::vector<int64_t>& best,
                 std::vector<ConceptEmbedding>& out) {
  using detail::StatPurpose;
  struct Task {
    int64_t c;
    bool single;
  };
  std::vector<Task> tasks;
  for (int64_t c = 0; c < static_cast<int64_t>(out.size()); ++c) {
    tasks.push_back({c, false});
    if (best[c] >= 0) tasks.push_back({c, true});
  }
  std::stable_sort(tasks.begin(), tasks.end(),
                   [&](const Task& x, const Task& y) { return d.val[x.c].size() > d.val[y.c].size(); });
  std::atomic<size_t> next{0};
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), tasks.size()));
  at::parallel_for(0, workers, 1, [&](int64_t, int64_t) {
    for (size_t k; (k = next.fetch_add(1)) < tasks.size();) {
      const Task& t = tasks[k];
      ConceptEmbedding& e = out[t.c];
      if (t.single)
        score_stat(d, opt, d.val[t.c], single[t.c], e.concept_number, StatPurpose::kSingleInterval,
                   StatPurpose::kSingleChance, e.best_filter_stats);
      else
        score_stat(d, opt, d.val[t.c], learned[t.c], e.concept_number, StatPurpose::kLearnedInterval,
                   StatPurpose::kLearnedChance, e.score_stats);
    }
  });
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
  SegData d = detail::prepare(acts, annotations, options);
  const int64_t C = static_cast<int64_t>(d.concept_numbers.size());
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
    e.concept_number = d.concept_numbers[c];
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
  const bool chance = options.stats.permutations > 0;  // the chance test needs the masks
  const std::vector<PairIou> val_iou = evaluate_groups(d, d.val, W, b, chunk, chance);
  const std::vector<PairIou> single_iou = evaluate_groups(d, d.val, W_single, b_single, chunk, chance);
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
      r.learned_inter = val.inter[i];
      r.learned_union = val.uni[i];
      r.single_inter = val_single.inter[i];
      r.single_union = val_single.uni[i];
      e.image_iou.push_back(r);
    }
  }
  decile_masks(d, W, b, W_single, b_single, chunk, out);
  t.eval_seconds += seconds_since(t2);

  // 3b. Intervals and chance levels of the val scores (docs/METHOD.md).
  auto ts = Clock::now();
  score_stats(d, options, val_iou, single_iou, best, out);
  t.stats_seconds += seconds_since(ts);

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
