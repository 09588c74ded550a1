#include "aws/sigv4.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <fstream>

#include "common/digest.h"
#include "common/time_format.h"

namespace eddy::aws {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Trims and collapses inner runs of spaces, as the canonical header value requires.
std::string canonical_value(std::string_view v) {
  v = trim(v);
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

}  // namespace

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  return out;
}

std::string uri_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string canonical_request(std::string_view method, std::string_view raw_path, std::string_view raw_query,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              const std::vector<std::string>& signed_headers, std::string_view payload_sha256_hex,
                              bool s3) {
  std::string out(method);
  out.push_back('\n');
  // Canonical URI: each segment of the decoded path encoded once (S3) or twice (others).
  std::string path;
  if (raw_path.empty()) raw_path = "/";
  {
    const auto segments = split(raw_path, '/');
    for (size_t i = 0; i < segments.size(); ++i) {
      if (i) path.push_back('/');
      std::string enc = uri_encode(uri_decode(segments[i]));
      if (!s3) enc = uri_encode(enc);
      path += enc;
    }
  }
  out += path;
  out.push_back('\n');
  // Canonical query: decoded names/values re-encoded, sorted by name then value.
  std::vector<std::pair<std::string, std::string>> params;
  if (!raw_query.empty()) {
    for (const auto kv : split(raw_query, '&')) {
      if (kv.empty()) continue;
      const size_t eq = kv.find('=');
      const auto name = kv.substr(0, eq);
      const auto value = eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1);
      params.emplace_back(uri_encode(uri_decode(name)), uri_encode(uri_decode(value)));
    }
  }
  std::sort(params.begin(), params.end());
  for (size_t i = 0; i < params.size(); ++i) {
    if (i) out.push_back('&');
    out += params[i].first + "=" + params[i].second;
  }
  out.push_back('\n');
  for (const auto& name : signed_headers) {
    std::string joined;
    bool first = true;
    for (const auto& [k, v] : headers) {
      if (k != name) continue;
      if (!first) joined.push_back(',');
      joined += canonical_value(v);
      first = false;
    }
    out += name + ":" + joined + "\n";
  }
  out.push_back('\n');
  for (size_t i = 0; i < signed_headers.size(); ++i) {
    if (i) out.push_back(';');
    out += signed_headers[i];
  }
  out.push_back('\n');
  out += payload_sha256_hex;
  return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical) {
  return "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + std::string(scope) + "\n" + to_hex(sha256(canonical));
}

std::string signature_hex(std::string_view secret, std::string_view date, std::string_view region,
                          std::string_view service, std::string_view sts) {
  auto as_view = [](const std::array<uint8_t, 32>& a) {
    return std::string(reinterpret_cast<const char*>(a.data()), a.size());
  };
  const auto k_date = as_view(hmac_sha256("AWS4" + std::string(secret), date));
  const auto k_region = as_view(hmac_sha256(k_date, region));
  const auto k_service = as_view(hmac_sha256(k_region, service));
  const auto k_signing = as_view(hmac_sha256(k_service, "aws4_request"));
  return to_hex(hmac_sha256(k_signing, sts));
}

std::string format_amz_date(TimestampMs ms) {
  const auto iso = format_iso8601_ms(ms);  // 2015-08-30T12:36:00.000Z
  return iso.substr(0, 4) + iso.substr(5, 2) + iso.substr(8, 2) + "T" + iso.substr(11, 2) + iso.substr(14, 2) +
         iso.substr(17, 2) + "Z";
}

std::optional<TimestampMs> parse_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  const std::string iso = std::string(s.substr(0, 4)) + "-" + std::string(s.substr(4, 2)) + "-" +
                          std::string(s.substr(6, 2)) + "T" + std::string(s.substr(9, 2)) + ":" +
                          std::string(s.substr(11, 2)) + ":" + std::string(s.substr(13, 2)) + "Z";
  return parse_iso8601_ms(iso);
}

