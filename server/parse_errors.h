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
// sends into INVALID_ARGUMENT naming the method (kParseErrorMessage), with
// ErrorInfo INVALID_REQUEST {method} and, when the field is known, a
// google.rpc.BadRequest naming it (proto/crm/v1/errors.proto). Only
// such calls are touched: a handler never runs for them, so no status of
// ours is ever rewritten. Covers every unary and server-streaming method of
// the server (CRM, admin); gRPC's health service parses its requests itself
// (INVALID_ARGUMENT "could not parse request"), and streaming reads
// (reflection) report their own errors.
//
// Which field. gRPC 1.51 gives interceptors no access to the request's bytes:
// the sync server deserializes into the request message and clears the
// byte buffer before POST_RECV_MESSAGE (GenericDeserialize calls
// buffer->Clear()), and a failed parse leaves only a null message. So the
// bytes cannot be re-parsed field by field. What remains is protobuf's own
// report: a proto3 string field with invalid UTF-8 makes the generated
// parser log "String field 'crm.v1.Account.display_name' contains invalid
// UTF-8 data when parsing ..." through google::protobuf's log handler, on the
// thread that parses, which for the sync server is the thread that then runs
// this interceptor. The factory installs a log handler (once per process;
// every other protobuf log line goes to the handler that was installed
// before) that notes that field name per thread, and the interceptor maps it
// to a path in the method's request type ("account.display_name", the first
// path by breadth-first search if the type occurs more than once). Limits:
//   - only invalid UTF-8 is tied to a field; a truncated or malformed message
//     (bad tag, endless varint, wrong wire type) has no field to name and
//     gets ErrorInfo without BadRequest;
//   - an unknown enum number is not a parse error in proto3 (enums are open):
//     it arrives in the handler, and model/validation.cc reports it with the
//     field's name in a BadRequest;
//   - the noted name is used only if it is a field reachable from the
//     method's request type, so a stale note from other parsing on the same
//     thread cannot name a field of another message.
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
