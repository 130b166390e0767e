// The SFT step of `hawkeye sft` (docs/method.md §6): per accumulation micro-batch, the images' visual tokens
// (cached once per image when the encoder is frozen and nothing augments), the teacher-forced cross-entropy of
// "<think>{description}</think><answer>{label}</answer>" + stop on the completion tokens, and the optional
// auxiliary vision loss; backward.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <unordered_map>

#include "hawkeye/core/error.h"
#include "hawkeye/core/log.h"
#include "hawkeye/core/random.h"
#include "hawkeye/data/kadid_labels.h"
#include "train_step.h"

namespace hawkeye::rl::detail {
namespace {

using nlohmann::ordered_json;

std::string format_score(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

class SftStep final : public TrainStep {
 public:
  explicit SftStep(Run& r) : r_(r), cfg_(*r.sft) {
    auto& policy = r_.model->policy();
    decimals_ = cfg_.sft.score_decimals;
    aux_weight_ = cfg_.sft.aux_weight;
    text_weight_ = cfg_.sft.text_weight;
    think_noise_ = cfg_.sft.think_noise;
    if (think_noise_ > 0) kadid_labels_ = KadidLabelTable::load_default();
    answer_from_head_ = cfg_.sft.answer_target == "auxiliary_head";
    twin_weight_ = cfg_.sft.twin_rank_weight;
    twin_margin_ = cfg_.sft.twin_rank_margin;
    if (twin_weight_ > 0 && !policy.has_auxiliary_head()) {
      throw Error(ErrorCode::invalid_argument, cfg_.source + ": sft.twin_rank_weight > 0 needs a model with an auxiliary head "
                                                             "(vision_config.aux_head = true)");
    }
    if (answer_from_head_ && !policy.has_auxiliary_head()) {
      throw Error(ErrorCode::invalid_argument, cfg_.source + ": sft.answer_target = \"auxiliary_head\" needs a model with an auxiliary "
                                                             "head (vision_config.aux_head = true)");
    }
    stop_id_ = r_.model->stop_ids().front();
    // train.cache_visual: when every vision parameter is frozen and nothing augments the images, each training
    // image's visual tokens are computed once and kept in memory (up to train.cache_visual_mb).
    bool vision_params = false, vision_frozen = true;
    for (const auto& item : policy.named_parameters(true)) {
      if (item.key().rfind("visual.", 0) != 0) continue;
      vision_params = true;
      vision_frozen = vision_frozen && !item.value().requires_grad();
    }
    const auto& aug = r_.augment;
    const bool augments = aug.crop_width > 0 || aug.hflip || aug.vflip || aug.rot90;
    const auto grid = policy.visual_grid(512, 384);  // the KADID scale: an estimate of the tokens per image
    const double need_mb = static_cast<double>(r_.train.size()) * static_cast<double>(grid[0] * grid[1] * grid[2]) *
                           static_cast<double>(policy.decoder().config().hidden_size) * 4.0 / 1048576.0;
    cache_visual_ = cfg_.train.cache_visual && vision_params && vision_frozen && !augments && need_mb <= cfg_.train.cache_visual_mb &&
                    twin_weight_ == 0;
    if (r_.opts.dist.is_main() && cache_visual_) {
      spdlog::info("visual tokens of the frozen encoder are computed once per training image (train.cache_visual)");
    }
  }

  double accumulate(const StepBatch& batch, ordered_json& rec, StepTimes& times) override {
    double loss_sum = 0, aux_sum = 0, rank_sum = 0, ordered = 0;
    std::int64_t pairs = 0;
    std::int64_t tokens = 0;
    for (std::int64_t a = 0; a < r_.accum; ++a) {
      auto tl = Clock::now();
      std::vector<const TrainSample*> rows;
      std::vector<std::size_t> row_ids;
      for (std::int64_t k = 0; k < batch.micro; ++k) {
        row_ids.push_back(batch.rows[static_cast<std::size_t>(a * batch.micro + k)]);
        rows.push_back(&r_.train[row_ids.back()]);
      }
      // Sizes of the images as the model sees them (the prompt depends on them for some architectures).
      std::vector<std::pair<int, int>> sizes(rows.size());
      auto tf = Clock::now();
      torch::Tensor rank;  // sft.twin_rank_weight: the micro-batch's ranking loss (undefined without twins)
      const auto vis = cache_visual_ ? cached_visuals(row_ids, sizes, tl, tf, times)
                                     : fresh_visuals(batch, a, rows, sizes, tl, tf, times, twin_weight_ > 0 ? &rank : nullptr, ordered, pairs);
      torch::Tensor loss = torch::zeros({}, torch::TensorOptions().device(r_.device));
      if (text_weight_ > 0) loss = text_loss(batch, rows, row_ids, sizes, vis, tokens);
      if (rank.defined()) {  // after the text loss, which starts the sum
        rank_sum += rank.item<double>() / static_cast<double>(r_.accum);
        loss = loss + twin_weight_ * rank / static_cast<double>(r_.accum);
      }
      if (aux_weight_ > 0) {
        const auto aux = aux_loss(rows, vis);
        aux_sum += aux.item<double>() / static_cast<double>(r_.accum);
        loss = loss + aux_weight_ * aux / static_cast<double>(r_.accum);
      }
      times.logprob += seconds_since(tf);
      auto tb = Clock::now();
      loss.backward();
      times.backward += seconds_since(tb);
      loss_sum += loss.item<double>();
    }
    rec["loss"] = loss_sum;
    if (aux_weight_ > 0) rec["aux_loss"] = aux_sum;
    if (twin_weight_ > 0) {
      rec["twin_rank_loss"] = rank_sum;
      rec["twin_pairs"] = pairs;
      rec["twin_ordered"] = pairs > 0 ? ordered / static_cast<double>(pairs) : 0.0;
    }
    if (cache_visual_) rec["visual_cache_images"] = static_cast<std::int64_t>(visual_cache_.size());
    rec["tokens"] = tokens;
    return loss_sum;
  }

 private:
  struct CachedVisual {
    torch::Tensor embeds;  // [tokens, D]
    model::Grid grid;
    int width = 0, height = 0;
  };

  // A frozen encoder on unaugmented images gives the same visual tokens every epoch: each training image is
  // encoded once and its tokens kept (train.cache_visual).
  model::VisualEmbeds cached_visuals(const std::vector<std::size_t>& row_ids, std::vector<std::pair<int, int>>& sizes,
                                     Clock::time_point tl, Clock::time_point& tf, StepTimes& times) {
    auto& policy = r_.model->policy();
    std::vector<std::filesystem::path> missing_paths;
    std::vector<std::size_t> missing;
    for (const auto row : row_ids) {
      if (!visual_cache_.count(row)) {
        missing.push_back(row);
        missing_paths.push_back(r_.train[row].image);
      }
    }
    if (!missing.empty()) {
      const auto images = load_batch(missing_paths, r_.limits, r_.threads);
      std::vector<const Image*> ptrs;
      for (const auto& im : images) ptrs.push_back(&im);
      times.load += seconds_since(tl);
      tf = Clock::now();
      torch::NoGradGuard no_grad;
      const auto fresh = policy.encode_images(policy.preprocess(ptrs));
      for (std::size_t i = 0; i < missing.size(); ++i) {
        const auto n = fresh.tokens(static_cast<std::int64_t>(i));
        visual_cache_[missing[i]] = {fresh.embeds.narrow(0, fresh.offsets[i], n).clone(), fresh.grid[i], images[i].width, images[i].height};
      }
    }
    model::VisualEmbeds vis;
    std::vector<torch::Tensor> parts;
    vis.offsets.push_back(0);
    for (std::size_t k = 0; k < row_ids.size(); ++k) {
      const auto& c = visual_cache_.at(row_ids[k]);
      parts.push_back(c.embeds);
      vis.grid.push_back(c.grid);
      vis.offsets.push_back(vis.offsets.back() + c.embeds.size(0));
      sizes[k] = {c.width, c.height};
    }
    vis.embeds = torch::cat(parts, 0);
    return vis;
  }

  // The images' visual tokens. With `rank` (sft.twin_rank_weight), the rows' degraded twins too, with the same
  // augmentation, encoded in the same pass: *rank is the micro-batch's ranking loss on the auxiliary head's
  // scores (undefined when no row has a twin); `ordered` and `pairs` count the pairs already ordered by the margin.
  model::VisualEmbeds fresh_visuals(const StepBatch& batch, std::int64_t a, const std::vector<const TrainSample*>& rows,
                                    std::vector<std::pair<int, int>>& sizes, Clock::time_point tl, Clock::time_point& tf, StepTimes& times,
                                    torch::Tensor* rank, double& ordered, std::int64_t& pairs) {
    auto& policy = r_.model->policy();
    const auto& opts = r_.opts;
    std::vector<std::filesystem::path> paths, twin_paths;
    std::vector<std::int64_t> with_twin;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      paths.push_back(rows[i]->image);
      if (rank && !rows[i]->twin.empty()) {
        twin_paths.push_back(rows[i]->twin);
        with_twin.push_back(static_cast<std::int64_t>(i));
      }
    }
    auto images = load_batch(paths, r_.limits, r_.threads);
    std::vector<Image> twins;
    if (!twin_paths.empty()) {
      auto loaded = load_batch(twin_paths, r_.limits, r_.threads);
      twins.resize(images.size());
      for (std::size_t k = 0; k < with_twin.size(); ++k) twins[static_cast<std::size_t>(with_twin[k])] = std::move(loaded[k]);
    }
    // dist: seeded by the micro-batch's global index: N ranks x grad_accum A = 1 process x grad_accum N*A
    augment_batch(images, twins.empty() ? nullptr : &twins, r_.augment, derive_seed(r_.seed, std::uint64_t{0}),
                  (batch.step * opts.dist.world + opts.dist.rank) * r_.accum + a);
    std::vector<const Image*> ptrs;
    for (std::size_t i = 0; i < images.size(); ++i) {
      ptrs.push_back(&images[i]);
      sizes[i] = {images[i].width, images[i].height};
    }
    for (const auto i : with_twin) ptrs.push_back(&twins[static_cast<std::size_t>(i)]);
    times.load += seconds_since(tl);
    tf = Clock::now();
    auto all = policy.encode_images(policy.preprocess(ptrs));
    if (with_twin.empty()) return all;
    const auto n = static_cast<std::int64_t>(images.size());
    auto vis = slice_visuals(all, 0, n);
    const auto twin_vis = slice_visuals(all, n, static_cast<std::int64_t>(with_twin.size()));
    const auto index = torch::tensor(with_twin, torch::kInt64).to(r_.device);
    const auto gap = policy.auxiliary_score_tensor(vis).index_select(0, index) - policy.auxiliary_score_tensor(twin_vis);
    *rank = torch::relu(twin_margin_ - gap).mean();
    ordered += (gap >= twin_margin_).sum().item<double>();
    pairs += static_cast<std::int64_t>(with_twin.size());
    return vis;
  }

  // Images [first, first + n) of `v`.
  static model::VisualEmbeds slice_visuals(const model::VisualEmbeds& v, std::int64_t first, std::int64_t n) {
    model::VisualEmbeds out;
    const auto from = v.offsets[static_cast<std::size_t>(first)];
    const auto to = v.offsets[static_cast<std::size_t>(first + n)];
    out.embeds = v.embeds.narrow(0, from, to - from);
    for (std::int64_t i = 0; i <= n; ++i) out.offsets.push_back(v.offsets[static_cast<std::size_t>(first + i)] - from);
    out.grid.assign(v.grid.begin() + first, v.grid.begin() + first + n);
    return out;
  }

  // Teacher-forced cross-entropy on the completion tokens (sft.text_weight), divided by the accumulation count.
  torch::Tensor text_loss(const StepBatch& batch, const std::vector<const TrainSample*>& rows,
                          const std::vector<std::size_t>& row_ids, const std::vector<std::pair<int, int>>& sizes,
                          const model::VisualEmbeds& vis, std::int64_t& tokens) {
    auto& policy = r_.model->policy();
    model::PromptBatch prompts;
    std::vector<std::vector<std::int64_t>> targets;
    std::int64_t longest = 0;
    std::vector<std::int64_t> trained_from(rows.size(), 0);  // sft.think_noise: tokens before it carry no loss
    bool any_noisy = false;
    std::vector<double> head_scores;
    if (answer_from_head_) {
      // sft.answer_target = "auxiliary_head": the head's score of each image, on the contract's range.
      torch::NoGradGuard no_grad;
      head_scores = policy.auxiliary_scores(vis);
      if (head_scores.size() != rows.size()) throw Error(ErrorCode::internal, "auxiliary head: one score per image expected");
      const auto& c = r_.model->contract();
      for (auto& v : head_scores) v = std::clamp(v, c.score_min, c.score_max);
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
      prompts.tokens.push_back(r_.model->prompt_ids(sizes[i].first, sizes[i].second));
      prompts.image.push_back(static_cast<std::int64_t>(i));
      const double target = answer_from_head_ ? head_scores[i] : rows[i]->label;
      const std::string answer = "<answer>" + format_score(target, decimals_) + "</answer>";
      std::vector<std::int64_t> t;
      const auto wrong = kadid_labels_ ? noisy_think_text(*rows[i], *kadid_labels_, think_noise_,
                                                          derive_seed(r_.seed, "think_noise", static_cast<std::uint64_t>(batch.step), row_ids[i]))
                                       : std::string();
      if (wrong.empty()) {
        const auto ids = r_.model->tokenizer().encode("<think>" + rows[i]->description + "</think>" + answer, /*allow_special=*/false);
        t.assign(ids.begin(), ids.end());
      } else {
        // The reasoning is another (type, level)'s; only the answer (the true label) is trained.
        const auto think_ids = r_.model->tokenizer().encode("<think>" + wrong + "</think>", /*allow_special=*/false);
        const auto answer_ids = r_.model->tokenizer().encode(answer, /*allow_special=*/false);
        t.assign(think_ids.begin(), think_ids.end());
        t.insert(t.end(), answer_ids.begin(), answer_ids.end());
        trained_from[i] = static_cast<std::int64_t>(think_ids.size());
        any_noisy = true;
      }
      t.push_back(stop_id_);
      longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(t.size()));
      targets.push_back(std::move(t));
    }
    const auto n_rows = static_cast<std::int64_t>(targets.size());
    model::CompletionBatch comp;
    comp.tokens = torch::zeros({n_rows, longest}, torch::kInt64);
    comp.mask = torch::zeros({n_rows, longest}, torch::kBool);
    auto trained = any_noisy ? torch::zeros({n_rows, longest}, torch::kBool) : torch::Tensor();
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const auto n = static_cast<std::int64_t>(targets[i].size());
      comp.tokens[static_cast<std::int64_t>(i)].narrow(0, 0, n).copy_(torch::tensor(targets[i], torch::kInt64));
      comp.mask[static_cast<std::int64_t>(i)].narrow(0, 0, n).fill_(true);
      if (any_noisy) trained[static_cast<std::int64_t>(i)].narrow(0, trained_from[i], n - trained_from[i]).fill_(true);
    }
    comp.tokens = comp.tokens.to(r_.device);
    comp.mask = comp.mask.to(r_.device);
    const auto logp = policy.token_logprobs(prompts, vis, comp);  // float32 in any model dtype
    const auto m = (any_noisy ? trained.to(r_.device) : comp.mask).to(logp.scalar_type());
    tokens += m.sum().item<std::int64_t>();
    return text_weight_ * -(logp * m).sum() / m.sum().clamp_min(1.0) / static_cast<double>(r_.accum);
  }

