#version 450
// The application's own consumer pass (tests/consumer/embedding_example.cpp): reads vkattn's attention
// output from the application's output buffer and writes the sum of each row (f32) into another buffer.
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) readonly buffer Source { uint words[]; } src;
layout(std430, set = 0, binding = 1) writeonly buffer Sums { float sums[]; } dst;
layout(push_constant) uniform Read {
    uint word_offset;   // first 32-bit word of the output tensor in the source buffer
    uint rows;
    uint row_elements;  // elements per row (even for f16)
    uint halves;        // 1: f16 elements, two per word
    uint sum_offset;    // first float written in the sums buffer
} pc;

void main() {
    uint r = gl_GlobalInvocationID.x;
    if (r >= pc.rows) return;
    float s = 0.0;
    if (pc.halves != 0u) {
        uint base = pc.word_offset + r * (pc.row_elements / 2u);
        for (uint j = 0u; j < pc.row_elements / 2u; ++j) {
            vec2 p = unpackHalf2x16(src.words[base + j]);
            s += p.x;
            s += p.y;
        }
    } else {
        uint base = pc.word_offset + r * pc.row_elements;
        for (uint j = 0u; j < pc.row_elements; ++j) s += uintBitsToFloat(src.words[base + j]);
    }
    dst.sums[pc.sum_offset + r] = s;
}
