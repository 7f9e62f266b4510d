// TEST ONLY (included by query/*_test.cc): a resource schema with one field
// of every kind, built from a descriptor at run time, because no API
// resource has a bool field.
//   widgets: flag bool, count int64, ratio double, label string,
//            color enum {COLOR_UNSPECIFIED, RED, GREEN, BLUE},
//            due_time Timestamp, secret string (sensitive)
#ifndef CRM_QUERY_TEST_SCHEMA_H_
#define CRM_QUERY_TEST_SCHEMA_H_

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "crm/v1/annotations.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "model/object_schema.h"

namespace crm::query::testing {

inline const model::ObjectSchema& WidgetSchema() {
  static const model::ObjectSchema* schema = [] {
    using google::protobuf::FieldDescriptorProto;
    // Make sure the dependencies are in the generated pool.
    google::protobuf::Timestamp::descriptor();
    crm::v1::FieldBehavior::descriptor();
    google::protobuf::FileDescriptorProto file;
    file.set_name("crm/querytest/widget.proto");
    file.set_package("crm.querytest");
    file.set_syntax("proto3");
    file.add_dependency("crm/v1/annotations.proto");
    file.add_dependency("google/protobuf/timestamp.proto");
    auto* msg = file.add_message_type();
    msg->set_name("Widget");
    msg->mutable_options()
        ->MutableExtension(crm::v1::resource)
        ->set_collection("widgets");
    msg->mutable_options()
        ->MutableExtension(crm::v1::resource)
        ->set_singular("widget");
    auto* color = msg->add_enum_type();
    color->set_name("Color");
    const char* colors[] = {"COLOR_UNSPECIFIED", "RED", "GREEN", "BLUE"};
    for (int i = 0; i < 4; ++i) {
      auto* v = color->add_value();
      v->set_name(colors[i]);
      v->set_number(i);
    }
    int number = 0;
    auto add = [&](const char* name, FieldDescriptorProto::Type type,
                   const char* type_name) {
      auto* f = msg->add_field();
      f->set_name(name);
      f->set_number(++number);
      f->set_label(FieldDescriptorProto::LABEL_OPTIONAL);
      f->set_type(type);
      if (type_name != nullptr) f->set_type_name(type_name);
      return f;
    };
    add("name", FieldDescriptorProto::TYPE_STRING, nullptr);
    add("etag", FieldDescriptorProto::TYPE_STRING, nullptr);
    add("create_time", FieldDescriptorProto::TYPE_MESSAGE,
        ".google.protobuf.Timestamp");
    add("update_time", FieldDescriptorProto::TYPE_MESSAGE,
        ".google.protobuf.Timestamp");
    add("owner", FieldDescriptorProto::TYPE_STRING, nullptr);
    add("source", FieldDescriptorProto::TYPE_STRING, nullptr);
    add("flag", FieldDescriptorProto::TYPE_BOOL, nullptr);
    add("count", FieldDescriptorProto::TYPE_INT64, nullptr);
    add("ratio", FieldDescriptorProto::TYPE_DOUBLE, nullptr);
    add("label", FieldDescriptorProto::TYPE_STRING, nullptr);
    add("color", FieldDescriptorProto::TYPE_ENUM,
        ".crm.querytest.Widget.Color");
    add("due_time", FieldDescriptorProto::TYPE_MESSAGE,
        ".google.protobuf.Timestamp");
    add("secret", FieldDescriptorProto::TYPE_STRING, nullptr)
        ->mutable_options()
        ->MutableExtension(crm::v1::field)
        ->set_sensitive(true);
    static auto* pool = new google::protobuf::DescriptorPool(
        google::protobuf::DescriptorPool::generated_pool());
    const google::protobuf::FileDescriptor* built = pool->BuildFile(file);
    if (built == nullptr) {
      fprintf(stderr, "fatal: cannot build the widget test schema\n");
      abort();
    }
    auto schema = model::ObjectSchema::FromDescriptor(built->message_type(0));
    if (!schema.ok()) {
      fprintf(stderr, "fatal: %s\n", schema.status().ToString().c_str());
      abort();
    }
    return schema->release();
  }();
  return *schema;
}

}  // namespace crm::query::testing

#endif  // CRM_QUERY_TEST_SCHEMA_H_
