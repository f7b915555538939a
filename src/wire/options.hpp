// Internal: the TCP option codec shared by Segment::decode and Segment::encode.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "utcp/error.hpp"
#include "utcp/segment.hpp"

namespace utcp::wire {

// RFC 9293 §3.1 (EOL, NOP, MSS), RFC 7323 (window scale, timestamps), RFC 2018 (SACK).
enum OptionKind : std::uint8_t {
  kEol = 0,            // end of the option list
  kNop = 1,            // padding
  kMss = 2,            // length 4
  kWindowScale = 3,    // length 3
  kSackPermitted = 4,  // length 2, SYN only
  kSack = 5,           // length 2 + 8n
  kTimestamps = 8,     // length 10
};
inline constexpr std::size_t kMaxOptionBytes = 40;

// Parses the option area of a header (the bytes between the fixed 20 and the data offset).
// Returns the first structural fault, or DecodeError::none with the options in `out`.
DecodeError parse_options(std::span<const std::byte> area, TcpOptions& out);

// How the options are laid out: their bytes with the NOP padding (a multiple of 4), and
// whether each one's fields are aligned (else packed: the aligned layout would not fit).
struct OptionsLayout {
  std::size_t size = 0;
  bool aligned = true;
};
OptionsLayout options_layout(const TcpOptions& options);
inline std::size_t options_layout_size(const TcpOptions& options) {
  return options_layout(options).size;
}

// Writes the options to `out`, which has room for options_layout(options).size bytes, as
// that layout says (`aligned`, its own): the encoder lays them out once, for the header's
// length and the writing.
void write_options(const TcpOptions& options, std::byte* out, bool aligned);

}  // namespace utcp::wire
