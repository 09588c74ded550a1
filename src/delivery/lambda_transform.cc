#include "delivery/lambda_transform.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/json_limits.h"

namespace eddy::embedded {
std::string_view lambda_runner();
}

namespace eddy::delivery {
namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out.push_back(c);
  }
  return out + "'";
}

struct RunResult {
  bool ok = false;
  std::string out;
  std::string why;
};

// Runs `command` with `input` on stdin; collects stdout; kills it after `timeout_ms`.
// `cancel` (optional): when it turns true the function is killed and the run fails.
RunResult run_command(const std::string& command, const std::string& input, int timeout_ms,
                      const std::atomic<bool>* cancel = nullptr) {
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return {false, "", "pipe failed"};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    return {false, "", "pipe failed"};
  }
  const pid_t pid = ::fork();
  if (pid < 0) return {false, "", "fork failed"};
  if (pid == 0) {
    // A group of its own, so that a timeout kills the function and not only its shell; and none of
    // the server's descriptors (its listening socket, client connections) outlive it there.
    ::setpgid(0, 0);
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::close_range(3, ~0U, 0);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t written = 0;
  RunResult r;
  bool out_open = true;
  int in_fd = in_pipe[1];
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  while (out_open) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (cancel && cancel->load()) {
      ::kill(-pid, SIGKILL);
      r.why = "the invocation was stopped: the application is stopping";
      break;
    }
    if (left <= 0) {
      ::kill(-pid, SIGKILL);
      r.why = "Task timed out after " + std::to_string(timeout_ms / 1000.0) + " seconds";
      break;
    }
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
    if (::poll(fds, in_fd >= 0 ? 2 : 1, static_cast<int>(std::min<long long>(left, 1000))) < 0) continue;
    if (in_fd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = ::write(in_fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN) written = input.size();
      if (written == input.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[65536];
      const ssize_t n = ::read(out_pipe[0], buf, sizeof(buf));
      if (n > 0)
        r.out.append(buf, static_cast<size_t>(n));
      else
        out_open = false;
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  ::close(out_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (r.why.empty()) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
      r.ok = true;
    else
      r.why = "the function exited with status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  return r;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

int on_progress(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return cancel && static_cast<const std::atomic<bool>*>(cancel)->load() ? 1 : 0;  // non-zero aborts
}

RunResult post_event(const std::string& url, const std::string& input, int timeout_ms,
                     const std::atomic<bool>* cancel = nullptr) {
  static const bool init = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)init;
  RunResult r;
  CURL* curl = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, input.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(input.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.out);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (cancel) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(cancel));
  }
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK)
    r.why = std::string("the function could not be invoked: ") + curl_easy_strerror(rc);
  else if (status != 200)
    r.why = "the function answered HTTP " + std::to_string(status);
  else
    r.ok = true;
  return r;
}

}  // namespace

std::string_view lambda_runner_source() {
  return embedded::lambda_runner();
}

Result<LambdaTransform> LambdaTransform::create(const std::string& arn_text,
                                                const std::map<std::string, std::string>& functions,
                                                const std::string& runner_path, int retries, int timeout_ms,
                                                size_t buffer_bytes) {
  // What runs is the server's decision, never the caller's: a LambdaArn names a function, and only
  // `eddy serve --lambda NAME=...` says where NAME runs (a Python file, a command or a URL).
  if (!arn_text.starts_with("arn:aws:lambda:")) {
    return make_error(Errc::kInvalidArgument,
                      "LambdaArn must be a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME), got '" +
                          arn_text.substr(0, 200) +
                          "'; where NAME runs is set when the server starts: eddy serve --lambda "
                          "NAME=python:/path/handler.py (or exec:<command>, or an http:// URL)");
  }
  const size_t fn = arn_text.find(":function:");
  std::string name = fn == std::string::npos ? "" : arn_text.substr(fn + 10);
  if (const size_t colon = name.find(':'); colon != std::string::npos) name = name.substr(0, colon);  // :alias/version
  auto it = functions.find(name);
  if (it == functions.end()) {
    return make_error(Errc::kInvalidArgument, "Lambda function " + name.substr(0, 200) +
                                                  " is not known to this server: start eddy serve with --lambda " +
                                                  name.substr(0, 200) + "=python:/path/handler.py (or exec:<command>)");
  }
  const std::string& target = it->second;
  LambdaTransform t;
  t.arn_ = arn_text;
  t.retries_ = retries;
  t.timeout_ms_ = timeout_ms;
  t.buffer_bytes_ = buffer_bytes;
  if (target.starts_with("python:")) {
    std::string path = target.substr(7), handler = "lambda_handler";
    if (const size_t hash = path.find('#'); hash != std::string::npos) {
      handler = path.substr(hash + 1);
      path = path.substr(0, hash);
    }
    if (::access(path.c_str(), R_OK) != 0)
      return make_error(Errc::kInvalidArgument, "Lambda file " + path + " cannot be read");
    t.command_ = "EDDY_LAMBDA_TIMEOUT_MS=" + std::to_string(timeout_ms) + " python3 " + shell_quote(runner_path) + " " +
                 shell_quote(path) + " " + shell_quote(handler);
  } else if (target.starts_with("http://") || target.starts_with("https://")) {
    t.url_ = target;
  } else if (target.starts_with("exec:")) {
    t.command_ = target.substr(5);
    if (t.command_.empty()) return make_error(Errc::kInvalidArgument, "exec: needs a command line");
  } else {
    return make_error(Errc::kInvalidArgument,
                      "--lambda " + name + "=" + target +
                          ": say where the function runs with python:<file.py>, exec:<command> or an http:// URL");
  }
  return t;
}

