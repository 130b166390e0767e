// The cost of c10d's Gloo all-reduce as hawkeye uses it: two ranks on 127.0.0.1 (the second rank is a thread of
// this process with its own ProcessGroup, so the bytes go through loopback TCP as between two processes).
//  - BM_AllReduce/<bytes>: one float32 tensor summed across the 2 ranks (latency and bandwidth of the transport).
//  - BM_AverageGradients/<bucket KiB>: the trainer's hook on the gradients of configs/hawkeye-tiny.json
//    (flatten into buckets, all-reduce, divide, copy back), for several bucket sizes.
// Only the collective is timed (manual time); a small control all-reduce keeps the two ranks in step.
//
// usage: bench_torch_dist_allreduce [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <fstream>
#include <thread>

#include "hawkeye/dist/hooks.h"
#include "hawkeye/dist/process_group.h"
#include "hawkeye/model/model_dir.h"

using namespace hawkeye;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

dist::DistEnv env_of(int rank, std::uint16_t port) {
  dist::DistEnv e;
  e.rank = rank;
  e.world = 2;
  e.local_rank = rank;
  e.local_world = 2;
  e.master_addr = "127.0.0.1";
  e.master_port = port;
  e.agent_store = true;
  return e;
}

// Rank 1 on a thread: repeats `work` for as long as rank 0 sends "go" through a control all-reduce.
template <class Work>
void follow(dist::ProcessGroup& g, Work work) {
  for (;;) {
    std::vector<torch::Tensor> go = {torch::zeros({1})};
    g.all_reduce_sum(go, "control");
    if (go[0].item<float>() == 0) return;
    work();
  }
}

void lead_step(dist::ProcessGroup& g, bool more) {
  std::vector<torch::Tensor> go = {torch::full({1}, more ? 1.0f : 0.0f)};
  g.all_reduce_sum(go, "control");
}

struct Pair {
  dist::StoreServer server{"127.0.0.1", 0, 60s};
  std::unique_ptr<dist::ProcessGroup> g0, g1;
  Pair() {
    std::thread t([this] { g1 = dist::ProcessGroup::join(env_of(1, server.port()), {}); });
    g0 = dist::ProcessGroup::join(env_of(0, server.port()), {});
    t.join();
  }
};

// The repository root (bench targets are compiled with it).
std::string source_dir() { return HAWKEYE_SOURCE_DIR; }

std::vector<torch::Tensor> tiny_model_gradients() {
  std::ifstream in(source_dir() + "/configs/hawkeye-tiny.json");
  const auto config = nlohmann::json::parse(in);
  auto policy = model::create_policy(config, "configs/hawkeye-tiny.json");
  std::vector<torch::Tensor> grads;
  for (const auto& p : policy->parameters()) grads.push_back(torch::randn_like(p));
  return grads;
}

}  // namespace

static void BM_AllReduce(benchmark::State& state) {
  Pair pair;
  const auto n = state.range(0) / 4;
  std::thread rank1([&] {
    std::vector<torch::Tensor> t = {torch::ones({n})};
    follow(*pair.g1, [&] { pair.g1->all_reduce_sum(t, "bench"); });
  });
  std::vector<torch::Tensor> t = {torch::ones({n})};
  for (auto _ : state) {
    lead_step(*pair.g0, true);
    const auto t0 = Clock::now();
    pair.g0->all_reduce_sum(t, "bench");
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  lead_step(*pair.g0, false);
  rank1.join();
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AllReduce)->UseManualTime()->Unit(benchmark::kMicrosecond)->RangeMultiplier(4)->Range(4 << 10, 64 << 20);

static void BM_AverageGradients(benchmark::State& state) {
  Pair pair;
  const double bucket_mb = static_cast<double>(state.range(0)) / 1024.0;
  auto grads0 = tiny_model_gradients(), grads1 = tiny_model_gradients();
  std::int64_t bytes = 0;
  for (const auto& g : grads0) bytes += g.numel() * g.element_size();
  std::thread rank1([&] {
    const auto hooks = dist::make_dist_hooks(*pair.g1, {bucket_mb});
    follow(*pair.g1, [&] { hooks.average_gradients(grads1); });
  });
  const auto hooks = dist::make_dist_hooks(*pair.g0, {bucket_mb});
  for (auto _ : state) {
    lead_step(*pair.g0, true);
    const auto t0 = Clock::now();
    hooks.average_gradients(grads0);
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  lead_step(*pair.g0, false);
  rank1.join();
  state.counters["tensors"] = static_cast<double>(grads0.size());
  state.counters["buckets"] = static_cast<double>(dist::plan_buckets(grads0, bucket_mb).size());
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_AverageGradients)->UseManualTime()->Unit(benchmark::kMicrosecond)->Arg(64)->Arg(1024)->Arg(25 * 1024);

BENCHMARK_MAIN();
