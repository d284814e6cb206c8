#pragma once
// Whether the validation layer is on and with which checks: ContextOptions plus VKATTN_VALIDATION.
#include "vkattn/context.hpp"

namespace vkattn::detail {

struct ValidationRequest {
    bool enabled = false;
    ValidationChecks checks = ValidationChecks::standard;
};

/// The options' request, completed from VKATTN_VALIDATION: "0" or empty adds nothing; "1", "on",
/// "true", "yes", "standard" turn the layer on; "sync", "gpu", "best-practices" turn it on with those
/// checks unless the options already chose checks. Anything else: Error(invalid_argument) naming it.
ValidationRequest resolve_validation(bool option, ValidationChecks option_checks);

}  // namespace vkattn::detail
