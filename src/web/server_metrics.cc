#include "web/server_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/build_info.h"
#include "web/metrics_text.h"

namespace eddy::web {
namespace {

void gauge(std::string& out, const char* name, const char* type, const char* help, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + buf + "\n";
}

// /proc/self/stat's utime and stime (clock ticks) and rss (pages); false off Linux.
bool proc_stat(double& cpu_s, double& rss_bytes, double& vsize_bytes) {
  std::ifstream f("/proc/self/stat");
  std::string line;
  if (!std::getline(f, line)) return false;
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream in(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0, vsize = 0;
  long long rss = 0;
  // Field 3 (state) is the first here; utime and stime are 14 and 15, vsize 23, rss 24.
  for (int i = 3; i <= 24 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
    if (i == 23) vsize = std::stoull(field);
    if (i == 24) rss = std::stoll(field);
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  cpu_s = static_cast<double>(utime + stime) / ticks;
  rss_bytes = static_cast<double>(rss) * static_cast<double>(sysconf(_SC_PAGESIZE));
  vsize_bytes = static_cast<double>(vsize);
  return true;
}

double open_fds() {
  std::error_code ec;
  double n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++n;
  return n;
}

}  // namespace

std::string render_server_metrics(const DiskUsage::Figures& disk, double start_time_s) {
  std::string out =
      "# HELP eddy_build_info The version and commit of this eddy binary (always 1).\n"
      "# TYPE eddy_build_info gauge\n"
      "eddy_build_info{version=\"" +
      escape_label_value(build_version()) + "\",commit=\"" + escape_label_value(build_commit()) + "\"} 1\n";
  double cpu = 0, rss = 0, vsize = 0;
  if (proc_stat(cpu, rss, vsize)) {
    gauge(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.", cpu);
    gauge(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", rss);
    gauge(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", vsize);
    gauge(out, "process_open_fds", "gauge", "Number of open file descriptors.", open_fds());
  }
  if (rlimit r{}; getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY)
    gauge(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.", static_cast<double>(r.rlim_cur));
  gauge(out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
        start_time_s);
  gauge(out, "eddy_data_dir_filesystem_size_bytes", "gauge", "Size of the filesystem holding the data directory.",
        static_cast<double>(disk.filesystem_size_bytes));
  gauge(out, "eddy_data_dir_filesystem_avail_bytes", "gauge",
        "Bytes of that filesystem available to eddy (what writes can still use).",
        static_cast<double>(disk.filesystem_avail_bytes));
  gauge(out, "eddy_data_dir_used_bytes", "gauge",
        "Bytes of the files under the data directory (walked at most every 30 s).",
        static_cast<double>(disk.used_bytes));
  return out;
}

}  // namespace eddy::web
