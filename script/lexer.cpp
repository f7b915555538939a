#include "lexer.hpp"

#include <cctype>

namespace utcp::script {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_word_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_';
}
bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}
bool is_flag_char(char c) {
  return c == 'S' || c == 'F' || c == 'R' || c == 'P' || c == 'U' || c == 'E' || c == 'W' || c == 'N' ||
         c == '.' || c == '-';
}
constexpr std::string_view kPunct = "<>+-*~:()[]{},=|.";

}  // namespace

std::optional<std::string_view> include_directive(std::string_view line) {
  const auto trim = [](std::string_view v) {
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front())) != 0) v.remove_prefix(1);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back())) != 0) v.remove_suffix(1);
    return v;
  };
  line = trim(line);
  if (!line.starts_with("//")) return std::nullopt;
  line = trim(line.substr(2));
  if (!line.starts_with("@include")) return std::nullopt;
  line = line.substr(8);
  if (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())) == 0) return std::nullopt;
  line = trim(line);
  std::size_t n = 0;
  while (n < line.size() && std::isspace(static_cast<unsigned char>(line[n])) == 0) ++n;
  const std::string_view file = line.substr(0, n);
  const std::string_view rest = trim(line.substr(n));
  // FILE, then nothing but a comment; anything else is a malformed directive (empty FILE).
  if (file.starts_with("//") || (!rest.empty() && !rest.starts_with("//"))) return std::string_view{};
  return file;
}

std::string_view to_string(Token::Kind k) {
  switch (k) {
    case Token::Kind::end:
      return "end of file";
    case Token::Kind::number:
      return "number";
    case Token::Kind::word:
      return "word";
    case Token::Kind::string:
      return "string";
    case Token::Kind::ellipsis:
      return "'...'";
    case Token::Kind::shell:
      return "shell command";
    case Token::Kind::python:
      return "python block";
    case Token::Kind::option:
      return "option";
    case Token::Kind::punct:
      return "punctuation";
    case Token::Kind::error:
      return "error";
    case Token::Kind::include:
      return "include directive";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const Token& t) {
  switch (t.kind) {
    case Token::Kind::end:
      return os << "end of file";
    case Token::Kind::number:
    case Token::Kind::word:
    case Token::Kind::punct:
      return os << '\'' << t.text << '\'';
    case Token::Kind::string:
      return os << '"' << t.text << '"';
    case Token::Kind::option:
      return os << "'--" << t.text << '\'';
    case Token::Kind::error:
      return os << t.text;
    default:
      return os << to_string(t.kind);
  }
}

void Lexer::skip_blanks() {
  while (pos_ < text_.size()) {
    const char c = text_[pos_];
    if (c == '\n') {
      ++line_;
      ++pos_;
    } else if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      ++pos_;
    } else if (text_.substr(pos_, 2) == "//") {
      const std::size_t start = pos_;
      while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      // A directive stands alone on its line.
      std::size_t bol = start;
      while (bol > 0 && text_[bol - 1] != '\n' &&
             std::isspace(static_cast<unsigned char>(text_[bol - 1])) != 0)
        --bol;
      if (bol == 0 || text_[bol - 1] == '\n') {
        if (const auto file = include_directive(text_.substr(start, pos_ - start))) {
          if (file->empty()) {
            blank_error_ = "expected '//@include FILE' (and at most a comment after it)";
            blank_error_line_ = line_;
            return;
          }
          include_ = std::string(*file);
          include_line_ = line_;
          return;
        }
      }
    } else if (text_.substr(pos_, 2) == "/*") {
      const std::size_t close = text_.find("*/", pos_ + 2);
      if (close == std::string_view::npos) {
        blank_error_ = "unterminated /* comment";
        blank_error_line_ = line_;
      }
      const std::size_t stop = close == std::string_view::npos ? text_.size() : close + 2;
      for (std::size_t i = pos_; i < stop; ++i)
        if (text_[i] == '\n') ++line_;
      pos_ = stop;
    } else {
      return;
    }
  }
}

void Lexer::unpeek() {
  if (peeked_) {
    pos_ = peeked_pos_;
    line_ = peeked_line_;
    peeked_.reset();
  }
}

const Token& Lexer::peek() {
  if (!peeked_) {
    peeked_pos_ = pos_;
    peeked_line_ = line_;
    peeked_ = lex();
  }
  return *peeked_;
}

Token Lexer::next() {
  Token t = peeked_ ? std::move(*peeked_) : lex();
  peeked_.reset();
  last_line_ = line_;
  return t;
}

int Lexer::line() {
  return peek().line;
}

