#include "query/filter.h"

#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace crm::query {
namespace {

absl::Status Error(absl::string_view what, size_t offset) {
  return absl::InvalidArgumentError(
      absl::StrCat("filter: ", what, " at offset ", offset));
}

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

// Length of the UTF-8 sequence starting at s[i], or 0 if it is malformed
// (overlong forms, surrogates and code points above U+10FFFF are refused).
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return n;
}

struct Token {
  enum class Kind { kIdent, kString, kNumber, kOp, kLParen, kRParen, kEnd };
  Kind kind = Kind::kEnd;
  std::string text;  // identifier, decoded string, number or operator text
  size_t offset = 0;
};

class Lexer {
 public:
  explicit Lexer(absl::string_view text) : text_(text) {}

  absl::StatusOr<std::vector<Token>> Run() {
    std::vector<Token> tokens;
    while (true) {
      while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
      if (pos_ >= text_.size()) break;
      absl::StatusOr<Token> token = Next();
      if (!token.ok()) return token.status();
      tokens.push_back(*std::move(token));
    }
    Token end;
    end.offset = text_.size();
    tokens.push_back(end);
    return tokens;
  }

 private:
  absl::StatusOr<Token> Next() {
    Token t;
    t.offset = pos_;
    char c = text_[pos_];
    if (IsIdentStart(c)) {
      size_t start = pos_;
      while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
      t.kind = Token::Kind::kIdent;
      t.text = std::string(text_.substr(start, pos_ - start));
      return t;
    }
    if (IsDigit(c) ||
        (c == '-' && pos_ + 1 < text_.size() && IsDigit(text_[pos_ + 1]))) {
      return Number();
    }
    if (c == '"' || c == '\'') return String();
    if (c == '(' || c == ')') {
      ++pos_;
      t.kind = c == '(' ? Token::Kind::kLParen : Token::Kind::kRParen;
      t.text = std::string(1, c);
      return t;
    }
    for (absl::string_view op : {"!=", "<=", ">=", "=", "<", ">"}) {
      if (text_.substr(pos_, op.size()) == op) {
        pos_ += op.size();
        t.kind = Token::Kind::kOp;
        t.text = std::string(op);
        return t;
      }
    }
    if (c == '!')
      return Error("'!' must be followed by '=' (use NOT to negate)", pos_);
    if (static_cast<unsigned char>(c) < 0x20 ||
        static_cast<unsigned char>(c) >= 0x7F) {
      return Error("unexpected character outside a string", pos_);
    }
    return Error(absl::StrCat("unexpected character '", std::string(1, c), "'"),
                 pos_);
  }

