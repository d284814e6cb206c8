// `vkattn mha` and `vkattn additive`: the attention layers over .npy inputs and .safetensors weights.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <optional>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "vkattn/npy.hpp"

namespace vkattn::cli {
namespace {

Causal causal_of(const std::string& s) {
    if (s == "top-left") return Causal::top_left;
    if (s == "bottom-right") return Causal::bottom_right;
    return Causal::none;
}

void save_tensor(const std::string& path, const Tensor& t) {
    NpyArray a = NpyArray::from_floats(t.download<float>(), t.shape(), t.dtype() == DType::f16 ? DType::f16 : DType::f32);
    write_npy(path, a);
}

Tensor upload_npy(Context& ctx, const std::string& path, const std::string& name, std::optional<DType> dtype, std::size_t rank) {
    const NpyArray a = read_npy(path);
    if (a.shape.size() != rank || a.numel() == 0)
        throw UsageError(name + ": " + path + " has shape " + to_string(a.shape) + "; expected a non-empty rank-" + std::to_string(rank) + " array");
    if (a.dtype != DType::f32 && a.dtype != DType::f16)
        throw UsageError(name + ": " + path + " has dtype " + std::string(dtype_name(a.dtype)) + "; expected f32 or f16");
    return ctx.upload(a.to_floats(), a.shape, dtype.value_or(a.dtype));
}

std::optional<Tensor> upload_mask(Context& ctx, const std::string& path) {
    if (path.empty()) return std::nullopt;
    const NpyArray a = read_npy(path);
    if (a.shape.empty() || a.numel() == 0) throw UsageError("--mask: " + path + " is empty");
    return ctx.upload_raw(a.bytes.data(), a.bytes.size(), a.shape, a.dtype);
}

struct LayerArgs {
    CommonOptions common;
    std::string weights, x, x_kv, q, k, v, mask, out = "out.npy", weights_out, prefix, causal = "none", key_lengths, dtype = "keep";
    std::string score = "bahdanau";
    int64_t heads = 1, kv_heads = 0;
    bool per_head = false;
};

void print_summary(const std::string& out, const Tensor& t, const std::string& variant, double ms, uint32_t dispatches) {
    std::cout << out << ": " << to_string(t.shape()) << " " << dtype_name(t.dtype()) << ", " << variant << ", ";
    if (ms >= 0) std::cout << format_fixed(ms, 3) << " ms GPU";
    else std::cout << "GPU time n/a";
    std::cout << ", " << dispatches << " dispatch(es)\n";
}

int run_mha(const LayerArgs& a) {
    const std::optional<DType> dt = a.dtype == "keep" ? std::nullopt : std::optional<DType>(parse_dtype(a.dtype, "--dtype"));
    MhaOptions o;
    o.causal = causal_of(a.causal);
    if (!a.key_lengths.empty()) o.key_lengths = parse_int_list(a.key_lengths, "--key-lengths");
    o.need_weights = !a.weights_out.empty();
    o.average_weights = !a.per_head;
    o.measure_time = true;
    const SafeTensors file = SafeTensors::open(a.weights);
    Context ctx = open_context(a.common);
    const Tensor x = upload_npy(ctx, a.x, "--x", dt, 3);
    std::optional<Tensor> xkv;
    if (!a.x_kv.empty()) xkv = upload_npy(ctx, a.x_kv, "--x-kv", x.dtype(), 3);
    o.mask = upload_mask(ctx, a.mask);
    MhaLoadOptions lo;
    lo.heads = a.heads, lo.kv_heads = a.kv_heads, lo.prefix = a.prefix, lo.dtype = x.dtype();
    const MhaWeights w = load_mha_weights(ctx, file, lo);
    const MhaResult r = multi_head_attention(ctx, w, x, xkv, std::nullopt, o);
    save_tensor(a.out, r.out);
    if (r.weights) save_tensor(a.weights_out, *r.weights);
    print_summary(a.out, r.out, r.variant, r.gpu_milliseconds, r.dispatches);
    if (r.weights) std::cout << a.weights_out << ": " << to_string(r.weights->shape()) << " f32 attention weights\n";
    report_validation(ctx, a.common);
    return kExitOk;
}

int run_additive(const LayerArgs& a) {
    const std::optional<DType> dt = a.dtype == "keep" ? std::nullopt : std::optional<DType>(parse_dtype(a.dtype, "--dtype"));
    AttentionOptions o;
    o.causal = causal_of(a.causal);
    if (!a.key_lengths.empty()) o.key_lengths = parse_int_list(a.key_lengths, "--key-lengths");
    o.return_weights = !a.weights_out.empty();
    o.measure_time = true;
    const SafeTensors file = SafeTensors::open(a.weights);
    Context ctx = open_context(a.common);
    const Tensor q = upload_npy(ctx, a.q, "--q", dt, 4);
    const Tensor k = upload_npy(ctx, a.k, "--k", q.dtype(), 4);
    const Tensor v = upload_npy(ctx, a.v, "--v", q.dtype(), 4);
    o.mask = upload_mask(ctx, a.mask);
    AttentionResult r;
    if (a.score == "general") {
        r = luong_general_attention(ctx, q, k, v, file.upload(ctx, a.prefix + "w", q.dtype()), o);
    } else {
        AdditiveWeights w;
        w.w_q = file.upload(ctx, a.prefix + "w_q", q.dtype());
        w.w_k = file.upload(ctx, a.prefix + "w_k", q.dtype());
        w.v_a = file.upload(ctx, a.prefix + "v_a", q.dtype());
        if (file.contains(a.prefix + "b")) w.bias = file.upload(ctx, a.prefix + "b", q.dtype());
        r = additive_attention(ctx, q, k, v, w, o);
    }
    save_tensor(a.out, r.out);
    if (r.weights) save_tensor(a.weights_out, *r.weights);
    print_summary(a.out, r.out, r.variant, r.gpu_milliseconds, r.dispatches);
    report_validation(ctx, a.common);
    return kExitOk;
}

void add_shared(CLI::App* app, LayerArgs& a) {
    app->add_option("--causal", a.causal, "Causal mask alignment")->check(CLI::IsMember({"none", "top-left", "bottom-right"}))->capture_default_str();
    app->add_option("--key-lengths", a.key_lengths, "Valid keys per batch, comma-separated")->type_name("LIST");
    app->add_option("--mask", a.mask, "Mask .npy, [Lq, Lk] or [B|1, H|1, Lq, Lk]: f32/f16 added to the scores, bool/u8 non-zero = attend")
        ->type_name("FILE");
    app->add_option("--dtype", a.dtype, "Compute dtype: keep = the input's")->check(CLI::IsMember({"keep", "f32", "f16"}))->capture_default_str();
    app->add_option("--prefix", a.prefix, "Prefix of the tensor names in the weights file")->type_name("TEXT");
    app->add_option("--out", a.out, "Output .npy")->capture_default_str()->type_name("FILE");
    add_common_options(*app, a.common);
}

}  // namespace

Command add_mha_command(CLI::App& parent) {
    auto a = std::make_shared<LayerArgs>();
    CLI::App* app = parent.add_subcommand("mha", "Multi-head attention layer (nn.MultiheadAttention weights from .safetensors)");
    app->add_option("--weights", a->weights, "State dict .safetensors: in_proj_weight (or q/k/v_proj_weight), in_proj_bias, out_proj.weight, out_proj.bias")
        ->required()->type_name("FILE");
    app->add_option("--x", a->x, "Query input .npy [B, Lq, E] (also keys and values without --x-kv)")->required()->type_name("FILE");
    app->add_option("--x-kv", a->x_kv, "Key/value input .npy [B, Lk, kdim] (cross-attention)")->type_name("FILE");
    app->add_option("--heads", a->heads, "Query heads")->required()->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
    app->add_option("--kv-heads", a->kv_heads, "Key/value heads (grouped-query attention; default: --heads)")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
    app->add_option("--weights-out", a->weights_out, "Also write the attention weights .npy, f32 [B, Lq, Lk] averaged over heads")->type_name("FILE");
    app->add_flag("--per-head", a->per_head, "With --weights-out: write [B, H, Lq, Lk] instead of the average");
    add_shared(app, *a);
    return {app, [a] { return run_mha(*a); }};
}

Command add_additive_command(CLI::App& parent) {
    auto a = std::make_shared<LayerArgs>();
    CLI::App* app = parent.add_subcommand("additive", "Additive (Bahdanau) or Luong-general attention over .npy files");
    app->add_option("--q", a->q, "Queries .npy [B, H, Lq, Dq]")->required()->type_name("FILE");
    app->add_option("--k", a->k, "Keys .npy [B, Hkv, Lk, Dk]")->required()->type_name("FILE");
    app->add_option("--v", a->v, "Values .npy [B, Hkv, Lk, Dv]")->required()->type_name("FILE");
    app->add_option("--weights", a->weights, ".safetensors with w_q [A, Dq], w_k [A, Dk], v_a [A], optional b [A] (bahdanau) or w [Dq, Dk] (general)")
        ->required()->type_name("FILE");
    app->add_option("--score", a->score, "Score function")->check(CLI::IsMember({"bahdanau", "general"}))->capture_default_str();
    app->add_option("--weights-out", a->weights_out, "Also write the attention weights .npy, f32 [B, H, Lq, Lk]")->type_name("FILE");
    add_shared(app, *a);
    return {app, [a] { return run_additive(*a); }};
}

}  // namespace vkattn::cli
