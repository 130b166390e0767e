#include "hawkeye/dist/process_group.h"

// Debian's libtorch_cpu is built with Gloo, but its c10d headers hide ProcessGroupGloo unless the build
// defines USE_C10D_GLOO (torch's own CMake does so for its targets only). CUDA builds that link NCCL define
// USE_C10D_NCCL (cmake -DHAWKEYE_WITH_NCCL=ON).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <thread>

#include "hawkeye/core/error.h"
#include "hawkeye/core/log.h"

namespace hawkeye::dist {

namespace {

using Clock = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;

// In libtorch 2.x the backends (Gloo, NCCL) derive from c10d::Backend; in 1.13 from c10d::ProcessGroup.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

// The first line of an exception's message, without c10's backtrace.
std::string short_message(const std::exception& e) {
  std::string s;
  if (const auto* ce = dynamic_cast<const c10::Error*>(&e)) s = ce->what_without_backtrace();
  else s = e.what();
  if (const auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

std::string seconds_text(ms t) {
  std::ostringstream o;
  o << static_cast<double>(t.count()) / 1000.0 << " s";
  return o.str();
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// The local address this host uses to reach `host` (a connected UDP socket sends nothing). Gloo must bind
// to an address the peers can reach; the hostname may resolve to 127.0.1.1 on Debian.
std::string local_address_towards(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) return "";
  std::string out;
  const int fd = ::socket(res->ai_family, SOCK_DGRAM, 0);
  if (fd >= 0) {
    if (::connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
      sockaddr_storage local{};
      socklen_t len = sizeof local;
      char name[NI_MAXHOST];
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 &&
          ::getnameinfo(reinterpret_cast<sockaddr*>(&local), len, name, sizeof name, nullptr, 0, NI_NUMERICHOST) == 0) {
        out = name;
      }
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return out;
}

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "?";
  return buf;
}

struct Beat {
  std::int64_t beat = 0, seq = 0;
};

}  // namespace

// ---- the store server ----------------------------------------------------------------------------------

struct StoreServer::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
};

StoreServer::StoreServer(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  c10d::TCPStoreOptions o;
  o.port = port;
  o.isServer = true;
  o.waitWorkers = false;
  o.timeout = timeout;
  try {
    impl_->store = c10::make_intrusive<c10d::TCPStore>(host, o);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::distributed, "cannot host the rendezvous store on " + host + ":" + std::to_string(port) + ": " +
                                            short_message(e));
  }
}

StoreServer::~StoreServer() = default;

std::uint16_t StoreServer::port() const { return impl_->store->getPort(); }

// ---- the group -----------------------------------------------------------------------------------------

struct ProcessGroup::Impl {
  DistEnv env;
  GroupOptions options;
  ms beat_interval{1000};
  c10::intrusive_ptr<c10d::Store> store;  // the (prefixed) store of this run
  c10::intrusive_ptr<Collectives> gloo;
  c10::intrusive_ptr<Collectives> nccl;   // only in builds with NCCL, for CUDA tensors
  std::atomic<std::int64_t> seq{0};
  GroupStats stats;
  // heartbeat
  std::thread heart;
  std::mutex heart_mutex;
  std::condition_variable heart_cv;
  bool heart_stop = false;

  ~Impl() { stop_heartbeat(); }

  std::string store_address() const { return env.master_addr + ":" + std::to_string(env.master_port); }
  std::string beat_key(int r) const { return "hawkeye/beat/" + std::to_string(r); }
  std::string join_key(int r) const { return "hawkeye/joined/" + std::to_string(r); }

  c10::intrusive_ptr<c10d::Store> connect_store(bool server) const {
    c10d::TCPStoreOptions o;
    o.port = env.master_port;
    o.isServer = server;
    o.waitWorkers = false;
    o.timeout = options.timeout;
    c10::intrusive_ptr<c10d::Store> s = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
    // The key space torchrun's workers use, so hawkeye runs under torchrun's agent store as well.
    if (env.agent_store) s = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(env.restart_count), s);
    return s;
  }

  // Publishes "<beat> <collectives entered>" every beat_interval, on a store connection of its own.
  void start_heartbeat() {
    heart = std::thread([this] {
      try {
        auto s = connect_store(false);
        for (std::int64_t beat = 1;; ++beat) {
          s->set(beat_key(env.rank), bytes(std::to_string(beat) + " " + std::to_string(seq.load())));
          std::unique_lock<std::mutex> lock(heart_mutex);
          if (heart_cv.wait_for(lock, beat_interval, [this] { return heart_stop; })) return;
        }
      } catch (const std::exception& e) {
        // The store is gone (its host ended or died); the next collective reports it.
        spdlog::debug("rank {}: heartbeat stopped: {}", env.rank, short_message(e));
      }
    });
  }

