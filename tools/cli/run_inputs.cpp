#include "cli/run_inputs.hpp"

#include <CLI/CLI.hpp>

#include <cfloat>
#include <cmath>
#include <cstring>

#include "cli/cli_common.hpp"
#include "vkattn/npy.hpp"

namespace vkattn::cli {
namespace {

Causal parse_causal(const std::string& s) {
    if (s == "top-left") return Causal::top_left;
    if (s == "bottom-right") return Causal::bottom_right;
    return Causal::none;
}

float parse_scale(const std::string& text) {
    const double s = parse_double(text, "--scale");
    if (!std::isfinite(s) || std::abs(s) > FLT_MAX) throw UsageError("--scale: '" + text + "' is not a finite float");
    if (static_cast<float>(s) == 0.0f) throw UsageError("--scale: '" + text + "' must be non-zero");
    return static_cast<float>(s);
}

/// Uploads q, k or v: converted to `dtype` when asked, and for blhd viewed as [B, H, L, D] without a copy.
Tensor upload_input(Context& ctx, const NpyArray& a, const std::string& name, const std::string& path, const InputPlan& plan,
                    const char* layout) {
    if (a.shape.empty() || a.numel() == 0)
        throw UsageError(name + ": " + path + " has shape " + to_string(a.shape) + "; expected a non-empty rank 4 " + layout);
    if (plan.blhd && a.shape.size() != 4)
        throw UsageError(name + ": expected rank 4 " + layout + " (--layout blhd), got shape " + to_string(a.shape) + " from " +
                         path);
    const Tensor t = upload_npy(ctx, a, plan.dtype);
    return plan.blhd ? t.transposed(1, 2) : t;
}

Tensor upload_mask(Context& ctx, const NpyArray& a, const std::string& path) {
    if (a.shape.empty() || a.numel() == 0)
        throw UsageError("mask: " + path + " has shape " + to_string(a.shape) + "; expected [Lq, Lk] or [B|1, Hq|1, Lq, Lk]");
    return ctx.upload_raw(a.bytes.data(), a.bytes.size(), a.shape, a.dtype);
}

}  // namespace

void add_input_options(CLI::App& app, InputArgs& a, bool files_required) {
    CLI::Option* q = app.add_option("--q", a.q, "Queries .npy, [B, Hq, Lq, D] (f32 or f16)")->type_name("FILE");
    CLI::Option* k = app.add_option("--k", a.k, "Keys .npy, [B, Hkv, Lk, D]")->type_name("FILE");
    CLI::Option* v = app.add_option("--v", a.v, "Values .npy, [B, Hkv, Lk, Dv]")->type_name("FILE");
    if (files_required) q->required(), k->required(), v->required();
    app.add_option("--mask", a.mask,
                   "Mask .npy, [Lq, Lk] or [B|1, Hq|1, Lq, Lk] (whatever --layout says): f32/f16 added to the scores, "
                   "or bool/u8 (non-zero = attend)")
        ->type_name("FILE");
    app.add_option("--sinks", a.sinks,
                   "Attention sinks .npy, [Hq] (f32 or f16): per query head a logit that joins the softmax denominator "
                   "and takes no value (gpt-oss)")
        ->type_name("FILE");
    app.add_option("--causal", a.causal, "Causal mask alignment")
        ->check(CLI::IsMember({"none", "top-left", "bottom-right"}))
        ->capture_default_str();
    app.add_option("--scale", a.scale, "Score scale (default 1/sqrt(D))")->type_name("F");
    app.add_option("--key-lengths", a.key_lengths, "Valid keys per batch, comma-separated (e.g. 3,5,7)")->type_name("LIST");
    app.add_option("--window", a.window, "Sliding window LEFT,RIGHT around the query's aligned key (i + Lk - Lq); -1 = unbounded")
        ->type_name("L,R");
    app.add_flag("--alibi", a.alibi, "Add ALiBi biases with the standard slopes for q's head count");
    app.add_option("--softcap", a.softcap, "Soft-cap scaled scores: cap * tanh(s / cap)")->type_name("CAP");
    app.add_option("--kv-splits", a.kv_splits,
                   "Split-KV of the fused tiled kernel (GPUs): 0 = chosen from the device's compute units, 1 = none, "
                   "N = that many key splits")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    app.add_option("--layout", a.layout,
                   "Layout of q, k, v and out: bhld = [B, H, L, D], blhd = [B, L, H, D] (read in place as strided views)")
        ->check(CLI::IsMember({"bhld", "blhd"}))
        ->capture_default_str();
    app.add_option("--dtype", a.dtype,
                   "Storage dtype of q, k and v on the device: keep = the files' dtype; bf16 (which .npy cannot hold) rounds "
                   "the files' values to bfloat16 and writes f32 outputs")
        ->check(CLI::IsMember({"keep", "f32", "f16", "bf16"}))
        ->capture_default_str();
}

InputPlan plan_inputs(const InputArgs& a) {
    InputPlan r;
    AttentionOptions& o = r.options;
    o.causal = parse_causal(a.causal);
    if (!a.scale.empty()) o.scale = parse_scale(a.scale);
    if (!a.key_lengths.empty()) o.key_lengths = parse_int_list(a.key_lengths, "--key-lengths");
    if (!a.window.empty()) {
        const std::vector<int32_t> w = parse_int_list(a.window, "--window");
        if (w.size() != 2 || w[0] < -1 || w[1] < -1)
            throw UsageError("--window: expected LEFT,RIGHT with each >= 0 or -1 (unbounded), got '" + a.window + "'");
        o.window = {w[0], w[1]};
    }
    if (!a.softcap.empty()) {
        const double c = parse_double(a.softcap, "--softcap");
        if (!std::isfinite(c) || c <= 0 || c > FLT_MAX) throw UsageError("--softcap: '" + a.softcap + "' must be a finite float > 0");
        o.softcap = static_cast<float>(c);
    }
    o.kv_splits = a.kv_splits;
    r.alibi = a.alibi;
    r.blhd = a.layout == "blhd";
    if (a.dtype != "keep") r.dtype = parse_dtype(a.dtype, "--dtype");
    return r;
}

InputFiles read_inputs(const InputArgs& a) {
    // read_npy's message names the file; the option that named it goes in front.
    const auto read = [](const std::string& path, const char* option) {
        try {
            return read_npy(path);
        } catch (const Error& e) {
            throw Error(e.code(), std::string(option) + ": " + e.message());
        }
    };
    InputFiles f;
    f.q = read(a.q, "--q");
    f.k = read(a.k, "--k");
    if (!a.v.empty()) f.v = read(a.v, "--v");
    if (!a.mask.empty()) f.mask = read(a.mask, "--mask");
    if (!a.sinks.empty()) {
        f.sinks = read(a.sinks, "--sinks");
        if (f.sinks->shape.size() != 1 || (f.sinks->dtype != DType::f32 && f.sinks->dtype != DType::f16))
            throw UsageError("--sinks: " + a.sinks + " has shape " + to_string(f.sinks->shape) + " and dtype " +
                             std::string(dtype_name(f.sinks->dtype)) + "; expected [Hq] f32 or f16");
    }
    return f;
}

DeviceInputs upload_inputs(Context& ctx, const InputFiles& f, const InputArgs& a, const InputPlan& plan) {
    DeviceInputs d;
    d.q = upload_input(ctx, f.q, "q", a.q, plan, plan.blhd ? "[B, Lq, Hq, D]" : "[B, Hq, Lq, D]");
    d.k = upload_input(ctx, f.k, "k", a.k, plan, plan.blhd ? "[B, Lk, Hkv, D]" : "[B, Hkv, Lk, D]");
    if (!a.v.empty()) {
        d.v = upload_input(ctx, f.v, "v", a.v, plan, plan.blhd ? "[B, Lk, Hkv, Dv]" : "[B, Hkv, Lk, Dv]");
    } else {
        // Zeros shaped like k, in k's layout and the compute dtype: the weights do not depend on v.
        const DType zdtype = plan.dtype.value_or(f.k.dtype == DType::f16 ? DType::f16 : DType::f32);
        const NpyArray zeros =
            NpyArray::from_floats(std::vector<float>(static_cast<std::size_t>(f.k.numel()), 0.0f), f.k.shape, zdtype);
        d.v = upload_input(ctx, zeros, "v", "(zeros like k)", plan, plan.blhd ? "[B, Lk, Hkv, Dv]" : "[B, Hkv, Lk, Dv]");
    }
    d.options = plan.options;
    if (f.mask) d.options.mask = upload_mask(ctx, *f.mask, a.mask);
    if (plan.alibi) d.options.alibi_slopes = alibi_slopes(d.q.dim(1));
    if (f.sinks) d.options.sinks = f.sinks->to_floats();  // the engine checks there are Hq finite values
    return d;
}

}  // namespace vkattn::cli
