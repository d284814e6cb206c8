// Packing f32 results into f16 or bf16 tensors (convert.hpp).
#include "runtime/access.hpp"
#include "runtime/convert.hpp"

#include "attention/attention_problem.hpp"

#include <algorithm>

#include "vkattn/error.hpp"

namespace vkattn::detail {

void append_convert(ContextState& st, const ChunkLimits& lim, const Tensor& src, const Tensor& dst, int64_t dst_first,
                    int64_t count, std::vector<Dispatch>& out) {
    if (dst_first % 2 != 0) throw Error(ErrorCode::vulkan_error, "internal: f16 output piece starts mid-word");
    const int32_t conv_wg = convert_workgroup(st.info);  // sized to the (profile-clamped) limits
    VkPipeline conv = st.pipeline("convert_f32_to_f16", {conv_wg});
    // Whole words per invocation; pieces of at most max_range bytes of f32 source, an even count.
    const int64_t per_piece = static_cast<int64_t>(lim.max_range / 4) & ~int64_t{255};
    for (int64_t e0 = 0; e0 < count; e0 += per_piece) {
        const int64_t n = std::min(per_piece, count - e0);
        Dispatch d;
        d.pipeline = conv;
        d.params.flags[3] = static_cast<int32_t>(n);
        d.params.ext2[1] = dst.dtype() == DType::bf16 ? 2 : 0;  // FMT_OUT_BF16 (shaders/common/common.glsl)
        d.bindings[kOut] = {detail::buffer_of(src)->buffer.get(), static_cast<VkDeviceSize>((src.offset() + e0) * 4),
                            static_cast<VkDeviceSize>(n * 4)};
        const VkDeviceSize first_byte = static_cast<VkDeviceSize>(dst_first + e0) * 2;
        const VkDeviceSize begin = first_byte / lim.alignment * lim.alignment;
        const VkDeviceSize end = std::min<VkDeviceSize>(first_byte + static_cast<VkDeviceSize>(n + 1) / 2 * 4, detail::buffer_of(dst)->size);
        d.bindings[kP] = {detail::buffer_of(dst)->buffer.get(), begin, end - begin};
        d.params.offsets1[2] = static_cast<int32_t>((first_byte - begin) / 4);
        const uint32_t words = static_cast<uint32_t>((n + 1) / 2);
        const uint32_t groups = (words + static_cast<uint32_t>(conv_wg) - 1) / static_cast<uint32_t>(conv_wg);
        const uint32_t gx = std::min(groups, st.info.max_workgroup_count[0]);
        d.groups = {gx, (groups + gx - 1) / gx, 1};
        out.push_back(d);
    }
}

}  // namespace vkattn::detail