  void stop_heartbeat() {
    {
      std::lock_guard<std::mutex> lock(heart_mutex);
      heart_stop = true;
    }
    heart_cv.notify_all();
    if (heart.joinable()) heart.join();
  }

  std::vector<std::optional<Beat>> read_beats() {
    std::vector<std::optional<Beat>> out(static_cast<std::size_t>(env.world));
    for (int r = 0; r < env.world; ++r) {
      if (r == env.rank || !store->check({beat_key(r)})) continue;
      std::istringstream in(text(store->get(beat_key(r))));
      Beat b;
      if (in >> b.beat >> b.seq) out[static_cast<std::size_t>(r)] = b;
    }
    return out;
  }

  // Which peer is at fault, as far as the heartbeats tell.
  std::string diagnose(std::int64_t my_seq) {
    std::vector<std::optional<Beat>> a, b;
    try {
      a = read_beats();
      std::this_thread::sleep_for(beat_interval * 5 / 2);
      b = read_beats();
    } catch (const std::exception&) {
      if (!env.agent_store) {
        return "rank 0 is not reachable: the rendezvous store it hosts at " + store_address() + " is gone (rank 0 most likely died)";
      }
      return "the rendezvous store at " + store_address() + " is not reachable (its launcher ended or died)";
    }
    std::vector<std::string> lines;
    for (int r = 0; r < env.world; ++r) {
      if (r == env.rank) continue;
      const auto& x = a[static_cast<std::size_t>(r)];
      const auto& y = b[static_cast<std::size_t>(r)];
      if (!y) {
        lines.push_back("rank " + std::to_string(r) + " never joined");
      } else if (x && x->beat == y->beat) {
        lines.push_back("rank " + std::to_string(r) + " stopped responding (no heartbeat for " + seconds_text(beat_interval * 5 / 2) +
                        ": it died or is stopped)");
      } else if (y->seq < my_seq) {
        lines.push_back("rank " + std::to_string(r) + " is alive but has not reached collective #" + std::to_string(my_seq) +
                        " (it is at #" + std::to_string(y->seq) + "): it hangs, failed outside a collective, or a step takes longer than the timeout of " +
                        seconds_text(options.timeout));
      }
    }
    if (lines.empty()) return "every other rank is alive and has reached this collective (a network failure?)";
    std::string out;
    for (const auto& l : lines) out += (out.empty() ? "" : "; ") + l;
    return out;
  }

  [[noreturn]] void fail(std::int64_t my_seq, std::string_view what, const std::exception& e) {
    const auto cause = short_message(e);
    throw Error(ErrorCode::distributed, "rank " + std::to_string(env.rank) + ": " + std::string(what) + " (collective #" +
                                            std::to_string(my_seq) + ") failed: " + diagnose(my_seq) + " [c10d: " + cause + "]");
  }

  Collectives& pick(const torch::Tensor& t) {
    if (t.is_cuda()) {
      if (!nccl) throw Error(ErrorCode::unsupported, "CUDA tensors need a build with NCCL (cmake -DHAWKEYE_WITH_NCCL=ON against a CUDA libtorch)");
      return *nccl;
    }
    return *gloo;
  }
};

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ProcessGroup::~ProcessGroup() {
  impl_->stop_heartbeat();
}

