// The design table (include/vkattn/kernel_design.hpp): its rows follow the tiles the planner picks,
// its counts follow the kernels' structure, and every row fits the device it is printed for.
#include <gtest/gtest.h>

#include "attention/attention_problem.hpp"
#include "test_support.hpp"
#include "tuning/tuning_table.hpp"
#include "vkattn/error.hpp"
#include "vkattn/kernel_design.hpp"

namespace vkattn::test {
namespace {

std::vector<DeviceInfo> devices_under_test() {
    std::vector<DeviceInfo> out = {context().device()};
    for (const std::string& name : reference_device_names()) out.push_back(reference_device(name));
    return out;
}

TEST(KernelDesign, FusedRowFollowsThePlannersTiles) {
    for (const DeviceInfo& dev : devices_under_test()) {
        for (int D : {64, 80, 128}) {
            const std::vector<KernelDesign> rows = kernel_designs(dev, D);
            ASSERT_FALSE(rows.empty()) << dev.name;
            const detail::TuningTable table = detail::load_tuning_table(dev, "");
            const detail::FusedConfig c = detail::choose_fused_config(dev, detail::head_dim_class(D), DType::f32, &table);
            EXPECT_EQ(rows[0].variant, detail::fused_variant_name(c, DType::f32)) << dev.name;
            EXPECT_EQ(rows[0].shared_bytes, c.shared_bytes) << dev.name;
            EXPECT_EQ(rows[0].workgroup, c.workgroup) << dev.name;
            // Scores and P.V: rows x keys x 2 x DCAP multiply-adds per tile (both kernels' loops run to the class).
            EXPECT_DOUBLE_EQ(rows[0].fmas, double(c.rows) * c.keys * 2.0 * c.dcap) << dev.name;
            for (const KernelDesign& k : rows) {
                SCOPED_TRACE(dev.name + ": " + k.variant);
                EXPECT_GT(k.fmas, 0);
                EXPECT_GT(k.global_read, 0);
                EXPECT_GT(k.shared_read, 0);
                EXPECT_GE(k.barriers, 1);
                EXPECT_GT(k.registers, 0);
                EXPECT_LE(k.shared_bytes, dev.shared_memory_bytes);
                EXPECT_GE(k.workgroups_per_cu, 1);
                EXPECT_EQ(k.workgroups_per_cu, int(dev.shared_memory_bytes / std::max(1u, k.shared_bytes)));
            }
        }
    }
}

// The tiled kernel's f16 tiles may hold more keys than its f32 tiles (packed halves in shared memory),
// so the rows compare device bytes per multiply-add rather than per tile.
TEST(KernelDesign, F16ReadsFewerBytesPerFma) {
    for (const DeviceInfo& dev : devices_under_test()) {
        const std::vector<KernelDesign> rows = kernel_designs(dev, 64);
        const std::size_t half = rows.size() / 2;
        ASSERT_EQ(rows.size(), 2 * half);  // the same rows for f32, then f16
        for (std::size_t i = 0; i < half; ++i) {
            SCOPED_TRACE(dev.name + ": " + rows[i].variant);
            EXPECT_LT(rows[half + i].global_read / rows[half + i].fmas, rows[i].global_read / rows[i].fmas);
        }
    }
}

TEST(KernelDesign, GpusRunTheTiledKernelCpusTheRowwise) {
    EXPECT_NE(kernel_designs(reference_device("nvidia"))[0].variant.find("fused.f32"), std::string::npos);
    EXPECT_NE(kernel_designs(context().device())[0].variant.find("fused_rowwise"), std::string::npos);
    const std::vector<std::string> table = kernel_design_table(reference_device("amd"));
    ASSERT_GE(table.size(), 4u);
    EXPECT_NE(table[1].find("FMAs"), std::string::npos);
}

TEST(KernelDesign, UnknownReferenceDeviceNamesTheArgument) {
    try {
        reference_device("geforce");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
        EXPECT_NE(e.message().find("design-for: 'geforce'"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("nvidia"), std::string::npos) << e.message();
    }
}

}  // namespace
}  // namespace vkattn::test
