#include "store/audit_json.h"

#include <cstdio>
#include <string>

#include "google/protobuf/util/json_util.h"

namespace crm::store {
namespace {

void AppendString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out->append(buf);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// A reader of the shapes AuditPartJson writes. Every method returns false
// on anything else; the caller then falls back to protobuf.
class Reader {
 public:
  explicit Reader(absl::string_view text) : s_(text) {}

  bool Part(crm::v1::AuditEvent* out) {
    if (!Consume('{')) return false;
    if (Consume('}')) return AtEnd();
    bool seen_changes = false, seen_attributes = false;
    for (;;) {
      std::string key;
      if (!String(&key) || !Consume(':')) return false;
      if (key == "changes" && !seen_changes) {
        seen_changes = true;
        if (!Changes(out)) return false;
      } else if (key == "attributes" && !seen_attributes) {
        seen_attributes = true;
        if (!Attributes(out)) return false;
      } else {
        return false;
      }
      if (Consume('}')) return AtEnd();
      if (!Consume(',')) return false;
    }
  }

 private:
  bool Changes(crm::v1::AuditEvent* out) {
    if (!Consume('[')) return false;
    if (Consume(']')) return true;
    for (;;) {
      crm::v1::AuditFieldChange* c = out->add_changes();
      if (!Change(c)) return false;
      if (Consume(']')) return true;
      if (!Consume(',')) return false;
    }
  }

  bool Change(crm::v1::AuditFieldChange* c) {
    if (!Consume('{')) return false;
    if (Consume('}')) return true;
    unsigned seen = 0;
    for (;;) {
      std::string key;
      if (!String(&key) || !Consume(':')) return false;
      unsigned bit = 0;
      if (key == "field") {
        bit = 1;
        if (!String(c->mutable_field())) return false;
      } else if (key == "before") {
        bit = 2;
        if (!String(c->mutable_before())) return false;
      } else if (key == "after") {
        bit = 4;
        if (!String(c->mutable_after())) return false;
      } else if (key == "values_recorded" || key == "valuesRecorded") {
        bit = 8;
        bool v = false;
        if (!Bool(&v)) return false;
        c->set_values_recorded(v);
      } else {
        return false;
      }
      if (seen & bit) return false;  // a repeated key: protobuf decides
      seen |= bit;
      if (Consume('}')) return true;
      if (!Consume(',')) return false;
    }
  }

  bool Attributes(crm::v1::AuditEvent* out) {
    if (!Consume('{')) return false;
    if (Consume('}')) return true;
    auto& map = *out->mutable_attributes();
    for (;;) {
      std::string key, value;
      if (!String(&key) || !Consume(':') || !String(&value)) return false;
      if (!map.insert({std::move(key), std::move(value)}).second) {
        return false;  // a repeated key: protobuf decides
      }
      if (Consume('}')) return true;
      if (!Consume(',')) return false;
    }
  }

  // A string with the simple escapes only (no \u).
  bool String(std::string* out) {
    Space();
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    ++i_;
    out->clear();
    for (;;) {
      size_t start = i_;
      while (i_ < s_.size() && s_[i_] != '"' && s_[i_] != '\\' &&
             static_cast<unsigned char>(s_[i_]) >= 0x20) {
        ++i_;
      }
      out->append(s_.data() + start, i_ - start);
      if (i_ >= s_.size()) return false;
      const char c = s_[i_++];
      if (c == '"') return true;
      if (c != '\\' || i_ >= s_.size()) return false;  // a raw control char
      switch (s_[i_++]) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        default:
          return false;  // \u and anything else: protobuf
      }
    }
  }

  bool Bool(bool* v) {
    Space();
    if (s_.substr(i_, 4) == "true") {
      i_ += 4;
      *v = true;
      return true;
    }
    if (s_.substr(i_, 5) == "false") {
      i_ += 5;
      *v = false;
      return true;
    }
    return false;
  }

  void Space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' ||
                              s_[i_] == '\r' || s_[i_] == '\t')) {
      ++i_;
    }
  }
  bool Consume(char c) {
    Space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool AtEnd() {
    Space();
    return i_ == s_.size();
  }

  absl::string_view s_;
  size_t i_ = 0;
};

}  // namespace

std::string AuditPartJson(const crm::v1::AuditEvent& event, bool changes) {
  std::string out;
  if (changes) {
    if (event.changes_size() == 0) return out;
    out.append("{\"changes\":[");
    bool first = true;
    for (const crm::v1::AuditFieldChange& c : event.changes()) {
      out.append(first ? "{" : ",{");
      first = false;
      bool any = false;
      auto field = [&](const char* name) {
        out.append(any ? ",\"" : "\"");
        out.append(name);
        out.append("\":");
        any = true;
      };
      if (!c.field().empty()) {
        field("field");
        AppendString(c.field(), &out);
      }
      if (c.has_before()) {
        field("before");
        AppendString(c.before(), &out);
      }
      if (c.has_after()) {
        field("after");
        AppendString(c.after(), &out);
      }
      if (c.values_recorded()) {
        field("values_recorded");
        out.append("true");
      }
      out.push_back('}');
    }
    out.append("]}");
    return out;
  }
  if (event.attributes_size() == 0) return out;
  out.append("{\"attributes\":{");
  bool first = true;
  for (const auto& [key, value] : event.attributes()) {
    if (!first) out.push_back(',');
    first = false;
    AppendString(key, &out);
    out.push_back(':');
    AppendString(value, &out);
  }
  out.append("}}");
  return out;
}

void MergeAuditPartJson(absl::string_view json, crm::v1::AuditEvent* event) {
  if (json.empty()) return;
  crm::v1::AuditEvent part;
  if (!Reader(json).Part(&part)) {
    part.Clear();
    if (!google::protobuf::util::JsonStringToMessage(
            std::string(json), &part).ok()) {
      return;
    }
  }
  event->MergeFrom(part);
}

}  // namespace crm::store