  // The auxiliary vision loss (sft.aux_weight), undivided.
  torch::Tensor aux_loss(const std::vector<const TrainSample*>& rows, const model::VisualEmbeds& vis) {
    model::AuxTargets targets;
    for (const auto* row : rows) {
      targets.scores.push_back(row->label);
      targets.types.push_back(row->type_id);
      targets.levels.push_back(row->level);
    }
    auto loss = r_.model->policy().auxiliary_loss(vis, targets);
    if (!loss.defined()) {
      throw Error(ErrorCode::invalid_argument, cfg_.source + ": sft.aux_weight > 0 needs a model with an auxiliary head "
                                                             "(vision_config.aux_head = true)");
    }
    return loss;
  }

  Run& r_;
  const SftConfig& cfg_;
  int decimals_ = 2;
  double aux_weight_ = 0, text_weight_ = 1, think_noise_ = 0, twin_weight_ = 0, twin_margin_ = 0.25;
  bool answer_from_head_ = false;
  std::optional<KadidLabelTable> kadid_labels_;
  std::int64_t stop_id_ = 0;
  bool cache_visual_ = false;
  std::unordered_map<std::size_t, CachedVisual> visual_cache_;
};

}  // namespace

std::unique_ptr<TrainStep> make_sft_step(Run& r) { return std::make_unique<SftStep>(r); }

}  // namespace hawkeye::rl::detail
