// The scoring page in a real browser: headless Chromium (Debian's `chromium`, installed by scripts/setup.sh;
// HAWKEYE_CHROMIUM names another binary) loads "/" from a server this test starts with the shipped model,
// an example image is uploaded through the page's file input with the DevTools protocol
// (DOM.setFileInputFiles: the page's own change handler sends it), and the rendered score and reasoning are
// read from the DOM and compared with the server's answer for the same image. The screenshot is saved as
// build/serve-page.png (docs/serve-page.png is a copy).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>

#include "hawkeye/core/fs.h"
#include "hawkeye/image/io.h"
#include "serve_test_util.h"
#include "test_util.h"

using namespace hawkeye;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string base64_decode(const std::string& in) {
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const auto at = alphabet.find(c);
    if (at == std::string::npos) continue;  // padding, line breaks
    acc = (acc << 6) | static_cast<std::uint32_t>(at);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

// A minimal WebSocket client (RFC 6455: text frames, client-masked, no extensions) for the DevTools protocol.
class WebSocket {
 public:
  WebSocket(int port, const std::string& path) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("cannot connect to the DevTools port");
    send_all("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
             "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: aGF3a2V5ZS1icm93c2VyLXQ=\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n");
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) head += read_exact(1, Clock::now() + std::chrono::seconds(30));
    if (head.find(" 101 ") == std::string::npos) throw std::runtime_error("WebSocket handshake refused: " + head);
  }
  ~WebSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  void send_text(const std::string& text) {
    std::string frame(1, static_cast<char>(0x81));
    const std::uint64_t n = text.size();
    if (n < 126) {
      frame += static_cast<char>(0x80 | n);
    } else if (n < 65536) {
      frame += static_cast<char>(0x80 | 126);
      frame += static_cast<char>(n >> 8), frame += static_cast<char>(n & 0xFF);
    } else {
      frame += static_cast<char>(0x80 | 127);
      for (int k = 7; k >= 0; --k) frame += static_cast<char>((n >> (8 * k)) & 0xFF);
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    frame.append(mask, 4);
    for (std::size_t i = 0; i < n; ++i) frame += static_cast<char>(text[i] ^ mask[i % 4]);
    send_all(frame);
  }
  // The next text message (fragments joined); answers pings.
  std::string receive(Clock::time_point deadline) {
    std::string message;
    for (;;) {
      const std::string h = read_exact(2, deadline);
      const int opcode = h[0] & 0x0F;
      const bool fin = (h[0] & 0x80) != 0;
      std::uint64_t n = static_cast<unsigned char>(h[1]) & 0x7F;
      if (n == 126 || n == 127) {
        const std::string ext = read_exact(n == 126 ? 2 : 8, deadline);
        n = 0;
        for (char c : ext) n = (n << 8) | static_cast<unsigned char>(c);
      }
      std::string payload = read_exact(n, deadline);
      if (opcode == 0x8) throw std::runtime_error("the browser closed the DevTools connection");
      if (opcode == 0x9) continue;  // ping: Chromium does not send them on this connection
      message += payload;
      if (fin) return message;
    }
  }

 private:
  void send_all(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("DevTools connection: send failed");
      sent += static_cast<std::size_t>(n);
    }
  }
  std::string read_exact(std::uint64_t n, Clock::time_point deadline) {
    std::string out;
    out.reserve(n);
    char buf[65536];
    while (out.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) throw std::runtime_error("DevTools connection: timed out");
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000))) <= 0) continue;
      const ssize_t got = ::recv(fd_, buf, std::min<std::uint64_t>(sizeof buf, n - out.size()), 0);
      if (got <= 0) throw std::runtime_error("DevTools connection closed");
      out.append(buf, static_cast<std::size_t>(got));
    }
    return out;
  }
  int fd_ = -1;
};

