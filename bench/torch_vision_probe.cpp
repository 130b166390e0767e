// Vision probe: how well can hawkeye-tiny's vision encoder alone learn KADID-style quality?
// Builds a KADID-style set in memory from the shared references (512x384, 24 labelled types x 5 levels,
// labels = KADID mean score per type and level), splits by reference, trains the encoder + a linear score
// head with smooth-L1 on random crops, and reports SRCC on held-out references after every epoch.
// This sizes the encoder for the default model; it is an experiment, not part of the product.
//
// usage: bench_torch_vision_probe [train_refs=40] [test_refs=14] [epochs=6] [crop=256x192] [stages=32,64,128] [stem=16] [threads=0] [std_pool=1] [lr=1e-3] [classify=0] [mscn=0]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <thread>

#include "hawkeye/core/random.h"
#include "hawkeye/image/distortions/kadid.h"
#include "hawkeye/image/io.h"
#include "hawkeye/image/ops.h"
#include "hawkeye/model/runtime.h"
#include "hawkeye/model/tiny_vlm.h"

using namespace hawkeye;
namespace fs = std::filesystem;

static double srcc(const std::vector<double>& a, const std::vector<double>& b) {
  auto ranks = [](const std::vector<double>& v) {
    std::vector<std::size_t> idx(v.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](auto i, auto j) { return v[i] < v[j]; });
    std::vector<double> r(v.size());
    for (std::size_t i = 0; i < idx.size();) {
      std::size_t j = i;
      while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
      for (std::size_t k = i; k <= j; ++k) r[idx[k]] = (i + j) / 2.0;
      i = j + 1;
    }
    return r;
  };
  const auto ra = ranks(a), rb = ranks(b);
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / ra.size(), mb = std::accumulate(rb.begin(), rb.end(), 0.0) / rb.size();
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

struct Item {
  Image img;
  float label;
  int type, level;
};

