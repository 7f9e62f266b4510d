#include "base/error.h"

#include <algorithm>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace crm::base {
namespace {

absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

std::string TypeUrl(const google::protobuf::Message& m) {
  return absl::StrCat(kTypeUrlPrefix, m.GetDescriptor()->full_name());
}

template <typename M>
std::string TypeUrlOf() {
  return absl::StrCat(kTypeUrlPrefix, M::descriptor()->full_name());
}

std::string Deterministic(const google::protobuf::MessageLite& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

template <typename M>
std::optional<M> Get(const absl::Status& status) {
  auto payload = status.GetPayload(TypeUrlOf<M>());
  if (!payload.has_value()) return std::nullopt;
  M m;
  if (!m.ParseFromString(std::string(*payload))) return std::nullopt;
  return m;
}

bool IsDetailUrl(absl::string_view url) {
  return absl::StartsWith(url, kTypeUrlPrefix);
}

}  // namespace

std::string ReasonName(crm::v1::ErrorReason reason) {
  return crm::v1::ErrorReason_Name(reason);
}

absl::Status WithDetail(absl::Status status,
                        const google::protobuf::Message& detail) {
  if (status.ok()) return status;
  status.SetPayload(TypeUrl(detail), absl::Cord(Deterministic(detail)));
  return status;
}

absl::Status WithErrorInfo(absl::Status status, crm::v1::ErrorReason reason,
                           ErrorMetadata metadata) {
  google::rpc::ErrorInfo info;
  info.set_reason(ReasonName(reason));
  info.set_domain(kErrorDomain);
  for (auto& [key, value] : metadata) {
    (*info.mutable_metadata())[key] = std::move(value);
  }
  return WithDetail(std::move(status), info);
}

absl::Status WithRetryInfo(absl::Status status, absl::Duration delay) {
  if (delay < absl::ZeroDuration()) delay = absl::ZeroDuration();
  google::rpc::RetryInfo info;
  const int64_t seconds = absl::IDivDuration(delay, absl::Seconds(1), &delay);
  info.mutable_retry_delay()->set_seconds(seconds);
  info.mutable_retry_delay()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(delay)));
  return WithDetail(std::move(status), info);
}

absl::Status WithResourceInfo(absl::Status status,
                              std::string_view resource_type,
                              std::string_view resource_name) {
  google::rpc::ResourceInfo info;
  info.set_resource_type(std::string(resource_type));
  info.set_resource_name(std::string(resource_name));
  return WithDetail(std::move(status), info);
}

absl::Status WithPreconditionFailure(
    absl::Status status, const std::vector<PreconditionViolation>& violations) {
  google::rpc::PreconditionFailure failure;
  for (const PreconditionViolation& v : violations) {
    auto* out = failure.add_violations();
    out->set_type(v.type);
    out->set_subject(v.subject);
    out->set_description(v.description);
  }
  return WithDetail(std::move(status), failure);
}

absl::Status WithMessage(const absl::Status& status, std::string_view message) {
  if (status.ok()) return status;
  absl::Status out(status.code(), Sv(message));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) {
        out.SetPayload(url, payload);
      });
  return out;
}

void BadRequestBuilder::Add(std::string field, std::string description) {
  violations_.push_back({std::move(field), std::move(description)});
}

void BadRequestBuilder::SetReason(crm::v1::ErrorReason reason,
                                  ErrorMetadata metadata) {
  if (reason_ != crm::v1::ERROR_REASON_UNSPECIFIED) return;
  reason_ = reason;
  reason_metadata_ = std::move(metadata);
}

void BadRequestBuilder::AdoptReason(const absl::Status& status) {
  std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(status);
  crm::v1::ErrorReason reason;
  if (!info.has_value() || info->domain() != kErrorDomain ||
      !crm::v1::ErrorReason_Parse(info->reason(), &reason) ||
      reason == crm::v1::INVALID_REQUEST) {
    return;
  }
  ErrorMetadata metadata(info->metadata().begin(), info->metadata().end());
  metadata.erase("violations");
  SetReason(reason, std::move(metadata));
}

void BadRequestBuilder::Add(std::string field, const absl::Status& status) {
  if (status.ok()) return;
  AdoptReason(status);
  absl::string_view text = status.message();
  const std::string prefix = absl::StrCat(field, ": ");
  if (absl::StartsWith(text, prefix)) text.remove_prefix(prefix.size());
  Add(std::move(field), std::string(text));
}

void BadRequestBuilder::AddAll(std::string field, const absl::Status& status) {
  if (status.ok()) return;
  AdoptReason(status);
  if (auto bad = GetBadRequest(status);
      bad.has_value() && bad->field_violations_size() > 0) {
    for (const auto& v : bad->field_violations()) {
      Add(v.field(), v.description());
    }
    return;
  }
  Add(std::move(field), status);
}

