#pragma once
/// \file vkattn.hpp
/// Umbrella header: everything a user of vkattn needs.
#include "vkattn/attention.hpp"
#include "vkattn/context.hpp"
#include "vkattn/device.hpp"
#include "vkattn/dtype.hpp"
#include "vkattn/error.hpp"
#include "vkattn/npy.hpp"
#include "vkattn/reference.hpp"
#include "vkattn/tensor.hpp"
#include "vkattn/version.hpp"
#include "vkattn/roofline.hpp"
#include "vkattn/tuning.hpp"
#include "vkattn/matmul.hpp"
#include "vkattn/safetensors.hpp"
#include "vkattn/mha.hpp"
#include "vkattn/additive.hpp"
#include "vkattn/layers_reference.hpp"
