// CrmClient and crmctl end to end over a real (in-process, plaintext) gRPC
// server with test service implementations: checks what goes on the wire
// (metadata, deadline, method path, request fields) and the exit codes.
#include "clients/crm_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/channel_arguments.h>

#include <sstream>

#include "absl/strings/str_cat.h"
#include "clients/channel.h"
#include "clients/cli.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::client {
namespace {

using ::testing::HasSubstr;

std::string Metadata(grpc::ServerContext* context, const std::string& key) {
  auto range = context->client_metadata().equal_range(key);
  return range.first == range.second ? "-"
                                     : std::string(range.first->second.data(),
                                                   range.first->second.size());
}

// Echo reports the request metadata it saw in `caller`.
class EchoService final : public crm::v1::DiagnosticsService::Service {
  grpc::Status Echo(grpc::ServerContext* context,
                    const crm::v1::EchoRequest* request,
                    crm::v1::EchoResponse* reply) override {
    reply->set_payload(request->payload());
    bool has_deadline = context->deadline() < std::chrono::system_clock::now() +
                                                  std::chrono::hours(1);
    reply->set_caller(absl::StrCat(
        "auth=", Metadata(context, "authorization"), " xff=",
        Metadata(context, "x-forwarded-for"), " deadline=", has_deadline));
    return grpc::Status::OK;
  }
};

class AccountsService final : public crm::v1::AccountService::Service {
 public:
  crm::v1::UpdateAccountRequest last_update;

 private:
  grpc::Status GetAccount(grpc::ServerContext*,
                          const crm::v1::GetAccountRequest* request,
                          crm::v1::Account* reply) override {
    if (request->name() != "accounts/a1") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          request->name() + " not found");
    }
    reply->set_name("accounts/a1");
    reply->set_display_name("Acme");
    return grpc::Status::OK;
  }
  grpc::Status ListAccounts(grpc::ServerContext*,
                            const crm::v1::ListAccountsRequest* request,
                            crm::v1::ListAccountsResponse* reply) override {
    // Two pages: "" -> a1 (+ token "p2"), "p2" -> a2.
    auto* a = reply->add_accounts();
    if (request->page_token().empty()) {
      a->set_name("accounts/a1");
      reply->set_next_page_token("p2");
    } else {
      a->set_name("accounts/a2");
    }
    a->set_industry(request->filter());
    return grpc::Status::OK;
  }
  grpc::Status UpdateAccount(grpc::ServerContext*,
                             const crm::v1::UpdateAccountRequest* request,
                             crm::v1::Account* reply) override {
    last_update = *request;
    *reply = request->account();
    return grpc::Status::OK;
  }
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&echo_);
    builder.RegisterService(&accounts_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(); }

  std::unique_ptr<CrmClient> NewClient() {
    return std::make_unique<CrmClient>(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                            grpc::InsecureChannelCredentials()),
        absl::Seconds(5));
  }

  int Run(const std::vector<std::string>& args, std::string* out,
          std::string* err) {
    CliDeps deps;
    deps.env = [](const std::string&) { return std::nullopt; };
    deps.connect = [this](const GlobalOptions&)
        -> absl::StatusOr<std::unique_ptr<CrmClient>> { return NewClient(); };
    std::ostringstream o, e;
    int code = RunCli(args, o, e, deps);
    *out = o.str();
    *err = e.str();
    return code;
  }

  EchoService echo_;
  AccountsService accounts_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(ClientTest, NewContextSendsTokenForwardedForAndDeadline) {
  auto client = NewClient();
  crm::v1::EchoRequest request;
  crm::v1::EchoResponse reply;
  auto plain = client->NewContext();
  ASSERT_TRUE(client->diagnostics().Echo(plain.get(), request, &reply).ok());
  EXPECT_EQ(reply.caller(), "auth=- xff=- deadline=1");

  client->set_session_token("tok123");
  client->set_forwarded_for("203.0.113.9");
  auto with_session = client->NewContext();
  ASSERT_TRUE(
      client->diagnostics().Echo(with_session.get(), request, &reply).ok());
  EXPECT_EQ(reply.caller(), "auth=Bearer tok123 xff=203.0.113.9 deadline=1");
}

