#include "bench/bench_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <ostream>

#include <nlohmann/json.hpp>

#include "cli/cli_common.hpp"
#include "bench/bench_layers.hpp"
#include "vkattn/roofline.hpp"

namespace vkattn::cli {
namespace {

/// A CSV field: quoted when it holds a comma, quote or newline.
std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

/// Members keep the order they are added in, so the files read top-down as before.
using Json = nlohmann::ordered_json;

/// Six significant digits: plenty for timings and rates, and readable. Empty for NaN/inf.
std::string short_number_text(double v) {
    if (!std::isfinite(v)) return "";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

/// A figure as a JSON number rounded to six significant digits, or null when it is NaN/inf (not
/// measured): JSON has no NaN.
Json short_number(double v) {
    if (!std::isfinite(v)) return nullptr;
    return std::strtod(short_number_text(v).c_str(), nullptr);
}

/// A JSON number at full precision, or null for NaN/inf.
Json full_number(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

/// The columns every row carries, in order, as (name, JSON value, CSV value).
struct Field {
    std::string name;
    Json json;
    std::string csv;
};

std::vector<Field> row_fields(const BenchRow& r, const BenchReport& rep) {
    const ProblemSpec& s = r.bench.spec;
    const DeviceInfo& d = rep.device;
    const RowMetrics m = row_metrics(r, rep.roofline);
    std::vector<Field> f;
    const auto text = [&f](const std::string& name, const std::string& v) { f.push_back({name, Json(v), csv_field(v)}); };
    const auto number = [&f](const std::string& name, double v) { f.push_back({name, short_number(v), short_number_text(v)}); };
    const auto integer = [&f](const std::string& name, int64_t v) { f.push_back({name, Json(v), std::to_string(v)}); };
    text("name", s.name);
    text("kind", r.bench.kind);
    text("status", r.status);
    text("note", r.note);
    text("device", d.name);
    text("vendor", d.vendor);
    text("device_type", to_string(d.type));
    text("driver", d.driver_name);
    text("driver_info", d.driver_info);
    text("api_version", format_api_version(d.api_version));
    integer("B", s.B), integer("Hq", s.Hq), integer("Hkv", s.Hkv), integer("Lq", s.Lq), integer("Lk", s.Lk);
    integer("D", s.D), integer("Dv", s.Dv);
    text("dtype", std::string(dtype_name(s.dtype)));
    text("causal", to_string(s.causal));
    text("path", r.path);
    text("variant", r.variant);
    text("timer", r.timer);
    integer("repeats", r.repeats);
    number("median_ms", r.median_ms), number("min_ms", r.min_ms), number("max_ms", r.max_ms);
    number("gflop", r.flops / 1e9), number("gflops", r.gflops);
    number("gbytes", r.bytes / 1e9), number("gbps", r.gbps);
    number("arithmetic_intensity", m.intensity);
    text("peak_kind", m.peak_kind);
    number("peak_gflops", m.peak_gflops), number("copy_gbps", rep.roofline.copy_gbps), number("ridge", m.ridge);
    number("pct_peak", m.pct_peak), number("pct_copy_bandwidth", m.pct_bandwidth), number("pct_roofline", m.pct_roofline);
    text("bound", m.bound);
    text("check", r.check);
    number("max_abs_err", r.max_abs_err), number("check_bound", r.check_bound);
    number("peak_memory_mib", r.peak_memory_bytes / 1048576.0), number("in_out_mib", r.in_out_bytes / 1048576.0);
    number("memory_ratio", r.memory_ratio);
    number("estimated_seconds", r.estimated_seconds), number("wall_seconds", r.wall_seconds);
    return f;
}

void finish(std::ofstream& f, const std::string& option, const std::string& path) {
    f.close();
    if (!f) throw Error(ErrorCode::io_error, option + ": error writing '" + path + "'");
}

}  // namespace

void print_explicit_summary(std::ostream& out, const BenchReport& rep) {
    const auto key = [](const ProblemSpec& s) {
        return std::string(dtype_name(s.dtype)) + " H" + std::to_string(s.Hq) + " N" + std::to_string(s.Lq) + " D" + std::to_string(s.D);
    };
    std::map<std::string, double> fused, weights;
    for (const BenchRow& r : rep.rows) {
        const ProblemSpec& s = r.bench.spec;
        if (r.status != "ok" || !(r.median_ms > 0) || s.causal != Causal::none || s.Lq != s.Lk || s.Hq != s.Hkv) continue;
        if (r.bench.kind == "prefill") fused[key(s)] = r.median_ms;
        if (r.bench.kind == "explicit") weights[key(s)] = r.median_ms;
    }
    bool header = false;
    for (const auto& [k, ms] : weights) {
        const auto f = fused.find(k);
        if (f == fused.end()) continue;
        if (!header) out << "explicit (weights read back) vs fused, median times in this run:\n";
        header = true;
        out << "  " << k << ": explicit " << format_fixed(ms, 3) << " ms, fused " << format_fixed(f->second, 3) << " ms, explicit / fused "
            << format_fixed(ms / f->second, 2) << "x\n";
    }
}

void print_kv_format_summary(std::ostream& out, const BenchReport& rep) {
    // Rows named "<f16 decode row> kv q8_0" / "kv q4_0" against the f16 row of the same name without the suffix.
    std::map<std::string, double> by_name;
    for (const BenchRow& r : rep.rows)
        if (r.status == "ok" && r.median_ms > 0) by_name[r.bench.spec.name] = r.median_ms;
    bool header = false;
    for (const auto& [name, ms] : by_name) {
        const std::size_t at = name.find(" kv ");
        if (at == std::string::npos) continue;
        const auto base = by_name.find(name.substr(0, at));
        if (base == by_name.end()) continue;
        if (!header) out << "quantised K/V vs f16 K/V, median times in this run:\n";
        header = true;
        out << "  " << name << ": " << format_fixed(ms, 3) << " ms, f16 " << format_fixed(base->second, 3) << " ms, ratio "
            << format_fixed(ms / base->second, 2) << "x\n";
    }
}

std::string or_na(double value, int decimals) { return std::isfinite(value) ? format_fixed(value, decimals) : "n/a"; }

RowMetrics row_metrics(const BenchRow& row, const RooflineFigures& roof) {
    RowMetrics m;
    if (row.bytes > 0) m.intensity = row.flops / row.bytes;
    const bool f16 = variant_computes_in_f16(row.variant);
    m.peak_kind = f16 ? "fp16" : "fp32";
    m.peak_gflops = f16 ? roof.fp16_gflops : roof.fp32_gflops;
    m.ridge = m.peak_gflops / roof.copy_gbps;
    m.pct_peak = 100 * row.gflops / m.peak_gflops;
    m.pct_bandwidth = 100 * row.gbps / roof.copy_gbps;
    m.pct_roofline = 100 * row.gflops / std::min(m.peak_gflops, m.intensity * roof.copy_gbps);
    if (std::isfinite(m.intensity) && std::isfinite(m.ridge)) m.bound = m.intensity < m.ridge ? "memory" : "compute";
    return m;
}

void print_roofline(std::ostream& out, const RooflineFigures& r) {
    const auto figure = [&](const char* what, double v, const char* unit, const std::string& config, const std::string& note) {
        out << "  " << what << (std::isfinite(v) ? format_fixed(v, 1) + " " + unit : std::string("n/a"));
        if (std::isfinite(v) && !config.empty()) out << " (" << config << ")";
        if (!std::isfinite(v) && !note.empty()) out << " (" << note << ")";
        out << '\n';
    };
    out << "roofline" << (r.from_cache ? " (cached " + r.measured_at + ", --remeasure to measure again)" : " (measured now)")
        << ":\n";
    figure("fp32 FMA peak   ", r.fp32_gflops, "GFLOP/s", r.fp32_config, r.fp32_note);
    figure("fp16 FMA peak   ", r.fp16_gflops, "GFLOP/s", r.fp16_config, r.fp16_note);
    figure("copy bandwidth  ", r.copy_gbps, "GB/s read+write", r.copy_config, r.copy_note);
    out << "  ridge (fp32)    " << or_na(r.ridge_fp32(), 1) << " flop/byte: below it a kernel is memory bound\n";
}

void print_bench_table(std::ostream& out, const BenchReport& rep) {
    Table t({"case", "variant", "median ms", "min ms", "max ms", "n", "GFLOP/s", "GB/s", "flop/B", "% peak", "% BW",
             "bound", "mem x", "check"},
            {false, false, true, true, true, true, true, true, true, true, true, false, true, false});
    for (const BenchRow& r : rep.rows) {
        if (r.status != "ok") {
            t.add_row({r.bench.spec.name, r.status + ": " + r.note});
            continue;
        }
        const RowMetrics m = row_metrics(r, rep.roofline);
        t.add_row({r.bench.spec.name, r.variant + (r.timer == "gpu" ? "" : " [host timer]"), format_fixed(r.median_ms, 3),
                   format_fixed(r.min_ms, 3), format_fixed(r.max_ms, 3), std::to_string(r.repeats), format_fixed(r.gflops, 2),
                   format_fixed(r.gbps, 2), format_fixed(m.intensity, 1), or_na(m.pct_peak, 1), or_na(m.pct_bandwidth, 1),
                   m.bound, or_na(r.memory_ratio, 2), r.check});
    }
    t.print(out);
    out << "GFLOP/s: 2*B*Hq*(D+Dv) per visible (query, key) pair (causal pairs counted exactly) at the median GPU time;\n"
           "GB/s: Q, K, V read once + O written once; % peak of the measured fp32 FMA peak (the kernels compute in f32);\n"
           "% BW of the measured copy bandwidth; bound: flop/B below the ridge is memory bound;\n"
           "mem x: peak device memory during the call over the inputs' and outputs' own.\n";
    if (std::any_of(rep.rows.begin(), rep.rows.end(), [](const BenchRow& r) { return is_layer_case(r.bench); }))
        out << "matmul rows: 2*M*N*K flops, A, W and Y bytes; mha rows: the four E x E projections (8*B*L*E^2) and the\n"
               "attention core (4*B*L^2*E) flops, x, the weights and the output bytes.\n";
}

void print_scaling_summary(std::ostream& out, const BenchReport& rep) {
    std::map<std::string, std::vector<const BenchRow*>> families;
    for (const BenchRow& r : rep.rows)
        if (r.status == "ok" && r.bench.spec.window.active()) families[r.bench.family].push_back(&r);
    for (const auto& [family, rows] : families) {
        if (rows.size() < 3) continue;
        double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
        for (const BenchRow* r : rows) {
            const double x = static_cast<double>(r->bench.spec.Lq), y = r->median_ms;
            sx += x, sy += y, sxx += x * x, sxy += x * y, syy += y * y;
        }
        const double n = static_cast<double>(rows.size());
        const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
        const double r2 = std::pow(n * sxy - sx * sy, 2) / ((n * sxx - sx * sx) * (n * syy - sy * sy));
        const BenchRow* lo = rows.front();
        const BenchRow* hi = rows.back();
        for (const BenchRow* r : rows) {
            if (r->bench.spec.Lq < lo->bench.spec.Lq) lo = r;
            if (r->bench.spec.Lq > hi->bench.spec.Lq) hi = r;
        }
        const double drift = (hi->median_ms / static_cast<double>(hi->bench.spec.Lq)) / (lo->median_ms / static_cast<double>(lo->bench.spec.Lq));
        out << family << ": time against N has slope " << format_fixed(slope * 1000, 3) << " ms per 1000 tokens (R^2 "
            << format_fixed(r2, 4) << "); time per token changes " << format_fixed(drift, 2) << "x from N=" << lo->bench.spec.Lq
            << " to N=" << hi->bench.spec.Lq << " (1.00x = linear)\n";
    }
}

std::string bench_json_text(const BenchReport& rep) {
    const DeviceInfo& d = rep.device;
    const RooflineFigures& r = rep.roofline;
    Json doc;
    doc["format"] = "vkattn-bench";
    doc["format_version"] = 1;
    doc["vkattn_version"] = version();
    doc["date"] = rep.date;
    doc["shapes"] = rep.shapes;
    doc["filter"] = rep.filters;
    doc["max_seconds_per_case"] = full_number(rep.max_seconds_per_case);
    doc["device"] = Json{{"name", d.name},
                         {"vendor", d.vendor},
                         {"type", to_string(d.type)},
                         {"driver", d.driver_name},
                         {"driver_info", d.driver_info},
                         {"api_version", format_api_version(d.api_version)},
                         {"timestamps", d.timestamps}};
    doc["roofline"] = Json{{"fp32_gflops", short_number(r.fp32_gflops)},
                           {"fp16_gflops", short_number(r.fp16_gflops)},
                           {"copy_gbps", short_number(r.copy_gbps)},
                           {"ridge_fp32", short_number(r.ridge_fp32())},
                           {"fp32_config", r.fp32_config},
                           {"fp16_config", r.fp16_config},
                           {"copy_config", r.copy_config},
                           {"fp32_note", r.fp32_note},
                           {"fp16_note", r.fp16_note},
                           {"copy_note", r.copy_note},
                           {"from_cache", r.from_cache},
                           {"measured_at", r.measured_at}};
    Json rows = Json::array();
    for (const BenchRow& row : rep.rows) {
        Json fields = Json::object();
        for (Field& field : row_fields(row, rep)) fields[field.name] = std::move(field.json);
        rows.push_back(std::move(fields));
    }
    doc["rows"] = std::move(rows);
    // Device and driver strings come from the driver: bytes that are not UTF-8 become U+FFFD rather
    // than an exception or an invalid file.
    return doc.dump(2, ' ', false, Json::error_handler_t::replace);
}

void write_bench_json(const std::string& path, const BenchReport& rep) {
    const std::string text = bench_json_text(rep);
    std::ofstream f(path, std::ios::trunc);
    if (!f) throw Error(ErrorCode::io_error, "--json: cannot open '" + path + "' for writing");
    f << text << '\n';
    finish(f, "--json", path);
}

void write_bench_csv(const std::string& path, const BenchReport& rep) {
    std::ofstream f(path, std::ios::trunc);
    if (!f) throw Error(ErrorCode::io_error, "--csv: cannot open '" + path + "' for writing");
    BenchRow header_row;
    const std::vector<Field> names = row_fields(header_row, rep);
    for (std::size_t j = 0; j < names.size(); ++j) f << (j ? "," : "") << names[j].name;
    f << '\n';
    for (const BenchRow& r : rep.rows) {
        const std::vector<Field> fields = row_fields(r, rep);
        for (std::size_t j = 0; j < fields.size(); ++j) f << (j ? "," : "") << fields[j].csv;
        f << '\n';
    }
    finish(f, "--csv", path);
}

}  // namespace vkattn::cli
