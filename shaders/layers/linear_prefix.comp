#version 450
// Linear attention, pass 2 of 3: the exclusive prefix over chunks. One invocation per (KV slice, vec4 of
// a D x E4 state) walks the NC chunk states of its slice in order, replacing slot c by the sum of
// slots < c (slot 0 becomes zero) and writing the total into slot NC (linear_common.glsl). Causal rows
// start from their chunk's slot; the others read slot NC. The loop runs NC times per invocation: the
// engine keeps NC under lavapipe's 65535-iteration limit.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x = 64) in;

#include "common/common.glsl"
#include "layers/linear_common.glsl"

void main() {
    const int per = HEAD_D() * (STATE_PITCH() >> 2);  // vec4s per state
    const int g = int(gl_GlobalInvocationID.x) + int(gl_WorkGroupID.y) * int(gl_NumWorkGroups.x) * 64;
    const int bkv = g / per;
    if (bkv >= B_() * P.dims0.z) return;
    const int NC = NCHUNKS();
    int at = bkv * (NC + 1) * per + (g - bkv * per);
    vec4 run = vec4(0.0);
    [[dont_unroll]] for (int c = 0; c < NC; ++c) {
        const vec4 own = p_quads[at];
        p_quads[at] = run;
        run += own;
        at += per;
    }
    p_quads[at] = run;
}
