// Renders messages for people (aligned tables) and for programs (JSON).
#ifndef CRM_CLIENTS_OUTPUT_FORMAT_H_
#define CRM_CLIENTS_OUTPUT_FORMAT_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace crm::client {

// One field's value as text: enums by name, Timestamps in RFC 3339 (UTC),
// Durations like "90s", bytes C-escaped, other messages as compact JSON,
// repeated fields joined with ", ". Newlines and tabs are escaped so a value
// stays on one line.
std::string FormatFieldValue(const google::protobuf::Message& message,
                             const google::protobuf::FieldDescriptor* field);

// True if the field holds its default (proto3 "unset") value.
bool IsEmptyField(const google::protobuf::Message& message,
                  const google::protobuf::FieldDescriptor* field);

// Left-aligned columns separated by two spaces; the last column is not
// padded. Every row has header.size() cells.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// One record as FIELD/VALUE rows: "name" first, then every non-empty field
// in declaration order.
std::string FormatRecord(const google::protobuf::Message& record);

// The list columns for records of `type`: name, then up to 5 fields that are
// not standard resource fields (etag, create_time, update_time, owner,
// source), preferring those non-empty in some record, then owner.
std::vector<const google::protobuf::FieldDescriptor*> ListColumns(
    const google::protobuf::Descriptor* type,
    const std::vector<const google::protobuf::Message*>& records);

// Records as a table with ListColumns (values cut to 48 characters), then
// "next_page_token: T" if `next_page_token` is not empty. With no records,
// "(no records)".
std::string FormatList(
    const google::protobuf::Descriptor* type,
    const std::vector<const google::protobuf::Message*>& records,
    const std::string& next_page_token);

// Indented JSON with proto field names (MessageToJsonString with
// preserve_proto_field_names), ending with a newline.
absl::StatusOr<std::string> FormatJson(
    const google::protobuf::Message& message);

}  // namespace crm::client

#endif  // CRM_CLIENTS_OUTPUT_FORMAT_H_
