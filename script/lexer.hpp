// The tokenizer of packetdrill-syntax scripts. Tokens are produced on demand so that the
// parser can read the two context-dependent pieces raw: a packet's flags ("S.", "FP.", "-")
// and the free text of a system call's comment "(Resource temporarily unavailable)".
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace utcp::script {

struct Token {
  enum class Kind : std::uint8_t {
    end,       // end of input
    number,    // 0, 10, .1, 0.100, 0x802
    word,      // letters, digits, '_': SOCK_STREAM, win, sackOK, S
    string,    // "text" (text holds the contents, without quotes)
    ellipsis,  // ...
    shell,     // `command` (text holds the command)
    python,    // %{ code }% (text holds the code)
    option,    // --name=value (text holds "name=value")
    punct,     // one of < > + - * ~ : ( ) [ ] { } , = | .
    include,   // a line "//@include FILE" (text holds FILE): a comment to packetdrill
    error,     // text holds what is wrong
  };
  Kind kind = Kind::end;
  std::string text;
  int line = 1;

  bool is(char c) const { return kind == Kind::punct && text.size() == 1 && text[0] == c; }
  bool is_word(std::string_view w) const { return kind == Kind::word && text == w; }
};
std::string_view to_string(Token::Kind);
// The FILE of a line "//@include FILE [// comment]" (blanks allowed around the parts); an
// empty view when the line starts so but is malformed; nullopt for any other line.
std::optional<std::string_view> include_directive(std::string_view line);
std::ostream& operator<<(std::ostream&, const Token&);  // for messages: `win`, end of file ...

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Token next();
  const Token& peek();
  // The line of the next token (skipping blanks and comments).
  int line();
  // The line where the last consumed token (or raw read) ended.
  int last_line() const { return last_line_; }

  // Raw reads, after blanks and comments: a maximal run of flag characters
  // "SFRPUEWN.-" (empty when there is none), and, once a '(' has been consumed, the text
  // up to the matching ')', which is consumed too (nullopt when the input ends first).
  std::string flags();
  std::optional<std::string> until_close_paren();

 private:
  void unpeek();
  void skip_blanks();  // spaces, newlines and comments
  Token lex();
  Token make(Token::Kind k, std::string text, int line) const { return Token{k, std::move(text), line}; }

  std::string_view text_;
  std::size_t pos_ = 0;
  int line_ = 1;
  std::optional<Token> peeked_;
  std::size_t peeked_pos_ = 0;
  int peeked_line_ = 1;
  int last_line_ = 0;
  std::optional<std::string> blank_error_;  // an unterminated /* comment, and its line
  int blank_error_line_ = 0;
  std::optional<std::string> include_;  // an include directive skip_blanks stopped at, and its line
  int include_line_ = 0;
};

}  // namespace utcp::script
