#include "hawkeye/dist/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "hawkeye/core/error.h"
#include "hawkeye/core/fs.h"
#include "hawkeye/dist/process_group.h"

extern char** environ;

namespace hawkeye::dist {

namespace {

using Clock = std::chrono::steady_clock;

struct Stream {
  int fd = -1;
  std::string pending;  // an unfinished line
};

struct Worker {
  int rank = 0;
  pid_t pid = -1;
  Stream out, err;
  bool running = false;
  int status = 0;  // exit status, or 128 + signal
};

std::string errno_text() { return std::strerror(errno); }

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

void default_line(int rank, int stream, std::string_view line) {
  FILE* f = stream == 1 ? stdout : stderr;
  if (!(rank == 0 && stream == 1)) std::fprintf(f, "[rank %d] ", rank);
  std::fwrite(line.data(), 1, line.size(), f);
  std::fputc('\n', f);
  std::fflush(f);
}

// Sends complete lines of `s` to the sink; at end of stream also the unfinished rest.
void emit_lines(Stream& s, int rank, int stream, bool at_end,
                const std::function<void(int, int, std::string_view)>& sink) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.pending.size(); ++i) {
    if (s.pending[i] == '\n') {
      sink(rank, stream, std::string_view(s.pending).substr(start, i - start));
      start = i + 1;
    }
  }
  s.pending.erase(0, start);
  if (at_end && !s.pending.empty()) {
    sink(rank, stream, s.pending);
    s.pending.clear();
  }
}

// Reads what is there; closes the stream at end of file.
void drain(Stream& s, int rank, int stream, const std::function<void(int, int, std::string_view)>& sink) {
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(s.fd, buf, sizeof buf);
    if (n > 0) {
      s.pending.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      emit_lines(s, rank, stream, false, sink);
      return;
    }
    emit_lines(s, rank, stream, true, sink);  // end of file (or an error: the stream is over either way)
    close_fd(s.fd);
    return;
  }
}

std::string describe_status(int status) {
  if (status > 128) {
    const int sig = status - 128;
    const char* name = ::strsignal(sig);
    return "was killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : std::string());
  }
  return "exited with status " + std::to_string(status);
}

// Async-signal-safe decimal for the child's error message.
void write_number(int fd, int v) {
  char buf[16];
  int n = 0;
  if (v == 0) buf[n++] = '0';
  while (v > 0 && n < 15) {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  while (n > 0) (void)!::write(fd, &buf[--n], 1);
}

}  // namespace

