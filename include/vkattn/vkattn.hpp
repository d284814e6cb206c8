#pragma once
/// \file vkattn.hpp
/// Umbrella header: the core API — context, device, tensor, dtype, error, attention, the KV cache
/// and the layers (matmul, multi-head, additive, linear attention).
///
/// Included explicitly by those who want them, not from here:
///   vkattn/reference.hpp, vkattn/linear_reference.hpp, vkattn/layers_reference.hpp  CPU references
///   vkattn/npy.hpp, vkattn/safetensors.hpp                                           file formats
///   vkattn/roofline.hpp, vkattn/tuning.hpp                                           measurement, tuning
///   vkattn/profile.hpp                                                               limits profiles
#include "vkattn/additive.hpp"
#include "vkattn/attention.hpp"
#include "vkattn/batch.hpp"
#include "vkattn/context.hpp"
#include "vkattn/device.hpp"
#include "vkattn/dtype.hpp"
#include "vkattn/error.hpp"
#include "vkattn/kv_cache.hpp"
#include "vkattn/linear_attention.hpp"
#include "vkattn/matmul.hpp"
#include "vkattn/mha.hpp"
#include "vkattn/paged_kv_cache.hpp"
#include "vkattn/sequences.hpp"
#include "vkattn/tensor.hpp"
#include "vkattn/version.hpp"