void sign_request(std::string_view method, std::string_view raw_target,
                  std::vector<std::pair<std::string, std::string>>& headers, std::string_view body,
                  const AwsCredentials& creds, std::string_view region, std::string_view service, TimestampMs now) {
  const std::string amz_date = format_amz_date(now);
  headers.emplace_back("x-amz-date", amz_date);
  if (!creds.session_token.empty()) headers.emplace_back("x-amz-security-token", creds.session_token);
  std::vector<std::string> names;
  for (const auto& [k, _] : headers) {
    if (k == "host" || k == "content-type" || k.starts_with("x-amz-")) names.push_back(k);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  const size_t q = raw_target.find('?');
  const auto path = raw_target.substr(0, q);
  const auto query = q == std::string_view::npos ? std::string_view{} : raw_target.substr(q + 1);
  const std::string payload = to_hex(sha256(body));
  const std::string canonical = canonical_request(method, path, query, headers, names, payload, service == "s3");
  const std::string date = amz_date.substr(0, 8);
  const std::string scope = date + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  const std::string sig =
      signature_hex(creds.secret_key, date, region, service, string_to_sign(amz_date, scope, canonical));
  std::string signed_list;
  for (const auto& n : names) signed_list += (signed_list.empty() ? "" : ";") + n;
  headers.emplace_back("authorization", "AWS4-HMAC-SHA256 Credential=" + creds.access_key + "/" + scope +
                                            ", SignedHeaders=" + signed_list + ", Signature=" + sig);
}

Result<std::string> SigV4Verifier::verify(const HttpRequest& req, TimestampMs now, const ExpectedScope& expect) const {
  const auto auth = req.header("authorization");
  if (auth.empty()) return make_error(Errc::kMissingAuthenticationToken, "Missing Authentication Token");
  constexpr std::string_view kAlgo = "AWS4-HMAC-SHA256";
  if (!auth.starts_with(kAlgo)) {
    return make_error(
        Errc::kIncompleteSignature,
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=" +
            std::string(auth));
  }
  std::string credential, signed_headers, signature;
  for (auto part : split(auth.substr(kAlgo.size()), ',')) {
    part = trim(part);
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    const auto k = part.substr(0, eq);
    const auto v = part.substr(eq + 1);
    if (k == "Credential")
      credential = v;
    else if (k == "SignedHeaders")
      signed_headers = v;
    else if (k == "Signature")
      signature = v;
  }
  auto amz_date = req.header("x-amz-date");
  if (credential.empty() || signed_headers.empty() || signature.empty() || amz_date.empty()) {
    std::string missing;
    if (credential.empty()) missing += " Authorization header requires 'Credential' parameter.";
    if (signed_headers.empty()) missing += " Authorization header requires 'SignedHeaders' parameter.";
    if (signature.empty()) missing += " Authorization header requires 'Signature' parameter.";
    if (amz_date.empty())
      missing += " Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.";
    return make_error(Errc::kIncompleteSignature,
                      trim(missing).data() + std::string(" Authorization=") + std::string(auth));
  }
  const auto scope_parts = split(credential, '/');
  if (scope_parts.size() != 5 || scope_parts[4] != "aws4_request") {
    return make_error(Errc::kIncompleteSignature, "Credential should be scoped to a valid region. ");
  }
  const auto access_key = scope_parts[0];
  const auto date = scope_parts[1];
  const auto region = scope_parts[2];
  const auto service = scope_parts[3];
  if (!expect.region.empty() && region != expect.region) {
    return make_error(Errc::kInvalidSignature, "Credential should be scoped to a valid region, not '" +
                                                   std::string(region.substr(0, 64)) + "'. This server's region is " +
                                                   expect.region + " (eddy serve --region).");
  }
  if (!expect.services.empty() &&
      std::find(expect.services.begin(), expect.services.end(), service) == expect.services.end()) {
    return make_error(Errc::kInvalidSignature,
                      "Credential should be scoped to correct service: '" + expect.services.front() + "'. ");
  }
  const auto key =
      std::find_if(keys_.begin(), keys_.end(), [&](const AwsCredentials& c) { return c.access_key == access_key; });
  if (key == keys_.end()) {
    return make_error(Errc::kUnrecognizedClient, "The security token included in the request is invalid.");
  }
  const auto when = parse_amz_date(amz_date);
  if (!when || !amz_date.starts_with(date)) {
    return make_error(Errc::kIncompleteSignature,
                      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
                          std::string(date) + "' != '" + std::string(amz_date.substr(0, 8)) + "', from '" +
                          std::string(amz_date) + "'.");
  }
  if (*when < now - max_skew_ms_) {
    return make_error(Errc::kInvalidSignature, "Signature expired: " + std::string(amz_date) + " is now earlier than " +
                                                   format_amz_date(now - max_skew_ms_) + " (" + format_amz_date(now) +
                                                   " - 5 min.)");
  }
  if (*when > now + max_skew_ms_) {
    return make_error(Errc::kInvalidSignature, "Signature not yet current: " + std::string(amz_date) +
                                                   " is still later than " + format_amz_date(now + max_skew_ms_) +
                                                   " (" + format_amz_date(now) + " + 5 min.)");
  }
  std::vector<std::string> names;
  for (const auto n : split(signed_headers, ';')) names.emplace_back(n);
  // A signature must bind the request to this server and this moment, and to the operation when
  // one is named; otherwise it could be replayed elsewhere or for another call.
  for (const std::string_view required : {"host", "x-amz-date", "x-amz-target"}) {
    if (required == "x-amz-target" && !req.has_header("x-amz-target")) continue;
    if (std::find(names.begin(), names.end(), required) == names.end()) {
      return make_error(Errc::kIncompleteSignature,
                        "'" + std::string(required) +
                            "' must be a signed header. SignedHeaders=" + std::string(signed_headers.substr(0, 512)));
    }
  }
  const size_t q = req.target.find('?');
  const std::string_view target = req.target;
  const auto path = target.substr(0, q);
  const auto query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  std::string payload(req.header("x-amz-content-sha256"));
  if (payload.empty() || service != "s3") payload = to_hex(sha256(req.body));
  const std::string canonical =
      canonical_request(req.method, path, query, req.headers, names, payload, service == "s3");
  const std::string scope =
      std::string(date) + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  const std::string expected =
      signature_hex(key->secret_key, date, region, service, string_to_sign(amz_date, scope, canonical));
  if (expected.size() != signature.size() || CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) != 0) {
    return make_error(Errc::kInvalidSignature,
                      "The request signature we calculated does not match the signature you provided. Check your AWS "
                      "Secret Access Key and signing method. Consult the service documentation for details.");
  }
  return std::string(region);
}