  absl::StatusOr<Token> Number() {
    Token t;
    t.kind = Token::Kind::kNumber;
    t.offset = pos_;
    size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (pos_ >= text_.size() || !IsDigit(text_[pos_])) {
        return Error("malformed number: expected a digit after '.'", pos_);
      }
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) {
        ++pos_;
      }
      if (pos_ >= text_.size() || !IsDigit(text_[pos_])) {
        return Error("malformed number: expected a digit in the exponent",
                     pos_);
      }
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() &&
        (IsIdentChar(text_[pos_]) || text_[pos_] == '.')) {
      return Error("malformed number", start);
    }
    t.text = std::string(text_.substr(start, pos_ - start));
    return t;
  }

  absl::StatusOr<Token> String() {
    Token t;
    t.kind = Token::Kind::kString;
    t.offset = pos_;
    const char quote = text_[pos_++];
    while (true) {
      if (pos_ >= text_.size()) {
        return Error(absl::StrCat("unterminated string (missing closing ",
                                  std::string(1, quote), ")"),
                     t.offset);
      }
      char c = text_[pos_];
      if (c == quote) {
        ++pos_;
        return t;
      }
      if (c == '\\') {
        if (pos_ + 1 >= text_.size()) {
          return Error("unterminated string (ends with a backslash)", t.offset);
        }
        char e = text_[pos_ + 1];
        switch (e) {
          case '\\':
            t.text.push_back('\\');
            break;
          case '"':
            t.text.push_back('"');
            break;
          case '\'':
            t.text.push_back('\'');
            break;
          case 'n':
            t.text.push_back('\n');
            break;
          case 'r':
            t.text.push_back('\r');
            break;
          case 't':
            t.text.push_back('\t');
            break;
          default:
            return Error(
                "unknown escape in string (use \\\\ \\\" \\' \\n \\r or \\t)",
                pos_);
        }
        pos_ += 2;
        continue;
      }
      if (c == '\0') return Error("NUL character in string", pos_);
      size_t n = Utf8SequenceLength(text_, pos_);
      if (n == 0) return Error("string is not valid UTF-8", pos_);
      t.text.append(text_.data() + pos_, n);
      pos_ += n;
    }
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

bool IsKeyword(const Token& t, absl::string_view keyword) {
  return t.kind == Token::Kind::kIdent && t.text == keyword;
}

// A lowercase keyword where an uppercase one was probably meant.
const char* LowercaseKeyword(const Token& t) {
  if (t.kind != Token::Kind::kIdent) return nullptr;
  if (t.text == "and") return "AND";
  if (t.text == "or") return "OR";
  if (t.text == "not") return "NOT";
  return nullptr;
}

absl::StatusOr<CompareOp> OpFromText(absl::string_view text) {
  if (text == "=") return CompareOp::kEq;
  if (text == "!=") return CompareOp::kNe;
  if (text == "<") return CompareOp::kLt;
  if (text == "<=") return CompareOp::kLe;
  if (text == ">") return CompareOp::kGt;
  if (text == ">=") return CompareOp::kGe;
  return absl::InternalError("unknown operator");
}

using ExprPtr = std::unique_ptr<const FilterExpr>;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  absl::StatusOr<ExprPtr> Run() {
    absl::StatusOr<ExprPtr> expr = ParseOr();
    if (!expr.ok()) return expr;
    const Token& t = Peek();
    if (t.kind == Token::Kind::kEnd) return expr;
    if (t.kind == Token::Kind::kRParen) return Error("unmatched ')'", t.offset);
    if (const char* kw = LowercaseKeyword(t)) {
      return Error(absl::StrCat("keywords are uppercase: write '", kw,
                                "' instead of '", t.text, "'"),
                   t.offset);
    }
    return Error("expected AND, OR or the end of the filter", t.offset);
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Take() { return tokens_[pos_++]; }

  static ExprPtr Combine(FilterExpr::Kind kind, std::vector<ExprPtr> operands) {
    if (operands.size() == 1) return std::move(operands[0]);
    auto node = std::make_unique<FilterExpr>();
    node->kind = kind;
    for (ExprPtr& operand : operands) {
      if (operand->kind == kind) {
        // Flatten (a AND b) AND c: AND and OR are associative.
        auto* inner = const_cast<FilterExpr*>(operand.get());
        for (ExprPtr& child : inner->children) {
          node->children.push_back(std::move(child));
        }
      } else {
        node->children.push_back(std::move(operand));
      }
    }
    return node;
  }

  absl::StatusOr<ExprPtr> ParseOr() {
    std::vector<ExprPtr> operands;
    while (true) {
      absl::StatusOr<ExprPtr> operand = ParseAnd();
      if (!operand.ok()) return operand;
      operands.push_back(*std::move(operand));
      if (!IsKeyword(Peek(), "OR")) break;
      Take();
    }
    return Combine(FilterExpr::Kind::kOr, std::move(operands));
  }

  absl::StatusOr<ExprPtr> ParseAnd() {
    std::vector<ExprPtr> operands;
    while (true) {
      absl::StatusOr<ExprPtr> operand = ParseUnary();
      if (!operand.ok()) return operand;
      operands.push_back(*std::move(operand));
      if (!IsKeyword(Peek(), "AND")) break;
      Take();
    }
    return Combine(FilterExpr::Kind::kAnd, std::move(operands));
  }

  absl::Status Enter(size_t offset) {
    if (++depth_ > kMaxFilterDepth) {
      return Error(absl::StrCat("nested deeper than ", kMaxFilterDepth,
                                " levels (parentheses and NOT)"),
                   offset);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<ExprPtr> ParseUnary() {
    const Token& t = Peek();
    if (IsKeyword(t, "NOT")) {
      Take();
      absl::Status s = Enter(t.offset);
      if (!s.ok()) return s;
      absl::StatusOr<ExprPtr> operand = ParseUnary();
      if (!operand.ok()) return operand;
      --depth_;
      auto node = std::make_unique<FilterExpr>();
      node->kind = FilterExpr::Kind::kNot;
      node->children.push_back(*std::move(operand));
      return ExprPtr(std::move(node));
    }
    if (t.kind == Token::Kind::kLParen) {
      Take();
      absl::Status s = Enter(t.offset);
      if (!s.ok()) return s;
      absl::StatusOr<ExprPtr> inner = ParseOr();
      if (!inner.ok()) return inner;
      const Token& close = Peek();
      if (close.kind != Token::Kind::kRParen) {
        if (const char* kw = LowercaseKeyword(close)) {
          return Error(absl::StrCat("keywords are uppercase: write '", kw,
                                    "' instead of '", close.text, "'"),
                       close.offset);
        }
        return Error(
            absl::StrCat("expected ')' to close the '(' at offset ", t.offset),
            close.offset);
      }
      Take();
      --depth_;
      return inner;
    }
    if (t.kind == Token::Kind::kIdent && !IsKeyword(t, "AND") &&
        !IsKeyword(t, "OR")) {
      return ParseComparison();
    }
    if (t.kind == Token::Kind::kEnd) {
      return Error("expected a field name, NOT or '(' (the filter ends here)",
                   t.offset);
    }
    return Error("expected a field name, NOT or '('", t.offset);
  }

  absl::StatusOr<ExprPtr> ParseComparison() {
    const Token& field = Take();
    if (++comparisons_ > kMaxFilterComparisons) {
      return Error(
          absl::StrCat("more than ", kMaxFilterComparisons, " comparisons"),
          field.offset);
    }
    const Token& op = Peek();
    if (op.kind != Token::Kind::kOp) {
      if (const char* kw = LowercaseKeyword(field)) {
        return Error(absl::StrCat("keywords are uppercase: write '", kw,
                                  "' instead of '", field.text, "'"),
                     field.offset);
      }
      return Error(absl::StrCat("expected an operator (=, !=, <, <=, >, >=) "
                                "after '",
                                field.text, "'"),
                   op.offset);
    }
    Take();
    auto node = std::make_unique<FilterExpr>();
    node->kind = FilterExpr::Kind::kComparison;
    node->field = field.text;
    node->field_offset = field.offset;
    absl::StatusOr<CompareOp> cmp = OpFromText(op.text);
    if (!cmp.ok()) return cmp.status();
    node->op = *cmp;
    absl::StatusOr<FilterLiteral> literal = ParseLiteral(op);
    if (!literal.ok()) return literal.status();
    node->literal = *std::move(literal);
    return ExprPtr(std::move(node));
  }

  absl::StatusOr<FilterLiteral> ParseLiteral(const Token& op) {
    const Token& t = Peek();
    FilterLiteral lit;
    lit.offset = t.offset;
    lit.text = t.text;
    switch (t.kind) {
      case Token::Kind::kString:
        lit.kind = FilterLiteral::Kind::kString;
        break;
      case Token::Kind::kNumber: {
        bool is_integer = t.text.find_first_of(".eE") == std::string::npos;
        if (is_integer) {
          lit.kind = FilterLiteral::Kind::kInteger;
          if (!absl::SimpleAtoi(t.text, &lit.int_value)) {
            return Error("integer out of range (64-bit)", t.offset);
          }
          lit.double_value = static_cast<double>(lit.int_value);
        } else {
          lit.kind = FilterLiteral::Kind::kDecimal;
          if (!absl::SimpleAtod(t.text, &lit.double_value) ||
              !std::isfinite(lit.double_value)) {
            return Error("number out of range", t.offset);
          }
        }
        break;
      }
      case Token::Kind::kIdent:
        if (t.text == "AND" || t.text == "OR" || t.text == "NOT") {
          return Error(absl::StrCat("expected a literal after '", op.text,
                                    "' (", t.text, " is a keyword)"),
                       t.offset);
        }
        if (t.text == "true" || t.text == "false") {
          lit.kind = FilterLiteral::Kind::kBool;
          lit.bool_value = t.text == "true";
        } else {
          lit.kind = FilterLiteral::Kind::kIdentifier;
        }
        break;
      case Token::Kind::kOp:
      case Token::Kind::kLParen:
      case Token::Kind::kRParen:
      case Token::Kind::kEnd:
        return Error(absl::StrCat("expected a literal after '", op.text, "'"),
                     t.offset);
    }
    Take();
    return lit;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  int comparisons_ = 0;
};

std::string QuoteString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

void Format(const FilterExpr& expr, std::string* out);

void FormatOperand(const FilterExpr& child, bool parenthesize,
                   std::string* out) {
  if (parenthesize) out->push_back('(');
  Format(child, out);
  if (parenthesize) out->push_back(')');
}

void Format(const FilterExpr& expr, std::string* out) {
  switch (expr.kind) {
    case FilterExpr::Kind::kComparison:
      absl::StrAppend(out, expr.field, " ", CompareOpText(expr.op), " ");
      if (expr.literal.kind == FilterLiteral::Kind::kString) {
        out->append(QuoteString(expr.literal.text));
      } else {
        out->append(expr.literal.text);
      }
      return;
    case FilterExpr::Kind::kAnd:
    case FilterExpr::Kind::kOr: {
      const bool is_and = expr.kind == FilterExpr::Kind::kAnd;
      for (size_t i = 0; i < expr.children.size(); ++i) {
        if (i > 0) out->append(is_and ? " AND " : " OR ");
        const FilterExpr& child = *expr.children[i];
        // An OR inside an AND needs parentheses; nothing else does (chains
        // of the same operator are flattened by the parser).
        FormatOperand(
            child,
            child.kind == FilterExpr::Kind::kOr || child.kind == expr.kind,
            out);
      }
      return;
    }
    case FilterExpr::Kind::kNot: {
      const FilterExpr& child = *expr.children[0];
      out->append("NOT ");
      FormatOperand(child,
                    child.kind == FilterExpr::Kind::kAnd ||
                        child.kind == FilterExpr::Kind::kOr,
                    out);
      return;
    }
  }
}

}  // namespace

absl::string_view CompareOpText(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "=";
    case CompareOp::kNe:
      return "!=";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<const FilterExpr>> ParseFilter(
    absl::string_view text) {
  if (text.size() > kMaxFilterBytes) {
    return absl::InvalidArgumentError(absl::StrCat("filter: longer than ",
                                                   kMaxFilterBytes, " bytes (",
                                                   text.size(), " bytes)"));
  }
  absl::StatusOr<std::vector<Token>> tokens = Lexer(text).Run();
  if (!tokens.ok()) return tokens.status();
  if (tokens->size() == 1) return ExprPtr();  // only the end token
  return Parser(*std::move(tokens)).Run();
}

std::string FormatFilter(const FilterExpr& expr) {
  std::string out;
  Format(expr, &out);
  return out;
}

absl::StatusOr<std::string> NormalizeFilter(absl::string_view text) {
  absl::StatusOr<ExprPtr> expr = ParseFilter(text);
  if (!expr.ok()) return expr.status();
  if (*expr == nullptr) return std::string();
  return FormatFilter(**expr);
}

}  // namespace crm::query
