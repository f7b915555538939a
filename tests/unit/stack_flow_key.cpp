// The connection table's 16-byte key (stack/flow_key.hpp): IPv4 flows inline, others behind a
// pointer; in a PersistentMap with snapshots, erases and full-hash collisions against a model.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "core/persistent_map.hpp"
#include "stack/flow_key.hpp"

namespace utcp::detail {
namespace {

IpAddr v6(std::uint8_t last, std::uint8_t first = 0x20) {
  std::array<std::uint8_t, 16> b{};
  b[0] = first;
  b[15] = last;
  return IpAddr::v6(b);
}

std::vector<Flow> sample_flows() {
  const IpAddr a = IpAddr::v4(10, 0, 0, 1), b = IpAddr::v4(10, 0, 0, 2), c = IpAddr::v4(192, 168, 1, 200);
  return {
      Flow({a, 80}, {b, 40000}),    Flow({b, 80}, {a, 40000}),    Flow({a, 40000}, {b, 80}),
      Flow({a, 80}, {c, 40000}),    Flow({a, 80}, {b, 40001}),    Flow({a, 81}, {b, 40000}),
      Flow({a, 0}, {b, 0}),         Flow({IpAddr{}, 0}, {IpAddr{}, 0}),
      Flow({v6(1), 80}, {v6(2), 40000}), Flow({v6(2), 80}, {v6(1), 40000}), Flow({v6(1, 0xfe), 80}, {v6(2), 40000}),
      Flow({a, 80}, {v6(2), 40000}),     Flow({v6(1), 80}, {b, 40000}),
      // An IPv4-mapped IPv6 address is an IPv6 address here, not the IPv4 one.
      Flow({IpAddr::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1}), 80}, {b, 40000}),
  };
}

TEST(StackFlowKey, SixteenBytesRoundTripAndEqualOnlyToItsFlow) {
  static_assert(sizeof(FlowKey) == 16);
  const std::vector<Flow> flows = sample_flows();
  for (std::size_t i = 0; i < flows.size(); ++i) {
    const FlowKey k(flows[i]);
    EXPECT_EQ(k.load(), flows[i]) << flows[i];
    const FlowKey copy(k);  // a leaf copied on write copies its key (and an IPv6 heap copy)
    EXPECT_EQ(copy.load(), flows[i]) << flows[i];
    for (std::size_t j = 0; j < flows.size(); ++j) {
      EXPECT_EQ(k == flows[j], i == j) << flows[i] << " against " << flows[j];
      EXPECT_EQ(copy == flows[j], i == j) << flows[i] << " against " << flows[j];
    }
  }
}

struct NoDeadlineInt {
  std::optional<Instant> operator()(int) const { return std::nullopt; }
};
// Every flow in one of 3 hash classes: collision nodes hold FlowKeys too.
struct Weak {
  std::size_t operator()(const Flow& f) const { return f.hash() % 3; }
};

template <class H>
void random_ops_against_model() {
  using Map = PersistentMap<Flow, int, NoDeadlineInt, H, FlowKey>;
  std::mt19937_64 rng(15);
  std::vector<Flow> pool;
  for (std::uint16_t p = 1; p <= 300; ++p) {
    pool.push_back(Flow({IpAddr::v4(10, 0, 0, 1), 80}, {IpAddr::v4(10, 0, 1, static_cast<std::uint8_t>(p)), p}));
    pool.push_back(Flow({v6(1), 80}, {v6(static_cast<std::uint8_t>(p)), p}));
  }
  Map m;
  std::map<Flow, int> model;
  std::vector<std::pair<Map, std::map<Flow, int>>> snapshots;
  for (int step = 0; step < 20000; ++step) {
    const Flow& f = pool[rng() % pool.size()];
    const int v = static_cast<int>(rng() % 1000);
    switch (rng() % 4) {
      case 0:
      case 1:
        m.insert(f, v);
        model[f] = v;
        break;
      case 2:
        ASSERT_EQ(m.erase(f), model.erase(f) == 1);
        break;
      default:
        ASSERT_EQ(m.update(f, [&](int& x) { x = v; }), model.count(f) == 1);
        if (model.count(f)) model[f] = v;
    }
    if (step % 2000 == 0) snapshots.emplace_back(m, model);
  }
  snapshots.emplace_back(m, model);
  for (auto& [snap, want] : snapshots) {
    ASSERT_EQ(snap.size(), want.size());
    std::map<Flow, int> seen;
    snap.for_each([&](const Flow& f, const int& v) { seen[f] = v; });
    ASSERT_EQ(seen, want);
    for (const auto& [f, v] : want) ASSERT_EQ(*snap.find(f), v);
  }
}

TEST(StackFlowKey, MapWithFlowKeysMatchesAModelAcrossSnapshots) { random_ops_against_model<std::hash<Flow>>(); }
TEST(StackFlowKey, MapWithFlowKeysMatchesAModelWithCollisions) { random_ops_against_model<Weak>(); }

}  // namespace
}  // namespace utcp::detail
