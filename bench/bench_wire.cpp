// The wire codec: checksum throughput by size, and decode / encode_into of a full data
// segment (MSS 1460, NOP,NOP,TS as Linux sends it).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "utcp/checksum.hpp"
#include "utcp/segment.hpp"

namespace {

std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  std::uint32_t x = 12345;
  for (auto& b : v) {
    x = x * 1103515245u + 12345u;
    b = static_cast<std::byte>(x >> 24);
  }
  return v;
}

void BM_Checksum(benchmark::State& state) {
  const auto bytes = pattern(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(bytes.data());
    auto sum = utcp::ones_sum(bytes);
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Checksum)->Arg(64)->Arg(512)->Arg(1460)->Arg(9000)->Arg(65536);

const utcp::IpAddr kSrc = utcp::IpAddr::v4(10, 0, 0, 1), kDst = utcp::IpAddr::v4(10, 0, 0, 2);

utcp::Segment data_segment() {
  utcp::Segment s;
  s.src_port = 40000;
  s.dst_port = 80;
  s.seq = utcp::Seq(0x12345679);
  s.ack = utcp::Seq(0xabcdef01);
  s.push = true;
  s.window = 502;
  s.options = {utcp::Timestamps{1010, 2000}};
  s.payload = utcp::Payload(std::span<const std::byte>(pattern(1460)));
  return s;
}

void BM_Decode1460(benchmark::State& state) {
  const auto wire = data_segment().encode(kSrc, kDst);
  for (auto _ : state) {
    auto r = utcp::Segment::decode(kSrc, kDst, wire);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
}
BENCHMARK(BM_Decode1460);

void BM_EncodeInto1460(benchmark::State& state) {
  const auto seg = data_segment();
  std::vector<std::byte> out(2048);
  for (auto _ : state) {
    auto n = seg.encode_into(out, kSrc, kDst);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * seg.encoded_size()));
}
BENCHMARK(BM_EncodeInto1460);

}  // namespace

BENCHMARK_MAIN();
