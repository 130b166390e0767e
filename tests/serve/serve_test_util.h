// Shared pieces of the serve tests: a server on a free loopback port in a background thread, and requests.
#pragma once
#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>
#include <thread>

#include "eval/eval_test_data.h"
#include "test_util.h"
#include "hawkeye/core/writers.h"
#include "hawkeye/model/iqa_model.h"
#include "hawkeye/serve/server.h"

namespace hawkeye::test {

// The answering models and images of the eval tests (eval/eval_test_data.h), one per test program.
inline ScoringWorld& serve_world() {
  static ScoringWorld w;
  return w;
}

// A Server on 127.0.0.1 and a free port, serving from a background thread until destroyed.
class RunningServer {
 public:
  RunningServer(const std::string& model, serve::ServeOptions options)
      : model_(model::IqaModel::load(model)) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<serve::Server>(model_, options);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~RunningServer() { stop(); }
  void stop() {
    if (thread_.joinable()) {
      server_->shutdown();
      thread_.join();
    }
  }
  int port() const { return port_; }
  serve::Server& server() { return *server_; }
  model::IqaModel& model() { return model_; }
  std::unique_ptr<httplib::Client> client(int read_timeout_s = 60) const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_read_timeout(read_timeout_s, 0);
    c->set_connection_timeout(10, 0);
    return c;
  }

 private:
  model::IqaModel model_;
  std::unique_ptr<serve::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

// POST /v1/score (or `path`) with the images as multipart parts named "image".
inline httplib::Result post_images(httplib::Client& c, const std::vector<std::pair<std::string, std::string>>& named_bytes,
                                   const std::string& path = "/v1/score") {
  httplib::MultipartFormDataItems items;
  for (const auto& [name, bytes] : named_bytes) items.push_back({"image", bytes, name, "application/octet-stream"});
  return c.Post(path.c_str(), items);
}

inline nlohmann::ordered_json body_json(const httplib::Result& r) {
  if (!r) return nullptr;
  return nlohmann::ordered_json::parse(r->body, nullptr, false);
}

}  // namespace hawkeye::test
