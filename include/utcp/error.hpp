// Errors are values: std::expected with an Error that names its kind and, where the
// failure has a precise cause, a reason enum.
#pragma once

#include <cstdint>
#include <expected>
#include <ostream>
#include <string>
#include <string_view>

namespace utcp {

// Why Segment::decode refused a buffer. One reason per check, so a counter or a test can
// name exactly what was wrong.
enum class DecodeError : std::uint8_t {
  none = 0,
  truncated_header,       // fewer than 20 bytes
  bad_data_offset,        // data offset below 5
  data_offset_past_end,   // header length beyond the buffer
  option_length_missing,  // an option's kind byte is the last byte of the header
  option_length_short,    // an option's length byte is below 2
  option_past_header,     // an option runs past the end of the header
  syn_and_fin,            // SYN and FIN together
  syn_and_rst,            // SYN and RST together
  bad_checksum,           // the Internet checksum over pseudo-header and segment is wrong
  address_family_mismatch,  // source and destination are not both IPv4 or both IPv6
};
std::string_view to_string(DecodeError);
std::ostream& operator<<(std::ostream&, DecodeError);

// Why a user call refused, beside the message for people: the host maps it to an errno in
// one table (host/host_calls.cpp, to_errno) and never reads the message.
enum class CallError : std::uint8_t {
  none = 0,
  write_shut,         // send after shutdown(write) or close()
  not_connected,      // the connection's state does not take the call (send in LAST-ACK, ...)
  already_closed,     // close() a second time
  address_family,     // connect: source and destination differ in address family
  port_zero,          // connect: port 0
  table_full,         // connect: Config::max_connections reached
  address_in_use,     // connect: the 4-tuple is taken
  no_ephemeral_port,  // connect: every ephemeral port towards the destination is taken
};
std::string_view to_string(CallError);

struct Error {
  enum class Kind : std::uint8_t { not_found, eof, msg };
  Kind kind = Kind::msg;
  std::string message;
  DecodeError decode = DecodeError::none;  // set when a decode failed
  CallError call = CallError::none;        // set when a user call refused

  static Error not_found(std::string m = "flow not found") {
    return {Kind::not_found, std::move(m), DecodeError::none};
  }
  static Error eof() { return {Kind::eof, "end of stream", DecodeError::none}; }
  static Error msg(std::string m) { return {Kind::msg, std::move(m), DecodeError::none}; }
  static Error from(DecodeError d) { return {Kind::msg, std::string(to_string(d)), d}; }
  static Error refused(CallError c, std::string m) {
    return {Kind::msg, std::move(m), DecodeError::none, c};
  }

  friend bool operator==(const Error&, const Error&) = default;
};
std::string_view to_string(Error::Kind);
std::ostream& operator<<(std::ostream&, const Error&);

template <class T>
using Result = std::expected<T, Error>;

}  // namespace utcp
