// Segmentation offload for the host layer: the virtio_net_hdr that a TUN device opened with
// IFF_VNET_HDR puts in front of every packet, the coalescer that merges consecutive segments
// of the host's output queue into one TSO super-segment, and the splitter that cuts a GSO
// super-segment the kernel hands over (and completes its partial checksum) into the segments
// the core would have received one by one. All of it is pure: no device, no clock, no lock.
//
// What the kernel does with them (Linux's tcp_gso_segment, which the splitter imitates):
// every segment but the last carries exactly gso_size payload bytes; sequence numbers advance
// by gso_size; PSH and FIN only on the last segment, CWR only on the first; the IPv4
// identification increments per segment; each segment gets its own IP and TCP checksums.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string_view>
#include <vector>

#include "utcp/segment.hpp"

namespace utcp::host {

// struct virtio_net_hdr (virtio 1.x §5.1.6, without num_buffers): 10 bytes, little-endian,
// as TUN reads and writes it with IFF_VNET_HDR (TUNSETVNETLE on big-endian machines).
struct VnetHeader {
  static constexpr std::size_t size = 10;
  // flags
  static constexpr std::uint8_t needs_csum = 1;  // checksum over [csum_start, end) still to do
  static constexpr std::uint8_t data_valid = 2;  // the kernel verified the checksum
  // gso_type
  static constexpr std::uint8_t gso_none = 0;
  static constexpr std::uint8_t gso_tcpv4 = 1;
  static constexpr std::uint8_t gso_udp = 3;
  static constexpr std::uint8_t gso_tcpv6 = 4;
  static constexpr std::uint8_t gso_udp_l4 = 5;
  static constexpr std::uint8_t gso_ecn = 0x80;  // with TCPV4/TCPV6: the first segment has CWR

  std::uint8_t flags = 0;
  std::uint8_t gso_type = gso_none;
  std::uint16_t hdr_len = 0;  // IP and TCP headers (a hint for the kernel)
  std::uint16_t gso_size = 0;
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;