// Commands of the DevTools protocol over one page's WebSocket; events are skipped.
class DevTools {
 public:
  DevTools(int port, const std::string& path) : ws_(port, path) {}
  Json call(const std::string& method, const Json& params = Json::object(), int timeout_s = 60) {
    const int id = next_id_++;
    ws_.send_text(Json{{"id", id}, {"method", method}, {"params", params}}.dump());
    const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
    for (;;) {
      const Json msg = Json::parse(ws_.receive(deadline));
      if (!msg.contains("id") || msg["id"] != id) continue;
      if (msg.contains("error")) throw std::runtime_error(method + ": " + msg["error"].dump());
      return msg["result"];
    }
  }
  // The value of a JavaScript expression (JSON-serialisable).
  Json evaluate(const std::string& expression) {
    const Json r = call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}, {"awaitPromise", true}});
    if (r.contains("exceptionDetails")) throw std::runtime_error("page script failed: " + r["exceptionDetails"].dump());
    return r["result"].value("value", Json());
  }
  // Polls `expression` until it is truthy; returns its value (null on timeout).
  Json wait_for(const std::string& expression, int timeout_s) {
    const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
    while (Clock::now() < deadline) {
      Json v;
      try {
        v = evaluate(expression);
      } catch (const std::runtime_error&) {
        // The page may still be loading (its elements not there yet): try again.
      }
      if (!v.is_null() && v != false && v != "") return v;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return nullptr;
  }

 private:
  WebSocket ws_;
  int next_id_ = 1;
};

std::string chromium_binary() {
  if (const char* env = std::getenv("HAWKEYE_CHROMIUM")) return env;
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (::access(p, X_OK) == 0) return p;
  return "";
}

// Headless Chromium in its own process group (so that its helper processes end with it), DevTools on a free
// port that it writes into its profile folder.
class Browser {
 public:
  Browser(const std::string& binary, const fs::path& profile, const std::string& url) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      const std::string dir = "--user-data-dir=" + profile.string();
      std::vector<std::string> args = {binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                       "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                                       "--hide-scrollbars", "--remote-debugging-address=127.0.0.1",
                                       "--remote-debugging-port=0", "--window-size=1280,800", dir, url};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);
    const fs::path port_file = profile / "DevToolsActivePort";
    const auto deadline = Clock::now() + std::chrono::seconds(90);
    while (Clock::now() < deadline && port_ == 0) {
      std::error_code ec;
      if (fs::exists(port_file, ec)) {
        std::ifstream in(port_file);
        int port = 0;
        if (in >> port) port_ = port;
      }
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~Browser() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      while (::waitpid(pid_, nullptr, WNOHANG) != pid_ && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, WNOHANG);
    }
  }
  int devtools_port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// The rows of the results table as the page rendered them.
const char* const kRowsScript = R"JS(
  JSON.stringify([...document.querySelectorAll("tr.result")].map((tr) => ({
    name: tr.dataset.name, state: tr.dataset.state, score: tr.dataset.score || null,
    text: tr.querySelector(".score-value")?.textContent ?? null,
    reasoning: tr.querySelector(".reasoning-text")?.textContent ?? null,
    std: tr.querySelector(".std-value")?.textContent ?? null,
    spread: tr.querySelector(".spread")?.textContent ?? null,
    status: tr.querySelector(".status")?.textContent ?? null})))
)JS";

}  // namespace

