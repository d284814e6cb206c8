#include "bench/json_value.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace vkattn::cli {

const JsonValue* JsonValue::find(const std::string& key) const {
    if (type_ != Type::object) return nullptr;
    for (std::size_t i = 0; i < keys_.size(); ++i)
        if (keys_[i] == key) return &items_[i];
    return nullptr;
}

std::string JsonValue::string_or(const std::string& key, const std::string& fallback) const {
    const JsonValue* v = find(key);
    return v && v->is_string() ? v->string() : fallback;
}

double JsonValue::number_or(const std::string& key, double fallback) const {
    const JsonValue* v = find(key);
    return v && v->is_number() ? v->number() : fallback;
}

class JsonParser {
public:
    explicit JsonParser(const std::string& text) : s_(text) {}

    JsonValue document() {
        JsonValue v = value(0);
        skip_space();
        if (pos_ != s_.size()) fail("unexpected text after the document");
        return v;
    }

private:
    static constexpr int kMaxDepth = 64;
    const std::string& s_;
    std::size_t pos_ = 0;

    [[noreturn]] void fail(const std::string& what) const {
        std::size_t line = 1, column = 1;
        for (std::size_t i = 0; i < pos_ && i < s_.size(); ++i) {
            if (s_[i] == '\n') ++line, column = 1;
            else ++column;
        }
        throw JsonError("line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + what);
    }

    void skip_space() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
    }

    bool take(char c) {
        skip_space();
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }

    void expect(char c, const char* context) {
        if (!take(c)) fail(std::string("expected '") + c + "' " + context);
    }

    bool literal(const char* word) {
        const std::string w(word);
        if (s_.compare(pos_, w.size(), w) != 0) return false;
        pos_ += w.size();
        return true;
    }

    JsonValue value(int depth) {
        if (depth > kMaxDepth) fail("nested deeper than 64 levels");
        skip_space();
        if (pos_ >= s_.size()) fail("unexpected end of input");
        JsonValue v;
        const char c = s_[pos_];
        if (c == '{') {
            ++pos_;
            v.type_ = JsonValue::Type::object;
            if (take('}')) return v;
            do {
                skip_space();
                if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a member name in quotes");
                v.keys_.push_back(string_literal());
                expect(':', "after a member name");
                v.items_.push_back(value(depth + 1));
            } while (take(','));
            expect('}', "or ',' in an object");
        } else if (c == '[') {
            ++pos_;
            v.type_ = JsonValue::Type::array;
            if (take(']')) return v;
            do v.items_.push_back(value(depth + 1));
            while (take(','));
            expect(']', "or ',' in an array");
        } else if (c == '"') {
            v.type_ = JsonValue::Type::string;
            v.string_ = string_literal();
        } else if (literal("true")) {
            v.type_ = JsonValue::Type::boolean;
            v.boolean_ = true;
        } else if (literal("false")) {
            v.type_ = JsonValue::Type::boolean;
        } else if (literal("null")) {
            v.type_ = JsonValue::Type::null;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            v.type_ = JsonValue::Type::number;
            v.number_ = number();
        } else {
            const unsigned char u = static_cast<unsigned char>(c);
            char shown[8];
            std::snprintf(shown, sizeof shown, u >= 0x20 && u < 0x7F ? "'%c'" : "0x%02X", u);
            fail(std::string("unexpected character ") + shown);
        }
        return v;
    }

    double number() {
        const std::size_t start = pos_;
        if (s_[pos_] == '-') ++pos_;
        const auto digits = [&] {
            const std::size_t d = pos_;
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
            if (pos_ == d) fail("malformed number");
        };
        if (pos_ < s_.size() && s_[pos_] == '0') ++pos_;
        else digits();
        if (pos_ < s_.size() && s_[pos_] == '.') ++pos_, digits();
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
            digits();
        }
        double v = 0;
        const auto [end, ec] = std::from_chars(s_.data() + start, s_.data() + pos_, v);
        if (ec != std::errc() || end != s_.data() + pos_ || !std::isfinite(v)) fail("number out of range");
        return v;
    }

    static void put_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    uint32_t hex4() {
        if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            const char h = s_[pos_++];
            v <<= 4;
            if (h >= '0' && h <= '9') v |= uint32_t(h - '0');
            else if (h >= 'a' && h <= 'f') v |= uint32_t(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') v |= uint32_t(h - 'A' + 10);
            else fail("bad hex digit in \\u escape");
        }
        return v;
    }

    std::string string_literal() {
        ++pos_;  // the opening quote
        std::string out;
        while (true) {
            if (pos_ >= s_.size()) fail("unterminated string");
            const unsigned char c = static_cast<unsigned char>(s_[pos_++]);
            if (c == '"') return out;
            if (c < 0x20) fail("control character in a string");
            if (c != '\\') {
                out += static_cast<char>(c);
                continue;
            }
            if (pos_ >= s_.size()) fail("unterminated string");
            const char e = s_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t cp = hex4();
                    if (cp >= 0xD800 && cp < 0xDC00 && s_.compare(pos_, 2, "\\u") == 0) {
                        pos_ += 2;
                        const uint32_t low = hex4();
                        if (low < 0xDC00 || low >= 0xE000) fail("bad surrogate pair");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    }
                    put_utf8(out, cp);
                    break;
                }
                default: fail(std::string("bad escape '\\") + e + "'");
            }
        }
    }
};

JsonValue parse_json(const std::string& text) { return JsonParser(text).document(); }

}  // namespace vkattn::cli
