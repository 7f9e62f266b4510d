#include "clients/generic_call.h"

#include <grpcpp/completion_queue.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <string>
#include <vector>

#include "clients/descriptor_catalog.h"

namespace crm::client {

grpc::Status CallUnary(grpc::GenericStub& stub, grpc::ClientContext* context,
                       const google::protobuf::MethodDescriptor* method,
                       const google::protobuf::Message& request,
                       google::protobuf::Message* response) {
  if (method->client_streaming() || method->server_streaming()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        method->full_name() + " is a streaming method");
  }
  if (request.GetDescriptor()->full_name() !=
          method->input_type()->full_name() ||
      response->GetDescriptor()->full_name() !=
          method->output_type()->full_name()) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "message types do not match " + method->full_name());
  }
  std::string bytes;
  if (!request.SerializeToString(&bytes)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "cannot serialize the request");
  }
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::Status status;
  grpc::CompletionQueue cq;
  auto call =
      stub.PrepareUnaryCall(context, MethodPath(method), request_buffer, &cq);
  call->StartCall();
  int finish_tag = 0;
  call->Finish(&response_buffer, &status, &finish_tag);
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!status.ok()) return status;

  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "cannot read the reply");
  }
  std::string reply;
  for (const grpc::Slice& s : slices) {
    reply.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  if (!response->ParseFromString(reply)) {
    return grpc::Status(
        grpc::StatusCode::INTERNAL,
        "cannot parse the reply as " + method->output_type()->full_name());
  }
  return grpc::Status::OK;
}

}  // namespace crm::client
