#pragma once
// The tabled bad inputs (docs/bad_inputs.md, API rows): each is a call that must throw vkattn::Error
// with `code` and a message containing `message_part`. attention_errors_test.cpp holds the attention
// and tensor rows, layer_errors_test.cpp those of linear, additive, matmul, MHA, .safetensors and the
// KV cache, sequences_test.cpp those of packed sequences and the paged cache;
// Errors.TheDocumentedTableMatchesTheTests checks the table against the lists.
#include <functional>
#include <string>
#include <vector>

#include <vkattn/vkattn.hpp>

namespace vkattn::test {

struct BadInput {
    std::string name;
    std::function<void()> call;
    ErrorCode code;
    std::string message_part;
};

std::vector<BadInput> attention_bad_inputs();
std::vector<BadInput> layer_bad_inputs();
/// Packed sequences and the paged KV cache (tests/sequences_test.cpp).
std::vector<BadInput> sequence_bad_inputs();

/// Makes the call and checks the error's code and message (gtest failures otherwise).
void expect_bad_input(const BadInput& bad);

}  // namespace vkattn::test
