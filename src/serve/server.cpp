#include "hawkeye/serve/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "hawkeye/core/version.h"
#include "hawkeye/eval/batch_scoring.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/model/scoring.h"
#include "hawkeye/serve/metrics.h"

namespace hawkeye::serve {

namespace {

using Clock = std::chrono::steady_clock;

// When the request being handled on this worker thread arrived (set by the pre-routing handler).
thread_local std::optional<Clock::time_point> t_request_start;

// Threads that answer the connections turned away. httplib 0.11 reads each request before the 503 and closes a
// connection only when the client does (it honours Connection: close, which the 503 carries), so a client that
// ignores it holds one of these threads up to the keep-alive timeout (5 s); four keep refusals prompt.
constexpr std::size_t kTurningAwayThreads = 4;

// Set on the threads of BoundedPool that turn connections away: the request read there gets 503 at once.
thread_local bool t_turning_away = false;

// httplib's worker pool with a bound on the connections that wait for a worker. httplib's own ThreadPool queues
// every accepted connection, so a client beyond --workers waits without limit and never hears why. Here a
// connection that would wait behind `max_waiting` others goes to one of a few threads that read its request and
// answer 503 with Retry-After (the pre-routing handler sees t_turning_away) and Connection: close. A worker
// counts as busy while httplib keeps its connection alive between requests (up to 5 s idle).
class BoundedPool : public httplib::TaskQueue {
 public:
  BoundedPool(std::size_t workers, std::size_t max_waiting, std::size_t turners)
      : workers_(workers), max_waiting_(max_waiting) {
    for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { work(false); });
    for (std::size_t i = 0; i < turners; ++i) threads_.emplace_back([this] { work(true); });
  }
  ~BoundedPool() override = default;

  void enqueue(std::function<void()> fn) override {
    bool room = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Connections being handled or waiting, counted whether or not the worker threads have started yet.
      room = busy_ + jobs_.size() < workers_ + max_waiting_;
      (room ? jobs_ : turned_away_).push_back(std::move(fn));
    }
    (room ? job_ready_ : turn_ready_).notify_one();  // one thread of the right kind (as httplib's own pool)
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    job_ready_.notify_all();
    turn_ready_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void work(bool turning_away) {
    t_turning_away = turning_away;
    auto& queue = turning_away ? turned_away_ : jobs_;
    auto& ready = turning_away ? turn_ready_ : job_ready_;
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready.wait(lock, [&] { return stop_ || !queue.empty(); });
        if (queue.empty()) return;  // stopping, nothing left
        fn = std::move(queue.front());
        queue.pop_front();
        if (!turning_away) ++busy_;
      }
      fn();  // httplib's connection handler (it closes the socket)
      if (!turning_away) {
        std::lock_guard<std::mutex> lock(mu_);
        --busy_;
      }
    }
  }

  const std::size_t workers_, max_waiting_;
  std::mutex mu_;
  std::condition_variable job_ready_, turn_ready_;
  std::deque<std::function<void()>> jobs_, turned_away_;
  std::size_t busy_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

const char* const kJson = "application/json";

// As `hawkeye score` writes its records (core/writers.cpp): invalid UTF-8 — a client's bytes, a model's
// text — becomes U+FFFD instead of an exception.
std::string json_text(const ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument:
    case ErrorCode::parse:
      return 400;
    case ErrorCode::corrupt_data:
    case ErrorCode::unsupported:
    case ErrorCode::limit_exceeded:
      return 422;
    default:
      return 500;
  }
}

// A client's file name as a label: control characters dropped, at most 255 bytes. It is never opened.
std::string clean_name(std::string_view name) {
  std::string out;
  for (char c : name)
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out += c;
  if (out.size() > 255) out.resize(255);
  return out.empty() ? "upload" : out;
}

struct Upload {
  std::string name;
  const std::string* bytes;
};

struct ScoreQuery {
  std::int64_t samples = 0;
  bool reasoning = true;
  std::string name = "upload";
};

}  // namespace

struct Server::Impl {
  Impl(Server& owner, model::IqaModel& model, ServeOptions options)
      : owner(owner), model(model), options(std::move(options)), batcher(model, this->options.batching, &metrics) {
    limits = this->options.limits;
    if (limits.max_aspect_ratio <= 0) limits.max_aspect_ratio = model.policy().max_aspect_ratio();
    model_id = model.id();
    routes();
  }

