#include "cluster/nats_connection.h"

namespace eddy::cluster {

bool transient(natsStatus status, jsErrCode code) {
  switch (status) {
    case NATS_TIMEOUT:
    case NATS_NO_RESPONDERS:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_STALE_CONNECTION:
    case NATS_INSUFFICIENT_BUFFER:
    case NATS_IO_ERROR:
    case NATS_NOT_YET_CONNECTED:
      return true;
    default:
      return code == JSClusterNotAvailErr || code == JSStreamOfflineErr;
  }
}

Error nats_error(natsStatus status, std::string_view what, jsErrCode code) {
  std::string message = std::string(what) + ": " + natsStatus_GetText(status);
  natsStatus last = NATS_OK;
  if (const char* detail = nats_GetLastError(&last); detail && *detail && last == status)
    message += " (" + std::string(detail) + ")";
  return Error{transient(status, code) ? Errc::kUnavailable : Errc::kIo, message};
}

Result<std::unique_ptr<NatsConnection>> NatsConnection::connect(const NatsOptions& options) {
  if (options.urls.empty()) return make_error(Errc::kInvalidArgument, "no NATS server URL given (--cluster)");
  std::string urls;
  std::vector<const char*> servers;
  for (const auto& u : options.urls) {
    urls += (urls.empty() ? "" : ",") + u;
    servers.push_back(u.c_str());
  }
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetName(opts, options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, options.timeout_ms);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);  // a server restart is not the end
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 250);
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(opts, false, nullptr, nullptr);
  std::unique_ptr<NatsConnection> c(new NatsConnection);
  if (s == NATS_OK) {
    s = natsOptions_SetReconnectedCB(
        opts, [](natsConnection*, void* self) { static_cast<NatsConnection*>(self)->reconnects_.fetch_add(1); },
        c.get());
  }
  if (s != NATS_OK) {
    natsOptions_Destroy(opts);
    return tl::unexpected(nats_error(s, "NATS options"));
  }
  s = natsConnection_Connect(&c->nc_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    return make_error(Errc::kIo, "cannot reach the NATS cluster at " + urls + " (" + natsStatus_GetText(s) +
                                     "): start its nats-servers with JetStream enabled, or correct --cluster");
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = options.timeout_ms * 5 / 2;
  if (s = natsConnection_JetStream(&c->js_, c->nc_, &jo); s != NATS_OK)
    return tl::unexpected(nats_error(s, "JetStream context"));
  jsAccountInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  s = js_GetAccountInfo(&info, c->js_, nullptr, &code);
  jsAccountInfo_Destroy(info);
  if (s != NATS_OK) {
    return make_error(Errc::kIo, "the NATS servers at " + urls + " do not answer JetStream requests (" +
                                     natsStatus_GetText(s) +
                                     "): enable JetStream in their configuration (jetstream { store_dir: ... })");
  }
  return c;
}

NatsConnection::~NatsConnection() {
  jsCtx_Destroy(js_);
  natsConnection_Destroy(nc_);
}

}  // namespace eddy::cluster
