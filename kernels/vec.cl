/* vec.cl - floatN, vloadN and vstoreN chosen by a width macro (1, 2, 4, 8, 16), so a kernel can
 * take its vector width from a -D tile option; width 1 is a plain scalar. Shared by the GEMM
 * kernels; prepended by the host after activations.cl, included by the kernel files themselves
 * when they are compiled stand-alone. Defines no kernel. */
#ifndef CLMLP_VEC_HELPERS
#define CLMLP_VEC_HELPERS
/* floatN / vloadN / vstoreN by width, with width 1 as plain scalars. */
#define CLMLP_CAT_(a, b) a##b
#define CLMLP_CAT(a, b) CLMLP_CAT_(a, b)
#define VEC(n) CLMLP_CAT(VEC_, n)
#define VEC_1 float
#define VEC_2 float2
#define VEC_4 float4
#define VEC_8 float8
#define VEC_16 float16
#define VLOAD(n, p) CLMLP_CAT(VLOAD_, n)(p)
#define VLOAD_1(p) (*(p))
#define VLOAD_2(p) vload2(0, p)
#define VLOAD_4(p) vload4(0, p)
#define VLOAD_8(p) vload8(0, p)
#define VLOAD_16(p) vload16(0, p)
#define VSTORE(n, v, p) CLMLP_CAT(VSTORE_, n)(v, p)
#define VSTORE_1(v, p) (*(p) = (v))
#define VSTORE_2(v, p) vstore2(v, 0, p)
#define VSTORE_4(v, p) vstore4(v, 0, p)
#define VSTORE_8(v, p) vstore8(v, 0, p)
#define VSTORE_16(v, p) vstore16(v, 0, p)

/* The first `cnt` (<= n) floats at p into the VEC(n) `out`, the other lanes 0: for the edge of
 * a block where a whole vector load would reach past the end of a buffer. Through a private
 * array, lane by lane: for edge blocks only, never the bulk. */
#define VLOAD_PART(n, p, cnt, out)                                                                \
    do {                                                                                          \
        float t_[16];                                                                             \
        for (uint i_ = 0; i_ < (n); i_++)                                                         \
            t_[i_] = i_ < (cnt) ? (p)[i_] : 0.0f;                                                 \
        out = VLOAD(n, t_);                                                                       \
    } while (0)
#endif
