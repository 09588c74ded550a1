#include "aws/sigv4.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "common/digest.h"

namespace eddy::aws {
namespace {

nlohmann::json vectors() {
  std::ifstream in(std::string(EDDY_TEST_DATA_DIR) + "/sigv4_vectors.json");
  EXPECT_TRUE(in.good()) << "tests/data/sigv4_vectors.json is missing from the checkout";
  return nlohmann::json::parse(in);
}

// Rebuilds each reference request as the server receives it and checks every stage.
TEST(SigV4, ReferenceVectors) {
  const auto doc = vectors();
  const auto now = *parse_amz_date(doc["fixed_time"].get<std::string>());
  int checked = 0;
  for (const auto& v : doc["vectors"]) {
    const std::string url = v["url"];
    const size_t scheme = url.find("://");
    const size_t path_start = url.find('/', scheme + 3);
    HttpRequest req;
    req.method = v["method"];
    req.target = url.substr(path_start);
    req.headers.emplace_back("host", url.substr(scheme + 3, path_start - scheme - 3));
    for (const auto& [k, val] : v["headers"].items()) {
      std::string name = k;
      for (auto& c : name) c = static_cast<char>(std::tolower(c));
      req.headers.emplace_back(name, val.get<std::string>());
    }
    req.body = *base64_decode(v.value("body_base64", std::string()));

    // The canonical request we build matches the reference.
    const std::string auth(req.header("authorization"));
    const auto sh = auth.find("SignedHeaders=") + 14;
    const auto signed_list = auth.substr(sh, auth.find(',', sh) - sh);
    std::vector<std::string> names;
    for (size_t p = 0; p <= signed_list.size();) {
      const size_t q = std::min(signed_list.find(';', p), signed_list.size());
      names.push_back(signed_list.substr(p, q - p));
      p = q + 1;
    }
    const size_t qm = req.target.find('?');
    std::string payload(req.header("x-amz-content-sha256"));
    if (payload.empty()) payload = to_hex(sha256(req.body));
    const auto canonical = canonical_request(req.method, req.target.substr(0, qm),
                                             qm == std::string::npos ? "" : req.target.substr(qm + 1), req.headers,
                                             names, payload, v["service"] == "s3");
    EXPECT_EQ(canonical, v["canonical_request"].get<std::string>()) << url;

    SigV4Verifier verifier({{v["access_key"], v["secret_key"], ""}});
    auto ok = verifier.verify(req, now);
    EXPECT_TRUE(ok.has_value()) << url << ": " << (ok ? "" : ok.error().message);

    SigV4Verifier wrong_secret({{v["access_key"], "not-the-secret", ""}});
    auto bad = wrong_secret.verify(req, now);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code, Errc::kInvalidSignature);
    ++checked;
  }
  EXPECT_GE(checked, 4);
}

TEST(SigV4, AwsWorkedExample) {
  // The IAM documentation's example: secret wJalr..., 20150830, us-east-1, iam.
  const std::string sts =
      "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
      "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59";
  EXPECT_EQ(signature_hex("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam", sts),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST(SigV4, SignThenVerifyAndFailureKinds) {
  const TimestampMs now = 1'700'000'000'000;
  std::vector<std::pair<std::string, std::string>> headers = {{"host", "127.0.0.1:4567"},
                                                              {"content-type", "application/x-amz-json-1.1"},
                                                              {"x-amz-target", "Kinesis_20131202.ListStreams"}};
  sign_request("POST", "/", headers, "{}", {"AKID", "secret", ""}, "eu-west-1", "kinesis", now);
  HttpRequest req{"POST", "/", headers, "{}"};
  req.headers.emplace_back("user-agent", "anything");  // unsigned headers do not matter
  SigV4Verifier verifier({{"AKID", "secret", ""}});
  EXPECT_EQ(*verifier.verify(req, now), "eu-west-1");

  EXPECT_EQ(verifier.verify(req, now + 6 * 60 * 1000).error().code, Errc::kInvalidSignature);  // skew
  EXPECT_EQ(SigV4Verifier({{"OTHER", "secret", ""}}).verify(req, now).error().code, Errc::kUnrecognizedClient);
  HttpRequest tampered = req;
  tampered.body = "{\"Limit\":1}";
  EXPECT_EQ(verifier.verify(tampered, now).error().code, Errc::kInvalidSignature);
  HttpRequest unsigned_req{"POST", "/", {{"host", "x"}}, "{}"};
  EXPECT_EQ(verifier.verify(unsigned_req, now).error().code, Errc::kMissingAuthenticationToken);
  HttpRequest incomplete{
      "POST",
      "/",
      {{"host", "x"}, {"authorization", "AWS4-HMAC-SHA256 Credential=AKID/20231114/us-east-1/kinesis/aws4_request"}},
      ""};
  EXPECT_EQ(verifier.verify(incomplete, now).error().code, Errc::kIncompleteSignature);
}

// A request signed over `signed_names` only (what a careless or hostile signer might send).
HttpRequest signed_over(const std::vector<std::string>& signed_names, TimestampMs now,
                        const std::string& region = "us-east-1", const std::string& service = "kinesis") {
  std::vector<std::pair<std::string, std::string>> headers = {{"host", "127.0.0.1:4567"},
                                                              {"x-amz-target", "Kinesis_20131202.ListStreams"},
                                                              {"x-amz-date", format_amz_date(now)}};
  const std::string amz_date = format_amz_date(now), date = amz_date.substr(0, 8);
  const std::string canonical = canonical_request("POST", "/", "", headers, signed_names, to_hex(sha256("{}")), false);
  const std::string scope = date + "/" + region + "/" + service + "/aws4_request";
  const std::string sig = signature_hex("secret", date, region, service, string_to_sign(amz_date, scope, canonical));
  std::string list;
  for (const auto& n : signed_names) list += (list.empty() ? "" : ";") + n;
  headers.emplace_back("authorization",
                       "AWS4-HMAC-SHA256 Credential=AKID/" + scope + ", SignedHeaders=" + list + ", Signature=" + sig);
  return HttpRequest{"POST", "/", headers, "{}"};
}

TEST(SigV4, HostDateAndTargetMustBeSigned) {
  const TimestampMs now = 1'700'000'000'000;
  SigV4Verifier verifier({{"AKID", "secret", ""}});
  EXPECT_TRUE(verifier.verify(signed_over({"host", "x-amz-date", "x-amz-target"}, now), now));
  for (const auto& names : std::vector<std::vector<std::string>>{
           {"x-amz-date"}, {"host", "x-amz-target"}, {"host", "x-amz-date"}, {"x-amz-date", "x-amz-target"}}) {
    auto r = verifier.verify(signed_over(names, now), now);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kIncompleteSignature);
  }
}

TEST(SigV4, ScopeMustNameTheServersRegionAndTheService) {
  const TimestampMs now = 1'700'000'000'000;
  SigV4Verifier verifier({{"AKID", "secret", ""}});
  const std::vector<std::string> all = {"host", "x-amz-date", "x-amz-target"};
  const ExpectedScope kinesis{"us-east-1", {"kinesis"}};
  EXPECT_TRUE(verifier.verify(signed_over(all, now), now, kinesis));
  EXPECT_EQ(verifier.verify(signed_over(all, now, "eu-west-1"), now, kinesis).error().code, Errc::kInvalidSignature);
  EXPECT_EQ(verifier.verify(signed_over(all, now, "us-east-1", "s3"), now, kinesis).error().code,
            Errc::kInvalidSignature);
  EXPECT_EQ(verifier.verify(signed_over(all, now, "us-east-1", "firehose"), now, kinesis).error().code,
            Errc::kInvalidSignature);
  EXPECT_TRUE(
      verifier.verify(signed_over(all, now, "us-east-1", "firehose"), now, {"us-east-1", {"kinesis", "firehose"}}));
}

TEST(SigV4, BasicNamesAKeyAndItsSecret) {
  SigV4Verifier verifier({{"AKID", "secret", ""}, {"OTHER", "s2", ""}});
  EXPECT_TRUE(verifier.verify_basic("Basic " + base64_encode("AKID:secret")));
  EXPECT_TRUE(verifier.verify_basic("basic " + base64_encode("OTHER:s2")));
  EXPECT_FALSE(verifier.verify_basic("Basic " + base64_encode("AKID:s2")));  // another key's secret
  EXPECT_FALSE(verifier.verify_basic("Basic " + base64_encode("AKID:secre")));
  EXPECT_FALSE(verifier.verify_basic("Basic " + base64_encode("AKID")));
  EXPECT_FALSE(verifier.verify_basic("Basic !!!"));
  EXPECT_FALSE(verifier.verify_basic(""));
  EXPECT_FALSE(verifier.verify_basic("Bearer " + base64_encode("AKID:secret")));
}

}  // namespace
}  // namespace eddy::aws
