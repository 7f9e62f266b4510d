// Requests that cannot be parsed are the caller's error: INVALID_ARGUMENT.
//
// gRPC 1.51 parses a request before any handler runs and, when protobuf
// refuses the bytes (a proto3 string field holding invalid UTF-8, a
// truncated or malformed message), answers INTERNAL with
// InitializationErrorString() as the message - always empty for proto3
// (grpcpp/impl/codegen/proto_utils.h, GenericDeserialize). Clients then see
// an empty server error they cannot act on, and monitoring counts the
// caller's mistake as a server fault.
//
// The interceptor made by NewParseErrorInterceptorFactory notices the failed
// parse (gRPC hands interceptors a null request message at POST_RECV_MESSAGE
// when deserialization failed) and rewrites the INTERNAL status gRPC then
// sends into INVALID_ARGUMENT naming the method (kParseErrorMessage). Only
// such calls are touched: a handler never runs for them, so no status of
// ours is ever rewritten. Covers every unary and server-streaming method of
// the server (CRM, admin); gRPC's health service parses its requests itself
// (INVALID_ARGUMENT "could not parse request"), and streaming reads
// (reflection) report their own errors.
//
// Stateless factory; one interceptor per call, used by that call only.
#ifndef CRM_SERVER_PARSE_ERRORS_H_
#define CRM_SERVER_PARSE_ERRORS_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>

namespace crm::server {

// Follows "the request to METHOD " in the message of a rewritten status.
inline constexpr char kParseErrorMessage[] =
    "could not be parsed: a string field holds invalid UTF-8 or the message "
    "is malformed (send a valid serialized request of the method's type)";

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewParseErrorInterceptorFactory();

}  // namespace crm::server

#endif  // CRM_SERVER_PARSE_ERRORS_H_