TEST(ServePageSlow, ChromiumUploadsAnExampleAndShowsItsScoreAndReasoning) {
  const std::string chromium = chromium_binary();
  ASSERT_FALSE(chromium.empty()) << "no chromium: bash scripts/setup.sh installs Debian's chromium (or set HAWKEYE_CHROMIUM)";
  serve::ServeOptions o;
  o.batching.max_wait = std::chrono::milliseconds(5);
  test::RunningServer s("hawkeye-tiny", o);
  const fs::path greedy_image = test::source_dir() / "examples" / "parrots-gaussian-blur-4.png";
  const fs::path sampled_image = test::source_dir() / "examples" / "plane-pristine.png";

  // What the server answers for the image, asked directly.
  auto c = s.client(300);
  const auto direct = test::post_images(*c, {{greedy_image.filename().string(), read_file(greedy_image)}});
  ASSERT_TRUE(direct);
  ASSERT_EQ(direct->status, 200) << direct->body;
  const Json expected = Json::parse(direct->body);
  ASSERT_EQ(expected["status"], "ok") << direct->body;

  test::TempDir profile;
  const std::string url = "http://127.0.0.1:" + std::to_string(s.port()) + "/";
  Browser browser(chromium, profile.path(), url);
  ASSERT_GT(browser.devtools_port(), 0) << chromium << " did not start or did not open its DevTools port";

  // The page's target and its WebSocket.
  httplib::Client devtools("127.0.0.1", browser.devtools_port());
  std::string ws_path;
  const auto target_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);  // a busy machine
  while (ws_path.empty() && std::chrono::steady_clock::now() < target_deadline) {
    if (const auto list = devtools.Get("/json/list"); list && list->status == 200) {
      for (const auto& t : Json::parse(list->body))
        if (t.value("type", "") == "page" && t.value("url", "").rfind(url, 0) == 0) {
          const std::string ws = t["webSocketDebuggerUrl"];
          ws_path = ws.substr(ws.find("/devtools/"));
        }
    }
    if (ws_path.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_FALSE(ws_path.empty()) << "no page target at " << url;
  DevTools page(browser.devtools_port(), ws_path);
  page.call("Emulation.setDeviceMetricsOverride", {{"width", 1280}, {"height", 720}, {"deviceScaleFactor", 1}, {"mobile", false}});
  ASSERT_FALSE(page.wait_for(R"(document.getElementById("model")?.textContent.startsWith("model hawkeye-tiny"))", 60).is_null())
      << "the page did not show the model: " << page.evaluate(R"(location.href + " " + document.readyState + " " + document.getElementById("model")?.textContent)");

  auto upload = [&](const fs::path& image) {
    const Json doc = page.call("DOM.getDocument", {{"depth", 0}});
    const Json input = page.call("DOM.querySelector", {{"nodeId", doc["root"]["nodeId"]}, {"selector", "#pick"}});
    page.call("DOM.setFileInputFiles", {{"files", {fs::absolute(image).string()}}, {"nodeId", input["nodeId"]}});
  };
  auto rows_when_done = [&](std::size_t n) {
    const std::string done = std::string("(() => { const r = JSON.parse(") + kRowsScript + "); return r.length === " +
                             std::to_string(n) + " && r.every((x) => x.state !== \"pending\") ? r : null; })()";
    return page.wait_for(done, 240);
  };

  // Greedy: the rendered score and reasoning are the server's.
  upload(greedy_image);
  Json rows = rows_when_done(1);
  ASSERT_TRUE(rows.is_array()) << "no result rendered: " << page.evaluate(kRowsScript);
  const Json row = rows[0];
  EXPECT_EQ(row["name"], greedy_image.filename().string());
  EXPECT_EQ(row["state"], "done") << row.dump();
  EXPECT_EQ(row["status"], "ok");
  ASSERT_TRUE(row["score"].is_string()) << row.dump();
  EXPECT_EQ(std::stod(row["score"].get<std::string>()), expected["score"].get<double>());
  EXPECT_NEAR(std::stod(row["text"].get<std::string>()), expected["score"].get<double>(), 0.005 + 1e-9);
  EXPECT_EQ(row["reasoning"], expected["reasoning"]);
  EXPECT_FALSE(expected["reasoning"].get<std::string>().empty());

  // samples = 4: four scores and their spread.
  page.evaluate(R"((() => { document.getElementById("samples").value = "4"; return true; })())");
  upload(sampled_image);
  rows = rows_when_done(2);
  ASSERT_TRUE(rows.is_array()) << "no second result: " << page.evaluate(kRowsScript);
  const Json sampled = rows[1];
  EXPECT_EQ(sampled["name"], sampled_image.filename().string());
  EXPECT_EQ(sampled["state"], "done") << sampled.dump();
  ASSERT_TRUE(sampled["spread"].is_string()) << sampled.dump();
  EXPECT_NE(sampled["spread"].get<std::string>().find("of 4 parsed"), std::string::npos) << sampled.dump();
  ASSERT_TRUE(sampled["std"].is_string()) << sampled.dump();
  EXPECT_EQ(sampled["std"].get<std::string>().rfind("± ", 0), 0u) << sampled.dump();

  // Sorting by score puts the better image first.
  page.evaluate(R"((() => { document.querySelector('th[data-key="score"]').click(); return true; })())");
  const Json sorted = page.evaluate(kRowsScript);
  const Json order = Json::parse(sorted.get<std::string>());
  ASSERT_EQ(order.size(), 2u);
  EXPECT_GE(std::stod(order[0]["score"].get<std::string>()), std::stod(order[1]["score"].get<std::string>()));

  const Json shot = page.call("Page.captureScreenshot", {{"format", "png"}});
  const std::string png = base64_decode(shot["data"].get<std::string>());
  const Image decoded = decode_image(png);
  EXPECT_EQ(decoded.width, 1280);
  write_file_atomic(fs::path(HAWKEYE_BINARY_DIR) / "serve-page.png", png);
}
