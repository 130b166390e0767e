// `hawkeye serve`: an HTTP scoring service around one loaded model (docs/serve.md has the API).
//
//   POST /v1/score          one image (multipart part or raw body) → the record of `hawkeye score`, as JSON
//   POST /v1/score:batch    several images (multipart parts) → {"results": [record, ...]} in part order
//   GET  /v1/models         the model, its score range and direction, the sampling defaults
//   GET  /healthz           {"status": "ok"} (503 {"status": "draining"} while shutting down)
//   GET  /metrics           Prometheus text (serve/metrics.h)
//   GET  /                  the scoring page (web/index.html, compiled in)
//
// Images are decoded on the HTTP worker threads with the same limits and error messages as `hawkeye score`
// and scored by one ScoringBatcher. Bad input never takes the server down: 413 (body over the limit),
// 400 (a malformed request), 422 (an image that cannot be decoded or breaks the limits, with hawkeye's
// error text), 404, 503 + Retry-After (queue full or shutting down). Nothing a client sends names a file
// the server opens.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "hawkeye/image/io.h"
#include "hawkeye/serve/batcher.h"

namespace hawkeye::model {
class IqaModel;
}

namespace hawkeye::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";            // loopback only unless asked
  int port = 8080;                           // 0 = any free port (Server::port() says which)
  BatcherOptions batching;
  std::uint64_t max_body_bytes = 32ull << 20;  // larger request bodies get 413
  int workers = 32;                          // HTTP threads; each waits for its request's scores
  std::size_t max_waiting = 64;              // connections waiting for a worker; one more gets 503 (Retry-After)
  std::chrono::seconds read_timeout{10};     // a client that sends nothing for this long is dropped
  std::chrono::seconds write_timeout{10};
  std::chrono::seconds drain_timeout{60};    // longest wait for in-flight requests at shutdown
  std::int64_t max_samples = 64;             // ?samples=K above this gets 400
  std::size_t max_images_per_request = 64;   // parts of one /v1/score:batch request
  ImageLimits limits;                        // decoding limits (the model adds its aspect-ratio limit)
};

// The scoring page served at "/" (web/index.html, embedded at build time).
std::string_view scoring_page();

class Server {
 public:
  // The model must outlive the server.
  Server(model::IqaModel& model, ServeOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port and returns the port (the chosen one for port 0). Errors: io (address in use, bad host).
  int bind();
  int port() const { return port_; }
  // Serves until shutdown() has finished; call after bind() (from any one thread).
  void run();
  // Graceful stop (thread-safe, not async-signal-safe): new requests get 503, requests being handled
  // finish (up to drain_timeout), then run() returns. Returns when run() may return.
  void shutdown();
  bool draining() const { return draining_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::atomic<bool> draining_{false};
};

}  // namespace hawkeye::serve
