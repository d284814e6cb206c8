// Replays the fuzz targets' seed corpora and every committed regression input (a crash or finding the
// fuzzer once reported, saved under tests/fuzz/regressions/<target>/) through the same code libFuzzer
// runs, so that a fixed finding stays fixed in the normal suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "fuzz/fuzz_targets.hpp"
#include "test_support.hpp"

namespace vkattn::test {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputs(const std::string& target) {
    std::vector<fs::path> files;
    for (const char* dir : {"corpus", "regressions"}) {
        const fs::path d = fs::path(VKATTN_SOURCE_DIR) / "tests" / "fuzz" / dir / target;
        if (!fs::exists(d)) continue;
        for (const auto& e : fs::directory_iterator(d))
            if (e.is_regular_file() && e.path().extension() != ".md") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<uint8_t> bytes_of(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <typename F>
void replay(const std::string& target, F&& one_input) {
    const auto files = inputs(target);
    EXPECT_FALSE(files.empty()) << "no inputs for " << target;
    for (const fs::path& f : files) {
        SCOPED_TRACE(f.string());
        const auto data = bytes_of(f);
        try {
            one_input(data.data(), data.size());
        } catch (const fuzz::Finding& e) {
            ADD_FAILURE() << target << " finding on " << f << ": " << e.what();
        }
    }
    std::printf("fuzz replay: %s: %zu inputs\n", target.c_str(), files.size());
}

TEST(FuzzReplay, NpyCorpusAndRegressions) {
    replay("npy", [](const uint8_t* d, size_t n) { fuzz::npy_one_input(d, n); });
}

TEST(FuzzReplay, SafeTensorsCorpusAndRegressions) {
    replay("safetensors", [](const uint8_t* d, size_t n) { fuzz::safetensors_one_input(d, n); });
}

TEST(FuzzReplay, AttentionArgsCorpusAndRegressions) {
    replay("attention_args", [](const uint8_t* d, size_t n) { fuzz::attention_args_one_input(context(), d, n); });
}

}  // namespace
}  // namespace vkattn::test
