#include "base/error.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::base {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(ErrorInfo, IsAPayloadWithTheStandardTypeUrl) {
  absl::Status s = WithErrorInfo(absl::AbortedError("changed"),
                                 crm::v1::STALE_ETAG,
                                 {{"current_etag", "\"4\""}});
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(s.message(), "changed");
  EXPECT_TRUE(s.GetPayload("type.googleapis.com/google.rpc.ErrorInfo"));
  auto info = GetErrorInfo(s);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "STALE_ETAG");
  EXPECT_EQ(info->domain(), kErrorDomain);
  EXPECT_EQ(info->metadata().at("current_etag"), "\"4\"");
  EXPECT_EQ(GetReason(s), "STALE_ETAG");
  EXPECT_TRUE(HasDetails(s));
}

TEST(ErrorInfo, OkStaysOkAndPlainStatusHasNoDetails) {
  EXPECT_TRUE(WithErrorInfo(absl::OkStatus(), crm::v1::STALE_ETAG).ok());
  absl::Status plain = absl::NotFoundError("x");
  EXPECT_FALSE(HasDetails(plain));
  EXPECT_EQ(GetReason(plain), "");
  google::rpc::Status rpc = ToRpcStatus(plain);
  EXPECT_EQ(rpc.code(), 5);
  EXPECT_EQ(rpc.message(), "x");
  EXPECT_EQ(rpc.details_size(), 0);
}

TEST(ErrorInfo, ASecondOneReplacesTheFirst) {
  absl::Status s = WithErrorInfo(absl::InternalError("x"),
                                 crm::v1::DATABASE_UNAVAILABLE);
  s = WithErrorInfo(s, crm::v1::CONCURRENT_MODIFICATION);
  EXPECT_EQ(GetReason(s), "CONCURRENT_MODIFICATION");
  EXPECT_EQ(ToRpcStatus(s).details_size(), 1);
}

TEST(BadRequest, KeepsEveryViolationFirstOneFirst) {
  BadRequestBuilder bad;
  EXPECT_TRUE(bad.Build().ok());
  bad.Add("account.display_name", "required");
  bad.Add("account.website",
          absl::InvalidArgumentError("account.website: 3000 bytes; the limit "
                                     "is 2048"));
  bad.Add("account.rating", absl::InvalidArgumentError("7 is not known"));
  absl::Status s = bad.Build();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "account.display_name: required (and 2 more: account.website: "
            "3000 bytes; the limit is 2048; account.rating: 7 is not known)");
  auto request = GetBadRequest(s);
  ASSERT_TRUE(request.has_value());
  ASSERT_EQ(request->field_violations_size(), 3);
  EXPECT_EQ(request->field_violations(0).field(), "account.display_name");
  EXPECT_EQ(request->field_violations(0).description(), "required");
  EXPECT_EQ(request->field_violations(1).field(), "account.website");
  EXPECT_EQ(request->field_violations(1).description(),
            "3000 bytes; the limit is 2048");
  EXPECT_EQ(request->field_violations(2).description(), "7 is not known");
  auto info = GetErrorInfo(s);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "INVALID_REQUEST");
  EXPECT_THAT(info->metadata(), ElementsAre(Pair("violations", "3")));
}

TEST(BadRequest, OneViolationIsJustItsText) {
  absl::Status s = BadRequestError({{"update_mask", "required"}});
  EXPECT_EQ(s.message(), "update_mask: required");
  BadRequestBuilder again;
  again.AddAll("ignored", s);
  again.Add("other", "bad");
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again.violations()[0].field, "update_mask");
}

TEST(StaleEtag, MessageAndDetails) {
  absl::Status s = StaleEtagError("accounts/42", "\"3\"", "\"4\"");
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(s.message(),
            "accounts/42 was changed since etag \"3\" (current: \"4\"); read "
            "it again and retry");
  auto info = GetErrorInfo(s);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "STALE_ETAG");
  EXPECT_EQ(info->metadata().at("current_etag"), "\"4\"");
  EXPECT_EQ(info->metadata().at("expected_etag"), "\"3\"");
  auto resource = GetResourceInfo(s);
  ASSERT_TRUE(resource.has_value());
  EXPECT_EQ(resource->resource_type(), "accounts");
  EXPECT_EQ(resource->resource_name(), "accounts/42");
}

TEST(RetryAndPrecondition, RoundTrip) {
  absl::Status s = WithRetryInfo(absl::UnavailableError("down"),
                                 absl::Milliseconds(1500));
  s = WithPreconditionFailure(
      s, {{"REFERENCED_BY", "roles/a", "x"}, {"REFERENCED_BY", "roles/b", ""}});
  auto retry = GetRetryInfo(s);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->retry_delay().seconds(), 1);
  EXPECT_EQ(retry->retry_delay().nanos(), 500000000);
  auto failure = GetPreconditionFailure(s);
  ASSERT_TRUE(failure.has_value());
  ASSERT_EQ(failure->violations_size(), 2);
  EXPECT_EQ(failure->violations(1).subject(), "roles/b");
}

TEST(RpcStatus, PacksInAFixedOrderAndRoundTrips) {
  absl::Status s = absl::UnavailableError("down");
  s = WithRetryInfo(s, absl::Seconds(1));
  s = WithErrorInfo(s, crm::v1::DATABASE_UNAVAILABLE,
                    {{"b", "2"}, {"a", "1"}, {"cause", "unavailable"}});
  s.SetPayload("urn:not-a-detail", absl::Cord("x"));
  google::rpc::Status rpc = ToRpcStatus(s);
  EXPECT_EQ(rpc.code(), 14);
  EXPECT_EQ(rpc.message(), "down");
  ASSERT_EQ(rpc.details_size(), 2);
  EXPECT_EQ(rpc.details(0).type_url(),
            "type.googleapis.com/google.rpc.ErrorInfo");
  EXPECT_EQ(rpc.details(1).type_url(),
            "type.googleapis.com/google.rpc.RetryInfo");
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "DATABASE_UNAVAILABLE");

  // Same status built in another order: the same bytes.
  absl::Status t = absl::UnavailableError("down");
  t = WithErrorInfo(t, crm::v1::DATABASE_UNAVAILABLE,
                    {{"cause", "unavailable"}, {"a", "1"}, {"b", "2"}});
  t = WithRetryInfo(t, absl::Seconds(1));
  EXPECT_EQ(SerializeRpcStatus(ToRpcStatus(t)), SerializeRpcStatus(rpc));

  absl::Status back = FromRpcStatus(rpc);
  EXPECT_EQ(back.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(back.message(), "down");
  EXPECT_EQ(GetReason(back), "DATABASE_UNAVAILABLE");
  EXPECT_TRUE(GetRetryInfo(back).has_value());
}

TEST(WithMessage, KeepsCodeAndDetails) {
  absl::Status s = WithErrorInfo(absl::AbortedError("conflict"),
                                 crm::v1::CONCURRENT_MODIFICATION);
  absl::Status t = WithMessage(s, "conflict (gave up after 5 attempts)");
  EXPECT_EQ(t.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(t.message(), "conflict (gave up after 5 attempts)");
  EXPECT_EQ(GetReason(t), "CONCURRENT_MODIFICATION");
}

}  // namespace
}  // namespace crm::base
