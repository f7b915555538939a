// A program that only knows the installed package: encode a segment, decode it back.
#include <utcp/utcp.hpp>

#include <cstdio>

int main() {
  const auto src = utcp::IpAddr::v4(10, 0, 0, 1);
  const auto dst = utcp::IpAddr::v4(10, 0, 0, 2);
  utcp::Segment s;
  s.src_port = 40000;
  s.dst_port = 80;
  s.seq = utcp::Seq(1);
  s.flag = utcp::Segment::Flag::syn;
  s.window = 65535;
  s.options.push_back(utcp::Mss{1460});
  const auto bytes = s.encode(src, dst);
  const auto back = utcp::Segment::decode(src, dst, bytes);
  if (!back || back->first != s) {
    std::puts("consumer: round trip failed");
    return 1;
  }
  std::puts("consumer: ok");
  return 0;
}
