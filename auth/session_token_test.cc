#include "auth/session_token.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace crm::auth {
namespace {

TEST(SessionToken, FormatAndLength) {
  IssuedToken t = NewSessionToken();
  EXPECT_EQ(t.token.size(), kTokenLength) << t.token;
  EXPECT_EQ(t.token.size(), 47u);
  EXPECT_TRUE(absl::StartsWith(t.token, "crm_"));
  EXPECT_EQ(t.token.find('='), std::string::npos) << "no padding";
  EXPECT_TRUE(LooksLikeToken(t.token)) << t.token;
  EXPECT_EQ(t.hash, HashToken(t.token));
  EXPECT_EQ(t.hash.size(), 64u);
  EXPECT_EQ(t.hash.find(t.token), std::string::npos);
}

TEST(SessionToken, Unique) {
  std::set<std::string> tokens, hashes;
  for (int i = 0; i < 1000; ++i) {
    IssuedToken t = NewSessionToken();
    EXPECT_TRUE(tokens.insert(t.token).second) << t.token;
    EXPECT_TRUE(hashes.insert(t.hash).second) << t.hash;
  }
}

TEST(SessionToken, HashIsHexSha256) {
  EXPECT_EQ(HashToken(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HashToken("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(SessionToken, LooksLikeToken) {
  const std::string good = NewSessionToken().token;
  struct Case {
    std::string token;
    bool want;
  } cases[] = {
      {good, true},
      {"crm_" + std::string(43, 'A'), true},
      {"crm_" + std::string(43, '-'), true},
      {"crm_" + std::string(42, 'A'), false},
      {"crm_" + std::string(44, 'A'), false},
      {"CRM_" + std::string(43, 'A'), false},
      {"xyz_" + std::string(43, 'A'), false},
      {"crm_" + std::string(42, 'A') + "=", false},
      {"crm_" + std::string(42, 'A') + "+", false},
      {"crm_" + std::string(42, 'A') + "/", false},
      {"crm_" + std::string(42, 'A') + " ", false},
      {"", false},
      {std::string(10000, 'a'), false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(LooksLikeToken(c.token), c.want) << "'" << c.token << "'";
  }
}

TEST(BearerTokenFromMetadata, Accepts) {
  struct Case {
    std::string header;
    std::string token;
  } cases[] = {
      {"Bearer crm_abc", "crm_abc"},
      {"bearer crm_abc", "crm_abc"},
      {"BEARER crm_abc", "crm_abc"},
      {"Bearer   crm_abc  ", "crm_abc"},
      {"  Bearer\tcrm_abc", "crm_abc"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> token = BearerTokenFromMetadata(c.header);
    ASSERT_TRUE(token.ok()) << "'" << c.header << "': " << token.status();
    EXPECT_EQ(*token, c.token) << "'" << c.header << "'";
  }
}

TEST(BearerTokenFromMetadata, Refuses) {
  const std::string cases[] = {
      "",
      "Bearer",
      "Bearer ",
      "Bearercrm_abc",
      "Basic dXNlcjpwdw==",
      "crm_abc",
      "Bearer crm_abc extra",
      std::string("Bearer crm_\x01", 12),
      "Bearer " + std::string(5000, 'a'),
  };
  for (const std::string& header : cases) {
    absl::StatusOr<std::string> token = BearerTokenFromMetadata(header);
    ASSERT_FALSE(token.ok()) << "'" << header << "'";
    EXPECT_EQ(token.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_TRUE(absl::StrContains(token.status().message(), "authorization"))
        << token.status();
  }
}

}  // namespace
}  // namespace crm::auth
