// hawkeye's Qwen2.5-VL built against a CUDA libtorch 2.x, checked on a GPU (tests/parity/run_on_gpu.sh).
//
//   qwen_cuda_check FIXTURE_DIR REPORT.json [--perf-7b]
//
// 1. Loads the parity fixture (tests/parity/make_qwen_fixture.py) and compares the logits of every prompt
//    position and 16 greedy tokens with transformers' on CPU float32, CUDA float32 and CUDA bfloat16.
// 2. One Q-Hawkeye training step (policy, reference KL and perception terms, backward, gradient clipping,
//    AdamW — the trainer's own losses.cpp/optim.cpp) on the fixture on CPU float32, CUDA float32 and CUDA
//    bf16 (float32 master weights): the loss and the gradients on CUDA float32 must match the CPU's.
// 3. --perf-7b: builds a random Qwen2.5-VL-7B-shaped model in bf16 on the GPU and times the vision tower
//    (1024x768 pictures), prefill and greedy decoding through hawkeye's own Policy/generate code.
// Only the torch-free core files and the model files this needs are compiled (no OpenCV, no CLI).
#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

#include "hawkeye/core/fs.h"
#include "hawkeye/core/random.h"
#include "hawkeye/core/safetensors.h"
#include "hawkeye/model/device.h"
#include "hawkeye/model/generate.h"
#include "hawkeye/model/qwen2_5_vl.h"
#include "hawkeye/model/weights.h"
#include "hawkeye/rl/losses.h"
#include "hawkeye/rl/optim.h"

using namespace hawkeye;
using namespace hawkeye::model;
using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index());
}

torch::Tensor ref_tensor(const SafetensorsSet& s, const std::string& name, torch::ScalarType t) {
  const auto* e = s.find(name);
  if (!e) throw std::runtime_error("reference.safetensors: no " + name);
  return tensor_from_entry(*e, t);
}

std::vector<std::int64_t> to_ids(const torch::Tensor& t) {
  const auto c = t.to(torch::kInt64).contiguous();
  return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
}

torch::Tensor all_prompt_logits(Qwen2_5_VL& q, const std::vector<std::int64_t>& ids, const VisualEmbeds& vis) {
  auto& dec = q.decoder();
  const auto dev = q.device();
  const auto id_tensor = torch::tensor(ids, torch::kInt64).to(dev);
  auto emb = dec.embed(id_tensor);
  emb = emb.masked_scatter((id_tensor == q.image_token_id()).unsqueeze(-1), vis.embeds.to(emb.scalar_type()));
  std::int64_t next = 0;
  DecoderChunk chunk;
  chunk.embeds = emb.unsqueeze(0);
  chunk.positions = q.prompt_positions(ids, &vis.grid[0], &next).unsqueeze(1).to(dev);
  chunk.valid = torch::ones({1, static_cast<std::int64_t>(ids.size())}, torch::TensorOptions().dtype(torch::kBool).device(dev));
  KVSegment seg;
  return dec.logits(dec.forward(chunk, nullptr, seg))[0].to(torch::kFloat32).cpu();
}

