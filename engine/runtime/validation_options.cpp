#include "runtime/validation_options.hpp"

#include <cstdlib>
#include <string>

#include "vkattn/error.hpp"

namespace vkattn {

const char* to_string(ValidationChecks c) noexcept {
    switch (c) {
        case ValidationChecks::synchronization: return "sync";
        case ValidationChecks::gpu_assisted: return "gpu";
        case ValidationChecks::best_practices: return "best-practices";
        default: return "standard";
    }
}

namespace detail {

ValidationRequest resolve_validation(bool option, ValidationChecks option_checks) {
    ValidationRequest r{option, option_checks};
    const char* env = std::getenv("VKATTN_VALIDATION");
    const std::string v = env ? env : "";
    if (v.empty() || v == "0") return r;
    ValidationChecks from_env;
    if (v == "1" || v == "on" || v == "true" || v == "yes" || v == "standard")
        from_env = ValidationChecks::standard;
    else if (v == "sync")
        from_env = ValidationChecks::synchronization;
    else if (v == "gpu")
        from_env = ValidationChecks::gpu_assisted;
    else if (v == "best-practices")
        from_env = ValidationChecks::best_practices;
    else
        throw Error(ErrorCode::invalid_argument,
                    "VKATTN_VALIDATION: '" + v + "' is not one of 0, 1, standard, sync, gpu, best-practices");
    r.enabled = true;
    if (r.checks == ValidationChecks::standard) r.checks = from_env;
    return r;
}

}  // namespace detail
}  // namespace vkattn
