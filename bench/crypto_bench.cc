// In-process micro-benchmarks of the primitives of encryption at rest
// (issue 13; crypto/): no server, no storage.
//
//   BM_Encrypt/N, BM_Decrypt/N  Keyring::Encrypt / Decrypt of an N-byte
//                     value with a "collection.field.record_id" AAD: 16
//                     bytes (a phone number) and 200 bytes
//   BM_DecryptTwoFields  what a Get of a record with two encrypted fields
//                     adds: two Decrypts of 16-byte values
//   BM_BlindIndex     BlindIndex of a 16-byte value (per write of an
//                     indexed field, and per equality filter)
//   BM_DeriveBlindIndexKey  HKDF, once per indexed field at start
//
// Results and the command: bench/README.md, "Encryption at rest: the
// primitives (issue 13)".
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "crypto/blind_index.h"
#include "crypto/keyring.h"
#include "crypto/master_key.h"

namespace crm::crypto {
namespace {

const Keyring& TheKeyring() {
  static const Keyring* const keyring = [] {
    absl::StatusOr<Keyring> k = Keyring::Generate();
    if (!k.ok()) abort();
    return new Keyring(*std::move(k));
  }();
  return *keyring;
}

std::string Value(size_t size) {
  std::string value = "+44 20 7946 0958";
  while (value.size() < size) value += value;
  return value.substr(0, size);
}

const std::string kAad = FieldAad("contacts", "personal_phone", "c000042");

void BM_Encrypt(benchmark::State& state) {
  const std::string plaintext = Value(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    absl::StatusOr<std::string> value = TheKeyring().Encrypt(plaintext, kAad);
    benchmark::DoNotOptimize(value);
  }
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(plaintext.size()));
}
BENCHMARK(BM_Encrypt)->Arg(16)->Arg(200);

void BM_Decrypt(benchmark::State& state) {
  const std::string value =
      *TheKeyring().Encrypt(Value(static_cast<size_t>(state.range(0))), kAad);
  for (auto _ : state) {
    absl::StatusOr<std::string> plaintext = TheKeyring().Decrypt(value, kAad);
    if (!plaintext.ok()) state.SkipWithError("decrypt failed");
    benchmark::DoNotOptimize(plaintext);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Decrypt)->Arg(16)->Arg(200);

void BM_DecryptTwoFields(benchmark::State& state) {
  const std::string aad_a = FieldAad("contacts", "personal_phone", "c000042");
  const std::string aad_b = FieldAad("contacts", "personal_email", "c000042");
  const std::string a = *TheKeyring().Encrypt(Value(16), aad_a);
  const std::string b = *TheKeyring().Encrypt("ada@example.com!", aad_b);
  for (auto _ : state) {
    absl::StatusOr<std::string> x = TheKeyring().Decrypt(a, aad_a);
    absl::StatusOr<std::string> y = TheKeyring().Decrypt(b, aad_b);
    benchmark::DoNotOptimize(x);
    benchmark::DoNotOptimize(y);
  }
}
BENCHMARK(BM_DecryptTwoFields);

void BM_BlindIndex(benchmark::State& state) {
  const MasterKey master = *MasterKey::Generate();
  const KeyBytes key = *DeriveBlindIndexKey(master, "contacts.email");
  const std::string value = Value(16);
  for (auto _ : state) {
    std::string index = BlindIndex(key, value);
    benchmark::DoNotOptimize(index);
  }
}
BENCHMARK(BM_BlindIndex);

void BM_DeriveBlindIndexKey(benchmark::State& state) {
  const MasterKey master = *MasterKey::Generate();
  for (auto _ : state) {
    absl::StatusOr<KeyBytes> key =
        DeriveBlindIndexKey(master, "contacts.email");
    benchmark::DoNotOptimize(key);
  }
}
BENCHMARK(BM_DeriveBlindIndexKey);

}  // namespace
}  // namespace crm::crypto

BENCHMARK_MAIN();
