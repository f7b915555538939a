// Names of errors and decode failures.
#include "utcp/error.hpp"

namespace utcp {

std::string_view to_string(DecodeError e) {
  switch (e) {
    case DecodeError::none:
      return "none";
    case DecodeError::truncated_header:
      return "truncated_header";
    case DecodeError::bad_data_offset:
      return "bad_data_offset";
    case DecodeError::data_offset_past_end:
      return "data_offset_past_end";
    case DecodeError::option_length_missing:
      return "option_length_missing";
    case DecodeError::option_length_short:
      return "option_length_short";
    case DecodeError::option_past_header:
      return "option_past_header";
    case DecodeError::syn_and_fin:
      return "syn_and_fin";
    case DecodeError::syn_and_rst:
      return "syn_and_rst";
    case DecodeError::bad_checksum:
      return "bad_checksum";
    case DecodeError::address_family_mismatch:
      return "address_family_mismatch";
  }
  return "unknown decode error";
}

std::ostream& operator<<(std::ostream& os, DecodeError e) {
  return os << to_string(e);
}

std::string_view to_string(CallError c) {
  switch (c) {
    case CallError::none:
      return "none";
    case CallError::write_shut:
      return "write_shut";
    case CallError::not_connected:
      return "not_connected";
    case CallError::already_closed:
      return "already_closed";
    case CallError::address_family:
      return "address_family";
    case CallError::port_zero:
      return "port_zero";
    case CallError::table_full:
      return "table_full";
    case CallError::address_in_use:
      return "address_in_use";
    case CallError::no_ephemeral_port:
      return "no_ephemeral_port";
  }
  return "unknown call error";
}

std::string_view to_string(Error::Kind k) {
  switch (k) {
    case Error::Kind::not_found:
      return "not found";
    case Error::Kind::eof:
      return "eof";
    case Error::Kind::msg:
      return "msg";
  }
  return "unknown error kind";
}

std::ostream& operator<<(std::ostream& os, const Error& e) {
  os << to_string(e.kind) << ": " << e.message;
  if (e.decode != DecodeError::none && e.message != to_string(e.decode)) os << " (" << e.decode << ')';
  if (e.call != CallError::none) os << " [" << to_string(e.call) << ']';
  return os;
}

}  // namespace utcp