bool SigV4Verifier::verify_basic(std::string_view authorization) const {
  constexpr std::string_view kBasic = "Basic ";
  if (authorization.size() < kBasic.size() || authorization.size() > 4096) return false;
  for (size_t i = 0; i < kBasic.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kBasic[i])))
      return false;
  const auto decoded = base64_decode(trim(authorization.substr(kBasic.size())));
  if (!decoded) return false;
  const size_t colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  const std::string_view id(decoded->data(), colon);
  const std::string_view secret(decoded->data() + colon + 1, decoded->size() - colon - 1);
  bool ok = false;
  for (const auto& k : keys_) {
    const bool same_id = k.access_key == id;
    const bool same_secret =
        k.secret_key.size() == secret.size() && CRYPTO_memcmp(k.secret_key.data(), secret.data(), secret.size()) == 0;
    ok |= same_id && same_secret;
  }
  return ok;
}

Result<std::vector<AwsCredentials>> load_credentials_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return make_error(Errc::kIo,
                      "cannot read credentials file " + path + " (check the path given to --credentials-file)");
  std::vector<AwsCredentials> out;
  AwsCredentials cur;
  auto flush = [&] {
    if (!cur.access_key.empty() && !cur.secret_key.empty()) out.push_back(cur);
    cur = {};
  };
  std::string line;
  while (std::getline(in, line)) {
    const auto t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t[0] == '[') {
      flush();
      continue;
    }
    const size_t eq = t.find('=');
    if (eq == std::string_view::npos) continue;
    const auto k = trim(t.substr(0, eq));
    const auto v = trim(t.substr(eq + 1));
    if (k == "aws_access_key_id")
      cur.access_key = v;
    else if (k == "aws_secret_access_key")
      cur.secret_key = v;
    else if (k == "aws_session_token")
      cur.session_token = v;
  }
  flush();
  if (out.empty())
    return make_error(Errc::kInvalidArgument, "no aws_access_key_id/aws_secret_access_key pair in " + path);
  return out;
}

}  // namespace eddy::aws
