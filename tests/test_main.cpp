// Test entry point: fails the run if the validation layer said anything.
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace {

class ValidationSilence : public ::testing::Environment {
public:
    void TearDown() override {
        const uint64_t n = vkattn::test::context().validation_message_count();
        const auto& dev = vkattn::test::context().device();
        std::printf("vkattn tests: device %s, %zu pipelines built in %.1f s, %llu validation messages\n", dev.name.c_str(),
                    vkattn::test::context().pipeline_count(), vkattn::test::context().pipeline_compile_seconds(),
                    static_cast<unsigned long long>(n));
        EXPECT_EQ(n, 0u) << "the Vulkan validation layer reported messages (printed above)";
    }
};

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    (void)vkattn::test::test_context_options();  // sets the test switches for every context of the suite
    ::testing::AddGlobalTestEnvironment(new ValidationSilence);
    return RUN_ALL_TESTS();
}
