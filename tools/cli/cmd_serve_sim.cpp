// `vkattn serve-sim`: a paged serving simulation. Requests arrive with random prompts of random lengths
// (some forked from a shared system prompt, which they share page for page), are prefilled (one packed
// attention call for all the step's arrivals), then decode one token per step together (one append and
// one attention call for every running sequence, each of its own length, through the block tables)
// until each reaches its random output length and leaves, freeing its pages for the next arrivals.
// Prints progress lines with the cache's page use, then tokens/s; the last decode step is checked
// against the host reference over the same tokens.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <random>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "vkattn/reference.hpp"

namespace vkattn::cli {

namespace {

struct ServeSimArgs {
    CommonOptions common;
    int64_t slots = 8, requests = 32, heads = 8, kv_heads = 2, head_dim = 64, page_size = 16, pages = 0;
    int64_t prompt_min = 16, prompt_max = 192, output_min = 8, output_max = 48, shared_prefix = 64;
    double fork_fraction = 0.25;
    uint64_t seed = 1;
    std::string dtype = "f16";
    bool no_check = false;
};

struct SimRequest {
    SequenceId id = -1;
    int64_t prompt = 0, output = 0, generated = 0;
    bool forked = false;
};

std::vector<float> sim_rows(std::mt19937_64& rng, int64_t n, DType dt) {
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> x(static_cast<std::size_t>(n));
    for (float& e : x) e = dt == DType::f16 ? round_to_half(g(rng)) : g(rng);
    return x;
}

std::string sim_pages(const PagedKvCache& cache) {
    const PagedKvCacheStats s = cache.stats();
    return "pages " + std::to_string(s.pages_used) + " used / " + std::to_string(s.pages_free) + " free / " +
           std::to_string(s.pages_shared) + " shared of " + std::to_string(s.pages);
}

int run_serve_sim(const ServeSimArgs& a) {
    const DType dt = parse_dtype(a.dtype, "--dtype");
    if (dt != DType::f32 && dt != DType::f16) throw UsageError("--dtype: " + a.dtype + " is not supported (f32 or f16)");
    if (a.heads % a.kv_heads != 0)
        throw UsageError("--heads: " + std::to_string(a.heads) + " is not a multiple of --kv-heads " + std::to_string(a.kv_heads));
    if (a.prompt_min > a.prompt_max) throw UsageError("--prompt-min: " + std::to_string(a.prompt_min) + " exceeds --prompt-max");
    if (a.output_min > a.output_max) throw UsageError("--output-min: " + std::to_string(a.output_min) + " exceeds --output-max");
    const int64_t Hq = a.heads, Hkv = a.kv_heads, D = a.head_dim, ps = a.page_size;
    const int64_t longest = a.shared_prefix + a.prompt_max + a.output_max;
    const int64_t pages_per_request = (longest + ps - 1) / ps + 1;
    // Default pool: half of what every slot at its longest would take, so that admissions sometimes wait for pages.
    const int64_t pages = a.pages > 0 ? a.pages : std::max<int64_t>(pages_per_request + 1, a.slots * pages_per_request / 2);

    Context ctx = open_context(a.common);
    PagedKvCache cache(ctx, {pages, ps, Hkv, D, 0, dt});
    std::mt19937_64 rng(a.seed);
    std::uniform_int_distribution<int64_t> prompt_len(a.prompt_min, a.prompt_max), output_len(a.output_min, a.output_max);
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    // Host copy of every live sequence's keys and values (token rows [Hkv, D]), for the final check.
    std::vector<std::vector<float>> host_k, host_v;
    const auto mirror = [&](SequenceId id) -> std::vector<float>& {
        if (host_k.size() <= static_cast<std::size_t>(id)) host_k.resize(id + 1), host_v.resize(id + 1);
        return host_k[static_cast<std::size_t>(id)];
    };
    // Appends n_i random tokens to each sequence (one submission).
    const auto append = [&](const std::vector<SequenceId>& ids, const std::vector<int32_t>& counts) {
        std::vector<int32_t> cu(1, 0);
        for (int32_t c : counts) cu.push_back(cu.back() + c);
        if (cu.back() == 0) return;
        const std::vector<float> k = sim_rows(rng, cu.back() * Hkv * D, dt), v = sim_rows(rng, cu.back() * Hkv * D, dt);
        cache.append(ids, ctx.upload(k, {cu.back(), Hkv, D}, dt), ctx.upload(v, {cu.back(), Hkv, D}, dt), cu);
        for (std::size_t i = 0; i < ids.size(); ++i) {
            mirror(ids[i]).insert(mirror(ids[i]).end(), k.begin() + cu[i] * Hkv * D, k.begin() + cu[i + 1] * Hkv * D);
            host_v[static_cast<std::size_t>(ids[i])].insert(host_v[static_cast<std::size_t>(ids[i])].end(), v.begin() + cu[i] * Hkv * D,
                                                             v.begin() + cu[i + 1] * Hkv * D);
        }
    };

    std::cout << "serve-sim: " << ctx.device().name << "; " << a.requests << " requests, " << a.slots << " slots, heads " << Hq << "/"
              << Hkv << " D=" << D << " " << dtype_name(dt) << ", prompts " << a.prompt_min << ".." << a.prompt_max << " tokens, outputs "
              << a.output_min << ".." << a.output_max << ", " << int(a.fork_fraction * 100) << "% forked from a " << a.shared_prefix
              << "-token shared prefix; " << pages << " pages of " << ps << " tokens\n";
    // The shared system prompt: a sequence that is never decoded; forks share its pages.
    const SequenceId prefix = cache.add_sequence();
    if (a.shared_prefix > 0) append({prefix}, {static_cast<int32_t>(a.shared_prefix)});

    AttentionOptions o;
    o.measure_time = true;
    std::vector<SimRequest> running;
    int64_t arrived = 0, finished = 0, prefill_tokens = 0, decode_tokens = 0, steps = 0, waits = 0;
    int64_t peak_used = 0, peak_shared = 0;
    double prefill_gpu = 0, decode_gpu = 0;
    std::vector<double> step_ms;
    AttentionResult last;
    std::vector<float> last_q;
    std::vector<SequenceId> last_ids;
    const auto t0 = std::chrono::steady_clock::now();
    while (finished < a.requests) {
        // Arrivals: fill free slots while the pool can hold each newcomer at its longest.
        std::vector<SimRequest> fresh;
        while (static_cast<int64_t>(running.size() + fresh.size()) < a.slots && arrived < a.requests) {
            int64_t reserved = 0;
            for (const SimRequest& r : running) reserved += (r.prompt + r.output + ps - 1) / ps + 1 - static_cast<int64_t>(cache.block_table(r.id).size());
            for (const SimRequest& r : fresh) reserved += (r.prompt + r.output + ps - 1) / ps + 1;
            SimRequest r;
            r.forked = a.shared_prefix > 0 && coin(rng) < a.fork_fraction;
            r.prompt = prompt_len(rng) + (r.forked ? a.shared_prefix : 0);
            r.output = output_len(rng);
            if (cache.stats().pages_free - reserved < (r.prompt + r.output + ps - 1) / ps + 1) {
                ++waits;
                break;  // not enough pages yet: wait for departures
            }
            r.id = r.forked ? cache.fork(prefix) : cache.add_sequence();
            if (r.forked) {
                mirror(r.id);
                host_k[static_cast<std::size_t>(r.id)] = host_k[static_cast<std::size_t>(prefix)];
                host_v[static_cast<std::size_t>(r.id)] = host_v[static_cast<std::size_t>(prefix)];
            }
            fresh.push_back(r);
            ++arrived;
        }
        if (!fresh.empty()) {
            // Prefill: the new prompt tokens (after a fork, those past the shared prefix) in one append and one packed call.
            std::vector<SequenceId> ids;
            std::vector<int32_t> counts;
            for (const SimRequest& r : fresh) ids.push_back(r.id), counts.push_back(static_cast<int32_t>(r.prompt - cache.length(r.id)));
            append(ids, counts);
            std::vector<int32_t> cu(1, 0);
            for (int32_t c : counts) cu.push_back(cu.back() + c);
            const AttentionResult pr = attend(ctx, ctx.upload(sim_rows(rng, cu.back() * Hq * D, dt), {cu.back(), Hq, D}, dt), cache, ids, cu, o);
            prefill_gpu += std::max(0.0, pr.gpu_milliseconds);
            prefill_tokens += cu.back();
            for (SimRequest& r : fresh) running.push_back(r);
        }
        // One decode step for every running sequence.
        std::vector<SequenceId> ids;
        for (const SimRequest& r : running) ids.push_back(r.id);
        append(ids, std::vector<int32_t>(ids.size(), 1));
        std::vector<int32_t> cu(ids.size() + 1);
        for (std::size_t i = 0; i <= ids.size(); ++i) cu[i] = static_cast<int32_t>(i);
        last_q = sim_rows(rng, static_cast<int64_t>(ids.size()) * Hq * D, dt);
        last = attend(ctx, ctx.upload(last_q, {static_cast<int64_t>(ids.size()), Hq, D}, dt), cache, ids, cu, o);
        last_ids = ids;
        decode_gpu += std::max(0.0, last.gpu_milliseconds);
        step_ms.push_back(last.gpu_milliseconds);
        decode_tokens += static_cast<int64_t>(ids.size());
        ++steps;
        const PagedKvCacheStats st = cache.stats();
        peak_used = std::max(peak_used, st.pages_used), peak_shared = std::max(peak_shared, st.pages_shared);
        // Departures.
        int64_t left = 0;
        for (SimRequest& r : running)
            if (++r.generated == r.output) cache.free(r.id), ++finished, ++left;
        std::erase_if(running, [](const SimRequest& r) { return r.generated == r.output; });
        if (steps % 16 == 0 || finished == a.requests) {
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::cerr << "step " << steps << ": " << ids.size() << " decoding, " << finished << "/" << a.requests << " done, "
                      << format_fixed(double(decode_tokens) / s, 1) << " tokens/s, " << sim_pages(cache) << std::endl;
        }
        if (running.empty() && fresh.empty() && arrived < a.requests && cache.stats().pages_free < pages_per_request)
            throw Error(ErrorCode::out_of_memory, "--pages: " + std::to_string(pages) + " pages cannot hold one request at its longest");
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<double> sorted = step_ms;
    std::sort(sorted.begin(), sorted.end());
    std::cout << "variant (last step) " << last.variant << "\n";
    std::cout << "served " << a.requests << " requests in " << format_fixed(wall, 2) << " s: " << prefill_tokens << " prompt tokens prefilled, "
              << decode_tokens << " tokens decoded in " << steps << " steps (" << waits << " admissions waited for pages)\n";
    // Pipelines are built on first use, inside the clock (seconds each on lavapipe); a server builds them once.
    const double serving = std::max(1e-9, wall - ctx.pipeline_compile_seconds());
    std::cout << "tokens/s: " << format_fixed(double(decode_tokens) / wall, 1) << " decoded, " << format_fixed(double(prefill_tokens + decode_tokens) / wall, 1)
              << " prompt + decoded (wall clock, host work included); without the pipeline builds " << format_fixed(double(decode_tokens) / serving, 1)
              << " decoded, " << format_fixed(double(prefill_tokens + decode_tokens) / serving, 1) << " prompt + decoded\n";
    if (!sorted.empty() && sorted.front() >= 0)
        std::cout << "attention GPU time: decode step median " << format_fixed(sorted[sorted.size() / 2], 3) << " ms, decode total "
                  << format_fixed(decode_gpu, 1) << " ms, prefill total " << format_fixed(prefill_gpu, 1) << " ms\n";
    std::cout << "pipelines: " << ctx.pipeline_count() << " built in " << format_fixed(ctx.pipeline_compile_seconds(), 2) << " s (inside the wall clock)\n";
    std::cout << "pages: peak " << peak_used << " used of " << pages << ", peak " << peak_shared << " shared; at the end " << sim_pages(cache) << "\n";

    if (!a.no_check && !last_ids.empty()) {
        // The last decode step against the reference over each sequence's tokens as appended (the host copies
        // outlive the sequences that finished in that step).
        HostAttentionProblem p;
        p.Hq = Hq, p.Hkv = Hkv, p.D = D, p.Dv = D;
        p.q = last_q;
        p.causal = Causal::bottom_right;
        std::vector<int32_t> cu_q(1, 0), cu_k(1, 0);
        for (SequenceId id : last_ids) {
            p.k.insert(p.k.end(), host_k[id].begin(), host_k[id].end());
            p.v.insert(p.v.end(), host_v[id].begin(), host_v[id].end());
            cu_q.push_back(cu_q.back() + 1);
            cu_k.push_back(cu_k.back() + static_cast<int32_t>(host_k[id].size() / static_cast<std::size_t>(Hkv * D)));
        }
        const HostAttentionResult ref = reference_attention_varlen(p, cu_q, cu_k), naive = naive_attention_varlen(p, cu_q, cu_k, dt);
        const std::vector<float> out = last.out.download<float>();
        if (!check_last_step(out, ref.out, naive.out)) return kExitFailure;
    }
    report_validation(ctx, a.common);
    return kExitOk;
}

}  // namespace

Command add_serve_sim_command(CLI::App& parent) {
    auto a = std::make_shared<ServeSimArgs>();
    CLI::App* app = parent.add_subcommand("serve-sim", "Simulate paged serving: arrivals, prefill, batched decode, departures; report tokens/s and page use");
    app->add_option("--slots", a->slots, "Sequences decoded at once")->capture_default_str()->check(CLI::Range(1, 4096));
    app->add_option("--requests", a->requests, "Requests served in all")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    app->add_option("--heads", a->heads, "Query heads")->capture_default_str()->check(CLI::Range(1, 1024));
    app->add_option("--kv-heads", a->kv_heads, "Key/value heads (GQA)")->capture_default_str()->check(CLI::Range(1, 1024));
    app->add_option("--head-dim", a->head_dim, "Head dim")->capture_default_str()->check(CLI::Range(1, 512));
    app->add_option("--page-size", a->page_size, "Tokens per page (a power of two)")->capture_default_str()->check(CLI::Range(1, 65536));
    app->add_option("--pages", a->pages, "Pages in the pool (default: half of what every slot at its longest would take)")->check(CLI::Range(0, 1 << 24));
    app->add_option("--prompt-min", a->prompt_min, "Shortest prompt")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    app->add_option("--prompt-max", a->prompt_max, "Longest prompt")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    app->add_option("--output-min", a->output_min, "Fewest tokens generated per request")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    app->add_option("--output-max", a->output_max, "Most tokens generated per request")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    app->add_option("--shared-prefix", a->shared_prefix, "Tokens of the shared system prompt forked requests start from (0: none)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1 << 20));
    app->add_option("--fork-fraction", a->fork_fraction, "Fraction of requests forked from the shared prefix")->capture_default_str()->check(CLI::Range(0.0, 1.0));
    app->add_option("--seed", a->seed, "Random seed (prompts, lengths, arrivals)")->capture_default_str();
    app->add_option("--dtype", a->dtype, "Cache and query dtype: f32 or f16")->capture_default_str();
    app->add_flag("--no-check", a->no_check, "Skip the reference check of the last decode step");
    add_common_options(*app, a->common);
    return {app, [a] { return run_serve_sim(*a); }};
}

}  // namespace vkattn::cli