int main(int argc, char** argv) {
  const int train_refs = argc > 1 ? std::atoi(argv[1]) : 40;
  const int test_refs = argc > 2 ? std::atoi(argv[2]) : 14;
  const int epochs = argc > 3 ? std::atoi(argv[3]) : 6;
  int cw = 256, ch = 192;
  if (argc > 4) std::sscanf(argv[4], "%dx%d", &cw, &ch);
  model::TinyVisionConfig vc;
  if (argc > 5) {
    vc.stage_channels.clear();
    std::stringstream ss(argv[5]);
    std::string part;
    while (std::getline(ss, part, ',')) vc.stage_channels.push_back(std::stoi(part));
  }
  if (argc > 6) vc.stem_channels = std::atoi(argv[6]);
  if (argc > 8) vc.std_pool = std::atoi(argv[8]) != 0;
  const double base_lr = argc > 9 ? std::atof(argv[9]) : 1e-3;
  const bool classify = argc > 10 && std::atoi(argv[10]) != 0;
  vc.mscn_input = argc > 11 && std::atoi(argv[11]) != 0;
  const int threads = apply_threads(argc > 7 ? std::atoi(argv[7]) : 0);
  std::printf("threads %d, crop %dx%d, stem %ld stages", threads, cw, ch, (long)vc.stem_channels);
  for (auto c : vc.stage_channels) std::printf(" %ld", (long)c);
  std::printf(", std_pool %d, lr %g, classify %d, mscn %d\n", (int)vc.std_pool, base_lr, (int)classify, (int)vc.mscn_input);
  std::fflush(stdout);

  // labels
  std::map<std::pair<int, int>, float> table;
  {
    std::ifstream f(std::string(HAWKEYE_SOURCE_DIR) + "/resources/kadid_type_level_dmos.csv");
    std::string line;
    std::getline(f, line);
    while (std::getline(f, line)) {
      int t, l;
      char name[64];
      float m;
      if (std::sscanf(line.c_str(), "%d,%63[^,],%d,%f", &t, name, &l, &m) == 4) table[{t, l}] = m;
    }
  }
  std::vector<fs::path> refs;
  for (const char* d : {"kodak", "wikipedia"})
    for (auto& e : fs::directory_iterator(fs::path(HAWKEYE_DATA_DIR) / d))
      if (e.path().extension() == ".png") refs.push_back(e.path());
  std::sort(refs.begin(), refs.end());
  Rng rng(7);
  std::shuffle(refs.begin(), refs.end(), rng);
  refs.resize(std::min<std::size_t>(refs.size(), train_refs + test_refs));
  const auto types = parse_kadid_types("all");

  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::vector<Item>> per_ref(refs.size());
  {
    std::vector<std::thread> pool;
    std::atomic<std::size_t> next{0};
    for (int w = 0; w < 2; ++w)
      pool.emplace_back([&] {
        for (std::size_t r; (r = next++) < refs.size();) {
          const Image ref = resize_cover(load_image(refs[r]), 512, 384);
          for (int t : types)
            for (int l = 1; l <= 5; ++l)
              per_ref[r].push_back({apply_kadid(ref, t, l, kadid_seed(1, refs[r].filename().string(), t, l)), table[{t, l}], t, l});
        }
      });
    for (auto& th : pool) th.join();
  }
  std::vector<Item*> train, test;
  for (std::size_t r = 0; r < refs.size(); ++r)
    for (auto& it : per_ref[r]) ((int)r < train_refs ? train : test).push_back(&it);
  std::printf("built %zu train / %zu test images in %.1f s\n", train.size(), test.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  model::TinyConfig tc;
  tc.vision = vc;
  tc.text.vocab_size = 16;
  tc.text.hidden_size = 256;
  tc.text.num_layers = 1;
  tc.text.num_heads = 4;
  tc.text.num_kv_heads = 4;
  tc.text.intermediate_size = 64;
  tc.image_token_id = 1;
  torch::manual_seed(0);
  model::TinyVlm probe_model(tc);
  auto vision = probe_model.vision();
  torch::nn::Linear head(256, 1 + 25 + 5);  // score offset, KADID type logits, level logits
  std::vector<torch::Tensor> params = vision->parameters();
  for (auto& p : head->parameters()) params.push_back(p);
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(1e-3).weight_decay(1e-4));
  const int batch = 32;
  const int steps_per_epoch = static_cast<int>(train.size()) / batch;
  const int total = steps_per_epoch * epochs;
  int step = 0;
  auto to_tensor = [&](const Image& img) { return probe_model.image_to_tensor(img); };
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::shuffle(train.begin(), train.end(), rng);
    vision->train();
    double loss_sum = 0;
    auto te = std::chrono::steady_clock::now();
    for (int s = 0; s < steps_per_epoch; ++s, ++step) {
      const double lr = base_lr * 0.5 * (1 + std::cos(M_PI * step / total));
      for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      std::vector<torch::Tensor> xs, ys;
      std::vector<std::int64_t> ts, ls;
      for (int b = 0; b < batch; ++b) {
        const Item* it = train[s * batch + b];
        const int x0 = static_cast<int>(rng.below(512 - cw + 1)) & ~1, y0 = static_cast<int>(rng.below(384 - ch + 1)) & ~1;
        auto t = to_tensor(crop(it->img, x0, y0, cw, ch));
        if (rng.below(2)) t = t.flip({2});
        xs.push_back(t);
        ys.push_back(torch::tensor(it->label));
        ts.push_back(it->type - 1);
        ls.push_back(it->level - 1);
      }
      auto out = head->forward(vision->forward(torch::stack(xs)).mean(1));
      auto pred = out.select(1, 0) + 3.0;
      auto loss = torch::smooth_l1_loss(pred, torch::stack(ys));
      if (classify) {
        loss = loss + torch::nn::functional::cross_entropy(out.narrow(1, 1, 25), torch::tensor(ts, torch::kInt64)) +
               torch::nn::functional::cross_entropy(out.narrow(1, 26, 5), torch::tensor(ls, torch::kInt64));
      }
      opt.zero_grad();
      loss.backward();
      opt.step();
      loss_sum += loss.item<double>();
    }
    const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count();
    vision->eval();
    torch::NoGradGuard ng;
    std::vector<double> pred, gt;
    for (std::size_t i = 0; i < test.size(); i += 16) {
      std::vector<torch::Tensor> xs;
      for (std::size_t j = i; j < std::min(test.size(), i + 16); ++j) {
        xs.push_back(to_tensor(test[j]->img));
        gt.push_back(test[j]->label);
      }
      auto p = head->forward(vision->forward(torch::stack(xs)).mean(1)).select(1, 0) + 3.0;
      for (int k = 0; k < p.size(0); ++k) pred.push_back(p[k].item<double>());
    }
    std::printf("epoch %d loss %.4f train %.0f s (%.0f crops/s) test SRCC %.4f\n", epoch, loss_sum / steps_per_epoch,
                train_s, steps_per_epoch * batch / train_s, srcc(pred, gt));
    std::fflush(stdout);
  }
  return 0;
}
