#include "records/list_plan.h"

#include "gtest/gtest.h"

namespace crm::records {
namespace {

// The generated 1M-account organisation of bench/list_bench.cc: 10,000
// owners with ~100 accounts each.
constexpr store::TableEstimate kBenchTable{1e6, 1e4};

policy::PlanInfo Scan(size_t owners) {
  policy::PlanInfo p;
  p.shape = "scan";
  p.owners = owners;
  return p;
}

TEST(PreferFetchThenSort, FirstLineManagerWithAFilter) {
  // 57 owners, ~5,700 rows: measured 32 ms walking, 15 ms fetching.
  EXPECT_TRUE(PreferFetchThenSort(Scan(57), kBenchTable, true, 51));
  // Unfiltered, the walk drops ~7,500 rows (8 ms): keep it.
  EXPECT_FALSE(PreferFetchThenSort(Scan(57), kBenchTable, false, 51));
}

TEST(PreferFetchThenSort, WideAccessWalks) {
  // Regional VP (462 owners, ~46,000 rows) and CEO (9,147 owners).
  for (bool filtered : {false, true}) {
    EXPECT_FALSE(PreferFetchThenSort(Scan(462), kBenchTable, filtered, 51));
    EXPECT_FALSE(PreferFetchThenSort(Scan(9147), kBenchTable, filtered, 51));
  }
}

TEST(PreferFetchThenSort, SmallerAccessFetchesUnfilteredToo) {
  EXPECT_TRUE(PreferFetchThenSort(Scan(20), kBenchTable, false, 51));
  // A bigger page makes walking cheaper per row.
  EXPECT_FALSE(PreferFetchThenSort(Scan(57), kBenchTable, true, 5));
  EXPECT_TRUE(PreferFetchThenSort(Scan(57), kBenchTable, true, 1000));
}

TEST(PreferFetchThenSort, OnlyForTheScanOfOwnersAndShares) {
  policy::PlanInfo p = Scan(57);
  p.criteria_rules = 1;  // could match any part of the table
  EXPECT_FALSE(PreferFetchThenSort(p, kBenchTable, true, 51));
  p = Scan(57);
  p.via_parent = true;  // owners are the parent accounts'
  EXPECT_FALSE(PreferFetchThenSort(p, kBenchTable, true, 51));
  for (const char* shape : {"drive", "all", "none", "restricted",
                            "service-scope"}) {
    p = Scan(57);
    p.shape = shape;
    EXPECT_FALSE(PreferFetchThenSort(p, kBenchTable, true, 51)) << shape;
  }
  EXPECT_FALSE(PreferFetchThenSort(Scan(0), kBenchTable, true, 51));
}

TEST(FetchMaxRows, TwiceTheEstimatePlusAMargin) {
  EXPECT_NEAR(EstimatedVisibleRows(Scan(57), kBenchTable), 5700, 1e-6);
  EXPECT_EQ(FetchMaxRows(5700), 12400);
  EXPECT_EQ(FetchMaxRows(-1), 1000);
  policy::PlanInfo p = Scan(57);
  p.criteria_rules = 2;
  EXPECT_LT(EstimatedVisibleRows(p, kBenchTable), 0);
}

TEST(PreferFetchThenSort, UnknownStatisticsWalk) {
  EXPECT_FALSE(PreferFetchThenSort(Scan(57), store::TableEstimate{}, true, 51));
  EXPECT_FALSE(
      PreferFetchThenSort(Scan(57), store::TableEstimate{1e6, -1}, true, 51));
  EXPECT_FALSE(PreferFetchThenSort(Scan(57), kBenchTable, true, 0));
}

}  // namespace
}  // namespace crm::records
