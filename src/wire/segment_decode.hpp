// Segment::decode_view into a Segment the caller owns, for handle_buf: the same checks and
// result, without moving the segment out through a Result (a Segment is 176 bytes).
#pragma once

#include <cstddef>
#include <span>

#include "utcp/error.hpp"
#include "utcp/ip.hpp"
#include "utcp/segment.hpp"

namespace utcp::wire {

// `out` must be default-constructed; on failure it holds whatever was read before the check
// that failed. The payload is a view of `tcp_bytes`, as Segment::decode_view's. With
// ChecksumCheck::trusted the checksum is not verified (a lower layer did); every other check is.
DecodeError decode_view_into(const IpAddr& src, const IpAddr& dst, std::span<const std::byte> tcp_bytes,
                             Segment& out, ChecksumCheck check = ChecksumCheck::verify);

}  // namespace utcp::wire
