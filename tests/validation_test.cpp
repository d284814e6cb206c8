// VKATTN_VALIDATION and ContextOptions::validation_checks (engine/runtime/validation_options.cpp).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "test_support.hpp"
#include "runtime/validation_options.hpp"

namespace vkattn::test {
namespace {

// Sets VKATTN_VALIDATION for one scope and puts the old value back.
struct ScopedValidationEnv {
    std::string saved;
    bool had;
    explicit ScopedValidationEnv(const char* value) {
        const char* old = std::getenv("VKATTN_VALIDATION");
        had = old != nullptr;
        saved = old ? old : "";
        if (value) setenv("VKATTN_VALIDATION", value, 1);
        else unsetenv("VKATTN_VALIDATION");
    }
    ~ScopedValidationEnv() {
        if (had) setenv("VKATTN_VALIDATION", saved.c_str(), 1);
        else unsetenv("VKATTN_VALIDATION");
    }
};

using detail::resolve_validation;

TEST(ValidationOptions, EnvironmentTurnsOnAndChoosesChecks) {
    {
        ScopedValidationEnv env(nullptr);
        EXPECT_FALSE(resolve_validation(false, ValidationChecks::standard).enabled);
        EXPECT_TRUE(resolve_validation(true, ValidationChecks::standard).enabled);
    }
    {
        ScopedValidationEnv env("0");
        EXPECT_FALSE(resolve_validation(false, ValidationChecks::standard).enabled);
    }
    for (const char* on : {"1", "standard", "on", "true", "yes"}) {
        ScopedValidationEnv env(on);
        const auto r = resolve_validation(false, ValidationChecks::standard);
        EXPECT_TRUE(r.enabled) << on;
        EXPECT_EQ(r.checks, ValidationChecks::standard) << on;
    }
    const std::pair<const char*, ValidationChecks> modes[] = {{"sync", ValidationChecks::synchronization},
                                                              {"gpu", ValidationChecks::gpu_assisted},
                                                              {"best-practices", ValidationChecks::best_practices}};
    for (const auto& [text, checks] : modes) {
        ScopedValidationEnv env(text);
        const auto r = resolve_validation(false, ValidationChecks::standard);
        EXPECT_TRUE(r.enabled);
        EXPECT_EQ(r.checks, checks);
        EXPECT_STREQ(to_string(checks), text);
        // Checks chosen in the options win over the environment's.
        EXPECT_EQ(resolve_validation(true, ValidationChecks::synchronization).checks, ValidationChecks::synchronization);
    }
}

TEST(ValidationOptions, UnknownEnvironmentValueIsAnErrorNamingIt) {
    ScopedValidationEnv env("paranoid");
    try {
        resolve_validation(false, ValidationChecks::standard);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
        EXPECT_EQ(e.message().rfind("VKATTN_VALIDATION: 'paranoid'", 0), 0u) << e.message();
        EXPECT_NE(e.message().find("sync, gpu"), std::string::npos) << e.message();
    }
}

}  // namespace
}  // namespace vkattn::test
