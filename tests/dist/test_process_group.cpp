// The process group and the trainer hooks on c10d, with the ranks as threads of this process (a store hosted
// by the test, as the launcher hosts it): averaging and sums are exact, buckets are planned as documented,
// and a missing, hung or vanished peer makes the others fail within the timeout, naming it.
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <future>
#include <map>
#include <thread>

#include "hawkeye/core/error.h"
#include "hawkeye/core/threads.h"
#include "hawkeye/dist/env.h"
#include "hawkeye/dist/hooks.h"
#include "hawkeye/dist/process_group.h"

using namespace hawkeye;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

dist::DistEnv local_env(int rank, int world, std::uint16_t port) {
  dist::DistEnv e;
  e.rank = rank;
  e.world = world;
  e.local_rank = rank;
  e.local_world = world;
  e.master_addr = "127.0.0.1";
  e.master_port = port;
  e.agent_store = true;  // the test hosts the store, like the launcher
  return e;
}

// Runs body(rank) on `world` threads; returns each thread's exception (or null).
std::vector<std::exception_ptr> run_ranks(int world, const std::function<void(int)>& body) {
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      try {
        body(r);
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  return errors;
}

std::string message_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const Error& err) {
    return std::string(error_code_name(err.code())) + ": " + err.what();
  } catch (const std::exception& err) {
    return std::string("foreign exception: ") + err.what();
  }
}

