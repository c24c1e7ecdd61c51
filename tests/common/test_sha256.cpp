// SHA-256 against the FIPS 180-4 / NIST example digests and against coreutils' sha256sum.
#include "common/sha256.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "common/error.h"

namespace n2v {
namespace {

TEST(Sha256, NistExamples) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, FileAgreesWithSha256sumAcrossBlockBoundaries) {
  const std::string path = testing::TempDir() + "/sha256_input.bin";
  for (size_t size : {0, 55, 56, 63, 64, 65, 1000, (1 << 20) + 3}) {
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      for (size_t i = 0; i < size; ++i) out.put(static_cast<char>((i * 131 + 7) % 251));
    }
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(("sha256sum '" + path + "'").c_str(), "r"), pclose);
    ASSERT_TRUE(pipe);
    char digest[65] = {};
    ASSERT_EQ(fread(digest, 1, 64, pipe.get()), 64u);
    EXPECT_EQ(sha256_file(path), std::string(digest)) << size << " bytes";
  }
  std::remove(path.c_str());
  try {
    sha256_file(path);
    ADD_FAILURE() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(e.message().find(path), std::string::npos) << e.message();
  }
}

}  // namespace
}  // namespace n2v
