// `hawkeye serve` as a process (the built binary): it binds 127.0.0.1 by default and prints the port it
// listens on; SIGTERM and Ctrl-C let requests being handled finish, refuse new ones, and exit 0.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <regex>

#include "serve_test_util.h"

using namespace hawkeye;
using test::body_json;
using test::post_images;
using test::serve_world;

namespace {

// `hawkeye serve ARGS --port 0` in a child process; the constructor waits for its "listening on" line.
class ServeProcess {
 public:
  explicit ServeProcess(const std::vector<std::string>& args) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<std::string> all = {HAWKEYE_CLI, "-q", "--threads", "1", "serve", "--port", "0"};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    fd_ = out[0];
    // The first line: "hawkeye serve: listening on http://HOST:PORT/".
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (first_line_.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      first_line_.append(buf, static_cast<std::size_t>(n));
    }
    std::smatch m;
    if (std::regex_search(first_line_, m, std::regex(R"(listening on http://([^/]+):(\d+)/)"))) {
      host_ = m[1];
      port_ = std::stoi(m[2]);
    }
  }
  ~ServeProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }
  const std::string& host() const { return host_; }
  const std::string& first_line() const { return first_line_; }
  void signal(int sig) const { ::kill(pid_, sig); }
  // The exit status, or -1 when it did not exit within `seconds` (or died by a signal).
  int wait_exit(double seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  std::string first_line_, host_;
  int port_ = 0;
};

}  // namespace

TEST(ServeCli, ListensOnLoopbackByDefaultAndStopsOnSigtermAfterRequestsInFlight) {
  REQUIRE_CLI();
  for (int sig : {SIGTERM, SIGINT}) {
    // A lone request waits 5 s for company: the signal arrives while it is in flight.
    ServeProcess p({"--model", serve_world().model.string(), "--max-batch", "8", "--max-wait-ms", "5000"});
    ASSERT_GT(p.port(), 0) << p.first_line();
    EXPECT_EQ(p.host(), "127.0.0.1");
    const std::string img = read_file(serve_world().imgs / "sub" / "b.png");
    auto in_flight = std::async(std::launch::async, [&] {
      auto c = p.client();
      const auto r = post_images(c, {{"b.png", img}});
      return r ? std::make_pair(r->status, r->body) : std::make_pair(-1, std::string());
    });
    // In flight = its image waits in the batcher's queue; then the signal, then wait until the server drains.
    ASSERT_TRUE(test::poll_until([&] {
      auto hc = p.client();
      const auto h = hc.Get("/healthz");
      return h && h->status == 200 && body_json(h)["queued"] == 1;
    })) << "signal " << sig << ": the request never reached the queue";
    p.signal(sig);
    ASSERT_TRUE(test::poll_until([&] {
      auto hc = p.client();
      const auto h = hc.Get("/healthz");
      return h && h->status == 503;
    })) << "signal " << sig << ": the server did not start draining";
    auto c = p.client();
    const auto late = post_images(c, {{"late.png", img}});
    ASSERT_TRUE(late) << "signal " << sig << ": stopped listening before the request in flight finished";
    EXPECT_EQ(late->status, 503);
    const auto [status, body] = in_flight.get();
    EXPECT_EQ(status, 200) << "signal " << sig << ": " << body;
    EXPECT_EQ(p.wait_exit(30), 0) << "signal " << sig;
  }
}

TEST(ServeCli, APortInUseIsAClearError) {
  REQUIRE_CLI();
  ServeProcess first({"--model", serve_world().model.string()});
  ASSERT_GT(first.port(), 0);
  const auto r = test::cli("serve --model " + test::q(serve_world().model) + " --port " + std::to_string(first.port()), true);
  EXPECT_EQ(r.status, exit_status(ErrorCode::io)) << r.output;
  EXPECT_NE(r.output.find("in use"), std::string::npos) << r.output;
  // --max-waiting is a count: a negative or a non-number is a usage error before the model is loaded.
  for (const char* bad : {"-1", "many"}) {
    const auto w = test::cli("serve --model " + test::q(serve_world().model) + " --port 0 --max-waiting " + bad, true);
    EXPECT_EQ(w.status, 2) << bad << ": " << w.output;
    EXPECT_NE(w.output.find("--max-waiting"), std::string::npos) << w.output;
  }
}