  Server& owner;
  model::IqaModel& model;
  ServeOptions options;
  ServeMetrics metrics;
  ScoringBatcher batcher;
  ImageLimits limits;
  std::string model_id;
  httplib::Server http;
  std::atomic<int> in_flight{0};

  // Counts a scoring request as in flight for as long as its handler runs (shutdown waits for them).
  struct InFlight {
    explicit InFlight(Impl& impl) : impl(impl) {
      ++impl.in_flight;
      impl.metrics.add_in_flight(1);
    }
    ~InFlight() {
      impl.metrics.add_in_flight(-1);
      --impl.in_flight;
    }
    Impl& impl;
  };

  void send_error(httplib::Response& res, int status, std::string_view code, const std::string& message) {
    ordered_json j;
    j["error"] = message;
    j["code"] = code;
    j["status"] = status;
    res.status = status;
    res.set_content(json_text(j), kJson);
    if (status == 503) res.set_header("Retry-After", "1");
    metrics.record_error(code);
  }

  void send_json(httplib::Response& res, const ordered_json& j) {
    res.status = 200;
    res.set_content(json_text(j), kJson);
  }

  void send_draining(httplib::Response& res) {
    send_error(res, 503, "draining", "the server is shutting down and takes no new requests");
  }

  ScoreQuery parse_query(const httplib::Request& req) {
    ScoreQuery q;
    for (const auto& [key, value] : req.params) {
      if (key == "samples") {
        std::size_t used = 0;
        long long k = -1;
        try {
          k = std::stoll(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        require(used == value.size() && k >= 0 && k <= options.max_samples, ErrorCode::invalid_argument,
                "samples=" + value + ": expected an integer from 0 (greedy) to " + std::to_string(options.max_samples));
        q.samples = k;
      } else if (key == "reasoning") {
        require(value == "0" || value == "1" || value == "true" || value == "false", ErrorCode::invalid_argument,
                "reasoning=" + value + ": expected 0 or 1");
        q.reasoning = value == "1" || value == "true";
      } else if (key == "name") {
        q.name = clean_name(value);
      } else {
        throw Error(ErrorCode::invalid_argument, "unknown query parameter \"" + clean_name(key) +
                                                     "\" (known: samples, reasoning, name)");
      }
    }
    return q;
  }

  // The images of a request: multipart parts named "image" (or any part with a file name), in order, or the
  // raw body.
  std::vector<Upload> uploads_of(const httplib::Request& req, const ScoreQuery& q) {
    std::vector<Upload> out;
    if (req.is_multipart_form_data()) {
      for (const auto& [field, part] : req.files) {
        if (field == "image" || !part.filename.empty())
          out.push_back({clean_name(part.filename.empty() ? q.name : part.filename), &part.content});
      }
      require(!out.empty(), ErrorCode::invalid_argument, "the multipart request has no part named \"image\"");
    } else {
      require(!req.body.empty(), ErrorCode::invalid_argument,
              "no image: send it as the request body or as a multipart part named \"image\"");
      out.push_back({q.name, &req.body});
    }
    return out;
  }

  // One image decoded as `hawkeye score` reads a file: the same limits, the same error text.
  Image decode(const Upload& u) { return decode_image(*u.bytes, limits, u.name); }

  void handle_score(const httplib::Request& req, httplib::Response& res, bool batch) {
    InFlight counted(*this);
    if (owner.draining()) return send_draining(res);
    try {
      // httplib reads such a body as form fields (curl --data-binary sends it unless told the type).
      require(req.get_header_value("Content-Type") != "application/x-www-form-urlencoded", ErrorCode::invalid_argument,
              "the body is sent as a form (application/x-www-form-urlencoded): send the image as a multipart part "
              "named \"image\" (curl -F image=@photo.png) or with its own Content-Type (curl --data-binary "
              "@photo.png -H 'Content-Type: image/png')");
      const ScoreQuery q = parse_query(req);
      const std::vector<Upload> uploads = uploads_of(req, q);
      require(batch || uploads.size() == 1, ErrorCode::invalid_argument,
              std::to_string(uploads.size()) + " images in one /v1/score request; send several to /v1/score:batch");
      require(uploads.size() <= options.max_images_per_request, ErrorCode::limit_exceeded,
              std::to_string(uploads.size()) + " images in one request (at most " +
                  std::to_string(options.max_images_per_request) + ")");
      // In a batch an image that cannot be decoded gets the load_error record `hawkeye score` writes for it.
      std::vector<std::optional<ordered_json>> records(uploads.size());
      std::vector<ScoreJob> jobs;
      std::vector<std::size_t> where;
      for (std::size_t i = 0; i < uploads.size(); ++i) {
        try {
          jobs.push_back({decode(uploads[i]), uploads[i].name, q.samples, q.reasoning});
          where.push_back(i);
        } catch (const Error& e) {
          if (!batch) throw;
          metrics.record_error(error_code_name(e.code()));
          eval::ScoredImage failed;
          failed.path = uploads[i].name;
          failed.status = ScoreStatus::load_error;
          failed.error = e.what();
          eval::RecordFields fields;
          fields.reasoning = q.reasoning;
          records[i] = sanitize_json(eval::image_record(failed, model.contract(), q.samples, fields));
        }
      }
      if (!jobs.empty()) {
        auto futures = batcher.submit(std::move(jobs));
        for (std::size_t k = 0; k < futures.size(); ++k) records[where[k]] = futures[k].get();
      }
      if (!batch) return send_json(res, *records.front());
      ordered_json out;
      out["results"] = ordered_json::array();
      for (auto& r : records) out["results"].push_back(std::move(*r));
      send_json(res, out);
    } catch (const QueueFull& e) {
      send_error(res, 503, "queue_full", e.what());
    } catch (const Error& e) {
      send_error(res, http_status(e.code()), error_code_name(e.code()), e.what());
    } catch (const std::bad_alloc&) {
      send_error(res, 503, "out_of_memory", "out of memory while handling the request; try a smaller image");
    } catch (const std::exception& e) {
      send_error(res, 500, "internal", e.what());
    }
  }

  ordered_json models_json() {
    ordered_json m = eval::model_json(model);
    m.erase("path");  // where the server keeps its model is not the client's business
    const auto defaults = model::default_score_options(model, 1, options.batching.seed);
    m["sampling"] = {{"greedy_max_new_tokens", model.contract().sampling.max_new_tokens},
                     {"temperature", defaults.sampling.temperature},
                     {"top_k", defaults.sampling.top_k},
                     {"top_p", defaults.sampling.top_p}};
    ordered_json j;
    j["models"] = ordered_json::array({m});
    j["max_batch"] = options.batching.max_batch;
    j["max_samples"] = options.max_samples;
    j["max_body_bytes"] = options.max_body_bytes;
    j["max_images_per_request"] = options.max_images_per_request;
    const ordered_json versions = eval::versions_json();
    for (auto it = versions.begin(); it != versions.end(); ++it) j[it.key()] = it.value();
    return sanitize_json(j);
  }

  static std::string route_label(const httplib::Request& req) {
    for (const char* known : {"/", "/v1/score", "/v1/score:batch", "/v1/models", "/healthz", "/metrics"})
      if (req.path == known) return known;
    return "other";
  }

  void routes() {
    http.new_task_queue = [n = options.workers, w = options.max_waiting] {
      return new BoundedPool(static_cast<std::size_t>(n), w, kTurningAwayThreads);
    };
    // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second server on the same port
    // would start and silently share it instead of failing.
    http.set_socket_options([](int sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    http.set_payload_max_length(options.max_body_bytes);
    http.set_read_timeout(options.read_timeout);
    http.set_write_timeout(options.write_timeout);
    http.set_keep_alive_max_count(100);
    http.set_default_headers({{"X-Content-Type-Options", "nosniff"}, {"Cache-Control", "no-store"}});

    http.set_pre_routing_handler([this](const httplib::Request&, httplib::Response& res) {
      t_request_start = Clock::now();
      if (t_turning_away) {
        send_error(res, 503, "busy",
                   "all " + std::to_string(options.workers) + " workers are busy and " + std::to_string(options.max_waiting) +
                       " connections wait for one (--workers, --max-waiting); try again");
        res.set_header("Connection", "close");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!owner.draining()) return httplib::Server::HandlerResponse::Unhandled;
      send_draining(res);
      return httplib::Server::HandlerResponse::Handled;
    });
    // Statuses httplib sets itself (404 no route, 413 body over the limit, 400 unreadable request) get a JSON
    // body like the others.
    http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      switch (res.status) {
        case 404: {
          // A known route asked with the wrong method is 405 with Allow, not "no such route".
          const std::string route = route_label(req);
          if (route != "other") {
            const bool post = route == "/v1/score" || route == "/v1/score:batch";
            res.set_header("Allow", post ? "POST" : "GET, HEAD");
            send_error(res, 405, "method_not_allowed",
                       req.method + " " + route + ": this route takes " + (post ? "POST" : "GET") + " (see docs/serve.md)");
            break;
          }
          send_error(res, 404, "not_found", "no such route (see docs/serve.md: POST /v1/score, POST /v1/score:batch, "
                                            "GET /v1/models, /healthz, /metrics, /)");
          break;
        }
        case 413:
          send_error(res, 413, "payload_too_large",
                     req.get_header_value("Content-Type") == "application/x-www-form-urlencoded"
                         ? "a form (application/x-www-form-urlencoded) body over 8 KiB: send the image as multipart or "
                           "with its own Content-Type (curl --data-binary @photo.png -H 'Content-Type: image/png')"
                         : "the request body is larger than " + std::to_string(options.max_body_bytes) + " bytes (--max-body-mb)");
          break;
        default:
          send_error(res, res.status, "bad_request", "the request could not be read (HTTP " + std::to_string(res.status) + ")");
      }
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string why = "unknown exception";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        why = e.what();
      } catch (...) {
      }
      send_error(res, 500, "internal", "unexpected failure while handling the request: " + why);
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      const double seconds = t_request_start ? std::chrono::duration<double>(Clock::now() - *t_request_start).count() : 0.0;
      t_request_start.reset();
      metrics.record_request(route_label(req), res.status, seconds);
    });

    http.Post("/v1/score", [this](const httplib::Request& req, httplib::Response& res) { handle_score(req, res, false); });
    http.Post("/v1/score:batch", [this](const httplib::Request& req, httplib::Response& res) { handle_score(req, res, true); });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) { send_json(res, models_json()); });
    http.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      ordered_json j;
      j["status"] = "ok";
      j["model"] = model_id;
      j["queued"] = batcher.queued();
      send_json(res, j);
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.prometheus(model_id), "text/plain; version=0.0.4; charset=utf-8");
    });
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      // Everything the page needs is in it: no other origin may serve it scripts, styles or images.
      res.set_header("Content-Security-Policy",
                     "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src blob: data:; "
                     "connect-src 'self'; form-action 'none'; base-uri 'none'");
      const std::string_view page = scoring_page();
      res.set_content(page.data(), page.size(), "text/html; charset=utf-8");
    });
  }
};