  // Precondition: at least `size` bytes.
  static VnetHeader read(std::span<const std::byte> bytes);
  void write(std::span<std::byte> out) const;
  friend bool operator==(const VnetHeader&, const VnetHeader&) = default;
};

// ---- outbound: the coalescer ----

// The largest IP packet the coalescer builds: the IPv4 total length field's limit (IPv6's
// payload length allows 40 bytes more; the same limit keeps both under Linux's 64 KiB
// gso_max_size).
inline constexpr std::size_t max_super_packet = 65535;

// How many Outputs at the front of `outs` go out as one packet: 1 when the first cannot be
// merged with the next, otherwise n >= 2 segments that a TSO super-segment carries exactly:
// one flow (addresses and ports), consecutive sequence numbers, the same ACK, window and
// options, no SYN or RST, each carrying data, every payload but the last exactly the first's
// size (the MSS the kernel cuts at) and the last no larger; PSH or FIN ends the run (they go on
// the last segment only, where the kernel puts them back). The IP packet stays within
// `max_packet` bytes. 0 for an empty span.
std::size_t coalescible(std::span<const Output> outs, std::size_t max_packet = max_super_packet);

// The bytes frame_super_into writes for outs (a run that coalescible accepted, or one Output):
// the VnetHeader, the IP and TCP headers of the first, the payloads of all.
std::size_t super_framed_size(std::span<const Output> outs);

// Writes a VnetHeader and one IP packet carrying `outs` (a run coalescible accepted). One
// Output: a plain packet with its checksum filled in and a header with no flags. Two or more:
// the first segment's headers with the IP length of the whole run, PSH and FIN of the last, the
// TCP checksum field holding the pseudo-header sum for the whole length (a partial checksum),
// and the header asking for TSO (gso_type TCPV4 or TCPV6, gso_size the first payload's size,
// NEEDS_CSUM with csum_start at the TCP header and csum_offset 16). Returns the bytes written,
// or 0 when `out` is too small.
std::size_t frame_super_into(std::span<std::byte> out, std::span<const Output> outs);

// ---- outbound without copying the payloads ----
//
// A super-segment can leave as one gather write (writev on the TUN device, whose
// tun_chr_write_iter takes any iovec): the headers from a small buffer, each payload from the
// send queue's blocks where it lies. With NEEDS_CSUM the kernel completes the TCP checksum, so
// user space never reads the payload bytes. A single Output is a plain packet whose checksum
// covers its payload: it goes through frame_super_into.

// The most bytes frame_super_headers_into writes: the VnetHeader, an IPv6 header, a TCP header
// with 40 bytes of options.
inline constexpr std::size_t max_super_headers = VnetHeader::size + 40 + 60;

// The first bytes of what frame_super_into writes for `outs`, a run of two or more that
// coalescible accepted: the VnetHeader and the IP and TCP headers. The payloads of outs, in
// order (for_each_payload_range), are the rest of the frame. Returns the size of the headers,
// or 0 when outs holds fewer than two Outputs or `out` is too small.
std::size_t frame_super_headers_into(std::span<std::byte> out, std::span<const Output> outs);

// Calls f(std::span<const std::byte>) for the payload bytes of outs, in order, once per range of
// memory: slices that continue each other (consecutive segments cut from one block of the send
// queue) are merged into one range.
template <class F>
void for_each_payload_range(std::span<const Output> outs, F&& f) {
  const std::byte* start = nullptr;
  std::size_t len = 0;
  for (const Output& o : outs) {
    o.segment.payload.for_each_slice([&](std::span<const std::byte> slice) {
      if (start != nullptr && start + len == slice.data()) {
        len += slice.size();
        return;
      }
      if (start != nullptr) f(std::span<const std::byte>(start, len));
      start = slice.data();
      len = slice.size();
    });
  }
  if (start != nullptr) f(std::span<const std::byte>(start, len));
}

// ---- inbound: the splitter ----

enum class VnetError : std::uint8_t {
  too_short,         // shorter than the VnetHeader, or its IP packet's headers
  bad_gso,           // a GSO type the host never offered (UDP, unknown), or one not matching the IP version
  bad_packet,        // the IP or TCP headers of a GSO packet do not parse (lengths, protocol, data offset)
  bad_csum_offsets,  // NEEDS_CSUM with csum_start / csum_offset outside the packet
  count_
};
std::string_view to_string(VnetError);

// Whether the kernel vouches for a frame's TCP checksum: DATA_VALID (it verified the checksum)
// or NEEDS_CSUM (the checksum is partial: the packet was built or GRO-merged inside this
// kernel from segments it verified, and never crossed a wire since). The host then tells the
// core not to verify it again (ChecksumCheck::trusted; docs/HOST.md "Checksums").
inline bool kernel_checked(const VnetHeader& h) {
  return (h.flags & (VnetHeader::data_valid | VnetHeader::needs_csum)) != 0;
}

// What the splitter writes into the TCP checksum field of the segments it cuts from a GSO
// packet: the full checksum (fill), or nothing (leave: the field keeps the super-segment's
// value, for a receiver that does not verify it, as when kernel_checked).
enum class SegmentChecksums : std::uint8_t { fill, leave };

// Cuts what a TUN device with IFF_VNET_HDR read (VnetHeader, then the packet) into the
// packets the core would have seen one by one, and hands each to `sink` (a view into the
// splitter's buffer, valid during the call). A packet without GSO passes as it is, after its
// checksum is completed when the header asks for it (NEEDS_CSUM). A GSO packet becomes
// ceil(payload / gso_size) packets, as Linux's tcp_gso_segment cuts them (see the top of
// this file), each with its IP header checksum and its TCP checksum computed in full. The
// IP packets are not validated beyond what cutting needs: the host's parse_ip does that.
class Splitter {
 public:
  // The number of packets handed to sink, or why nothing was.
  template <class Sink>
  std::expected<std::size_t, VnetError> split(std::span<const std::byte> frame, Sink&& sink,
                                              SegmentChecksums checksums = SegmentChecksums::fill) {
    std::size_t n = 0;
    auto r = prepare(frame);
    if (!r) return std::unexpected(r.error());
    if (plan_.count == 0) {
      sink(std::span<const std::byte>(*r));
      return 1;
    }
    for (std::size_t i = 0; i < plan_.count; ++i, ++n) sink(segment(frame, i, checksums));
    return n;
  }

 private:
  struct Plan {
    std::size_t count = 0;  // 0: one packet, passed whole (*prepare's span)
    std::size_t ip_len = 0, tcp_len = 0, payload = 0, gso_size = 0;
    bool v4 = true;
    IpAddr src, dst;
  };
  // Validates; for a packet without GSO returns the packet to pass (completed in buf_ when
  // needed); for a GSO packet fills plan_ and returns an empty span.
  std::expected<std::span<const std::byte>, VnetError> prepare(std::span<const std::byte> frame);
  // A packet passed whole, its checksum completed (in buf_) when the header asks for it.
  std::expected<std::span<const std::byte>, VnetError> whole(std::span<const std::byte> packet,
                                                             const VnetHeader& h);
  std::span<const std::byte> segment(std::span<const std::byte> frame, std::size_t i,
                                     SegmentChecksums checksums);

  Plan plan_;
  std::vector<std::byte> buf_;  // grows once to the largest packet it built
};

}  // namespace utcp::host
