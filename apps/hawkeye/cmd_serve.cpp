// hawkeye serve [--model M] [--host 127.0.0.1] [--port 8080] [--max-batch N] [--max-wait-ms T] ...
// An HTTP scoring service with dynamic batching and the scoring page (include/hawkeye/serve/server.h,
// docs/serve.md). Prints "hawkeye serve: listening on http://HOST:PORT/" on standard output once it accepts
// requests (with --port 0 the port is a free one).
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "cli.h"
#include "hawkeye/core/error.h"
#include "hawkeye/core/log.h"
#include "hawkeye/model/device.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/runtime.h"
#include "hawkeye/serve/server.h"

namespace hawkeye::cli {

namespace {

struct ServeCommand {
  std::string model = "hawkeye-tiny";
  std::string host = "127.0.0.1";
  int port = 8080;
  std::int64_t max_batch = 16;
  int max_wait_ms = 10;
  double max_body_mb = 32;
  int workers = 32;
  std::size_t max_waiting = 64;
  std::size_t max_queue = 256;
  int timeout_s = 10;
  std::string device = "cpu";
};

void run_serve(const ServeCommand& o, Context& ctx) {
  ctx.prepare(true);
  const torch::Device device = model::parse_device(o.device);
  auto m = model::IqaModel::load(o.model, device);

  serve::ServeOptions so;
  so.host = o.host;
  so.port = o.port;
  so.batching.max_batch = o.max_batch;
  so.batching.max_wait = std::chrono::milliseconds(o.max_wait_ms);
  so.batching.max_queue = o.max_queue;
  so.batching.seed = ctx.global.seed;
  so.batching.follow_load = ctx.global.follow_load() && device.is_cpu();
  so.max_body_bytes = static_cast<std::uint64_t>(o.max_body_mb * 1024 * 1024);
  so.workers = o.workers;
  so.max_waiting = o.max_waiting;
  so.read_timeout = so.write_timeout = std::chrono::seconds(o.timeout_s);
  serve::Server server(m, so);
  const int port = server.bind();
  if (o.host != "127.0.0.1" && o.host != "localhost" && o.host != "::1") {
    spdlog::warn("listening on {}: other machines can reach this server; it has no authentication", o.host);
  }

  // The first Ctrl-C or SIGTERM: requests being handled finish, new ones get 503, then the server exits with
  // status 0. A second one ends the process at once (status 130).
  const StopOnSignal on_signal;
  const auto& stop = stop_flag();
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!stop.load() && !done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (stop.load()) spdlog::info("stopping: finishing the requests being handled, refusing new ones");
    server.shutdown();
  });
  const std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  std::cout << "hawkeye serve: listening on http://" << host << ":" << port << "/" << std::endl;
  spdlog::info("model {} ({}), batches of up to {} images waiting at most {} ms, {} HTTP workers", m.id(),
               m.dir().architecture, o.max_batch, o.max_wait_ms, o.workers);
  server.run();
  done = true;
  watcher.join();
  spdlog::info("stopped");
  ctx.exit_code = kExitOk;
}

}  // namespace

void add_serve_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ServeCommand>();
  auto* sub = app.add_subcommand("serve", "HTTP scoring service with dynamic batching and a scoring page (docs/serve.md)");
  sub->fallthrough();
  sub->add_option("--model,-m", o->model, "A shipped model's name or a model directory (default: hawkeye-tiny)");
  sub->add_option("--host", o->host, "Address to listen on (default 127.0.0.1: this machine only)");
  sub->add_option("--port", o->port, "TCP port (default 8080; 0 = a free one, printed at start)")->check(CLI::Range(0, 65535));
  sub->add_option("--max-batch", o->max_batch, "Most images per model batch (default 16)")->check(CLI::Range(1, 1024));
  sub->add_option("--max-wait-ms", o->max_wait_ms, "Longest wait for a batch to fill, in ms (default 10)")
      ->check(CLI::Range(0, 60000));
  sub->add_option("--max-body-mb", o->max_body_mb, "Largest request body in MiB; larger ones get 413 (default 32)")
      ->check(CLI::Range(0.001, 4096.0));
  sub->add_option("--workers", o->workers, "HTTP worker threads (default 32; each waits for its request's scores)")
      ->check(CLI::Range(1, 1024));
  sub->add_option("--max-waiting", o->max_waiting,
                  "Most connections waiting for a free worker; more get 503 with Retry-After (default 64)")
      ->check(CLI::Range(0, 1 << 20));
  sub->add_option("--max-queue", o->max_queue, "Most images waiting for the model; more get 503 (default 256)")
      ->check(CLI::Range(1, 1 << 20));
  sub->add_option("--timeout", o->timeout_s, "Seconds a client may stall while sending or receiving (default 10)")
      ->check(CLI::Range(1, 3600));
  sub->add_option("--device", o->device, "cpu (default), cuda or cuda:N (needs a CUDA build)");
  sub->callback([o, &ctx] { run_serve(*o, ctx); });
}

}  // namespace hawkeye::cli
