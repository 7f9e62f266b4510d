#include "crypto/keyring.h"

#include <openssl/crypto.h>

#include <functional>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crypto/base64url.h"
#include "crypto/primitives.h"

namespace crm::crypto {

struct Keyring::State {
  std::map<std::string, DataKey, std::less<>> keys;
  const DataKey* current = nullptr;  // points into keys
};

namespace {

constexpr absl::string_view kEncryptedPrefix = "enc:";
constexpr absl::string_view kV1Prefix = "enc:v1:";
// base64url of a nonce and a tag: the shortest payload (empty plaintext).
constexpr size_t kMinPayloadChars = ((kGcmNonceSize + kGcmTagSize) * 4 + 2) / 3;

struct Parsed {
  absl::string_view header;  // "enc:v1:<key id>:", authenticated
  absl::string_view key_id;
  absl::string_view payload;  // base64url
};

std::optional<Parsed> Parse(absl::string_view value) {
  if (!absl::StartsWith(value, kV1Prefix)) return std::nullopt;
  const size_t colon = value.find(':', kV1Prefix.size());
  if (colon == absl::string_view::npos) return std::nullopt;
  Parsed p;
  p.header = value.substr(0, colon + 1);
  p.key_id = value.substr(kV1Prefix.size(), colon - kV1Prefix.size());
  p.payload = value.substr(colon + 1);
  if (!IsValidKeyId(p.key_id) || p.payload.size() < kMinPayloadChars) {
    return std::nullopt;
  }
  return p;
}

// What an error message may say about where the value is stored: the
// AAD's "collection.field", never the record id.
std::string Where(absl::string_view aad) {
  const size_t first = aad.find('.');
  const size_t second =
      first == absl::string_view::npos ? first : aad.find('.', first + 1);
  if (second == absl::string_view::npos) return "a field value";
  return absl::StrCat("the value of ", aad.substr(0, second));
}

}  // namespace

Keyring::Keyring(std::shared_ptr<const State> state)
    : state_(std::move(state)) {}

absl::StatusOr<Keyring> Keyring::Create(std::vector<DataKey> keys,
                                        absl::string_view current_id) {
  auto state = std::make_shared<State>();
  for (DataKey& key : keys) {
    if (!IsValidKeyId(key.id)) {
      return absl::InvalidArgumentError(
          "data key id must be 1 to 32 characters of [A-Za-z0-9_-]");
    }
    const std::string id = key.id;
    if (!state->keys.emplace(id, std::move(key)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("data key ", id, " is in the keyring twice"));
    }
  }
  auto current = state->keys.find(current_id);
  if (current == state->keys.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the current data key ", current_id, " is not among the keys"));
  }
  state->current = &current->second;
  return Keyring(std::move(state));
}

absl::StatusOr<Keyring> Keyring::Generate() {
  absl::StatusOr<DataKey> key = DataKey::Generate();
  if (!key.ok()) return key.status();
  const std::string id = key->id;
  std::vector<DataKey> keys;
  keys.push_back(*std::move(key));
  return Create(std::move(keys), id);
}

absl::StatusOr<Keyring> Keyring::Unwrap(const MasterKey& master,
                                        const std::vector<WrappedDataKey>& keys,
                                        absl::string_view current_id) {
  std::vector<DataKey> unwrapped;
  unwrapped.reserve(keys.size());
  for (const WrappedDataKey& key : keys) {
    absl::StatusOr<DataKey> k = UnwrapDataKey(master, key.id, key.wrapped);
    if (!k.ok()) return k.status();
    unwrapped.push_back(*std::move(k));
  }
  return Create(std::move(unwrapped), current_id);
}

const std::string& Keyring::current_key_id() const {
  return state_->current->id;
}

const DataKey& Keyring::current_key() const { return *state_->current; }

std::vector<std::string> Keyring::key_ids() const {
  std::vector<std::string> ids;
  for (const auto& entry : state_->keys) ids.push_back(entry.first);
  return ids;
}

bool Keyring::HasKey(absl::string_view id) const {
  return state_->keys.find(id) != state_->keys.end();
}

absl::StatusOr<std::string> Keyring::Encrypt(absl::string_view plaintext,
                                             absl::string_view aad) const {
  const DataKey& key = *state_->current;
  unsigned char nonce_bytes[kGcmNonceSize];
  if (absl::Status s = RandomBytes(nonce_bytes, sizeof(nonce_bytes)); !s.ok()) {
    return s;
  }
  const absl::string_view nonce(reinterpret_cast<char*>(nonce_bytes),
                                sizeof(nonce_bytes));
  std::string sealed;
  sealed.reserve(kGcmNonceSize + plaintext.size() + kGcmTagSize);
  sealed.append(nonce.data(), nonce.size());
  std::string out = absl::StrCat(kV1Prefix, key.id, ":");
  const size_t header_size = out.size();
  if (absl::Status s = AesGcmSeal(key.key, nonce, plaintext,
                                  {absl::string_view(out), aad}, &sealed);
      !s.ok()) {
    return s;
  }
  out.reserve(header_size + (sealed.size() * 4 + 2) / 3);
  AppendBase64Url(sealed, &out);
  return out;
}

absl::StatusOr<std::string> Keyring::Decrypt(absl::string_view value,
                                             absl::string_view aad) const {
  const std::optional<Parsed> parsed = Parse(value);
  if (!parsed.has_value()) {
    if (!absl::StartsWith(value, kEncryptedPrefix)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(aad), " is not an encrypted value"));
    }
    return absl::DataLossError(absl::StrCat(
        Where(aad),
        " is a malformed encrypted value (expected "
        "enc:v1:<key id>:<base64url>); it was altered or truncated"));
  }
  const auto key = state_->keys.find(parsed->key_id);
  if (key == state_->keys.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        Where(aad), " is encrypted under data key ", parsed->key_id,
        ", which is not in the keyring (current key ", state_->current->id,
        "): the key was removed, or the value comes from another "
        "database"));
  }
  std::string sealed;
  std::string plaintext;
  if (!DecodeBase64Url(parsed->payload, &sealed) ||
      sealed.size() < kGcmNonceSize + kGcmTagSize ||
      !AesGcmOpen(key->second.key,
                  absl::string_view(sealed).substr(0, kGcmNonceSize),
                  absl::string_view(sealed).substr(kGcmNonceSize),
                  {parsed->header, aad}, &plaintext)) {
    return absl::DataLossError(absl::StrCat(
        Where(aad), " (data key ", parsed->key_id,
        ") does not authenticate: it was altered or truncated, or copied "
        "from another record or field"));
  }
  return plaintext;
}

