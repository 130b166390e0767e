#include "hawkeye/dist/env.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "hawkeye/core/error.h"
#include "hawkeye/core/threads.h"

namespace hawkeye::dist {

namespace {

long long parse_integer(const char* name, const char* text, long long lo, long long hi) {
  const std::string_view s(text);
  long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    throw Error(ErrorCode::invalid_argument, std::string(name) + "='" + std::string(s) + "' is not an integer");
  }
  if (v < lo || v > hi) {
    throw Error(ErrorCode::invalid_argument, std::string(name) + "=" + std::string(s) + " is outside [" + std::to_string(lo) +
                                                 ", " + std::to_string(hi) + "]");
  }
  return v;
}

}  // namespace

std::optional<DistEnv> parse_dist_env(const std::function<const char*(const char*)>& lookup) {
  const char* rank = lookup("RANK");
  const char* world = lookup("WORLD_SIZE");
  if (!rank && !world) return std::nullopt;
  if (!rank || !world) {
    throw Error(ErrorCode::invalid_argument, std::string(rank ? "RANK" : "WORLD_SIZE") + " is set but " +
                                                 (rank ? "WORLD_SIZE" : "RANK") + " is not (a multi-process run needs both)");
  }
  DistEnv e;
  e.world = static_cast<int>(parse_integer("WORLD_SIZE", world, 1, 1 << 20));
  e.rank = static_cast<int>(parse_integer("RANK", rank, 0, e.world - 1));
  if (const char* v = lookup("LOCAL_WORLD_SIZE")) e.local_world = static_cast<int>(parse_integer("LOCAL_WORLD_SIZE", v, 1, e.world));
  if (const char* v = lookup("LOCAL_RANK")) e.local_rank = static_cast<int>(parse_integer("LOCAL_RANK", v, 0, e.local_world - 1));
  if (const char* v = lookup("MASTER_ADDR")) {
    if (!*v) throw Error(ErrorCode::invalid_argument, "MASTER_ADDR is empty");
    e.master_addr = v;
  } else if (e.world > 1) {
    throw Error(ErrorCode::invalid_argument, "MASTER_ADDR is not set (the address of the host of rank 0)");
  }
  if (const char* v = lookup("MASTER_PORT")) {
    e.master_port = static_cast<std::uint16_t>(parse_integer("MASTER_PORT", v, 1, 65535));
  } else if (e.world > 1) {
    throw Error(ErrorCode::invalid_argument, "MASTER_PORT is not set (a free TCP port on the host of rank 0)");
  }
  if (const char* v = lookup("TORCHELASTIC_USE_AGENT_STORE")) e.agent_store = std::string_view(v) == "True";
  if (const char* v = lookup("TORCHELASTIC_RESTART_COUNT")) {
    e.restart_count = static_cast<int>(parse_integer("TORCHELASTIC_RESTART_COUNT", v, 0, 1 << 20));
  }
  if (const char* v = lookup("GLOO_SOCKET_IFNAME")) e.gloo_interface = v;
  return e;
}

std::optional<DistEnv> dist_env_from_environment() {
  return parse_dist_env([](const char* name) -> const char* { return std::getenv(name); });
}

int worker_threads(int requested, int local_world) {
  if (requested > 0) return requested;
  return std::max(1, available_cores() / std::max(1, local_world));
}

}  // namespace hawkeye::dist
