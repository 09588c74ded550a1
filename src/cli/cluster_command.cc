// `eddy cluster status`: what a cluster node reports at GET /eddy/v1/cluster, for a terminal.
// `eddy cluster dev`: a whole cluster on one machine (nats-servers and eddy nodes on loopback),
// to try cluster mode or develop against it; Ctrl-C stops everything.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/app.h"
#include "cli/common_options.h"
#include "cluster/nats_connection.h"

namespace eddy::cli {
namespace {

namespace fs = std::filesystem;

struct StatusOptions : ClientOptions {
  bool json = false;
};

int status(const StatusOptions& o) {
  auto endpoint = api::parse_endpoint(o.endpoint);
  if (!endpoint) return fail(endpoint.error().message);
  api::ApiClient client(*endpoint, api::credentials_from_environment(), o.region, "kinesis");
  auto r = client.get("/eddy/v1/cluster");
  if (!r) return fail(r.error().message + " (is an eddy server running at " + o.endpoint + "?)");
  nlohmann::json s;
  try {
    s = nlohmann::json::parse(r->body);
  } catch (const std::exception&) {
    return fail("unexpected answer from " + o.endpoint + " (HTTP " + std::to_string(r->status) + ")");
  }
  if (r->status != 200) return fail(s.value("message", "HTTP " + std::to_string(r->status)));
  if (o.json) {
    std::cout << s.dump(2) << "\n";
    return 0;
  }
  std::cout << "node " << s.value("node", "") << ", connected to " << s.value("connected_to", "") << " (nats-server "
            << s.value("server_version", "?") << "), " << s.value("replicas", 1) << " replica(s) of every shard\n";
  std::cout << "nodes:";
  for (const auto& n : s["nodes"]) std::cout << " " << n.get<std::string>();
  std::cout << "\nleases:" << (s["leases"].empty() ? " none" : "") << "\n";
  for (const auto& l : s["leases"])
    std::cout << "  " << l.value("kind", "") << " " << l.value("name", "") << " on " << l.value("node", "") << "\n";
  for (const auto& st : s["streams"]) {
    std::cout << "stream " << st.value("name", "") << "\n";
    for (const auto& sh : st["shards"]) {
      std::cout << "  " << sh.value("shard_id", "") << (sh.value("open", false) ? "  open  " : "  closed");
      if (sh.contains("error")) {
        std::cout << "  " << sh.value("error", "") << "\n";
        continue;
      }
      std::cout << "  leader " << (sh.value("leader", "").empty() ? "(none)" : sh.value("leader", ""));
      if (!sh["replicas"].empty()) std::cout << ", followers";
      for (const auto& rep : sh["replicas"]) {
        std::cout << " " << rep.value("server", "")
                  << (rep.value("offline", false)   ? " (offline)"
                      : rep.value("current", false) ? ""
                                                    : " (behind " + std::to_string(rep.value("lag", 0)) + ")");
      }
      std::cout << "  " << sh.value("messages", 0) << " batches\n";
    }
  }
  std::cout << "durability: " << s.value("durability", "") << "\n";
  return 0;
}

struct DevOptions {
  int nodes = 3;
  int base_port = 4567;
  std::string dir;
  bool keep = false;
};

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

bool port_answers(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

std::string find_nats_server() {
  // Debian installs it in /usr/sbin, which a user's PATH may lack.
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"}) {
    const std::string path = std::string(dir) + "/nats-server";
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

pid_t spawn(const std::vector<std::string>& argv, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);  // Ctrl-C reaches this command, which stops the children in order
    sigset_t none;    // this command blocks SIGINT and SIGTERM to wait for them; the child must not
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    std::FILE* f = std::fopen(log.c_str(), "a");
    if (f) {
      ::dup2(::fileno(f), 1);
      ::dup2(::fileno(f), 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

void stop_all(std::vector<pid_t>& pids) {
  for (pid_t p : pids) ::kill(p, SIGTERM);
  for (pid_t p : pids) {
    // Bounded: a child that does not stop in 10 s is killed.
    for (int i = 0; i < 100 && ::waitpid(p, nullptr, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (::kill(p, 0) == 0) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
  }
  pids.clear();
}

int dev(const DevOptions& o) {
  const std::string nats_server = find_nats_server();
  if (nats_server.empty()) return fail("nats-server is not installed: run make deps (or apt-get install nats-server)");
  // Stop on Ctrl-C or SIGTERM: wait for them below instead of dying at once.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  fs::path dir = o.dir;
  if (dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "eddy-cluster-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) return fail("cannot make a temporary folder in " + fs::temp_directory_path().string());
    dir = tmpl;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail("cannot create " + dir.string() + ": " + ec.message());
  for (int i = 0; i < o.nodes; ++i) {
    if (port_answers(o.base_port + i))
      return fail("port " + std::to_string(o.base_port + i) + " is in use: choose other ports with --base-port");
  }

  std::vector<pid_t> servers, nodes;
  std::vector<std::string> urls;
  std::vector<int> route_ports(o.nodes);
  for (auto& p : route_ports) p = free_port();
  std::cerr << "starting " << o.nodes << " nats-server(s) in " << dir.string() << " ..." << std::endl;
  for (int i = 0; i < o.nodes; ++i) {
    const int port = free_port();
    urls.push_back("nats://127.0.0.1:" + std::to_string(port));
    const fs::path conf = dir / ("n" + std::to_string(i + 1) + ".conf");
    std::ofstream c(conf);
    c << "server_name: n" << i + 1 << "\nlisten: 127.0.0.1:" << port << "\nmax_payload: 16MB\n"
      << "jetstream { store_dir: \"" << (dir / ("n" + std::to_string(i + 1))).string() << "\" }\n";
    if (o.nodes > 1) {
      c << "cluster {\n  name: eddy\n  listen: 127.0.0.1:" << route_ports[i] << "\n  routes: [";
      for (int j = 0; j < o.nodes; ++j) c << (j ? ", " : "") << "nats-route://127.0.0.1:" << route_ports[j];
      c << "]\n}\n";
    }
    c.close();
    servers.push_back(spawn({nats_server, "-c", conf.string()}, dir / ("n" + std::to_string(i + 1) + ".log")));
  }
  // Ready once JetStream answers: in a cluster, once its servers have elected a leader.
  bool ready = false;
  for (int i = 0; i < 120 && !ready; ++i) {
    ready = cluster::NatsConnection::connect({.urls = urls, .timeout_ms = 500}).has_value();
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (!ready) {
    stop_all(servers);
    return fail("the nats-servers did not become ready in 30 s; see their logs in " + dir.string());
  }
  std::string url_list;
  for (const auto& u : urls) url_list += (url_list.empty() ? "" : ",") + u;
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return fail("cannot find this eddy binary (/proc/self/exe)");
  self[n] = '\0';
  std::cerr << "starting " << o.nodes << " eddy node(s) ..." << std::endl;
  for (int i = 0; i < o.nodes; ++i) {
    const std::string id = "node-" + std::to_string(i + 1);
    nodes.push_back(spawn({self, "serve", "--host", "127.0.0.1", "--port", std::to_string(o.base_port + i),
                           "--data-dir", (dir / id).string(), "--cluster", url_list, "--node-id", id, "--replicas",
                           std::to_string(std::min(o.nodes, 3))},
                          dir / (id + ".log")));
  }
  for (int i = 0; i < o.nodes; ++i) {
    bool up = false;
    for (int t = 0; t < 300 && !up; ++t) {
      up = port_answers(o.base_port + i);
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!up) {
      stop_all(nodes);
      stop_all(servers);
      return fail("eddy node-" + std::to_string(i + 1) + " did not start; see " +
                  (dir / ("node-" + std::to_string(i + 1) + ".log")).string());
    }
  }
  std::cout << "cluster ready: " << o.nodes << " eddy node(s) over " << o.nodes << " nats-server(s)\n";
  for (int i = 0; i < o.nodes; ++i) std::cout << "  node-" << i + 1 << "  http://127.0.0.1:" << o.base_port + i << "\n";
  std::cout << "  NATS    " << url_list << "\n  logs    " << dir.string() << "\n"
            << "eddy cluster status --endpoint http://127.0.0.1:" << o.base_port << "   (Ctrl-C stops everything)"
            << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::cerr << "stopping ..." << std::endl;
  stop_all(nodes);
  stop_all(servers);
  if (!o.keep && o.dir.empty()) fs::remove_all(dir, ec);
  std::cerr << "stopped" << std::endl;
  return 0;
}

}  // namespace

void add_cluster_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("cluster", "Cluster mode on NATS JetStream: status of a node, a local cluster");
  cmd->require_subcommand(1);
  auto so = std::make_shared<StatusOptions>();
  auto* st = cmd->add_subcommand("status", "Nodes, leases, and each shard's JetStream leader and replicas");
  st->add_option("--endpoint", so->endpoint,
                 "A node's URL (env EDDY_ENDPOINT, AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL)")
      ->capture_default_str();
  st->add_flag("--json", so->json, "Print the node's JSON answer");
  st->callback([so, &exit_code] { exit_code = status(*so); });
  auto d = std::make_shared<DevOptions>();
  auto* dv = cmd->add_subcommand("dev", "Run N nats-servers and N eddy nodes on loopback until Ctrl-C");
  dv->add_option("--nodes", d->nodes, "How many of each")->capture_default_str()->check(CLI::Range(1, 5));
  dv->add_option("--base-port", d->base_port, "The eddy nodes listen on this port and the next ones")
      ->capture_default_str()
      ->check(CLI::Range(1024, 65000));
  dv->add_option("--dir", d->dir, "Keep the servers' data and logs here (default: a temporary folder, removed)");
  dv->add_flag("--keep", d->keep, "Keep the temporary folder at the end");
  dv->callback([d, &exit_code] { exit_code = dev(*d); });
}

}  // namespace eddy::cli
