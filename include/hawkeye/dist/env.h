// Where a process stands in a multi-process run: the variables torchrun sets (RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and, when a launcher hosts the rendezvous
// store, TORCHELASTIC_USE_AGENT_STORE / TORCHELASTIC_RESTART_COUNT; GLOO_SOCKET_IFNAME as in PyTorch.
// See docs/distributed.md.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace hawkeye::dist {

struct DistEnv {
  int rank = 0;
  int world = 1;
  int local_rank = 0;
  int local_world = 1;             // processes of this run on this host (LOCAL_WORLD_SIZE; 1 when unset)
  std::string master_addr = "127.0.0.1";
  std::uint16_t master_port = 29500;
  bool agent_store = false;        // a launcher (hawkeye --nproc or torchrun) hosts the store; rank 0 only connects
  int restart_count = 0;           // the launcher's attempt number (keys live under /worker/attempt_N)
  std::string gloo_interface;      // GLOO_SOCKET_IFNAME: the network interface Gloo binds to ("" = automatic)
};

// Reads the variables through `lookup` (nullptr = unset). Returns nullopt when none of RANK / WORLD_SIZE
// is set (a plain single process). Errors: invalid_argument naming the variable (not a number, rank outside
// [0, WORLD_SIZE), WORLD_SIZE set without RANK or the other way round, port outside 1..65535).
std::optional<DistEnv> parse_dist_env(const std::function<const char*(const char*)>& lookup);

// parse_dist_env over this process's environment.
std::optional<DistEnv> dist_env_from_environment();

// Threads for one of `local_world` processes on this host: `requested` when > 0, else
// max(1, available cores / local_world).
int worker_threads(int requested, int local_world);

}  // namespace hawkeye::dist
