// Every method of every CRM service passes the one request pipeline
// (server/pipeline.h). The methods are enumerated from the descriptors of
// every proto file in proto/crm/v1 (CMake globs them into
// CRM_V1_PROTO_FILES, so a service added later is covered without editing
// this test), and each is called raw, as a foreign client would:
//   - with a request over limits.max_request_bytes (an unknown field, which
//     every request type accepts): INVALID_ARGUMENT naming the limit, so the
//     limit applies to every method;
//   - the response carries an x-request-id, and the server wrote exactly one
//     "rpc" log line for the call with that id and the method's full name;
//   - a trusted gateway's own x-request-id is kept; another service's is
//     replaced (it could forge another call's id in the logs).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/log.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

constexpr uint32_t kLimit = 512;

std::mutex g_lines_mu;
std::vector<std::string>* g_lines = nullptr;

void CaptureLine(absl::string_view line) {
  std::lock_guard<std::mutex> lock(g_lines_mu);
  if (g_lines != nullptr) g_lines->emplace_back(line);
}

std::vector<const google::protobuf::MethodDescriptor*> AllCrmMethods() {
  std::vector<const google::protobuf::MethodDescriptor*> out;
  for (absl::string_view file :
       absl::StrSplit(CRM_V1_PROTO_FILES, ',', absl::SkipEmpty())) {
    const auto* fd =
        google::protobuf::DescriptorPool::generated_pool()->FindFileByName(
            std::string(file));
    if (fd == nullptr) continue;  // not linked: no service in it
    for (int s = 0; s < fd->service_count(); ++s) {
      for (int m = 0; m < fd->service(s)->method_count(); ++m) {
        out.push_back(fd->service(s)->method(m));
      }
    }
  }
  return out;
}

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// A request of any type: one unknown length-delimited field (number 9999)
// of `size` bytes.
std::string UnknownFieldOf(size_t size) {
  return Varint((uint64_t{9999} << 3) | 2) + Varint(size) +
         std::string(size, 'x');
}

struct RawResult {
  grpc::Status status;
  std::string request_id;
};

class PipelineTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        {.backend = GetParam(),
         .customize = [](crm::internal::ServerConfig& config) {
           config.mutable_limits()->set_max_request_bytes(kLimit);
         }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    std::lock_guard<std::mutex> lock(g_lines_mu);
    g_lines = &lines_;
    base::SetLogSinkForTesting(&CaptureLine);
  }
  void TearDown() override {
    base::SetLogSinkForTesting(nullptr);
    std::lock_guard<std::mutex> lock(g_lines_mu);
    g_lines = nullptr;
  }

  RawResult RawCall(const std::string& service, const std::string& method,
                    const std::string& bytes,
                    const std::string& request_id = "") {
    auto client = server_->Client(service);
    grpc::GenericStub stub(client->channel());
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    auto context = client->NewContext();
    if (!request_id.empty()) context->AddMetadata("x-request-id", request_id);
    std::promise<grpc::Status> done;
    stub.UnaryCall(context.get(), method, grpc::StubOptions(), &request,
                   &response, [&done](grpc::Status s) { done.set_value(s); });
    RawResult out;
    out.status = done.get_future().get();
    const auto& md = context->GetServerInitialMetadata();
    auto it = md.find("x-request-id");
    if (it != md.end()) out.request_id.assign(it->second.data(), it->second.size());
    return out;
  }

  // The "rpc" lines written with `request_id`.
  std::vector<std::string> RpcLines(const std::string& request_id) {
    std::lock_guard<std::mutex> lock(g_lines_mu);
    std::vector<std::string> out;
    for (const std::string& line : lines_) {
      if (absl::StrContains(line, "\"event\":\"rpc\"") &&
          absl::StrContains(line, absl::StrCat("\"request_id\":\"",
                                               request_id, "\""))) {
        out.push_back(line);
      }
    }
    return out;
  }

  std::unique_ptr<TestServer> server_;
  std::vector<std::string> lines_;
};

