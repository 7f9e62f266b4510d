#include "auth/password_hasher.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace crm::auth {
namespace {

// Tiny costs keep the tests fast; production defaults are tested once.
constexpr PasswordHashParams kFast{1, 8, 1};

TEST(PasswordHasher, RoundTrip) {
  absl::StatusOr<std::string> hash = HashPassword("correct horse", kFast);
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_TRUE(absl::StartsWith(*hash, "$argon2id$v=19$m=8,t=1,p=1$")) << *hash;
  EXPECT_TRUE(VerifyPassword("correct horse", *hash));
  EXPECT_FALSE(VerifyPassword("correct horse ", *hash));
  EXPECT_FALSE(VerifyPassword("Correct horse", *hash));
  EXPECT_FALSE(VerifyPassword("", *hash));
}

TEST(PasswordHasher, SaltMakesEachHashDifferent) {
  absl::StatusOr<std::string> a = HashPassword("same", kFast);
  absl::StatusOr<std::string> b = HashPassword("same", kFast);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(VerifyPassword("same", *a));
  EXPECT_TRUE(VerifyPassword("same", *b));
}

TEST(PasswordHasher, ProductionDefaults) {
  PasswordHashParams defaults;
  EXPECT_EQ(defaults.t_cost, 3u);
  EXPECT_EQ(defaults.m_cost_kib, 65536u);
  EXPECT_EQ(defaults.parallelism, 1u);
  absl::StatusOr<std::string> hash = HashPassword("pw", defaults);
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_TRUE(absl::StartsWith(*hash, "$argon2id$v=19$m=65536,t=3,p=1$"));
  EXPECT_TRUE(VerifyPassword("pw", *hash));
}

TEST(PasswordHasher, RejectsEmptyAndOverlongPasswords) {
  struct Case {
    std::string password;
    bool ok;
  } cases[] = {
      {"", false},
      {std::string(kMaxPasswordBytes, 'a'), true},
      {std::string(kMaxPasswordBytes + 1, 'a'), false},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> hash = HashPassword(c.password, kFast);
    EXPECT_EQ(hash.ok(), c.ok) << "length " << c.password.size() << ": "
                               << hash.status();
    if (!c.ok) {
      EXPECT_EQ(hash.status().code(), absl::StatusCode::kInvalidArgument);
    } else {
      EXPECT_TRUE(VerifyPassword(c.password, *hash));
    }
  }
}

TEST(PasswordHasher, RejectsBadParams) {
  for (PasswordHashParams p : {PasswordHashParams{0, 8, 1},
                               PasswordHashParams{1, 4, 1},
                               PasswordHashParams{1, 8, 0}}) {
    absl::StatusOr<std::string> hash = HashPassword("pw", p);
    EXPECT_EQ(hash.status().code(), absl::StatusCode::kInvalidArgument)
        << p.t_cost << "/" << p.m_cost_kib << "/" << p.parallelism;
  }
}

TEST(PasswordHasher, MalformedHashesNeverVerify) {
  absl::StatusOr<std::string> good = HashPassword("pw", kFast);
  ASSERT_TRUE(good.ok());
  std::string truncated = good->substr(0, good->size() - 5);
  std::string flipped = *good;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  std::string argon2i = *good;
  argon2i.replace(0, 9, "$argon2i$");
  const std::string cases[] = {
      "",
      "plain",
      "pw",
      "$argon2id$",
      "$argon2id$v=19$m=8,t=1,p=1$$",
      truncated,
      flipped,
      argon2i,
      std::string("$argon2id\0$", 11),
  };
  for (const std::string& encoded : cases) {
    EXPECT_FALSE(VerifyPassword("pw", encoded)) << "'" << encoded << "'";
  }
}

TEST(PasswordHasher, BurnVerifyTimeRunsForAnyInput) {
  // Nothing observable but time; it must not crash and must cache the dummy.
  BurnVerifyTime("whatever", kFast);
  BurnVerifyTime("whatever", kFast);
  BurnVerifyTime("", kFast);
  BurnVerifyTime(std::string(kMaxPasswordBytes + 10, 'x'), kFast);
  BurnVerifyTime("pw", PasswordHashParams{0, 0, 0});  // unusable: no-op
}

}  // namespace
}  // namespace crm::auth
