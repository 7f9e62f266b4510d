#include "server/parse_errors.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/error.h"
#include "server/status_util.h"

namespace crm::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

// The full name of the string field whose invalid UTF-8 failed the last
// parse on this thread (empty: none noted since the last POST_RECV_MESSAGE).
thread_local std::string utf8_field;

google::protobuf::LogHandler* previous_handler = nullptr;

// "String field 'crm.v1.Account.display_name' contains invalid UTF-8 data
// when parsing a protocol buffer. ..." (protobuf 3.21, wire_format_lite.cc
// PrintUTF8ErrorLog). Noted, not printed: the caller is told instead, and
// a client must not be able to fill the server's log with unstructured
// lines. Everything else goes to the handler installed before.
void NoteUtf8Errors(google::protobuf::LogLevel level, const char* filename,
                    int line, const std::string& message) {
  constexpr absl::string_view kStart = "String field '";
  constexpr absl::string_view kEnd =
      "' contains invalid UTF-8 data when parsing";
  if (absl::StartsWith(message, kStart)) {
    const size_t end = message.find(kEnd.data(), kStart.size(), kEnd.size());
    if (end != std::string::npos) {
      utf8_field = message.substr(kStart.size(), end - kStart.size());
      return;
    }
  }
  if (previous_handler != nullptr) {
    previous_handler(level, filename, line, message);
  }
}

void InstallLogHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    previous_handler = google::protobuf::SetLogHandler(&NoteUtf8Errors);
  });
}

// The path of the field named `full_name` inside `type` (breadth-first, at
// most a few levels), e.g. "account.display_name"; empty if none.
std::string FieldPath(const google::protobuf::Descriptor* type,
                      const std::string& full_name) {
  if (type == nullptr || full_name.empty()) return "";
  std::deque<std::pair<const google::protobuf::Descriptor*, std::string>> queue;
  queue.emplace_back(type, "");
  std::vector<const google::protobuf::Descriptor*> seen;
  while (!queue.empty()) {
    auto [message, prefix] = queue.front();
    queue.pop_front();
    if (std::find(seen.begin(), seen.end(), message) != seen.end()) continue;
    seen.push_back(message);
    for (int i = 0; i < message->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* field = message->field(i);
      const std::string path =
          prefix.empty() ? field->name() : absl::StrCat(prefix, ".", field->name());
      if (field->full_name() == full_name) return path;
      if (field->message_type() != nullptr && seen.size() < 64) {
        queue.emplace_back(field->message_type(), path);
      }
    }
  }
  return "";
}

// "/crm.v1.AccountService/CreateAccount" -> its request type.
const google::protobuf::Descriptor* RequestType(const std::string& method) {
  if (method.size() < 2 || method[0] != '/') return nullptr;
  std::string name = absl::StrReplaceAll(method.substr(1), {{"/", "."}});
  const google::protobuf::MethodDescriptor* m =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(name);
  return m == nullptr ? nullptr : m->input_type();
}

class ParseErrorInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit ParseErrorInterceptor(const char* method) : method_(method) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE)) {
      if (methods->GetRecvMessage() == nullptr) {
        parse_failed_ = true;
        field_ = FieldPath(RequestType(method_), utf8_field);
      }
      utf8_field.clear();
    }
    if (parse_failed_ && methods->QueryInterceptionHookPoint(
                             InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      if (status.error_code() == grpc::StatusCode::INTERNAL) {
        methods->ModifySendStatus(ToGrpcStatus(Refusal()));
      }
    }
    methods->Proceed();
  }

 private:
  absl::Status Refusal() const {
    std::string message =
        absl::StrCat("the request to ", method_, " ", kParseErrorMessage);
    if (!field_.empty()) {
      absl::StrAppend(&message, "; field ", field_, " holds invalid UTF-8");
    }
    absl::Status status = absl::InvalidArgumentError(message);
    base::ErrorMetadata metadata{{"method", method_}};
    if (!field_.empty()) {
      google::rpc::BadRequest bad;
      auto* v = bad.add_field_violations();
      v->set_field(field_);
      v->set_description(
          "invalid UTF-8 in a string field (send text as UTF-8, or binary "
          "data base64-encoded)");
      status = base::WithDetail(std::move(status), bad);
      metadata["violations"] = "1";
    }
    return base::WithErrorInfo(std::move(status), crm::v1::INVALID_REQUEST,
                               std::move(metadata));
  }

  const char* const method_;  // owned by gRPC, valid for the call
  bool parse_failed_ = false;
  std::string field_;  // path of the field that failed, if known
};

class ParseErrorInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // Client- and bidi-streaming calls read their messages in the handler,
    // which sees a failed Read and decides the status itself.
    if (info->type() ==
            grpc::experimental::ServerRpcInfo::Type::CLIENT_STREAMING ||
        info->type() ==
            grpc::experimental::ServerRpcInfo::Type::BIDI_STREAMING) {
      return nullptr;
    }
    return new ParseErrorInterceptor(info->method());
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewParseErrorInterceptorFactory() {
  InstallLogHandler();
  return std::make_unique<ParseErrorInterceptorFactory>();
}

}  // namespace crm::server
