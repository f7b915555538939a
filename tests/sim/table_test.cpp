// The goodput table (`utcp sim --table`) against its checked-in golden copy, so a change in
// behaviour shows up in review. UTCP_UPDATE_GOLDEN=1 rewrites the golden file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "sim.hpp"

namespace utcp::sim {
namespace {

const std::string kGolden = std::string(UTCP_SOURCE_DIR) + "/tests/sim/golden/table.txt";

TEST(SimTable, MatchesGolden) {
  const std::string table = goodput_table();
  const char* update = std::getenv("UTCP_UPDATE_GOLDEN");
  if (update && *update && std::string(update) != "0") {
    std::ofstream(kGolden) << table;
    GTEST_SKIP() << "rewrote " << kGolden;
  }
  std::ifstream in(kGolden);
  ASSERT_TRUE(in) << "no golden file " << kGolden << "; run with UTCP_UPDATE_GOLDEN=1 to create it";
  std::stringstream golden;
  golden << in.rdbuf();
  EXPECT_EQ(table, golden.str()) << "the goodput table changed; if that is intended, rerun with "
                                    "UTCP_UPDATE_GOLDEN=1 and commit tests/sim/golden/table.txt";
}

TEST(SimTable, IsDeterministic) {
  TableSpec small;
  small.loss_percent = {0, 5};
  small.buffers = {16 << 10};
  small.bytes = 100'000;
  EXPECT_EQ(goodput_table(small), goodput_table(small));
}

}  // namespace
}  // namespace utcp::sim