Server::Server(model::IqaModel& model, ServeOptions options)
    : impl_(std::make_unique<Impl>(*this, model, std::move(options))) {}

Server::~Server() = default;

int Server::bind() {
  const auto& o = impl_->options;
  require(o.workers >= 1, ErrorCode::invalid_argument, "--workers must be at least 1");
  if (o.port == 0) {
    port_ = impl_->http.bind_to_any_port(o.host);
    require(port_ > 0, ErrorCode::io, "cannot listen on " + o.host + ": no free port, or the address is not this machine's");
  } else {
    require(o.port > 0 && o.port < 65536, ErrorCode::invalid_argument, "--port " + std::to_string(o.port) + ": expected 0..65535");
    require(impl_->http.bind_to_port(o.host, o.port), ErrorCode::io,
            "cannot listen on " + o.host + ":" + std::to_string(o.port) +
                ": the port is in use or the address is not this machine's (--port 0 picks a free one)");
    port_ = o.port;
  }
  return port_;
}

void Server::run() { impl_->http.listen_after_bind(); }

void Server::shutdown() {
  if (!draining_.exchange(true)) {
    const auto deadline = Clock::now() + impl_->options.drain_timeout;
    while (impl_->in_flight.load() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  impl_->http.stop();
}

}  // namespace hawkeye::serve
