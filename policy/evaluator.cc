#include "policy/evaluator.h"

#include "absl/strings/str_cat.h"

namespace crm::policy {

Evaluator::Evaluator(std::shared_ptr<const PolicySnapshot> snapshot,
                     Principal principal)
    : snapshot_(std::move(snapshot)), principal_(std::move(principal)) {}

Decision Evaluator::CheckObject(const model::ObjectSchema& schema,
                                Operation op) const {
  const std::string object_rule =
      absl::StrCat(schema.collection(), ":", OperationName(op));
  if (snapshot_ == nullptr) {
    return Decision::Deny("no-policy", "no access policy is loaded");
  }
  if (principal_.acting_for_user()) {
    // User access arrives with the profile/permission-set model; until then
    // acting for a user grants nothing (deny by default).
    return Decision::Deny(
        absl::StrCat("no-user-grant:", object_rule),
        absl::StrCat("user ", principal_.user_id, " has no permission to ",
                     OperationName(op), " ", schema.collection()));
  }
  ObjectPermissions p =
      snapshot_->ServicePermissions(principal_.service, schema.collection());
  if (!p.Allows(op)) {
    return Decision::Deny(
        absl::StrCat("no-grant:", object_rule),
        absl::StrCat("service ", principal_.service, " has no permission to ",
                     OperationName(op), " ", schema.collection()));
  }
  return Decision::Allow(
      absl::StrCat("service-grant:", principal_.service, ":", object_rule));
}

Decision Evaluator::CheckRecord(const model::ObjectSchema& schema, Operation op,
                                const model::Record& record) const {
  // A service acting as itself is an integration user: its object grant
  // covers every record of the object.
  return CheckObject(schema, op);
}

model::SqlFragment Evaluator::RecordFilter(const model::ObjectSchema& schema,
                                           Operation op) const {
  model::SqlFragment none;
  none.Append("1 = 0");
  if (!CheckObject(schema, op).allowed) return none;
  return {};
}

bool Evaluator::CanReadField(const model::ObjectSchema& schema,
                             const model::FieldSchema& field) const {
  if (field.sensitive) return false;
  return CheckObject(schema, Operation::kRead).allowed;
}

Decision Evaluator::CheckFieldWrite(const model::ObjectSchema& schema,
                                    const model::FieldSchema& field) const {
  if (field.sensitive) {
    return Decision::Deny(
        absl::StrCat("sensitive-field:", schema.collection(), ".", field.name),
        absl::StrCat("field ", schema.singular(), ".", field.name,
                     " is not writable by ", principal_.ResourceName()));
  }
  return Decision::Allow(absl::StrCat("field-default:", field.name));
}

}  // namespace crm::policy