bool parity(const std::filesystem::path& dir, json& report) {
  const auto cfg = Qwen2_5_VLConfig::from_json(nlohmann::json::parse(read_file(dir / "config.json")), "config.json");
  const auto img = QwenImageConfig::from_json(nlohmann::json::parse(read_file(dir / "preprocessor_config.json")), "preprocessor_config.json");
  auto q = std::make_shared<Qwen2_5_VL>(cfg, img);
  const auto set = SafetensorsSet::open(dir / "model.safetensors");
  load_weights(*q, set, qwen_checkpoint_names(set.names()), true, dir.string());
  q->eval();
  const auto ref = SafetensorsSet::open(dir / "reference.safetensors");
  const auto ids = to_ids(ref_tensor(ref, "input_ids", torch::kInt64));
  const auto pixels = ref_tensor(ref, "pixel_values", torch::kFloat32);
  const auto thw = to_ids(ref_tensor(ref, "image_grid_thw", torch::kInt64));
  const auto logits_ref = ref_tensor(ref, "logits", torch::kFloat32);
  const auto greedy_ref = to_ids(ref_tensor(ref, "greedy_ids", torch::kInt64));
  bool ok = true;
  auto run = [&](const std::string& tag, const torch::Device& dev, torch::ScalarType dt, double tolerance) {
    torch::NoGradGuard g;
    q->to(dev, dt);
    q->clear_prefix_cache();
    VisionInput in;
    in.pixels.push_back(pixels);
    in.grid.push_back({thw[0], thw[1] / 2, thw[2] / 2});
    const auto vis = q->encode_images(in);
    const auto logits = all_prompt_logits(*q, ids, vis);
    const double diff = (logits - logits_ref).abs().max().item<double>();
    SamplingParams sp;
    sp.greedy = true;
    sp.max_new_tokens = static_cast<std::int64_t>(greedy_ref.size());
    sp.stop_ids = {258};  // <|im_end|> of the fixture's tokenizer (make_qwen_fixture.py: IM_END)
    const auto seqs = generate(*q, vis, {GenerationRequest{ids, 0, 1, 0}}, sp);
    std::int64_t same = 0;
    for (std::size_t i = 0; i < std::min(seqs[0].tokens.size(), greedy_ref.size()); ++i) {
      if (seqs[0].tokens[i] != greedy_ref[i]) break;
      ++same;
    }
    json r;
    r["logits_max_abs_diff"] = diff;
    r["tolerance"] = tolerance;
    r["greedy_identical"] = seqs[0].tokens == greedy_ref;
    r["greedy_common_prefix"] = same;
    r["greedy_ids"] = seqs[0].tokens;
    report[tag] = r;
    std::cout << tag << ": " << r.dump() << std::endl;
    if (diff > tolerance) ok = false;
  };
  report["greedy_ids_transformers"] = greedy_ref;
  run("cpu_float32", torch::kCPU, torch::kFloat32, 1e-4);
  const auto cuda = parse_device("cuda");
  run("cuda_float32", cuda, torch::kFloat32, 1e-4);
  run("cuda_bfloat16", cuda, torch::kBFloat16, 1e30);  // reported, not bounded
  report["parity_ok"] = ok;
  return ok;
}


// One training step of the Q-Hawkeye objective on a fresh copy of the fixture model on `dev` in `dt`.
struct StepResult {
  double loss = 0, grad_norm = 0, max_update = 0;
  std::map<std::string, torch::Tensor> grads;  // float32, CPU
};

StepResult train_step(const std::filesystem::path& dir, const torch::Device& dev, torch::ScalarType dt) {
  const auto cfg = Qwen2_5_VLConfig::from_json(nlohmann::json::parse(read_file(dir / "config.json")), "config.json");
  const auto img = QwenImageConfig::from_json(nlohmann::json::parse(read_file(dir / "preprocessor_config.json")), "preprocessor_config.json");
  auto q = std::make_shared<Qwen2_5_VL>(cfg, img);
  const auto set = SafetensorsSet::open(dir / "model.safetensors");
  load_weights(*q, set, qwen_checkpoint_names(set.names()), true, dir.string());
  q->to(dev, dt);
  const auto ref = SafetensorsSet::open(dir / "reference.safetensors");
  const auto ids = to_ids(ref_tensor(ref, "input_ids", torch::kInt64));
  const auto pixels = ref_tensor(ref, "pixel_values", torch::kFloat32);
  const auto thw = to_ids(ref_tensor(ref, "image_grid_thw", torch::kInt64));
  const auto completion = ref_tensor(ref, "greedy_ids", torch::kInt64).reshape({1, -1});
  const auto L = completion.size(1);
  VisionInput in, twin;
  in.pixels = {pixels};
  in.grid = {{thw[0], thw[1] / 2, thw[2] / 2}};
  twin = in;
  twin.pixels = {pixels * 0.5 - 0.3};  // a darkened, lower-contrast twin
  PromptBatch pb;
  pb.tokens = {ids, ids};
  pb.image = {0, 0};
  CompletionBatch cb;  // the greedy completion, and its first half (right padding)
  cb.tokens = torch::cat({completion, completion}).to(dev);
  cb.mask = torch::ones({2, L}, torch::kBool);
  cb.mask[1].narrow(0, L / 2, L - L / 2).fill_(false);
  cb.mask = cb.mask.to(dev);
  torch::Tensor deg;
  {
    torch::NoGradGuard g;
    deg = q->token_logprobs(pb, q->encode_images(twin), cb).to(torch::kFloat32);
  }
  const auto logp = q->token_logprobs(pb, q->encode_images(in), cb).to(torch::kFloat32);
  const auto ref_logp = logp.detach() - 0.05;
  rl::LossOptions lo;
  lo.gamma = 0.01;
  const auto parts = rl::qhawkeye_loss(logp, torch::Tensor(), ref_logp, deg, torch::tensor({1.0f, -0.5f}).to(dev), cb.mask, lo);
  parts.total.backward();
  StepResult r;
  r.loss = parts.total.item<double>();
  std::vector<std::pair<std::string, torch::Tensor>> params;
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : q->named_parameters()) {
    params.emplace_back(p.key(), p.value());
    if (p.value().grad().defined()) r.grads[p.key()] = p.value().grad().to(torch::kFloat32).cpu().clone();  // before clipping
    before[p.key()] = p.value().detach().to(torch::kFloat32).cpu().clone();
  }
  rl::AdamW opt(params, {});
  r.grad_norm = opt.clip_grad_norm(1.0);
  opt.step(1e-3);
  for (const auto& [name, p] : params) {
    r.max_update = std::max(r.max_update, (p.detach().to(torch::kFloat32).cpu() - before[name]).abs().max().item<double>());
  }
  return r;
}

