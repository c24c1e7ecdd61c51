// Classification embeddings (paper 3.2): concept presence from spatially averaged
// activations, balanced positive/negative sampling, and top-F filter subsets.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "common/clock.h"
#include "common/error.h"
#include "common/progress.h"
#include "training/detail/cpu_kernels.h"
#include "training/detail/significance.h"
#include "training/detail/tensors.h"
#include "training/training.h"

namespace n2v {

std::vector<int> paper_classification_subsets() {
  return {1, 2, 3, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 80, 100, 128};
}

namespace {

struct ClsData {
  torch::Device device{torch::kCPU};
  int64_t n = 0, k = 0;
  float scale = 1;             // features are (pooled - mean) / scale during training
  std::vector<int64_t> authors_steps;  // per concept: ceil(2 min(P, N) / batch)
  torch::Tensor mean;          // float [k]: mean pooled activation over the train images
  torch::Tensor x;             // float [n, k], centred and scaled
  torch::Tensor y;             // float [n, C] presence
  torch::Tensor is_train;      // float [n]
  torch::Tensor train_rows;    // long [n_train]
  torch::Tensor pos_list, pos_offset, pos_count;  // concatenated train positives per concept
  std::vector<int> concept_numbers;  // concept index -> concept (label) number
  std::vector<int> train_count, val_count;
};

ClsData prepare(const ProbeActivations& acts, const ProbeAnnotations& ann,
                const ClassificationOptions& opt) {
  N2V_CHECK(static_cast<size_t>(acts.n) == ann.rows.size(), kInternal,
            "activations and annotations disagree on the images");
  ClsData d;
  d.device = detail::to_device(opt.device);
  d.n = acts.n;
  d.k = acts.k;
  int64_t n_train = 0;
  for (Split s : ann.splits) n_train += s == Split::kTrain;
  const int64_t n_val = d.n - n_train;

  std::map<int, std::pair<int, int>> counts;
  for (int64_t i = 0; i < d.n; ++i)
    for (int label : ann.present[i]) {
      auto& c = counts[label];
      (ann.splits[i] == Split::kTrain ? c.first : c.second)++;
    }
  std::map<int, int> index;
  for (const auto& [label, c] : counts) {
    // Needs positives and negatives in both splits to train and to measure accuracy.
    if (c.first >= std::max(1, opt.min_train_images) && c.second >= 1 && c.first < n_train &&
        c.second < n_val) {
      index[label] = static_cast<int>(d.concept_numbers.size());
      d.concept_numbers.push_back(label);
      d.train_count.push_back(c.first);
      d.val_count.push_back(c.second);
    }
  }
  const int64_t C = static_cast<int64_t>(d.concept_numbers.size());

  std::vector<float> y(d.n * C, 0.0f), is_train(d.n, 0.0f);
  std::vector<int64_t> train_rows;
  std::vector<std::vector<int64_t>> pos(C);
  for (int64_t i = 0; i < d.n; ++i) {
    const bool train = ann.splits[i] == Split::kTrain;
    is_train[i] = train;
    if (train) train_rows.push_back(i);
    for (int label : ann.present[i]) {
      auto it = index.find(label);
      if (it == index.end()) continue;
      y[i * C + it->second] = 1.0f;
      if (train) pos[it->second].push_back(i);
    }
  }
  std::vector<int64_t> pos_list, pos_offset, pos_count;
  for (const auto& p : pos) {
    pos_offset.push_back(static_cast<int64_t>(pos_list.size()));
    pos_count.push_back(static_cast<int64_t>(p.size()));
    pos_list.insert(pos_list.end(), p.begin(), p.end());
  }

  // Features are centred on the train mean and divided by one global scale (the RMS norm of
  // the centred train rows, so E||x||^2 = 1). Post-ReLU means are all positive and share one
  // dominant direction; without centring, SGD crawls along the others (underfits). Neither
  // step changes what the classifier can express: the stored w and b act on raw pooled
  // activations (w_raw = w / scale, b_raw = b - w_raw . mean), and a scalar scale keeps
  // the geometry of the weight vectors.
  torch::Tensor raw = torch::from_blob(const_cast<float*>(acts.pooled.data()), {d.n, d.k}, torch::kFloat32);
  torch::Tensor train_idx = torch::tensor(train_rows, torch::kLong);
  torch::Tensor train_x = raw.index_select(0, train_idx).to(torch::kFloat64);
  torch::Tensor mean = train_x.mean(0);
  double ms = (train_x - mean).pow(2).sum(1).mean().item<double>();
  d.scale = static_cast<float>(std::sqrt(ms));
  if (!(d.scale > 0) || !std::isfinite(d.scale)) d.scale = 1;
  d.mean = mean.to(torch::kFloat32);
  if (opt.authors_budget) {  // raw features, as the authors trained
    d.scale = 1;
    d.mean = torch::zeros({d.k}, torch::kFloat32);
  }
  // Steps per epoch of each concept under the authors' budget: 2 min(P, N) images.
  for (int64_t c = 0; c < C; ++c) {
    const int64_t p = d.train_count[c], n = static_cast<int64_t>(train_rows.size()) - p;
    d.authors_steps.push_back((2 * std::min(p, n) + opt.sgd.batch_size - 1) / opt.sgd.batch_size);
  }
  d.x = ((raw - d.mean) / d.scale).to(d.device);
  d.mean = d.mean.to(d.device);
  d.y = torch::from_blob(y.data(), {d.n, C}, torch::kFloat32).clone().to(d.device);
  d.is_train = detail::float_tensor(is_train, d.device);
  d.train_rows = detail::long_tensor(train_rows, d.device);
  d.pos_list = detail::long_tensor(pos_list, d.device);
  d.pos_offset = detail::long_tensor(pos_offset, d.device);
  d.pos_count = detail::long_tensor(pos_count, d.device);
  return d;
}

// All concepts at once. Each step draws, per concept, batch/2 positives from its own train
// positives, and batch/2 negatives from a shared oversampled draw of train images with each
// concept's positives masked out; both halves weigh the same (balanced sampling).
void train(const ClsData& d, const ClassificationOptions& opt, torch::Tensor& W, torch::Tensor& b,
           const torch::Tensor& keep, const std::string& stage) {
  const int64_t C = static_cast<int64_t>(d.concept_numbers.size());
  auto fopt = torch::TensorOptions().device(d.device);
  W = torch::zeros({C, d.k}, fopt).set_requires_grad(true);
  b = torch::zeros({C}, fopt).set_requires_grad(true);
  torch::Tensor vW = torch::zeros_like(W), vb = torch::zeros_like(b);
  torch::Tensor all = torch::ones({C}, fopt);
  const int64_t half = std::max(1, opt.sgd.batch_size / 2);
  const int64_t n_train = d.train_rows.size(0);
  int64_t steps = (n_train + opt.sgd.batch_size - 1) / opt.sgd.batch_size;
  // The authors' budget: concept c takes part in the first authors_steps[c] steps of each
  // epoch only (the others' rows are left alone by the update).
  torch::Tensor concept_steps;
  if (opt.authors_budget) {
    steps = d.authors_steps.empty() ? 0 : *std::max_element(d.authors_steps.begin(), d.authors_steps.end());
    concept_steps = torch::tensor(d.authors_steps, torch::kLong).to(d.device);
  }
  const int64_t block = std::max<int64_t>(1, (int64_t{4} << 20) / (half * d.k));  // <= 16 MB
  // On the CPU the gradient is written out: positives as C x half dot products and row
  // updates that read each gathered row twice from cache (autograd materialised three
  // C x half x K tensors a step: ~60 MB at K = 768), negatives as two matrix products.
  const bool explicit_grad = d.device.is_cpu() && !opt.autograd;
  if (explicit_grad) {
    W = W.detach();
    b = b.detach();
  }
  // The explicit path's gradients (autograd keeps its own in W.grad(), b.grad()).
  torch::Tensor gW = explicit_grad ? torch::zeros_like(W) : torch::Tensor(), gb = explicit_grad ? torch::zeros_like(b) : torch::Tensor();
  Progress progress(stage, steps * opt.sgd.epochs, "steps");
  for (int epoch = 0; epoch < opt.sgd.epochs; ++epoch) {
    for (int64_t s = 0; s < steps; ++s) {
      // Positives: [C, half] indices into the concatenated positive lists.
      torch::Tensor u = torch::rand({C, half}, fopt);
      torch::Tensor pick = d.pos_offset.unsqueeze(1) +
                           (u * d.pos_count.unsqueeze(1).to(torch::kFloat32)).to(torch::kLong)
                               .clamp_max(d.pos_count.unsqueeze(1) - 1);
      if (explicit_grad) {
        // L_p = 0.5 sum_c mean_j softplus(-l_cj), l_cj = x_row . w_c + b_c;
        // dL/dl_cj = -0.5 sigmoid(-l_cj) / half.
        const torch::Tensor rows = d.pos_list.index_select(0, pick.reshape({-1})).contiguous();
        const int64_t* row = rows.data_ptr<int64_t>();
        const float* x = d.x.data_ptr<float>();
        const float* w = W.data_ptr<float>();
        const float* bias = b.data_ptr<float>();
        float* gw = gW.data_ptr<float>();
        float* gbias = gb.data_ptr<float>();
        at::parallel_for(0, C, 8, [&](int64_t c0, int64_t c1) {
          detail::positive_step(x, d.k, row, half, w, bias, c0, c1, gw, gbias);
        });
      } else {
        // The gathered positives are C x half x K floats (39 MB for BRODEN's 1,189 concepts at
        // K = 256): taken a block of concepts at a time so each piece stays small (glibc maps
        // anything over 32 MiB afresh, page faults included); gradients add up across blocks.
        for (int64_t c0 = 0; c0 < C; c0 += block) {
          const int64_t nc = std::min(block, C - c0);
          torch::Tensor pos_rows = d.pos_list.index_select(0, pick.narrow(0, c0, nc).reshape({-1}));
          torch::Tensor xp = d.x.index_select(0, pos_rows).view({nc, half, d.k});
          torch::Tensor logit_p =
              (xp * W.narrow(0, c0, nc).unsqueeze(1)).sum(2) + b.narrow(0, c0, nc).unsqueeze(1);
          (0.5 * at::softplus(-logit_p).mean(1).sum()).backward();  // BCE with target 1
        }
      }
      // Negatives: 4 * half shared candidates, positives of each concept masked out.
      // L_n = 0.5 sum_c sum_i softplus(l_ic) neg_ic / max(1, sum_i neg_ic).
      torch::Tensor cand = d.train_rows.index_select(
          0, torch::randint(n_train, {4 * half}, torch::TensorOptions().dtype(torch::kLong).device(d.device)));
      torch::Tensor neg = 1 - d.y.index_select(0, cand);  // [4h, C]
      torch::Tensor xc = d.x.index_select(0, cand);       // [4h, K]
      if (explicit_grad) {  // dL/dl_ic = 0.5 sigmoid(l_ic) neg_ic / max(1, sum_i neg_ic)
        torch::Tensor dl = torch::sigmoid(torch::addmm(b, xc, W.t())).mul_(neg).div_(neg.sum(0).clamp_min(1)).mul_(0.5);
        gW.addmm_(dl.t(), xc);
        gb.add_(dl.sum(0));
      } else {
        torch::Tensor logit_n = torch::mm(xc, W.t()) + b;  // [4h, C]
        torch::Tensor loss_n = (at::softplus(logit_n) * neg).sum(0) / neg.sum(0).clamp_min(1);
        (0.5 * loss_n.sum()).backward();
      }
      torch::Tensor grad_W = explicit_grad ? gW : W.mutable_grad(), grad_b = explicit_grad ? gb : b.mutable_grad();
      const torch::Tensor active = opt.authors_budget ? (concept_steps > s).to(torch::kFloat32) : all;
      detail::sgd_rows_step(W, vW, grad_W, active, opt.sgd.lr, opt.sgd.momentum, keep);
      detail::sgd_rows_step(b, vb, grad_b, active, opt.sgd.lr, opt.sgd.momentum);
      grad_W.zero_();
      grad_b.zero_();
      progress.advance();
    }
  }
  W = W.detach();
  b = b.detach();
}

// Balanced accuracy (mean of the true positive and true negative rates) per concept on
// one split: the accuracy on a balanced set, without discarding any image.
std::vector<float> balanced_accuracy(const ClsData& d, const torch::Tensor& W, const torch::Tensor& b,
                                     bool train_split) {
  torch::NoGradGuard no_grad;
  torch::Tensor pred = ((torch::mm(d.x, W.t()) + b) > 0).to(torch::kFloat32);  // [n, C]
  torch::Tensor in = (train_split ? d.is_train : 1 - d.is_train).unsqueeze(1);
  torch::Tensor pos = d.y * in, negs = (1 - d.y) * in;
  torch::Tensor tpr = (pred * pos).sum(0) / pos.sum(0).clamp_min(1);
  torch::Tensor tnr = ((1 - pred) * negs).sum(0) / negs.sum(0).clamp_min(1);
  torch::Tensor acc = (0.5 * (tpr + tnr)).cpu().contiguous();
  return {acc.data_ptr<float>(), acc.data_ptr<float>() + acc.numel()};
}

// The val confusion counts per concept (what balanced_accuracy divides), for the interval
// and the chance test.
std::vector<detail::Confusion> val_confusion(const ClsData& d, const torch::Tensor& W, const torch::Tensor& b) {
  torch::NoGradGuard no_grad;
  torch::Tensor pred = ((torch::mm(d.x, W.t()) + b) > 0).to(torch::kFloat64);  // [n, C]
  torch::Tensor in = (1 - d.is_train).unsqueeze(1).to(torch::kFloat64);
  torch::Tensor y = d.y.to(torch::kFloat64);
  torch::Tensor pos = y * in, negs = (1 - y) * in;
  torch::Tensor counts = torch::stack({(pred * pos).sum(0), pos.sum(0), ((1 - pred) * negs).sum(0), negs.sum(0)}, 1)
                             .to(torch::kInt64).cpu().contiguous();  // [C, 4]
  const int64_t* v = counts.data_ptr<int64_t>();
  std::vector<detail::Confusion> out(counts.size(0));
  for (size_t c = 0; c < out.size(); ++c) out[c] = {v[4 * c], v[4 * c + 1], v[4 * c + 2], v[4 * c + 3]};
  return out;
}

// Interval (stratified bootstrap) and chance level (permuted labels) of one val score, each
// from its own seeded stream (detail/significance.h).
ScoreStats confusion_stats(const detail::Confusion& c, const ClassificationOptions& opt, int concept_number,
                           detail::StatPurpose interval, detail::StatPurpose chance) {
  ScoreStats out;
  detail::StatRng boot(opt.seed, detail::stat_stream(concept_number, interval));
  const detail::Interval ci = detail::bootstrap_balanced_accuracy(c, opt.stats.resamples, boot);
  detail::StatRng perm(opt.seed, detail::stat_stream(concept_number, chance));
  const detail::Chance ch = detail::permutation_balanced_accuracy(c, opt.stats.permutations, perm);
  out.low = ci.low;
  out.high = ci.high;
  out.p = ch.p;
  out.null_mean = ch.null_mean;
  return out;
}

}  // namespace

std::vector<ConceptEmbedding> train_classification(const ProbeActivations& acts,
                                                   const ProbeAnnotations& annotations,
                                                   const ClassificationOptions& options,
                                                   TrainingTimings* timings) {
  N2V_CHECK(options.sgd.epochs >= 0 && options.sgd.batch_size > 1, kInvalidArgument,
            "classification: epochs must be >= 0 and batch size >= 2");
  torch::manual_seed(options.seed);
  ClsData d = prepare(acts, annotations, options);
  const int64_t C = static_cast<int64_t>(d.concept_numbers.size());
  std::vector<ConceptEmbedding> out(C);
  if (C == 0) return out;
  TrainingTimings local;
  TrainingTimings& t = timings ? *timings : local;

  auto t0 = Clock::now();
  torch::Tensor W, b;
  train(d, options, W, b, {}, "classification training");
  t.train_seconds += seconds_since(t0);

  auto t1 = Clock::now();
  std::vector<float> acc_train = balanced_accuracy(d, W, b, true);
  std::vector<float> acc_val = balanced_accuracy(d, W, b, false);
  // Stored weights act on raw pooled activations: w_raw = w / scale, b_raw = b - w_raw . mean.
  torch::Tensor W_raw = (W / d.scale).contiguous();
  torch::Tensor b_cpu = (b - torch::mv(W_raw, d.mean)).cpu().contiguous();
  W_raw = W_raw.cpu();
  for (int64_t c = 0; c < C; ++c) {
    ConceptEmbedding& e = out[c];
    e.concept_number = d.concept_numbers[c];
    e.train_count = d.train_count[c];
    e.val_count = d.val_count[c];
    e.weights.assign(W_raw[c].data_ptr<float>(), W_raw[c].data_ptr<float>() + d.k);
    e.bias = b_cpu[c].item<float>();
    e.score_train = acc_train[c];
    e.score_val = acc_val[c];
  }
  t.eval_seconds += seconds_since(t1);
  auto ts = Clock::now();
  const std::vector<detail::Confusion> confusion = val_confusion(d, W, b);
  for (int64_t c = 0; c < C; ++c)
    out[c].score_stats = confusion_stats(confusion[c], options, out[c].concept_number,
                                         detail::StatPurpose::kLearnedInterval, detail::StatPurpose::kLearnedChance);
  t.stats_seconds += seconds_since(ts);

  // Filter subsets: top-F by |w|, retrained from zero. F = 1 also gives the best single
  // filter (the top |w| filter) and its accuracy, so it is always trained.
  auto t2 = Clock::now();
  std::vector<int> subsets = options.subsets;
  if (std::find(subsets.begin(), subsets.end(), 1) == subsets.end()) subsets.insert(subsets.begin(), 1);
  for (int f : subsets) {
    if (f <= 0 || f >= d.k) continue;
    torch::Tensor keep = detail::top_abs_mask(W, f);
    torch::Tensor Wf, bf;
    train(d, options, Wf, bf, keep, "classification F=" + std::to_string(f));
    std::vector<float> val = balanced_accuracy(d, Wf, bf, false);
    const bool listed = std::find(options.subsets.begin(), options.subsets.end(), f) != options.subsets.end();
    std::vector<float> tr;
    std::vector<detail::Confusion> single_confusion;
    if (f == 1) {
      tr = balanced_accuracy(d, Wf, bf, true);
      single_confusion = val_confusion(d, Wf, bf);
    }
    torch::Tensor top = keep.argmax(1).cpu();  // F = 1: the one filter kept
    for (int64_t c = 0; c < C; ++c) {
      if (listed) out[c].subsets.emplace_back(f, val[c]);
      if (f == 1) {
        out[c].best_filter = static_cast<int>(top[c].item<int64_t>());
        out[c].best_filter_train = tr[c];
        out[c].best_filter_val = val[c];
        auto ts1 = Clock::now();
        out[c].best_filter_stats = confusion_stats(single_confusion[c], options, out[c].concept_number,
                                                   detail::StatPurpose::kSingleInterval, detail::StatPurpose::kSingleChance);
        t.stats_seconds += seconds_since(ts1);
      }
    }
  }
  t.subset_seconds += seconds_since(t2);
  return out;
}

}  // namespace n2v