TEST_P(PipelineTest, EveryMethodPassesThePipeline) {
  const auto methods = AllCrmMethods();
  // Every service of crm.v1: resources, sharing, admin, user admin, auth,
  // diagnostics.
  ASSERT_GE(methods.size(), 40u);
  for (const auto* method : methods) {
    SCOPED_TRACE(method->full_name());
    ASSERT_FALSE(method->client_streaming()) << "streaming needs its own case";
    const std::string path =
        absl::StrCat("/", method->service()->full_name(), "/", method->name());
    RawResult r = RawCall("admin-cli", path, UnknownFieldOf(2 * kLimit));
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << r.status.error_message();
    EXPECT_THAT(r.status.error_message(),
                HasSubstr(absl::StrCat("the limit is ", kLimit)));
    ASSERT_EQ(r.request_id.size(), 16u) << "no generated x-request-id";
    std::vector<std::string> lines = RpcLines(r.request_id);
    ASSERT_EQ(lines.size(), 1u) << "one log line per call";
    EXPECT_THAT(lines[0],
                HasSubstr(absl::StrCat("\"method\":\"",
                                       method->service()->full_name(), "/",
                                       method->name(), "\"")));
    EXPECT_THAT(lines[0], HasSubstr("\"code\":\"INVALID_ARGUMENT\""));
    EXPECT_THAT(lines[0], HasSubstr("\"principal\":\"services/admin-cli\""));
  }
}

TEST_P(PipelineTest, TrustedGatewayKeepsItsRequestIdOthersDoNot) {
  const std::string echo = "/crm.v1.DiagnosticsService/Echo";
  RawResult kept = RawCall("web-frontend", echo, "", "gw-req.42_a");
  ASSERT_TRUE(kept.status.ok()) << kept.status.error_message();
  EXPECT_EQ(kept.request_id, "gw-req.42_a");
  EXPECT_EQ(RpcLines("gw-req.42_a").size(), 1u);

  // Not a trusted gateway: its header is not used.
  RawResult replaced = RawCall("billing", echo, "", "forged-id");
  ASSERT_TRUE(replaced.status.ok());
  EXPECT_NE(replaced.request_id, "forged-id");
  EXPECT_EQ(RpcLines("forged-id").size(), 0u);
  EXPECT_EQ(RpcLines(replaced.request_id).size(), 1u);

  // A gateway's malformed id (too long, bad characters) is replaced too.
  RawResult bad = RawCall("web-frontend", echo, "", "a b\"c");
  ASSERT_TRUE(bad.status.ok());
  EXPECT_EQ(bad.request_id.size(), 16u);
}

TEST_P(PipelineTest, RefusedAuthenticationStillGetsAnIdAndALine) {
  // A bearer token that is no session: UNAUTHENTICATED from the pipeline's
  // authentication step, logged with the id the caller received.
  auto client = server_->Client("admin-cli");
  grpc::GenericStub stub(client->channel());
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  auto context = client->NewContext();
  context->AddMetadata("authorization", "Bearer not-a-session");
  std::promise<grpc::Status> done;
  stub.UnaryCall(context.get(), "/crm.v1.AccountService/ListAccounts",
                 grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(s); });
  grpc::Status s = done.get_future().get();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  const auto& md = context->GetServerInitialMetadata();
  auto it = md.find("x-request-id");
  ASSERT_NE(it, md.end());
  std::vector<std::string> lines =
      RpcLines(std::string(it->second.data(), it->second.size()));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("\"code\":\"UNAUTHENTICATED\""));
  EXPECT_THAT(lines[0], ::testing::Not(HasSubstr("not-a-session")));
}

INSTANTIATE_TEST_SUITE_P(Backends, PipelineTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) {
                           return BackendName(info.param);
                         });

}  // namespace
}  // namespace crm::testing
