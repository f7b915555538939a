// The parser of packetdrill-syntax scripts (docs/SCRIPTS.md): text in, AST out.
// It checks everything that can be checked without running the script: the grammar,
// END = START + LEN, `win` on inbound lines, `*` and windows only on outbound lines,
// blocking ends only on system calls, options in whole 32-bit words. "//@include FILE"
// lines (comments to packetdrill) splice FILE's events in.
#pragma once

#include <expected>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "ast.hpp"

namespace utcp::script {

struct ParseError {
  int line = 0;
  std::string message;
  friend bool operator==(const ParseError&, const ParseError&) = default;
};
std::ostream& operator<<(std::ostream&, const ParseError&);  // "line 12: expected ..."

std::expected<Script, ParseError> parse(std::string_view text, std::string path = {});
// Reads and parses a file; a file that cannot be read is a ParseError at line 0.
std::expected<Script, ParseError> parse_file(const std::string& path);
// The file's text with each "//@include FILE" line replaced by FILE's text (recursively,
// relative to the including file): the script as packetdrill must be given it.
std::expected<std::string, ParseError> expand_includes(const std::string& path);

// "1.5" -> 1500000, ".1" -> 100000, "0" -> 0; nullopt for anything else (or too large).
std::optional<Micros> parse_seconds(std::string_view text);
// Decimal or 0x-hex unsigned integer; nullopt for anything else (or beyond 2^63 - 1).
std::optional<std::int64_t> parse_integer(std::string_view text);

}  // namespace utcp::script
