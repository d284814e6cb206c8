#pragma once
// The attention inputs of `vkattn run` and `vkattn heatmap`: the options naming the .npy files (q, k, v,
// mask) and the options shaping the call (causal, scale, key lengths, layout, dtype), their strict
// parsing, reading the files, and uploading them as device tensors.
#include <optional>
#include <string>

#include "cli/npy_io.hpp"  // upload_npy, save_npy
#include "vkattn/npy.hpp"
#include "vkattn/vkattn.hpp"

namespace CLI {
class App;
}

namespace vkattn::cli {

struct InputArgs {
    std::string q, k, v, mask, sinks;
    std::string causal = "none";
    std::string scale;
    std::string key_lengths;
    std::string layout = "bhld";
    std::string dtype = "keep";
    std::string window, softcap;
    int kv_splits = 0;
    bool alibi = false;
};

/// Registers --q --k --v --mask --sinks --causal --scale --key-lengths --window --alibi --softcap --kv-splits --layout --dtype. With `files_required`
/// --q, --k and --v must be given; otherwise the command checks what it needs.
void add_input_options(CLI::App& command, InputArgs& args, bool files_required);

/// The input arguments after strict parsing.
struct InputPlan {
    AttentionOptions options;    ///< causal, scale and key lengths set; the rest default
    bool blhd = false;           ///< --layout blhd
    std::optional<DType> dtype;  ///< nullopt: keep each file's dtype
    bool alibi = false;          ///< --alibi: the standard slopes for q's head count (set at upload)
};
InputPlan plan_inputs(const InputArgs& args);

/// The files as read; `v` is empty (no shape) when --v was not given.
struct InputFiles {
    NpyArray q, k, v;
    std::optional<NpyArray> mask;
    std::optional<NpyArray> sinks;
};
/// Reads every file before anything touches the device, so that a bad file fails fast.
InputFiles read_inputs(const InputArgs& args);

/// The device tensors, viewed as [B, H, L, D] whatever the layout, and the options with the mask set.
struct DeviceInputs {
    Tensor q, k, v;
    AttentionOptions options;
};
/// Uploads the files. Without a v file, v is zeros shaped like k (the weights do not depend on v).
DeviceInputs upload_inputs(Context& ctx, const InputFiles& files, const InputArgs& args, const InputPlan& plan);


}  // namespace vkattn::cli
