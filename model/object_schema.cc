#include "model/object_schema.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "crm/v1/annotations.pb.h"
#include "crm/v1/resources.pb.h"

namespace crm::model {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

absl::StatusOr<FieldKind> KindOf(const FieldDescriptor* f) {
  if (f->is_repeated() || f->is_map()) {
    return absl::InvalidArgumentError(
        absl::StrCat(f->full_name(), ": repeated fields cannot be stored"));
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      if (f->type() == FieldDescriptor::TYPE_BYTES) break;
      return FieldKind::kString;
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
      return FieldKind::kInt64;
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      return FieldKind::kDouble;
    case FieldDescriptor::CPPTYPE_BOOL:
      return FieldKind::kBool;
    case FieldDescriptor::CPPTYPE_ENUM:
      return FieldKind::kEnum;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (f->message_type()->full_name() == "google.protobuf.Timestamp") {
        return FieldKind::kTimestamp;
      }
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      f->full_name(), ": type ", f->type_name(), " cannot be stored"));
}

bool IsIdentifier(absl::string_view s) {
  if (s.empty() || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z'))) return false;
  for (char c : s) {
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool IsConsentChannel(absl::string_view channel) {
  for (const char* c : kConsentChannels) {
    if (channel == c) return true;
  }
  return false;
}

bool IsConsentPurpose(absl::string_view purpose) {
  if (purpose.empty() || purpose.size() > 64) return false;
  for (char c : purpose) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::unique_ptr<ObjectSchema>> ObjectSchema::FromDescriptor(
    const Descriptor* descriptor, Use use) {
  const auto& res = descriptor->options().GetExtension(crm::v1::resource);
  if (res.collection().empty() || !IsIdentifier(res.collection())) {
    return absl::InvalidArgumentError(absl::StrCat(
        descriptor->full_name(), ": missing or invalid (crm.v1.resource)"));
  }
  std::unique_ptr<ObjectSchema> schema(new ObjectSchema());
  schema->collection_ = res.collection();
  schema->singular_ = res.singular();
  schema->consent_subject_ = res.consent_subject();
  schema->descriptor_ = descriptor;
  for (const char* standard :
       {"name", "etag", "create_time", "update_time", "owner", "source"}) {
    if (use == Use::kFilterColumns) break;
    if (descriptor->FindFieldByName(standard) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          descriptor->full_name(), ": missing standard field ", standard));
    }
  }
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* f = descriptor->field(i);
    if (f->name() == "name" || f->name() == "etag") continue;
    if (!IsIdentifier(f->name()) || f->name() == "id" || f->name() == "version") {
      return absl::InvalidArgumentError(
          absl::StrCat(f->full_name(), ": field name cannot be a column"));
    }
    absl::StatusOr<FieldKind> kind = KindOf(f);
    if (!kind.ok()) return kind.status();
    const auto& behavior = f->options().GetExtension(crm::v1::field);
    FieldSchema fs;
    fs.name = f->name();
    fs.kind = *kind;
    fs.descriptor = f;
    fs.output_only = behavior.output_only();
    fs.required = behavior.required();
    fs.immutable = behavior.immutable();
    fs.sensitive = behavior.sensitive();
    fs.blind_index = behavior.blind_index();
    fs.consent_channel = behavior.consent_channel();
    if (!fs.consent_channel.empty() &&
        (!res.consent_subject() || !IsConsentChannel(fs.consent_channel))) {
      return absl::InvalidArgumentError(absl::StrCat(
          f->full_name(), ": consent_channel '", fs.consent_channel,
          "' needs a consent_subject resource and one of email, phone, sms, "
          "post"));
    }
    if (fs.blind_index && !fs.sensitive) {
      return absl::InvalidArgumentError(absl::StrCat(
          f->full_name(), ": blind_index needs sensitive (an index of a "
          "plaintext column would only leak)"));
    }
    if (fs.sensitive && fs.kind != FieldKind::kString) {
      // Encrypted at rest: only a text column can hold the ciphertext.
      return absl::InvalidArgumentError(absl::StrCat(
          f->full_name(), ": only string fields can be sensitive"));
    }
    if (behavior.max_length() > 0) fs.max_length = behavior.max_length();
    fs.references.assign(behavior.references().begin(),
                         behavior.references().end());
    schema->index_.emplace(fs.name, static_cast<int>(schema->fields_.size()));
    schema->fields_.push_back(std::move(fs));
  }
  for (const FieldSchema& fs : schema->fields_) {
    if (fs.blind_index && schema->FieldIndex(BlindIndexColumn(fs)) >= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(descriptor->full_name(), ": field ",
                       BlindIndexColumn(fs), " collides with the blind index "
                       "column of ", fs.name));
    }
  }
  return schema;
}

std::string BlindIndexColumn(const FieldSchema& field) {
  return absl::StrCat(field.name, "_bidx");
}

std::string BlindIndexInput(absl::string_view value) {
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(value));
}

int ObjectSchema::FieldIndex(absl::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? -1 : it->second;
}

const FieldSchema* ObjectSchema::FindField(absl::string_view name) const {
  int i = FieldIndex(name);
  return i < 0 ? nullptr : &fields_[i];
}

std::string ObjectSchema::ResourceName(absl::string_view id) const {
  return absl::StrCat(collection_, "/", id);
}

const SchemaRegistry& SchemaRegistry::Default() {
  static const SchemaRegistry* registry = [] {
    auto* r = new SchemaRegistry();
    // Force-link every resource message, then walk the file's messages.
    const google::protobuf::FileDescriptor* file =
        crm::v1::Account::descriptor()->file();
    for (int i = 0; i < file->message_type_count(); ++i) {
      const Descriptor* d = file->message_type(i);
      if (!d->options().HasExtension(crm::v1::resource)) continue;
      auto schema = ObjectSchema::FromDescriptor(d);
      if (!schema.ok()) {
        fprintf(stderr, "fatal: %s\n", schema.status().ToString().c_str());
        abort();
      }
      std::string collection = (*schema)->collection();
      r->by_collection_.emplace(std::move(collection), *std::move(schema));
    }
    return r;
  }();
  return *registry;
}

const ObjectSchema* SchemaRegistry::Find(absl::string_view collection) const {
  auto it = by_collection_.find(collection);
  return it == by_collection_.end() ? nullptr : it->second.get();
}

const ObjectSchema* SchemaRegistry::FindByMessage(
    const Descriptor* descriptor) const {
  for (const auto& [name, schema] : by_collection_) {
    if (schema->descriptor() == descriptor) return schema.get();
  }
  return nullptr;
}

std::vector<const ObjectSchema*> SchemaRegistry::All() const {
  std::vector<const ObjectSchema*> out;
  for (const auto& [name, schema] : by_collection_) out.push_back(schema.get());
  return out;
}

}  // namespace crm::model