// gRPC accepts the retry service config (an invalid one fails every call).
TEST_F(ClientTest, RetryServiceConfigIsAccepted) {
  grpc::ChannelArguments args;
  std::string config = RetryServiceConfigJson(IdempotentMethodNames(), 3);
  args.SetServiceConfigJSON(config);
  auto channel =
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_),
                                grpc::InsecureChannelCredentials(), args);
  CrmClient client(channel, absl::Seconds(5));
  crm::v1::EchoRequest request;
  crm::v1::EchoResponse reply;
  auto context = client.NewContext();
  grpc::Status s = client.diagnostics().Echo(context.get(), request, &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(channel->GetServiceConfigJSON(), config);
}

TEST_F(ClientTest, CliEchoAndGet) {
  std::string out, err;
  ASSERT_EQ(Run({"--token", "t1", "echo", "hello", "world"}, &out, &err), 0)
      << err;
  EXPECT_THAT(out, HasSubstr("payload  hello world"));
  EXPECT_THAT(out, HasSubstr("auth=Bearer t1"));

  ASSERT_EQ(Run({"accounts", "get", "a1"}, &out, &err), 0) << err;
  EXPECT_EQ(
      out,
      "FIELD         VALUE\nname          accounts/a1\ndisplay_name  Acme\n");

  ASSERT_EQ(
      Run({"--output", "json", "accounts", "get", "accounts/a1"}, &out, &err),
      0);
  EXPECT_THAT(out, HasSubstr("\"display_name\": \"Acme\""));
}

TEST_F(ClientTest, CliRpcErrorExitCode) {
  std::string out, err;
  EXPECT_EQ(Run({"accounts", "get", "zz"}, &out, &err), kExitRpcBase + 5);
  EXPECT_EQ(err, "error: NOT_FOUND: accounts/zz not found\n");
}

TEST_F(ClientTest, CliListPagesAndAll) {
  std::string out, err;
  ASSERT_EQ(Run({"accounts", "list", "--filter", "F"}, &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("accounts/a1"));
  EXPECT_THAT(out, HasSubstr("next_page_token: p2"));
  ASSERT_EQ(Run({"accounts", "list", "--all"}, &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("accounts/a1"));
  EXPECT_THAT(out, HasSubstr("accounts/a2"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("next_page_token")));
}

TEST_F(ClientTest, CliUpdateSendsMaskAndEtag) {
  std::string out, err;
  ASSERT_EQ(Run({"accounts", "update", "a1", "phone=+1 555",
                 "industry=", "--etag", "e7"},
                &out, &err),
            0)
      << err;
  EXPECT_EQ(accounts_.last_update.account().name(), "accounts/a1");
  EXPECT_EQ(accounts_.last_update.account().etag(), "e7");
  EXPECT_EQ(accounts_.last_update.account().phone(), "+1 555");
  EXPECT_THAT(accounts_.last_update.update_mask().paths(),
              ::testing::ElementsAre("phone", "industry"));
}

TEST_F(ClientTest, CliGenericCall) {
  std::string out, err;
  ASSERT_EQ(Run({"call", "crm.v1.AccountService/GetAccount",
                 R"({"name":"accounts/a1"})"},
                &out, &err),
            0)
      << err;
  EXPECT_THAT(out, HasSubstr("\"display_name\": \"Acme\""));
  EXPECT_EQ(Run({"call", "AccountService/DeleteAccount", "{}"}, &out, &err),
            kExitRpcBase + 12);  // UNIMPLEMENTED by this test server.
}

}  // namespace
}  // namespace crm::client