std::string Lexer::flags() {
  unpeek();
  skip_blanks();
  const std::size_t start = pos_;
  while (pos_ < text_.size() && is_flag_char(text_[pos_])) ++pos_;
  last_line_ = line_;
  return std::string(text_.substr(start, pos_ - start));
}

std::optional<std::string> Lexer::until_close_paren() {
  unpeek();
  int depth = 1;
  const std::size_t start = pos_;
  for (; pos_ < text_.size(); ++pos_) {
    const char c = text_[pos_];
    if (c == '\n') ++line_;
    if (c == '(') ++depth;
    if (c == ')' && --depth == 0) {
      std::string inside(text_.substr(start, pos_ - start));
      ++pos_;
      last_line_ = line_;
      return inside;
    }
  }
  return std::nullopt;
}

Token Lexer::lex() {
  skip_blanks();
  const int line = line_;
  if (blank_error_) {
    std::string e = std::move(*blank_error_);
    blank_error_.reset();
    return make(Token::Kind::error, std::move(e), blank_error_line_);
  }
  if (include_) {
    std::string file = std::move(*include_);
    include_.reset();
    return make(Token::Kind::include, std::move(file), include_line_);
  }
  if (pos_ >= text_.size()) return make(Token::Kind::end, "", line);
  const std::string_view rest = text_.substr(pos_);
  const char c = rest[0];

  if (c == '`') {
    const std::size_t close = rest.find('`', 1);
    if (close == std::string_view::npos)
      return make(Token::Kind::error, "unterminated ` shell command", line);
    for (std::size_t i = 0; i < close; ++i)
      if (rest[i] == '\n') ++line_;
    pos_ += close + 1;
    return make(Token::Kind::shell, std::string(rest.substr(1, close - 1)), line);
  }
  if (rest.starts_with("%{")) {
    const std::size_t close = rest.find("}%", 2);
    if (close == std::string_view::npos)
      return make(Token::Kind::error, "unterminated %{ python block", line);
    for (std::size_t i = 0; i < close; ++i)
      if (rest[i] == '\n') ++line_;
    pos_ += close + 2;
    return make(Token::Kind::python, std::string(rest.substr(2, close - 2)), line);
  }
  if (rest.starts_with("...")) {
    pos_ += 3;
    return make(Token::Kind::ellipsis, "...", line);
  }
  if (rest.starts_with("--") && rest.size() > 2 && is_word_start(rest[2])) {
    std::size_t n = 2;
    while (n < rest.size() && std::isspace(static_cast<unsigned char>(rest[n])) == 0) ++n;
    pos_ += n;
    return make(Token::Kind::option, std::string(rest.substr(2, n - 2)), line);
  }
  if (is_digit(c) || (c == '.' && rest.size() > 1 && is_digit(rest[1]))) {
    std::size_t n = 0;
    if (rest.starts_with("0x") || rest.starts_with("0X")) {
      n = 2;
      while (n < rest.size() && std::isxdigit(static_cast<unsigned char>(rest[n])) != 0) ++n;
    } else {
      while (n < rest.size() && is_digit(rest[n])) ++n;
      // A fraction, but not the start of "...".
      if (n < rest.size() && rest[n] == '.' && !rest.substr(n).starts_with("...")) {
        ++n;
        while (n < rest.size() && is_digit(rest[n])) ++n;
      }
    }
    if (n < rest.size() && is_word_char(rest[n]))
      return make(Token::Kind::error, "malformed number '" + std::string(rest.substr(0, n + 1)) + "'", line);
    pos_ += n;
    return make(Token::Kind::number, std::string(rest.substr(0, n)), line);
  }
  if (is_word_start(c)) {
    std::size_t n = 1;
    while (n < rest.size() && is_word_char(rest[n])) ++n;
    pos_ += n;
    return make(Token::Kind::word, std::string(rest.substr(0, n)), line);
  }
  if (c == '"') {
    std::string s;
    for (std::size_t n = 1; n < rest.size(); ++n) {
      if (rest[n] == '\n') break;
      if (rest[n] == '\\' && n + 1 < rest.size()) {
        s += rest[++n];
        continue;
      }
      if (rest[n] == '"') {
        pos_ += n + 1;
        return make(Token::Kind::string, std::move(s), line);
      }
      s += rest[n];
    }
    return make(Token::Kind::error, "unterminated string", line);
  }
  if (kPunct.find(c) != std::string_view::npos) {
    ++pos_;
    return make(Token::Kind::punct, std::string(1, c), line);
  }
  ++pos_;
  return make(Token::Kind::error, std::string("unexpected character '") + c + "'", line);
}

}  // namespace utcp::script