std::unique_ptr<ProcessGroup> ProcessGroup::join(const DistEnv& env, const GroupOptions& options) {
  if (options.timeout.count() <= 0) throw Error(ErrorCode::invalid_argument, "the distributed timeout must be positive");
  if (options.backend != "auto" && options.backend != "gloo" && options.backend != "nccl") {
    throw Error(ErrorCode::invalid_argument, "unknown distributed backend '" + options.backend + "' (auto, gloo or nccl)");
  }
  auto impl = std::make_unique<Impl>();
  impl->env = env;
  impl->options = options;
  impl->beat_interval = std::clamp(ms(options.timeout.count() / 10), ms(200), ms(1000));
  const bool host_store = !env.agent_store && env.rank == 0;
  const std::string me = "rank " + std::to_string(env.rank);
  try {
    impl->store = impl->connect_store(host_store);
  } catch (const std::exception& e) {
    if (host_store) {
      throw Error(ErrorCode::distributed, me + ": cannot host the rendezvous store on port " + std::to_string(env.master_port) + ": " +
                                              short_message(e) + " (set MASTER_PORT to a free port)");
    }
    throw Error(ErrorCode::distributed, me + ": cannot reach the rendezvous store at " + impl->store_address() + " within " +
                                            seconds_text(options.timeout) + ": " + short_message(e) +
                                            " (is rank 0 running, and are MASTER_ADDR / MASTER_PORT right?)");
  }

  // Everyone announces itself, then waits for the others; the ones missing at the timeout are named.
  std::vector<std::string> keys;
  for (int r = 0; r < env.world; ++r) keys.push_back(impl->join_key(r));
  try {
    impl->store->set(impl->join_key(env.rank), bytes(host_name() + " pid " + std::to_string(::getpid())));
  } catch (const std::exception& e) {
    throw Error(ErrorCode::distributed, me + ": cannot write to the rendezvous store at " + impl->store_address() + ": " + short_message(e));
  }
  impl->start_heartbeat();
  try {
    impl->store->wait(keys, options.timeout);
  } catch (const std::exception& e) {
    std::string missing;
    try {
      for (int r = 0; r < env.world; ++r)
        if (!impl->store->check({impl->join_key(r)})) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
    } catch (const std::exception&) {
      missing = "?";
    }
    impl->stop_heartbeat();
    throw Error(ErrorCode::distributed, me + ": rank(s) " + missing + " of " + std::to_string(env.world) + " did not join within " +
                                            seconds_text(options.timeout) + " (store " + impl->store_address() + ")");
  }

  // Gloo binds to an address the peers can reach.
  auto gopts = c10d::ProcessGroupGloo::Options::create(options.timeout);
  try {
    if (!env.gloo_interface.empty()) {
      gopts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(env.gloo_interface));
    } else if (is_loopback(env.master_addr)) {
      gopts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else if (const auto local = local_address_towards(env.master_addr, env.master_port); !local.empty()) {
      gopts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(local));
    } else {
      spdlog::warn("{}: no route to MASTER_ADDR {} found; Gloo binds to this host's name (set GLOO_SOCKET_IFNAME to choose)", me,
                   env.master_addr);
      gopts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    impl->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo", impl->store), env.rank,
                                                             env.world, gopts);
  } catch (const Error&) {
    impl->stop_heartbeat();
    throw;
  } catch (const std::exception& e) {
    const auto why = impl->diagnose(0);
    impl->stop_heartbeat();
    throw Error(ErrorCode::distributed, me + ": connecting the Gloo group failed: " + why + " [c10d: " + short_message(e) + "]");
  }
  const bool want_nccl = options.backend == "nccl" || (options.backend == "auto" && torch::cuda::is_available());
  if (want_nccl) {
#ifdef USE_C10D_NCCL
    auto nopts = c10d::ProcessGroupNCCL::Options::create();
    nopts->timeout = options.timeout;
    try {
      impl->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("nccl", impl->store), env.rank,
                                                               env.world, nopts);
    } catch (const std::exception& e) {
      impl->stop_heartbeat();
      throw Error(ErrorCode::distributed, me + ": creating the NCCL group failed: " + short_message(e));
    }
#else
    if (options.backend == "nccl") {
      impl->stop_heartbeat();
      throw Error(ErrorCode::unsupported, "this build has no NCCL (build against a CUDA libtorch with -DHAWKEYE_WITH_NCCL=ON)");
    }
#endif
  }
  spdlog::debug("{} of {} joined ({})", me, env.world, impl->nccl ? "nccl+gloo" : "gloo");
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(std::move(impl)));
}

int ProcessGroup::rank() const { return impl_->env.rank; }
int ProcessGroup::world() const { return impl_->env.world; }
std::string ProcessGroup::backend() const { return impl_->nccl ? "nccl+gloo" : "gloo"; }
GroupStats ProcessGroup::stats() const {
  auto s = impl_->stats;
  s.collectives = impl_->seq.load();
  return s;
}

void ProcessGroup::all_reduce_sum(std::vector<torch::Tensor>& tensors, std::string_view what) {
  const auto my_seq = ++impl_->seq;
  const auto t0 = Clock::now();
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  std::int64_t bytes_total = 0;
  try {
    for (auto& t : tensors) {
      if (!t.is_contiguous()) throw Error(ErrorCode::internal, std::string(what) + ": all_reduce_sum needs contiguous tensors");
      std::vector<at::Tensor> one{t};
      works.push_back(impl_->pick(t).allreduce(one));
      bytes_total += static_cast<std::int64_t>(t.numel() * t.element_size());
    }
    for (auto& w : works) w->wait();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    impl_->fail(my_seq, what, e);
  }
  impl_->stats.allreduce_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  impl_->stats.allreduce_bytes += bytes_total;
}

void ProcessGroup::barrier(std::string_view what) {
  const auto my_seq = ++impl_->seq;
  try {
    impl_->gloo->barrier()->wait();
  } catch (const std::exception& e) {
    impl_->fail(my_seq, what, e);
  }
}

}  // namespace hawkeye::dist