// Gradients on CUDA float32 equal the CPU's (relative to the largest gradient); bf16 is reported.
bool training_step_check(const std::filesystem::path& dir, json& report) {
  const auto cpu = train_step(dir, torch::kCPU, torch::kFloat32);
  auto compare = [&](const StepResult& other) {
    double worst = 0, largest = 0;
    for (const auto& [name, g] : cpu.grads) {
      largest = std::max(largest, g.abs().max().item<double>());
      auto it = other.grads.find(name);
      const double d = it == other.grads.end() ? 1e30 : (g - it->second).abs().max().item<double>();
      worst = std::max(worst, d);
    }
    json j;
    j["loss"] = other.loss;
    j["loss_cpu_float32"] = cpu.loss;
    j["grad_norm"] = other.grad_norm;
    j["grad_norm_cpu_float32"] = cpu.grad_norm;
    j["grad_max_abs_diff_relative"] = worst / std::max(largest, 1e-30);
    j["params_with_grad"] = other.grads.size();
    j["max_update"] = other.max_update;
    return j;
  };
  bool ok = cpu.grads.size() > 10 && std::isfinite(cpu.loss) && cpu.max_update > 0;
  report["train_step"]["cpu_float32"] = {{"loss", cpu.loss}, {"grad_norm", cpu.grad_norm}, {"params_with_grad", cpu.grads.size()},
                                         {"max_update", cpu.max_update}};
  report["train_step"]["cpu_bfloat16"] = compare(train_step(dir, torch::kCPU, torch::kBFloat16));
  if (torch::cuda::is_available()) {
    const auto cuda = parse_device("cuda");
    auto f32 = compare(train_step(dir, cuda, torch::kFloat32));
    const bool same = std::abs(f32["loss"].get<double>() - cpu.loss) <= 1e-4 * std::max(1.0, std::abs(cpu.loss)) &&
                      f32["grad_max_abs_diff_relative"].get<double>() <= 1e-3;
    f32["within_tolerance"] = same;
    ok = ok && same;
    report["train_step"]["cuda_float32"] = f32;
    auto bf16 = compare(train_step(dir, cuda, torch::kBFloat16));
    ok = ok && std::isfinite(bf16["loss"].get<double>()) && bf16["max_update"].get<double>() > 0;
    report["train_step"]["cuda_bfloat16"] = bf16;
  }
  report["train_step"]["ok"] = ok;
  std::cout << "train_step: " << report["train_step"].dump() << std::endl;
  return ok;
}

