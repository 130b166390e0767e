// hawkeye serve in process, on a free loopback port, with the hand-wired answering model (dark images answer
// 1, bright ones 5; tests/eval/answering_model.h): records equal `hawkeye score`'s, concurrent requests get
// their own results in shared batches, every error status, metrics, and the graceful shutdown.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <future>
#include <regex>

#include "hawkeye/eval/batch_scoring.h"
#include "hawkeye/model/scoring.h"
#include "serve_test_util.h"

using namespace hawkeye;
using test::body_json;
using test::post_images;
using test::serve_world;
using test::RunningServer;

namespace {

std::string file_bytes(const fs::path& p) { return read_file(p); }

// A raw connection to the server that sends a POST whose body never comes (the worker handling it waits for it
// until the read timeout); returns the socket, or -1.
int send_a_request_without_its_body(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string head = "POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nslow";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::send(fd, head.data(), head.size(), 0) != static_cast<ssize_t>(head.size())) {
    ::close(fd);
    return -1;
  }
  return fd;
}

serve::ServeOptions quick_options() {
  serve::ServeOptions o;
  o.batching.max_wait = std::chrono::milliseconds(5);
  o.workers = 16;
  return o;
}

// The record `hawkeye score` writes for `path`, with the server's label `name` as its path.
ordered_json cli_record(const fs::path& path, const std::string& name, std::int64_t samples, bool reasoning = true) {
  auto m = model::IqaModel::load(serve_world().model.string());
  eval::BatchScoringOptions bo;
  bo.score = model::default_score_options(m, samples, 0);
  ordered_json out;
  eval::RecordFields fields;
  fields.reasoning = reasoning;
  eval::score_files(m, {path}, {name}, bo, [&](const eval::ScoredImage& s) {
    out = sanitize_json(eval::image_record(s, m.contract(), samples, fields));
  });
  out["path"] = name;
  return out;
}

// A PNG whose header claims width x height (valid chunk CRC) and then ends: a decompression bomb's header.
std::string png_header_claiming(std::uint32_t width, std::uint32_t height) {
  auto crc32 = [](const std::string& data) {
    std::uint32_t c = 0xFFFFFFFFu;
    for (unsigned char b : data) {
      c ^= b;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
  };
  auto be32 = [](std::uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  std::string ihdr = "IHDR" + be32(width) + be32(height) + std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + ihdr + be32(crc32(ihdr));
}

std::string error_text(const std::string& bytes, const std::string& name, const ImageLimits& limits = {}) {
  try {
    decode_image(bytes, limits, name);
  } catch (const Error& e) {
    return e.what();
  }
  return "(decoded)";
}

}  // namespace

TEST(Serve, ScoreReturnsTheRecordOfHawkeyeScoreForTheSameImage) {
  RunningServer s(serve_world().model.string(), quick_options());
  auto c = s.client();
  for (const auto& path : {serve_world().imgs / "a.png", serve_world().imgs / "c.jpg", serve_world().imgs / "sub" / "b.png"}) {
    const auto r = post_images(*c, {{path.filename().string(), file_bytes(path)}});
    ASSERT_TRUE(r) << "no answer";
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    // The same keys and values as the CLI's record, the score bit for bit (the JSON text of the double).
    EXPECT_EQ(body_json(r).dump(), cli_record(path, path.filename().string(), 0).dump());
  }
}

TEST(Serve, RawBodyTakesSamplesReasoningAndNameFromTheQuery) {
  RunningServer s(serve_world().model.string(), quick_options());
  auto c = s.client();
  const fs::path path = serve_world().imgs / "c.jpg";
  const auto r = c->Post("/v1/score?samples=4&reasoning=0&name=c.jpg", file_bytes(path), "image/jpeg");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto j = body_json(r);
  EXPECT_FALSE(j.contains("reasoning"));
  ASSERT_EQ(j["samples"].size(), 4u);
  // Sampled answers are seeded by the name, as `hawkeye score` seeds them by the path.
  EXPECT_EQ(j.dump(), cli_record(path, "c.jpg", 4, false).dump());
}

TEST(Serve, ConcurrentRequestsShareBatchesAndEachGetsItsOwnResult) {
  serve::ServeOptions o = quick_options();
  o.batching.max_batch = 8;
  o.batching.max_wait = std::chrono::milliseconds(300);
  RunningServer s(serve_world().model.string(), o);
  const std::string dark = file_bytes(serve_world().imgs / "a.png"), bright = file_bytes(serve_world().imgs / "sub" / "b.png");
  constexpr int kRequests = 12;
  std::vector<std::future<std::pair<std::string, ordered_json>>> replies;
  for (int i = 0; i < kRequests; ++i) {
    replies.push_back(std::async(std::launch::async, [&, i] {
      auto c = s.client();
      const std::string name = (i % 2 ? "bright-" : "dark-") + std::to_string(i) + ".png";
      const auto r = post_images(*c, {{name, i % 2 ? bright : dark}});
      return std::make_pair(name, r && r->status == 200 ? body_json(r) : ordered_json(r ? r->body : "no answer"));
    }));
  }
  for (auto& f : replies) {
    const auto [name, j] = f.get();
    ASSERT_TRUE(j.is_object()) << name << ": " << j.dump();
    EXPECT_EQ(j["path"], name);
    EXPECT_EQ(j["score"], name.rfind("bright", 0) == 0 ? 5.0 : 1.0) << name;
  }
  // The 12 requests went through fewer than 12 model batches.
  const auto metrics = s.client()->Get("/metrics");
  ASSERT_TRUE(metrics);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(metrics->body, m, std::regex("hawkeye_batch_size_count (\\d+)"))) << metrics->body;
  EXPECT_LT(std::stoi(m[1]), kRequests);
  EXPECT_NE(metrics->body.find("hawkeye_images_scored_total 12"), std::string::npos) << metrics->body;
}

