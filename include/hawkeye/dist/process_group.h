// A process group on torch's c10d runtime: a TCPStore for the rendezvous, ProcessGroupGloo for CPU tensors
// and, in builds with NCCL (USE_C10D_NCCL), ProcessGroupNCCL for CUDA tensors. No transport of our own.
//
// Every collective is bounded by GroupOptions::timeout. When one fails (a peer died, hung, or never came),
// the error names the peer where it can be known: each rank publishes a heartbeat and the number of
// collectives it has entered in the store, so a failing rank can tell "rank 1 stopped responding" from
// "rank 1 is alive but has not reached collective #37".
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <torch/torch.h>

#include "hawkeye/dist/env.h"

namespace hawkeye::dist {

struct GroupOptions {
  std::chrono::milliseconds timeout{300000};  // joining, every collective, and the store
  std::string backend = "auto";               // "gloo", "nccl" or "auto" (NCCL for CUDA tensors when built with it)
};

// A TCPStore server on its own (what a launcher hosts, so that the store outlives any worker).
class StoreServer {
 public:
  // port 0 = a free port chosen by the system. Errors: distributed (the port is taken, ...).
  StoreServer(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);
  ~StoreServer();
  StoreServer(const StoreServer&) = delete;
  StoreServer& operator=(const StoreServer&) = delete;
  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct GroupStats {
  std::int64_t collectives = 0;     // entered so far
  double allreduce_seconds = 0;     // time spent in all_reduce_sum (issue + wait)
  std::int64_t allreduce_bytes = 0;
};

class ProcessGroup {
 public:
  // Joins the group `env` describes; every rank calls it. Errors: distributed, naming the ranks that did not
  // join within the timeout, or the store address that could not be reached or hosted.
  static std::unique_ptr<ProcessGroup> join(const DistEnv& env, const GroupOptions& options = {});
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const;
  int world() const;
  std::string backend() const;  // "gloo" or "nccl+gloo"

  // Sums each tensor across ranks, in place (every rank passes the same shapes and dtypes in the same order).
  // All reductions are issued before the first is waited for. `what` names the call in errors.
  // Errors: distributed (a peer failed or the timeout passed), naming the peer where known.
  void all_reduce_sum(std::vector<torch::Tensor>& tensors, std::string_view what);
  void barrier(std::string_view what);

  GroupStats stats() const;

 private:
  struct Impl;
  explicit ProcessGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hawkeye::dist