bool Keyring::NeedsReencryption(absl::string_view value) const {
  const std::optional<absl::string_view> id = EncryptedKeyId(value);
  return !id.has_value() || *id != state_->current->id;
}

absl::StatusOr<Keyring> Keyring::WithNewCurrentKey() const {
  absl::StatusOr<DataKey> key = DataKey::Generate();
  if (!key.ok()) return key.status();
  return WithCurrentKey(*std::move(key));
}

absl::StatusOr<Keyring> Keyring::WithCurrentKey(DataKey key) const {
  if (!IsValidKeyId(key.id)) {
    return absl::InvalidArgumentError(
        "data key id must be 1 to 32 characters of [A-Za-z0-9_-]");
  }
  if (HasKey(key.id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("data key ", key.id, " is already in the keyring"));
  }
  std::vector<DataKey> keys;
  keys.reserve(state_->keys.size() + 1);
  for (const auto& entry : state_->keys) keys.push_back(entry.second);
  const std::string id = key.id;
  keys.push_back(std::move(key));
  return Create(std::move(keys), id);
}

bool IsEncrypted(absl::string_view value) { return Parse(value).has_value(); }

std::optional<absl::string_view> EncryptedKeyId(absl::string_view value) {
  std::optional<Parsed> parsed = Parse(value);
  if (!parsed.has_value()) return std::nullopt;
  return parsed->key_id;
}

std::string FieldAad(absl::string_view collection, absl::string_view field,
                     absl::string_view record_id) {
  return absl::StrCat(collection, ".", field, ".", record_id);
}

}  // namespace crm::crypto