TEST(Serve, BatchEndpointKeepsThePartOrderWithLoadErrorsInPlace) {
  RunningServer s(serve_world().model.string(), quick_options());
  auto c = s.client();
  const std::string broken = file_bytes(serve_world().root / "bad" / "broken.png");
  const auto r = post_images(*c, {{"bright.png", file_bytes(serve_world().imgs / "sub" / "b.png")}, {"broken.png", broken},
                                  {"dark.png", file_bytes(serve_world().imgs / "a.png")}},
                             "/v1/score:batch");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto results = body_json(r)["results"];
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0]["path"], "bright.png");
  EXPECT_EQ(results[0]["score"], 5.0);
  EXPECT_EQ(results[1]["status"], "load_error");
  EXPECT_EQ(results[1]["error"], error_text(broken, "broken.png"));
  EXPECT_TRUE(results[1]["score"].is_null());
  EXPECT_EQ(results[2]["score"], 1.0);
}

TEST(Serve, BadImagesGet422WithHawkeyesErrorTextAndTheServerLivesOn) {
  serve::ServeOptions o = quick_options();
  RunningServer s(serve_world().model.string(), o);
  auto c = s.client();
  const std::string broken = file_bytes(serve_world().root / "bad" / "broken.png");
  const std::string bomb = png_header_claiming(60000, 60000);  // 3.6 gigapixels
  const std::string text = "this is not an image\n";
  struct Case {
    std::string name, bytes, code;
  };
  for (const auto& k : {Case{"broken.png", broken, "corrupt_data"}, Case{"bomb.png", bomb, "limit_exceeded"},
                        Case{"notes.txt", text, "unsupported"}}) {
    const auto r = post_images(*c, {{k.name, k.bytes}});
    ASSERT_TRUE(r) << k.name;
    EXPECT_EQ(r->status, 422) << k.name << ": " << r->body;
    const auto j = body_json(r);
    EXPECT_EQ(j["code"], k.code) << k.name;
    EXPECT_EQ(j["error"], error_text(k.bytes, k.name)) << k.name;  // what `hawkeye score` says of such a file
  }
  // A name that is not UTF-8 still gets a JSON answer (U+FFFD in its place).
  const auto bad_name = c->Post("/v1/score?name=%FF%FE.png", text, "image/png");
  ASSERT_TRUE(bad_name);
  EXPECT_EQ(bad_name->status, 422) << bad_name->body;
  EXPECT_NE(body_json(bad_name)["error"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos) << bad_name->body;
  const auto alive = c->Get("/healthz");
  ASSERT_TRUE(alive);
  EXPECT_EQ(alive->status, 200);
  EXPECT_EQ(body_json(alive)["status"], "ok");
}

TEST(Serve, MalformedRequestsGet400UnknownRoutes404WrongMethods405) {
  RunningServer s(serve_world().model.string(), quick_options());
  auto c = s.client();
  const std::string img = file_bytes(serve_world().imgs / "a.png");
  for (const std::string query : {"samples=abc", "samples=-1", "samples=1000", "reasoning=maybe", "colour=red"}) {
    const auto r = c->Post(("/v1/score?" + query).c_str(), img, "image/png");
    ASSERT_TRUE(r) << query;
    EXPECT_EQ(r->status, 400) << query << ": " << r->body;
    EXPECT_EQ(body_json(r)["code"], "invalid_argument") << query;
  }
  // A body sent as a form (curl --data-binary without a type) is refused with what to do instead.
  const auto form = c->Post("/v1/score", img, "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 400) << form->body;
  EXPECT_NE(body_json(form)["error"].get<std::string>().find("Content-Type"), std::string::npos) << form->body;
  const auto empty = c->Post("/v1/score", "", "image/png");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
  const auto two = post_images(*c, {{"a.png", img}, {"b.png", img}});
  ASSERT_TRUE(two);
  EXPECT_EQ(two->status, 400) << two->body;
  for (const char* path : {"/nope", "/v1/score/../../etc/passwd", "/index.html"}) {
    const auto r = c->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_EQ(body_json(r)["code"], "not_found") << path;
  }
  // A known route with the wrong method: 405 with Allow (issue 20), not 404.
  const auto get_score = c->Get("/v1/score");
  ASSERT_TRUE(get_score);
  EXPECT_EQ(get_score->status, 405) << get_score->body;
  EXPECT_EQ(get_score->get_header_value("Allow"), "POST");
  EXPECT_EQ(body_json(get_score)["code"], "method_not_allowed");
  const auto post_models = c->Post("/v1/models", "{}", "application/json");
  ASSERT_TRUE(post_models);
  EXPECT_EQ(post_models->status, 405) << post_models->body;
  EXPECT_EQ(post_models->get_header_value("Allow"), "GET, HEAD");
}

TEST(Serve, NeverOpensAFileAClientNames) {
  RunningServer s(serve_world().model.string(), quick_options());
  auto c = s.client();
  // The name is a label: were it opened, this would score a valid image instead of refusing the body.
  const std::string existing = (serve_world().imgs / "a.png").string();
  const auto r = c->Post(("/v1/score?name=" + existing).c_str(), "not an image", "image/png");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422) << r->body;
  const auto multipart = post_images(*c, {{existing, "not an image"}});
  ASSERT_TRUE(multipart);
  EXPECT_EQ(multipart->status, 422) << multipart->body;
}

TEST(Serve, OversizedBodiesGet413) {
  serve::ServeOptions o = quick_options();
  o.max_body_bytes = 4096;
  RunningServer s(serve_world().model.string(), o);
  auto c = s.client();
  const auto r = c->Post("/v1/score", std::string(64 * 1024, 'x'), "image/png");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_EQ(body_json(r)["code"], "payload_too_large");
  const auto alive = s.client()->Get("/healthz");
  ASSERT_TRUE(alive);
  EXPECT_EQ(alive->status, 200);
}

TEST(Serve, AFullQueueGets503WithRetryAfter) {
  serve::ServeOptions o = quick_options();
  o.batching.max_queue = 2;
  RunningServer s(serve_world().model.string(), o);
  auto c = s.client();
  const std::string img = file_bytes(serve_world().imgs / "a.png");
  const auto r = post_images(*c, {{"1.png", img}, {"2.png", img}, {"3.png", img}}, "/v1/score:batch");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_EQ(body_json(r)["code"], "queue_full");
  const auto fits = post_images(*c, {{"1.png", img}, {"2.png", img}}, "/v1/score:batch");
  ASSERT_TRUE(fits);
  EXPECT_EQ(fits->status, 200) << fits->body;
}

TEST(Serve, ASlowClientIsDroppedAfterTheReadTimeout) {
  serve::ServeOptions o = quick_options();
  o.read_timeout = std::chrono::seconds(1);
  RunningServer s(serve_world().model.string(), o);
  const int fd = send_a_request_without_its_body(s.port());
  ASSERT_GE(fd, 0);
  timeval tv{8, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const auto t0 = std::chrono::steady_clock::now();
  // Meanwhile the server answers others.
  const auto alive = s.client()->Get("/healthz");
  ASSERT_TRUE(alive);
  EXPECT_EQ(alive->status, 200);
  // The server gives up on the body after the read timeout: it answers 400 or closes the connection.
  char buf[4096];
  ssize_t n = 0;
  std::string reply;
  while (reply.find("\r\n\r\n") == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0)
    reply.append(buf, static_cast<std::size_t>(n));
  const int err = errno;
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::close(fd);
  const bool closed = reply.empty() && (n == 0 || (n < 0 && err != EAGAIN && err != EWOULDBLOCK));
  EXPECT_TRUE(closed || reply.rfind("HTTP/1.1 400", 0) == 0) << "reply: " << reply;
  EXPECT_LT(waited, 4.0);
}

TEST(Serve, ModelsHealthMetricsAndThePage) {
  RunningServer s(serve_world().model.string(), quick_options());
  auto c = s.client();
  const auto models = c->Get("/v1/models");
  ASSERT_TRUE(models);
  ASSERT_EQ(models->status, 200);
  const auto mj = body_json(models);
  EXPECT_EQ(mj["models"][0]["id"], "answering-test");
  EXPECT_EQ(mj["models"][0]["range"], ordered_json::array({1.0, 5.0}));
  EXPECT_FALSE(mj["models"][0].contains("path"));
  EXPECT_EQ(mj["max_batch"], 16);

  ASSERT_TRUE(post_images(*c, {{"broken.png", file_bytes(serve_world().root / "bad" / "broken.png")}}));
  ASSERT_TRUE(post_images(*c, {{"a.png", file_bytes(serve_world().imgs / "a.png")}}));
  // Requests are counted once their answer is sent (after the client has it): wait until both are.
  std::string counted;
  (void)test::poll_until([&] {
    const auto m = c->Get("/metrics");
    counted = m ? m->body : "";
    return counted.find("hawkeye_request_duration_seconds_count{route=\"/v1/score\"} 2") != std::string::npos;
  });
  const auto metrics = c->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  for (const char* line : {"hawkeye_requests_total{route=\"/v1/score\",status=\"200\"} 1",
                           "hawkeye_requests_total{route=\"/v1/score\",status=\"422\"} 1",
                           "hawkeye_errors_total{code=\"corrupt_data\"} 1", "hawkeye_images_scored_total 1",
                           "hawkeye_request_duration_seconds_count{route=\"/v1/score\"} 2",
                           "hawkeye_batch_size_bucket{le=\"1\"} 1", "# TYPE hawkeye_images_per_second gauge"}) {
    EXPECT_NE(metrics->body.find(line), std::string::npos) << line << "\n" << metrics->body;
  }

  const auto page = c->Get("/");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page->body, std::string(serve::scoring_page()));
  EXPECT_NE(page->body.find("/v1/score"), std::string::npos);
  // Self-contained: nothing loaded from another origin, and the browser is told so.
  EXPECT_FALSE(std::regex_search(page->body, std::regex(R"((src|href)\s*=\s*["']?(https?:)?//)")));
  EXPECT_FALSE(std::regex_search(page->body, std::regex(R"(@import|url\()")));
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
}

TEST(Serve, ShutdownFinishesRequestsInFlightAndRefusesNewOnes) {
  serve::ServeOptions o = quick_options();
  o.batching.max_batch = 8;
  o.batching.max_wait = std::chrono::milliseconds(5000);  // a lone request waits 5 s for company
  RunningServer s(serve_world().model.string(), o);
  const std::string img = file_bytes(serve_world().imgs / "sub" / "b.png");
  auto in_flight = std::async(std::launch::async, [&] {
    auto c = s.client();
    const auto r = post_images(*c, {{"b.png", img}});
    return r ? std::make_pair(r->status, r->body) : std::make_pair(-1, std::string());
  });
  // In flight = its image waits in the batcher's queue (not a fixed delay: a busy machine may take longer to get
  // there).
  ASSERT_TRUE(test::poll_until([&] {
    const auto h = s.client()->Get("/healthz");
    return h && h->status == 200 && body_json(h)["queued"] == 1;
  })) << "the request never reached the queue";
  auto stopping = std::async(std::launch::async, [&] { s.stop(); });
  ASSERT_TRUE(test::poll_until([&] { return s.server().draining(); }));
  const auto late = post_images(*s.client(), {{"late.png", img}});
  ASSERT_TRUE(late) << "the server stopped listening before its requests finished";
  EXPECT_EQ(late->status, 503);
  EXPECT_EQ(late->get_header_value("Retry-After"), "1");
  EXPECT_EQ(body_json(late)["code"], "draining");
  const auto health = s.client()->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  const auto [status, body] = in_flight.get();
  EXPECT_EQ(status, 200) << body;
  EXPECT_EQ(nlohmann::json::parse(body)["score"], 5.0);
  stopping.get();
  EXPECT_FALSE(s.client(2)->Get("/healthz")) << "still answering after shutdown";
}

// Issue 20 §2: a connection beyond --workers and --max-waiting is answered at once with 503 "busy" (Retry-After,
// Connection: close) instead of waiting without limit; once a worker is free, requests are served again.
TEST(Serve, ConnectionsBeyondTheWorkersAndTheWaitingOnesGet503) {
  serve::ServeOptions o = quick_options();
  o.workers = 1;
  o.max_waiting = 0;
  o.read_timeout = std::chrono::seconds(5);
  RunningServer s(serve_world().model.string(), o);
  // Occupy the only worker: a request whose body never comes.
  const int fd = send_a_request_without_its_body(s.port());
  ASSERT_GE(fd, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // accepted and being read (or queued: counted too)

  const auto t0 = std::chrono::steady_clock::now();
  const auto busy = s.client()->Get("/healthz");
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->status, 503) << busy->body;
  EXPECT_EQ(body_json(busy)["code"], "busy");
  EXPECT_EQ(busy->get_header_value("Retry-After"), "1");
  EXPECT_EQ(busy->get_header_value("Connection"), "close");
  EXPECT_LT(waited, 2.0) << "answered at once, not after the worker's read timeout";
  // A refused client that keeps its connection open does not hold up the next refusal.
  const int held = send_a_request_without_its_body(s.port());
  ASSERT_GE(held, 0);
  const auto t1 = std::chrono::steady_clock::now();
  const auto busy2 = s.client()->Get("/healthz");
  ASSERT_TRUE(busy2);
  EXPECT_EQ(busy2->status, 503);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count(), 2.0);
  ::close(held);

  ::close(fd);  // the worker is free again
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    const auto ok = s.client()->Get("/healthz");
    served = ok && ok->status == 200;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(served);
  const auto metrics = s.client()->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("busy"), std::string::npos) << metrics->body;
}
