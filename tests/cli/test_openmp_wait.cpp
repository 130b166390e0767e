// The hawkeye binary chooses how OpenMP workers wait before libgomp starts (include/hawkeye/core/openmp_wait.h):
// libgomp prints the values it read with OMP_DISPLAY_ENV=verbose, so the binary's own setting, and the user's
// precedence over it, are visible from outside.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "hawkeye/core/openmp_wait.h"
#include "test_util.h"

namespace {

std::string display_env(const std::string& env) {
  const std::string cmd = "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose " + env + " '" +
                          std::string(HAWKEYE_CLI) + "' --version 2>&1";
  const auto r = hawkeye::test::run_command(cmd);
  EXPECT_EQ(r.status, 0) << r.output;
  return r.output;
}

bool has(const std::string& out, const std::string& what) { return out.find(what) != std::string::npos; }

}  // namespace

TEST(OpenMpWait, TheBinarySetsItsWaitPolicyBeforeLibgompStarts) {
  if (std::string(HAWKEYE_CLI).empty()) GTEST_SKIP() << "the hawkeye binary is not built";
  const auto out = display_env("");
  ASSERT_TRUE(has(out, "OPENMP DISPLAY ENVIRONMENT")) << "libgomp did not print its environment:\n" << out;
  // libgomp prints OMP_WAIT_POLICY = 'PASSIVE' also when the variable is unset; the spin count tells: 300000
  // by default, 0 when it read OMP_WAIT_POLICY=PASSIVE.
  ASSERT_EQ(std::string(hawkeye::kOpenMpWaitPolicy), "PASSIVE");
  EXPECT_TRUE(has(out, "GOMP_SPINCOUNT = '0'")) << out;
  EXPECT_TRUE(has(out, "OpenMP wait OMP_WAIT_POLICY=PASSIVE")) << out;
}

TEST(OpenMpWait, TheUsersOwnSettingWins) {
  if (std::string(HAWKEYE_CLI).empty()) GTEST_SKIP() << "the hawkeye binary is not built";
  const auto spin = display_env("GOMP_SPINCOUNT=1234");
  EXPECT_TRUE(has(spin, "GOMP_SPINCOUNT = '1234'")) << spin;
  EXPECT_FALSE(has(spin, "OMP_WAIT_POLICY=PASSIVE")) << spin;
  const auto active = display_env("OMP_WAIT_POLICY=ACTIVE");
  EXPECT_TRUE(has(active, "OMP_WAIT_POLICY = 'ACTIVE'")) << active;
  EXPECT_FALSE(has(active, "GOMP_SPINCOUNT = '0'")) << active;
}

// The executable without its program library (a copy made without lib*/hawkeye/libhawkeye_program.so) says
// what is missing and where it looked, and exits 1 instead of crashing.
TEST(OpenMpWait, AMissingProgramLibraryIsAClearError) {
  if (std::string(HAWKEYE_CLI).empty()) GTEST_SKIP() << "the hawkeye binary is not built";
  hawkeye::test::TempDir tmp;
  const auto copy = tmp.path() / "hawkeye";
  std::filesystem::copy_file(HAWKEYE_CLI, copy);
  std::filesystem::permissions(copy, std::filesystem::perms::owner_all);
  const auto r = hawkeye::test::run_command("'" + copy.string() + "' --version 2>&1");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("cannot load the program library libhawkeye_program.so"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(tmp.path().string()), std::string::npos) << r.output;
}