absl::Status BadRequestBuilder::Build() const {
  if (violations_.empty()) return absl::OkStatus();
  absl::Status status = BadRequestError(violations_);
  if (reason_ == crm::v1::ERROR_REASON_UNSPECIFIED) return status;
  ErrorMetadata metadata = reason_metadata_;
  metadata["violations"] = absl::StrCat(violations_.size());
  return WithErrorInfo(std::move(status), reason_, std::move(metadata));
}

absl::Status BadRequestError(const std::vector<FieldViolation>& violations) {
  if (violations.empty()) {
    return absl::InvalidArgumentError("the request is invalid");
  }
  auto text = [](const FieldViolation& v) {
    return v.field.empty() ? v.description
                           : absl::StrCat(v.field, ": ", v.description);
  };
  std::string message = text(violations[0]);
  if (violations.size() > 1) {
    std::vector<std::string> rest;
    for (size_t i = 1; i < violations.size(); ++i) {
      rest.push_back(text(violations[i]));
    }
    absl::StrAppend(&message, " (and ", rest.size(), " more: ",
                    absl::StrJoin(rest, "; "), ")");
  }
  google::rpc::BadRequest bad;
  for (const FieldViolation& v : violations) {
    auto* out = bad.add_field_violations();
    out->set_field(v.field);
    out->set_description(v.description);
  }
  absl::Status status = WithDetail(absl::InvalidArgumentError(message), bad);
  return WithErrorInfo(std::move(status), crm::v1::INVALID_REQUEST,
                       {{"violations", absl::StrCat(violations.size())}});
}

absl::Status StaleEtagError(std::string_view resource_name,
                            std::string_view expected_etag,
                            std::string_view current_etag) {
  absl::Status status = absl::AbortedError(absl::StrCat(
      Sv(resource_name), " was changed since etag ", Sv(expected_etag),
      " (current: ", Sv(current_etag), "); read it again and retry"));
  status = WithErrorInfo(std::move(status), crm::v1::STALE_ETAG,
                         {{"resource", std::string(resource_name)},
                          {"expected_etag", std::string(expected_etag)},
                          {"current_etag", std::string(current_etag)}});
  const std::string type(Sv(resource_name).substr(
      0, Sv(resource_name).find('/')));
  return WithResourceInfo(std::move(status), type, resource_name);
}

std::optional<google::rpc::ErrorInfo> GetErrorInfo(const absl::Status& status) {
  return Get<google::rpc::ErrorInfo>(status);
}
std::optional<google::rpc::BadRequest> GetBadRequest(
    const absl::Status& status) {
  return Get<google::rpc::BadRequest>(status);
}
std::optional<google::rpc::PreconditionFailure> GetPreconditionFailure(
    const absl::Status& status) {
  return Get<google::rpc::PreconditionFailure>(status);
}
std::optional<google::rpc::RetryInfo> GetRetryInfo(const absl::Status& status) {
  return Get<google::rpc::RetryInfo>(status);
}
std::optional<google::rpc::ResourceInfo> GetResourceInfo(
    const absl::Status& status) {
  return Get<google::rpc::ResourceInfo>(status);
}

std::string GetReason(const absl::Status& status) {
  auto info = GetErrorInfo(status);
  return info.has_value() ? info->reason() : std::string();
}

bool HasDetails(const absl::Status& status) {
  bool found = false;
  status.ForEachPayload([&found](absl::string_view url, const absl::Cord&) {
    found = found || IsDetailUrl(url);
  });
  return found;
}

google::rpc::Status ToRpcStatus(const absl::Status& status) {
  google::rpc::Status out;
  out.set_code(static_cast<int32_t>(status.code()));
  out.set_message(std::string(status.message()));
  const std::string known[] = {
      TypeUrlOf<google::rpc::ErrorInfo>(),
      TypeUrlOf<google::rpc::ResourceInfo>(),
      TypeUrlOf<google::rpc::BadRequest>(),
      TypeUrlOf<google::rpc::PreconditionFailure>(),
      TypeUrlOf<google::rpc::RetryInfo>(),
  };
  std::vector<std::pair<std::string, std::string>> others;
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    if (!IsDetailUrl(url)) return;
    if (std::find(std::begin(known), std::end(known), url) != std::end(known)) {
      return;
    }
    others.emplace_back(std::string(url), std::string(payload));
  });
  for (const std::string& url : known) {
    auto payload = status.GetPayload(url);
    if (!payload.has_value()) continue;
    auto* any = out.add_details();
    any->set_type_url(url);
    any->set_value(std::string(*payload));
  }
  std::sort(others.begin(), others.end());
  for (auto& [url, value] : others) {
    auto* any = out.add_details();
    any->set_type_url(url);
    any->set_value(std::move(value));
  }
  return out;
}

std::string SerializeRpcStatus(const google::rpc::Status& status) {
  return Deterministic(status);
}

absl::Status FromRpcStatus(const google::rpc::Status& status) {
  if (status.code() == 0) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.code()),
                   status.message());
  for (const auto& any : status.details()) {
    out.SetPayload(any.type_url(), absl::Cord(any.value()));
  }
  return out;
}

}  // namespace crm::base