LaunchResult launch_local(const LaunchOptions& o) {
  if (o.nproc < 1) throw Error(ErrorCode::invalid_argument, "--nproc must be at least 1 (got " + std::to_string(o.nproc) + ")");
  if (o.program.empty()) throw Error(ErrorCode::invalid_argument, "launch_local: no program");
  const auto sink = o.on_line ? o.on_line : std::function<void(int, int, std::string_view)>(default_line);

  // The launcher hosts the store: it outlives every worker, so the survivors can still tell who failed.
  StoreServer store("127.0.0.1", 0, o.store_timeout);

  // Environment and arguments of every worker, built before fork (the child only calls async-signal-safe functions).
  std::map<std::string, std::string> base;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string_view::npos) base[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  base["WORLD_SIZE"] = std::to_string(o.nproc);
  base["LOCAL_WORLD_SIZE"] = std::to_string(o.nproc);
  base["GROUP_RANK"] = "0";
  base["MASTER_ADDR"] = "127.0.0.1";
  base["MASTER_PORT"] = std::to_string(store.port());
  base["TORCHELASTIC_USE_AGENT_STORE"] = "True";
  base["TORCHELASTIC_RESTART_COUNT"] = "0";
  for (const auto& [k, v] : o.env) base[k] = v;

  const std::string program = o.program.string();
  std::vector<std::string> argv_text{program};
  argv_text.insert(argv_text.end(), o.args.begin(), o.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string exec_error = "hawkeye: error: cannot execute " + program + ": errno ";

  std::vector<Worker> workers(static_cast<std::size_t>(o.nproc));
  const pid_t parent = ::getpid();
  auto kill_running = [&](int sig) {
    for (auto& w : workers)
      if (w.running) ::kill(w.pid, sig);
  };
  for (int r = 0; r < o.nproc; ++r) {
    auto env = base;
    env["RANK"] = std::to_string(r);
    env["LOCAL_RANK"] = std::to_string(r);
    env["ROLE_RANK"] = std::to_string(r);
    std::vector<std::string> env_text;
    for (const auto& [k, v] : env) env_text.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_text) envp.push_back(s.data());
    envp.push_back(nullptr);

    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw Error(ErrorCode::io, "cannot create a pipe: " + errno_text());
    if (::pipe2(err, O_CLOEXEC) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      throw Error(ErrorCode::io, "cannot create a pipe: " + errno_text());
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      const auto why = errno_text();
      for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
      kill_running(SIGKILL);
      for (auto& w : workers)
        if (w.running) ::waitpid(w.pid, nullptr, 0);
      throw Error(ErrorCode::io, "cannot start worker " + std::to_string(r) + ": fork failed: " + why);
    }
    if (pid == 0) {
      // Child: its own process group (a terminal's Ctrl-C reaches the launcher, which forwards it once),
      // killed with the launcher, stdin from /dev/null.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(70);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      const int null_fd = ::open("/dev/null", O_RDONLY);
      if (null_fd >= 0) ::dup2(null_fd, 0);
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD}) ::sigaction(sig, &dfl, nullptr);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execve(argv[0], argv.data(), envp.data());
      const int e = errno;
      (void)!::write(2, exec_error.data(), exec_error.size());
      write_number(2, e);
      (void)!::write(2, "\n", 1);
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    auto& w = workers[static_cast<std::size_t>(r)];
    w.rank = r;
    w.pid = pid;
    w.running = true;
    w.out.fd = out[0];
    w.err.fd = err[0];
    ::fcntl(w.out.fd, F_SETFL, ::fcntl(w.out.fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(w.err.fd, F_SETFL, ::fcntl(w.err.fd, F_GETFL) | O_NONBLOCK);
    if (o.on_start) o.on_start(r, pid);
  }

  LaunchResult result;
  result.statuses.assign(static_cast<std::size_t>(o.nproc), 0);
  bool interrupted = false;
  // Deadlines: SIGKILL for the workers still running after a failure; the end of reading after the last exit.
  Clock::time_point kill_at{}, drain_until{};
  bool kill_pending = false, draining = false;
  for (;;) {
    if (o.forward_signal) {
      if (const int sig = o.forward_signal->exchange(0); sig != 0) {
        interrupted = true;
        kill_running(sig);
      }
    }
    std::vector<pollfd> fds;
    std::vector<std::pair<Worker*, int>> owners;
    for (auto& w : workers) {
      if (w.out.fd >= 0) {
        fds.push_back({w.out.fd, POLLIN, 0});
        owners.emplace_back(&w, 1);
      }
      if (w.err.fd >= 0) {
        fds.push_back({w.err.fd, POLLIN, 0});
        owners.emplace_back(&w, 2);
      }
    }
    bool any_running = false;
    for (const auto& w : workers) any_running = any_running || w.running;
    if (!any_running && (fds.empty() || (draining && Clock::now() > drain_until))) break;
    if (!fds.empty()) {
      const int n = ::poll(fds.data(), fds.size(), 100);
      if (n < 0 && errno != EINTR) throw Error(ErrorCode::io, "poll failed: " + errno_text());
      for (std::size_t i = 0; n > 0 && i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        auto& [w, stream] = owners[i];
        drain(stream == 1 ? w->out : w->err, w->rank, stream, sink);
      }
    } else {
      ::usleep(100000);
    }
    for (auto& w : workers) {
      if (!w.running) continue;
      int st = 0;
      const pid_t got = ::waitpid(w.pid, &st, WNOHANG);
      if (got != w.pid) continue;
      w.running = false;
      w.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      result.statuses[static_cast<std::size_t>(w.rank)] = w.status;
      if (w.status != 0 && result.failed_rank < 0 && !interrupted) {
        result.failed_rank = w.rank;
        result.message = "rank " + std::to_string(w.rank) + " (pid " + std::to_string(w.pid) + ") " + describe_status(w.status);
        result.exit_code = w.status > 128 ? exit_status(ErrorCode::distributed) : w.status;
        // The others stop at their next safe point (a checkpoint being written is finished), then are killed.
        kill_running(SIGINT);
        kill_at = Clock::now() + o.grace;
        kill_pending = true;
      }
    }
    if (kill_pending && Clock::now() >= kill_at) {
      kill_running(SIGKILL);
      kill_pending = false;
    }
    any_running = false;
    for (const auto& w : workers) any_running = any_running || w.running;
    if (!any_running && !draining) {
      draining = true;  // a worker's own children may still hold its pipes: read for at most 2 s more
      drain_until = Clock::now() + std::chrono::seconds(2);
    }
  }
  for (auto& w : workers) {
    emit_lines(w.out, w.rank, 1, true, sink);
    emit_lines(w.err, w.rank, 2, true, sink);
    close_fd(w.out.fd);
    close_fd(w.err.fd);
  }
  if (result.failed_rank >= 0) {
    result.message += "; the other ranks were stopped";
  } else if (interrupted) {
    for (const int s : result.statuses) result.exit_code = std::max(result.exit_code, s > 128 ? exit_status(ErrorCode::interrupted) : s);
  }

  // Temporary files and folders of workers that did not finish cleanly ("<name>.tmp-<pid>-<n>").
  for (const auto& dir : o.cleanup_dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> leftovers;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const auto name = entry.path().filename().string();
      for (const auto& w : workers)
        if (w.status != 0 && name.find(".tmp-" + std::to_string(w.pid) + "-") != std::string::npos) leftovers.push_back(entry.path());
    }
    for (const auto& p : leftovers) fs::remove_all(p, ec);
  }
  return result;
}

}  // namespace hawkeye::dist
