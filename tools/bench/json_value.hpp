#pragma once
// A small strict JSON reader (RFC 8259) for the files `vkattn bench --json` writes: values, arrays,
// objects; numbers as double. Errors name the line and column.
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace vkattn::cli {

class JsonValue {
public:
    enum class Type { null, boolean, number, string, array, object };

    Type type() const { return type_; }
    bool is_null() const { return type_ == Type::null; }
    bool is_number() const { return type_ == Type::number; }
    bool is_string() const { return type_ == Type::string; }
    bool is_array() const { return type_ == Type::array; }
    bool is_object() const { return type_ == Type::object; }

    double number() const { return number_; }
    bool boolean() const { return boolean_; }
    const std::string& string() const { return string_; }
    const std::vector<JsonValue>& items() const { return items_; }
    /// The member `key` of an object, or nullptr (also when this is not an object).
    const JsonValue* find(const std::string& key) const;

    /// Member `key` as a string, or `fallback` when absent or not a string.
    std::string string_or(const std::string& key, const std::string& fallback = "") const;
    /// Member `key` as a number, or `fallback` when absent, null or not a number.
    double number_or(const std::string& key, double fallback) const;

private:
    friend class JsonParser;
    Type type_ = Type::null;
    bool boolean_ = false;
    double number_ = 0;
    std::string string_;
    std::vector<JsonValue> items_;                     // array items, or object values in member order
    std::vector<std::string> keys_;                    // object keys, parallel to items_
};

/// A malformed document: what() is "line L, column C: <problem>".
class JsonError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Parses a whole document (nesting at most 64 deep). Throws JsonError.
JsonValue parse_json(const std::string& text);

}  // namespace vkattn::cli