std::optional<dist::DistEnv> parse(const std::map<std::string, std::string>& vars) {
  return dist::parse_dist_env([&](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

}  // namespace

TEST(DistEnv, NoVariablesMeansOneProcess) { EXPECT_FALSE(parse({}).has_value()); }

TEST(DistEnv, ReadsTheTorchrunVariables) {
  const auto e = parse({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"}, {"MASTER_ADDR", "10.0.0.5"},
                        {"MASTER_PORT", "29501"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"}, {"TORCHELASTIC_RESTART_COUNT", "2"},
                        {"GLOO_SOCKET_IFNAME", "eth1"}});
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->rank, 3);
  EXPECT_EQ(e->world, 8);
  EXPECT_EQ(e->local_rank, 1);
  EXPECT_EQ(e->local_world, 2);
  EXPECT_EQ(e->master_addr, "10.0.0.5");
  EXPECT_EQ(e->master_port, 29501);
  EXPECT_TRUE(e->agent_store);
  EXPECT_EQ(e->restart_count, 2);
  EXPECT_EQ(e->gloo_interface, "eth1");
}

TEST(DistEnv, BadVariablesAreNamed) {
  const std::map<std::string, std::string> ok = {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}};
  auto expect_error = [&](const std::string& key, const std::string& value, const std::string& needle) {
    auto vars = ok;
    if (value.empty()) vars.erase(key);
    else vars[key] = value;
    try {
      parse(vars);
      ADD_FAILURE() << key << "=" << value << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("RANK", "2", "RANK=2 is outside [0, 1]");
  expect_error("RANK", "one", "RANK='one' is not an integer");
  expect_error("RANK", "", "WORLD_SIZE is set but RANK is not");
  expect_error("WORLD_SIZE", "0", "WORLD_SIZE=0");
  expect_error("MASTER_PORT", "70000", "MASTER_PORT=70000");
  expect_error("MASTER_PORT", "", "MASTER_PORT is not set");
  expect_error("MASTER_ADDR", "", "MASTER_ADDR is not set");
  expect_error("LOCAL_RANK", "5", "LOCAL_RANK=5");
}

TEST(DistEnv, ThreadBudgetSplitsTheCores) {
  const int cores = available_cores();
  EXPECT_EQ(dist::worker_threads(0, 1), cores);
  EXPECT_EQ(dist::worker_threads(0, 2), std::max(1, cores / 2));
  EXPECT_EQ(dist::worker_threads(0, 4096), 1);  // never below one
  EXPECT_EQ(dist::worker_threads(3, 2), 3);     // --threads wins
}

TEST(DistBuckets, PackInOrderPerDtypeUpToTheLimit) {
  const auto mb = [](std::int64_t n, torch::Dtype d = torch::kFloat32) {
    return torch::zeros({n * 1024 * 1024 / (d == torch::kFloat64 ? 8 : 4)}, d);
  };
  // 1 + 1 MiB fit a 2.5 MiB bucket; the third starts a new one; a 5 MiB tensor is a bucket of its own.
  std::vector<torch::Tensor> t = {mb(1), mb(1), mb(1), mb(5), mb(1)};
  EXPECT_EQ(dist::plan_buckets(t, 2.5), (std::vector<std::vector<std::size_t>>{{0, 1}, {2}, {3}, {4}}));
  // dtypes never share a bucket; each dtype keeps its own open bucket
  std::vector<torch::Tensor> m = {mb(1), mb(1, torch::kFloat64), mb(1), mb(1, torch::kFloat64)};
  EXPECT_EQ(dist::plan_buckets(m, 25), (std::vector<std::vector<std::size_t>>{{0, 2}, {1, 3}}));
}

TEST(DistGroup, HooksAverageGradientsAndSumNumbersExactly) {
  dist::GroupOptions go;
  go.timeout = 20s;
  for (const double bucket_mb : {25.0, 1e-6}) {  // one bucket for all, and one bucket per tensor
    dist::StoreServer server("127.0.0.1", 0, 20s);  // a store per run (a group's keys are not reusable)
    std::vector<std::vector<torch::Tensor>> results(2);
    std::vector<std::vector<double>> sums(2);
    const auto errors = run_ranks(2, [&](int r) {
      auto g = dist::ProcessGroup::join(local_env(r, 2, server.port()), go);
      const auto hooks = dist::make_dist_hooks(*g, {bucket_mb});
      EXPECT_EQ(hooks.rank, r);
      EXPECT_EQ(hooks.world, 2);
      // Small integers times (r + 1): sums and halves are exact in binary floating point.
      const double f = r + 1.0;
      std::vector<torch::Tensor> grads = {torch::arange(6, torch::kFloat32).reshape({2, 3}) * f,
                                          torch::full({5}, 4.0, torch::kFloat64) * f,
                                          (torch::arange(12, torch::kFloat32).reshape({3, 4}) * f).t(),  // not contiguous
                                          torch::ones({1}, torch::kFloat32) * f};
      hooks.average_gradients(grads);
      results[static_cast<std::size_t>(r)] = grads;
      std::vector<double> v = {static_cast<double>(r), 10.0, -0.5};
      hooks.sum(v);
      sums[static_cast<std::size_t>(r)] = v;
      hooks.barrier();
      EXPECT_EQ(g->stats().collectives, 3);
    });
    for (const auto& e : errors) ASSERT_FALSE(e) << message_of(e);
    for (int r = 0; r < 2; ++r) {
      const auto& g = results[static_cast<std::size_t>(r)];
      EXPECT_TRUE(torch::equal(g[0], torch::arange(6, torch::kFloat32).reshape({2, 3}) * 1.5)) << "bucket_mb " << bucket_mb;
      EXPECT_TRUE(torch::equal(g[1], torch::full({5}, 6.0, torch::kFloat64)));
      EXPECT_TRUE(torch::equal(g[2], (torch::arange(12, torch::kFloat32).reshape({3, 4}) * 1.5).t()));
      EXPECT_TRUE(torch::equal(g[3], torch::full({1}, 1.5, torch::kFloat32)));
      EXPECT_EQ(sums[static_cast<std::size_t>(r)], (std::vector<double>{1.0, 20.0, -1.0}));
    }
  }
}

TEST(DistGroup, AMissingRankIsNamedAtTheJoinTimeout) {
  dist::StoreServer server("127.0.0.1", 0, 10s);
  dist::GroupOptions go;
  go.timeout = 1s;
  const auto t0 = Clock::now();
  try {
    dist::ProcessGroup::join(local_env(0, 3, server.port()), go);
    FAIL() << "joined without ranks 1 and 2";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::distributed);
    EXPECT_NE(std::string(e.what()).find("rank(s) 1, 2 of 3 did not join within 1 s"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 5.0);
}

TEST(DistGroup, UnreachableStoreIsReportedWithItsAddress) {
  std::uint16_t port = 0;
  {
    dist::StoreServer probe("127.0.0.1", 0, 5s);
    port = probe.port();
  }  // closed again: nobody listens there now
  dist::GroupOptions go;
  go.timeout = 1s;
  try {
    dist::ProcessGroup::join(local_env(1, 2, port), go);
    FAIL() << "joined a store that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::distributed);
    EXPECT_NE(std::string(e.what()).find("cannot reach the rendezvous store at 127.0.0.1:" + std::to_string(port)), std::string::npos)
        << e.what();
  }
}

TEST(DistGroup, AHungPeerTimesOutAndIsNamed) {
  dist::StoreServer server("127.0.0.1", 0, 20s);
  dist::GroupOptions go;
  go.timeout = 5s;  // heartbeats every 0.5 s: a busy machine may delay one by a few hundred ms without a wrong verdict
  std::promise<void> rank0_done;
  auto done = rank0_done.get_future().share();
  double seconds = 0;
  const auto errors = run_ranks(2, [&](int r) {
    auto g = dist::ProcessGroup::join(local_env(r, 2, server.port()), go);
    std::vector<torch::Tensor> t = {torch::ones({4})};
    g->all_reduce_sum(t, "first");
    if (r == 1) {
      done.wait();  // alive (heartbeats go on) but never enters the second collective
      return;
    }
    const auto t0 = Clock::now();
    try {
      g->all_reduce_sum(t, "second");
    } catch (...) {
      seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      rank0_done.set_value();
      throw;
    }
    rank0_done.set_value();
  });
  ASSERT_TRUE(errors[0]) << "rank 0 did not fail";
  EXPECT_FALSE(errors[1]) << message_of(errors[1]);
  const auto msg = message_of(errors[0]);
  EXPECT_NE(msg.find("distributed: rank 0: second (collective #2) failed: rank 1 is alive but has not reached collective #2 (it is at #1)"),
            std::string::npos)
      << msg;
  // the timeout, plus 2.5 heartbeat intervals (0.5 s each here) to tell a hung peer from a dead one
  EXPECT_GE(seconds, 4.9);
  EXPECT_LT(seconds, 12.0);
}

TEST(DistGroup, AVanishedPeerIsNamedWellBeforeTheTimeout) {
  dist::StoreServer server("127.0.0.1", 0, 30s);
  dist::GroupOptions go;
  go.timeout = 20s;
  std::promise<void> left;
  auto gone = left.get_future().share();
  double seconds = 0;
  const auto errors = run_ranks(2, [&](int r) {
    auto g = dist::ProcessGroup::join(local_env(r, 2, server.port()), go);
    if (r == 1) {
      g.reset();  // its connections close and its heartbeat stops, as when a process dies
      left.set_value();
      return;
    }
    gone.wait();
    std::vector<torch::Tensor> t = {torch::ones({4})};
    const auto t0 = Clock::now();
    try {
      g->all_reduce_sum(t, "gradient all-reduce");
    } catch (...) {
      seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      throw;
    }
  });
  ASSERT_TRUE(errors[0]) << "rank 0 did not fail";
  const auto msg = message_of(errors[0]);
  EXPECT_NE(msg.find("rank 1 stopped responding"), std::string::npos) << msg;
  EXPECT_LT(seconds, 10.0);  // the closed connection is seen at once; not the 20 s timeout
}
