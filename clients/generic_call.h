// Unary calls by method descriptor with messages of any type (generated or
// dynamic), through grpc::GenericStub: the CLI's one path to every method.
#ifndef CRM_CLIENTS_GENERIC_CALL_H_
#define CRM_CLIENTS_GENERIC_CALL_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/status.h>

namespace crm::client {

// Calls unary `method` with `request` and blocks until it completes (bounded
// by the context's deadline). On OK, `*response` (whose type must be the
// method's output type) holds the reply. Streaming methods, mismatched
// message types or an unparseable reply fail with INVALID_ARGUMENT or
// INTERNAL without (or after) calling. Thread-safe as GenericStub is.
grpc::Status CallUnary(grpc::GenericStub& stub, grpc::ClientContext* context,
                       const google::protobuf::MethodDescriptor* method,
                       const google::protobuf::Message& request,
                       google::protobuf::Message* response);

}  // namespace crm::client

#endif  // CRM_CLIENTS_GENERIC_CALL_H_
