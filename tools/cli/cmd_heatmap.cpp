// `vkattn heatmap`: runs attention (the explicit path, which returns the weights) over .npy inputs or a
// random demo problem, or reads weights any other attention command wrote (--weights-npy: `additive
// --weights-out`, `mha --weights-out`, `run --weights`), and draws the weights of one batch as a PNG or an
// SVG (by the extension of --out): one head, every head in a grid, or the mean over heads; optionally also
// writes the raw weights as .npy.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "draw/heatmap_render.hpp"
#include "draw/picture_file.hpp"
#include "cli/problem.hpp"
#include "cli/run_inputs.hpp"
#include "vkattn/npy.hpp"

namespace vkattn::cli {
namespace {

struct HeatmapArgs {
    CommonOptions common;
    InputArgs inputs;
    std::string random, heads, seed;
    std::string weights_npy;
    std::string out, npy;
    std::string batch = "0", head;
    bool grid = false, mean = false;
    std::string query_tokens, key_tokens, title;
    std::string max_cells = "256", vmax;
};

/// The shape of the weights the inputs will produce, [B, Hq, Lq, Lk], read from the file headers so that
/// the request is checked before the device is touched. Empty when the files cannot say (the engine
/// then reports the bad shape).
Shape expected_weights_shape(const InputFiles& f, bool blhd) {
    if (f.q.shape.size() != 4 || f.k.shape.size() != 4) return {};
    const int l = blhd ? 1 : 2, h = blhd ? 2 : 1;
    return {f.q.shape[0], f.q.shape[static_cast<std::size_t>(h)], f.q.shape[static_cast<std::size_t>(l)],
            f.k.shape[static_cast<std::size_t>(l)]};
}

HeatmapRequest make_request(const HeatmapArgs& a) {
    HeatmapRequest r;
    r.batch = parse_integer(a.batch, "--batch", 0, INT32_MAX);
    r.mode = a.grid ? HeatmapMode::grid : a.mean ? HeatmapMode::mean : HeatmapMode::head;
    if (!a.head.empty()) r.head = parse_integer(a.head, "--head", 0, INT32_MAX);
    r.max_cells = parse_integer(a.max_cells, "--max-cells", 0, 1 << 20);
    if (!a.vmax.empty()) r.vmax = parse_double(a.vmax, "--vmax");
    if (!a.query_tokens.empty()) r.query_tokens = read_tokens(a.query_tokens, "--query-tokens");
    if (!a.key_tokens.empty()) r.key_tokens = read_tokens(a.key_tokens, "--key-tokens");
    r.title = a.title;
    r.source = "dot-product attention";
    return r;
}

// Weights another command wrote: [B, H, Lq, Lk], [B, Lq, Lk] (a layer's head average: one panel) or [Lq, Lk].
AttentionWeights read_weights_npy(const std::string& path) {
    NpyArray arr;
    try {
        arr = read_npy(path);
    } catch (const Error& e) {
        throw UsageError("--weights-npy: " + e.message());  // read_npy's message names the file
    }
    if (arr.dtype != DType::f32 && arr.dtype != DType::f16)
        throw UsageError("--weights-npy: " + path + " holds " + std::string(dtype_name(arr.dtype)) + "; expected f32 or f16 weights");
    Shape shape = arr.shape;
    if (shape.size() == 2) shape.insert(shape.begin(), {1, 1});
    if (shape.size() == 3) shape.insert(shape.begin() + 1, 1);
    if (shape.size() != 4)
        throw UsageError("--weights-npy: " + path + " has shape " + to_string(arr.shape) + "; expected [B, H, Lq, Lk], [B, Lq, Lk] or [Lq, Lk]");
    return make_weights(arr.to_floats(), shape, "--weights-npy " + path);
}

int run_heatmap(const HeatmapArgs& a) {
    const InputArgs& in = a.inputs;
    picture_format(a.out, "--out");  // .png or .svg, checked before anything is read or computed
    if (!a.weights_npy.empty()) {
        // Nothing to compute: draw what another command wrote (no device is opened).
        if (!a.random.empty() || !in.q.empty() || !in.k.empty() || !in.v.empty() || !in.mask.empty())
            throw UsageError("--weights-npy: draws weights from a file; do not combine it with --random, --q, --k, --v or --mask");
        HeatmapRequest request = make_request(a);
        request.source = "attention";
        const AttentionWeights w = read_weights_npy(a.weights_npy);
        check_request(request, {w.B, w.H, w.Lq, w.Lk});
        if (!a.npy.empty()) throw UsageError("--npy: the weights already are in " + a.weights_npy);
        const RenderedHeatmap img = write_heatmap(w, request, a.out);
        std::cout << "heatmap: wrote " << a.out << " (" << img.drawing.width() << " x " << img.drawing.height() << " px, "
                  << img.panels.size() << " panel(s) of " << img.panels[0].rows << " x " << img.panels[0].cols
                  << " cells) from " << a.weights_npy << " [" << w.B << ", " << w.H << ", " << w.Lq << ", " << w.Lk << "]\n";
        return kExitOk;
    }
    const bool random = !a.random.empty();
    if (random && (!in.q.empty() || !in.k.empty() || !in.v.empty() || !in.mask.empty()))
        throw UsageError("--random: makes its own q, k and v; do not combine it with --q, --k, --v or --mask");
    if (!random && (!a.heads.empty() || !a.seed.empty()))
        throw UsageError(std::string(a.heads.empty() ? "--seed" : "--heads") + ": only for --random L");
    if (!random && (in.q.empty() || in.k.empty()))
        throw UsageError(std::string(in.q.empty() ? "--q" : "--k") +
                         ": required (give --q and --k, and optionally --v and --mask; or --random L for a demo)");
    InputPlan plan = plan_inputs(in);
    const HeatmapRequest request = make_request(a);

    // Read everything and check the request against the shapes before touching the device.
    InputFiles files;
    ProblemSpec spec;
    Shape shape;
    if (random) {
        spec.name = "heatmap-random";
        spec.Lq = spec.Lk = parse_integer(a.random, "--random", 1, 8192);
        spec.Hq = spec.Hkv = a.heads.empty() ? 4 : parse_integer(a.heads, "--heads", 1, 256);
        spec.D = spec.Dv = 64;
        spec.dtype = plan.dtype.value_or(DType::f32);
        spec.causal = plan.options.causal;
        shape = {spec.B, spec.Hq, spec.Lq, spec.Lk};
    } else {
        files = read_inputs(in);
        shape = expected_weights_shape(files, plan.blhd);
    }
    if (!shape.empty()) check_request(request, shape);

    Context ctx = open_context(a.common);
    DeviceInputs d;
    if (random) {
        const DeviceProblem p = upload_problem(ctx, spec, generate_problem(spec, mix_seed(a.seed.empty() ? 1 : parse_integer(a.seed, "--seed", 0, INT64_MAX))));
        d = {p.q, p.k, p.v, plan.options};
    } else {
        d = upload_inputs(ctx, files, in, plan);
    }
    d.options.path = Path::explicit_;
    d.options.return_weights = true;
    const AttentionResult r = attention_full(ctx, d.q, d.k, d.v, d.options);
    if (!a.npy.empty()) save_npy(a.npy, *r.weights);
    const RenderedHeatmap img = write_heatmap(download_weights(*r.weights), request, a.out);

    std::cout << "heatmap: wrote " << a.out << " (" << img.drawing.width() << " x " << img.drawing.height() << " px, "
              << img.panels.size() << " panel(s) of " << img.panels[0].rows << " x " << img.panels[0].cols
              << " cells) from weights " << to_string(r.weights->shape());
    if (!a.npy.empty()) std::cout << "; weights -> " << a.npy;
    std::cout << '\n';
    if (a.common.verbose) {
        std::cerr << "vkattn: variant " << r.variant << "\n";
        for (std::size_t i = 0; i < img.panels.size(); ++i) {
            const PanelPlacement& p = img.panels[i];
            std::cerr << "vkattn: panel " << i << ": x " << p.x0 << " y " << p.y0 << " cell " << p.cell << " rows " << p.rows
                      << " cols " << p.cols << "\n";
        }
        std::cerr << "vkattn: colour bar: x " << img.bar.x0 << ".." << img.bar.x1 << " y " << img.bar.y0 << ".." << img.bar.y1
                  << "\n";
    }
    report_validation(ctx, a.common);
    return kExitOk;
}

}  // namespace

Command add_heatmap_command(CLI::App& parent) {
    auto a = std::make_shared<HeatmapArgs>();
    CLI::App* app = parent.add_subcommand(
        "heatmap", "Draw attention weights as a PNG or SVG heatmap (one head, a grid of heads, or their mean) with a colour bar");
    add_input_options(*app, a->inputs, false);
    app->add_option("--random", a->random, "Instead of files: random q, k, v with Lq = Lk = L (B 1, D 64)")->type_name("L");
    app->add_option("--heads", a->heads, "Heads of the --random problem (default 4)")->type_name("H");
    app->add_option("--seed", a->seed, "Seed of the --random problem (default 1)")->type_name("N");
    app->add_option("--weights-npy", a->weights_npy,
                    "Instead of computing: draw weights another command wrote ([B, H, Lq, Lk], [B, Lq, Lk] or [Lq, Lk] f32/f16), "
                    "e.g. `vkattn additive --weights-out` or `vkattn mha --weights-out`")
        ->type_name("FILE.npy");
    app->add_option("--out", a->out, "The picture to write; the extension chooses the format (.png or .svg)")
        ->required()
        ->type_name("FILE.png|FILE.svg");
    app->add_option("--npy", a->npy, "Also write all the weights, [B, Hq, Lq, Lk] f32")->type_name("FILE.npy");
    app->add_option("--batch", a->batch, "The batch to draw")->capture_default_str()->type_name("B");
    CLI::Option* head = app->add_option("--head", a->head, "Draw this head (the default, head 0)")->type_name("H");
    CLI::Option* grid = app->add_flag("--grid", a->grid, "Draw every head, in a grid");
    CLI::Option* mean = app->add_flag("--mean", a->mean, "Draw the mean over heads");
    head->excludes(grid)->excludes(mean);
    grid->excludes(mean);
    app->add_option("--query-tokens", a->query_tokens, "Row labels: a UTF-8 text file with one token per line (Lq lines)")
        ->type_name("FILE");
    app->add_option("--key-tokens", a->key_tokens, "Column labels: a UTF-8 text file with one token per line (Lk lines)")
        ->type_name("FILE");
    app->add_option("--title", a->title, "Title (default: \"dot-product attention weights\")")->type_name("TEXT");
    app->add_option("--max-cells", a->max_cells,
                    "Average-pool the weights to at most N cells per axis (labels thinned to match); 0: never")
        ->capture_default_str()
        ->type_name("N");
    app->add_option("--vmax", a->vmax, "Top of the colour scale (default: the largest weight drawn)")->type_name("F");
    add_common_options(*app, a->common);
    return {app, [a] { return run_heatmap(*a); }};
}

}  // namespace vkattn::cli