std::vector<TransformOutcome> LambdaTransform::invoke(const std::string& delivery_arn,
                                                      const std::vector<TransformInput>& records,
                                                      const std::string& source_stream_arn) const {
  std::vector<TransformOutcome> out;
  out.reserve(records.size());
  size_t start = 0;
  while (start < records.size()) {
    size_t end = start, bytes = 0;
    while (end < records.size() && (end == start || bytes + records[end].data.size() <= buffer_bytes_))
      bytes += records[end++].data.size();
    auto part = invoke_once(delivery_arn, std::span(records).subspan(start, end - start), source_stream_arn);
    std::move(part.begin(), part.end(), std::back_inserter(out));
    start = end;
  }
  return out;
}

std::vector<TransformOutcome> LambdaTransform::invoke_once(const std::string& delivery_arn,
                                                           std::span<const TransformInput> records,
                                                           const std::string& source_stream_arn) const {
  nlohmann::json event = {{"invocationId", to_hex(md5(delivery_arn + std::to_string(records.size()) +
                                                      (records.empty() ? "" : records.front().record_id)))},
                          {"deliveryStreamArn", delivery_arn},
                          {"region", "us-east-1"},
                          {"records", nlohmann::json::array()}};
  if (!source_stream_arn.empty()) event["sourceKinesisStreamArn"] = source_stream_arn;
  for (const auto& r : records) {
    nlohmann::json rec = {
        {"recordId", r.record_id}, {"approximateArrivalTimestamp", r.arrival_ms}, {"data", base64_encode(r.data)}};
    if (!r.shard_id.empty()) {
      rec["kinesisRecordMetadata"] = {{"shardId", r.shard_id},
                                      {"partitionKey", r.partition_key},
                                      {"approximateArrivalTimestamp", r.arrival_ms},
                                      {"sequenceNumber", r.sequence_number},
                                      {"subsequenceNumber", r.subsequence_number}};
    }
    event["records"].push_back(std::move(rec));
  }
  const std::string input = event.dump();
  std::string why;
  for (int attempt = 0; attempt <= retries_; ++attempt) {
    auto run = url_.empty() ? run_command(command_, input, timeout_ms_) : post_event(url_, input, timeout_ms_);
    if (!run.ok) {
      why = run.why;
      continue;
    }
    // The response must answer every record by id; anything else is a failed invocation.
    try {
      if (!json_nesting_within(run.out))
        throw std::runtime_error("the answer nests deeper than " + std::to_string(kMaxJsonNesting) + " levels");
      const auto j = nlohmann::json::parse(run.out);
      std::map<std::string, TransformOutcome> by_id;
      for (const auto& o : j.at("records")) {
        TransformOutcome out;
        const auto result = o.at("result").get<std::string>();
        if (result == "Ok")
          out.result = TransformOutcome::Result::kOk;
        else if (result == "Dropped")
          out.result = TransformOutcome::Result::kDropped;
        else if (result == "ProcessingFailed") {
          out.result = TransformOutcome::Result::kFailed;
          out.error_code = "Lambda.ProcessingFailedStatus";
          out.error_message = "ProcessingFailed status set for record";
        } else {
          throw std::runtime_error("result '" + result + "' is not Ok, Dropped or ProcessingFailed");
        }
        if (out.result == TransformOutcome::Result::kOk) {
          auto data = base64_decode(o.at("data").get<std::string>());
          if (!data) throw std::runtime_error("record data is not base64");
          out.data = std::move(*data);
          if (o.contains("metadata") && o["metadata"].contains("partitionKeys")) {
            for (const auto& [k, v] : o["metadata"]["partitionKeys"].items()) {
              out.partition_keys[k] = v.is_string() ? v.get<std::string>() : v.dump();
            }
          }
        }
        by_id[o.at("recordId").get<std::string>()] = std::move(out);
      }
      std::vector<TransformOutcome> outcomes;
      for (const auto& r : records) {
        auto it = by_id.find(r.record_id);
        if (it == by_id.end()) {
          TransformOutcome missing;
          missing.error_code = "Lambda.MissingRecordId";
          missing.error_message = "No record with recordId " + r.record_id + " in the function's response";
          outcomes.push_back(std::move(missing));
        } else {
          outcomes.push_back(std::move(it->second));
        }
      }
      return outcomes;
    } catch (const std::exception& e) {
      why = std::string("the function's response does not follow the Firehose contract: ") + e.what();
    }
  }
  std::vector<TransformOutcome> failed(records.size());
  for (auto& f : failed) {
    f.error_code = "Lambda.FunctionError";
    f.error_message = why;
  }
  return failed;
}

Result<std::string> LambdaTransform::call(const std::string& event, const std::atomic<bool>* cancel) const {
  std::string why;
  for (int attempt = 0; attempt <= retries_ && !(cancel && cancel->load()); ++attempt) {
    auto run =
        url_.empty() ? run_command(command_, event, timeout_ms_, cancel) : post_event(url_, event, timeout_ms_, cancel);
    if (run.ok) return std::move(run.out);
    why = run.why;
  }
  return make_error(Errc::kUnavailable, why);
}

}  // namespace eddy::delivery
