// A real nats-server for the cluster tests: Debian's, installed by make deps, started on a free
// loopback port with JetStream, its store in a temporary folder removed with it.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include "cluster/nats_connection.h"

namespace eddy::cluster::nats_test {

namespace fs = std::filesystem;

inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Debian installs it in /usr/sbin, which a user's PATH may lack.
inline std::string nats_server_path() {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"}) {
    const std::string path = std::string(dir) + "/nats-server";
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

// One `nats-server -js` on 127.0.0.1, stopped (and its store removed) with the object.
class NatsServer {
 public:
  explicit NatsServer(const std::string& tag) {
    dir_ = fs::temp_directory_path() / ("eddy-nats-test-" + std::to_string(::getpid()) + "-" + tag);
    // A free port can be taken by another process before the server binds it (the e2e tests run
    // beside the units and start servers of their own): a server that exits instead of becoming
    // ready is started again on another port, so the tests never talk to someone else's server.
    for (int attempt = 0; attempt < 5 && !start(); ++attempt) {
    }
  }
  // Freezes and thaws the server: requests sent meanwhile wait in its socket, as on a network
  // partition, and are processed when it resumes.
  // pause() returns once every thread of the server has stopped: SIGSTOP alone only asks.
  void pause() {
    ::kill(pid_, SIGSTOP);
    for (int i = 0; i < 200 && !stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  void resume() { ::kill(pid_, SIGCONT); }
  ~NatsServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    fs::remove_all(dir_);
  }
  const std::string& url() const { return url_; }
  // A connection once the server answers (bounded: it starts in well under a second).
  std::unique_ptr<NatsConnection> connect() const {
    for (int i = 0; i < 200; ++i) {
      if (auto c = NatsConnection::connect({.urls = {url_}})) return std::move(*c);
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return nullptr;
  }

 private:
  bool stopped() const {
    const fs::path tasks = "/proc/" + std::to_string(pid_) + "/task";
    std::error_code ec;
    for (const auto& task : fs::directory_iterator(tasks, ec)) {
      std::ifstream in(task.path() / "stat");
      std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      // The state follows the command name, which is in parentheses.
      const auto close = stat.rfind(')');
      if (close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'T') return false;
    }
    return !ec;
  }

  // Starts the server and waits (bounded) until its log says it is ready or it exits.
  bool start() {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const int port = free_port();
    url_ = "nats://127.0.0.1:" + std::to_string(port);
    const fs::path log_path = dir_ / "server.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string p = std::to_string(port), sd = dir_.string(), log = log_path.string();
      const std::string bin = nats_server_path();
      ::execl(bin.c_str(), "nats-server", "-a", "127.0.0.1", "-p", p.c_str(), "-js", "-sd", sd.c_str(), "-l",
              log.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 400; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::ifstream in(log_path);
      const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (log.find("Server is ready") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return true;  // slow to start: connect() still waits for it
  }

  fs::path dir_;
  std::string url_;
  pid_t pid_ = -1;
};

}  // namespace eddy::cluster::nats_test