void perf_7b(json& report) {
  const auto dev = parse_device("cuda");
  Qwen2_5_VLConfig c;  // vision defaults = Qwen2.5-VL-7B's
  c.text.vocab_size = 152064;
  c.text.hidden_size = 3584;
  c.text.num_layers = 28;
  c.text.num_heads = 28;
  c.text.num_kv_heads = 4;
  c.text.intermediate_size = 18944;
  c.text.rope_theta = 1e6;
  c.text.rms_norm_eps = 1e-6;
  c.text.tie_word_embeddings = false;
  c.text.mrope_section = {16, 24, 24};
  QwenImageConfig img;
  img.min_pixels = 3136;
  img.max_pixels = 12845056;
  auto t0 = Clock::now();
  torch::manual_seed(0);
  const auto previous = torch::get_default_dtype();
  std::shared_ptr<Qwen2_5_VL> q;
  try {
    torch::set_default_dtype(caffe2::TypeMeta::Make<at::BFloat16>());  // build in bf16: half the host memory
    q = std::make_shared<Qwen2_5_VL>(c, img);
  } catch (...) {
    torch::set_default_dtype(previous);
    throw;
  }
  torch::set_default_dtype(previous);
  q->to(dev, torch::kBFloat16);
  q->eval();
  json r;
  r["parameters"] = q->parameter_count();
  r["build_seconds"] = seconds_since(t0);
  std::cout << "7B-shaped model built: " << r.dump() << std::endl;
  torch::NoGradGuard g;
  // 1024x768 pictures: 1036x756 after smart_resize, 3996 patches, 999 visual tokens.
  std::vector<Image> images;
  for (int i = 0; i < 8; ++i) {
    Image im(1024, 768, 3);
    Rng rng(static_cast<std::uint64_t>(i + 1));
    for (auto& p : im.pixels) p = static_cast<std::uint8_t>(rng() & 0xFF);
    images.push_back(std::move(im));
  }
  std::vector<const Image*> ptrs;
  for (auto& im : images) ptrs.push_back(&im);
  t0 = Clock::now();
  const auto in8 = q->preprocess(ptrs);
  r["preprocess_ms_per_image_cpu"] = 1000 * seconds_since(t0) / 8;
  VisionInput in1;
  in1.pixels = {in8.pixels[0]};
  in1.grid = {in8.grid[0]};
  for (int b : {1, 8}) {
    const VisionInput& in = b == 1 ? in1 : in8;
    q->encode_images(in);  // warm-up
    sync(dev);
    t0 = Clock::now();
    const int reps = 3;
    for (int k = 0; k < reps; ++k) q->encode_images(in);
    sync(dev);
    r["vision_images_per_s_batch" + std::to_string(b)] = b * reps / seconds_since(t0);
  }
  const auto n_vis = in8.grid[0][1] * in8.grid[0][2];
  std::vector<std::int64_t> prompt;
  for (int i = 0; i < 150; ++i) prompt.push_back(1000 + i);
  prompt.push_back(c.vision_start_token_id);
  for (std::int64_t i = 0; i < n_vis; ++i) prompt.push_back(c.image_token_id);
  prompt.push_back(c.vision_end_token_id);
  for (int i = 0; i < 50; ++i) prompt.push_back(2000 + i);
  r["prompt_tokens"] = prompt.size();
  r["visual_tokens_per_image"] = n_vis;
  for (int b : {1, 8}) {
    const VisionInput& in = b == 1 ? in1 : in8;
    const auto vis = q->encode_images(in);
    std::vector<GenerationRequest> reqs;
    for (int i = 0; i < b; ++i) reqs.push_back(GenerationRequest{prompt, i, 1, 0});
    SamplingParams sp;
    sp.greedy = true;
    sp.max_new_tokens = 128;
    generate(*q, vis, reqs, SamplingParams{true, 1.0, 0, 1.0, 4, {}});  // warm-up
    sync(dev);
    GenerationStats st;
    t0 = Clock::now();
    generate(*q, vis, reqs, sp, nullptr, &st);
    sync(dev);
    const double total = seconds_since(t0);
    r["prefill_seconds_batch" + std::to_string(b)] = st.prefill_seconds;
    r["prefill_tokens_per_s_batch" + std::to_string(b)] = b * prompt.size() / st.prefill_seconds;
    r["decode_tokens_per_s_batch" + std::to_string(b)] = static_cast<double>(st.generated_tokens - b) / (st.decode_seconds + st.sample_seconds);
    r["generate128_seconds_batch" + std::to_string(b)] = total;
    std::cout << "batch " << b << ": " << r.dump() << std::endl;
  }
  r["note"] = "hawkeye C++ (explicit attention in the decoder, SDPA in the vision tower), bf16, greedy, no stop token";
  report["perf_7b_hawkeye"] = r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: qwen_cuda_check FIXTURE_DIR REPORT.json [--perf-7b]\n";
    return 2;
  }
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  json report;
  report["torch"] = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH);
  report["cuda_devices"] = torch::cuda::device_count();
  int rc = 0;
  // Each check reports its own failure (as "<name>_error") and the next one still runs.
  const auto check = [&](const char* name, const std::function<bool()>& run) {
    try {
      if (!run()) rc = 1;
    } catch (const std::exception& e) {
      report[std::string(name) + "_error"] = e.what();
      std::cerr << name << ": " << e.what() << std::endl;
      rc = 1;
    }
  };
  check("parity", [&] { return parity(argv[1], report); });
  check("train_step", [&] { return training_step_check(argv[1], report); });
  write_file_atomic(argv[2], report.dump(1));
  if (argc > 3 && std::string(argv[3]) == "--perf-7b") {
    try {
      perf_7b(report);
    } catch (const std::exception& e) {
      report["perf_error"] = e.what();
      std::cerr << "perf: " << e.what() << std::endl;
    }
  }
  write_file_atomic(argv[2], report.dump(1));
  std::cout << report.dump(1) << std::endl;
  return rc;
}
