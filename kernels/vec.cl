/* vec.cl - floatN, vloadN and vstoreN chosen by a width macro (1, 2, 4, 8, 16), so a kernel can
 * take its vector width from a -D tile option; width 1 is a plain scalar; and the register
 * block sum of the row-broadcast GEMMs (VEC_BLOCK_SUM). Shared by the GEMM kernels; prepended by the host after activations.cl, included by the kernel files themselves
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

/* The register block of a row-broadcast GEMM (forward_layer, hidden_delta_t): for the TM rows
 * r and NV vectors v of N columns, acc[r][v] = sum over i < count, in order, of
 * rows[r][i] * cols[i * stride + v * N ...], each output one fma chain. Per i: NV vector loads
 * and TM broadcasts, each feeding NV FMAs (NV = 2 halves the broadcasts per FMA: cores with two
 * 512-bit FMA ports otherwise wait on them). The loops must be unrolled: then acc lives in
 * registers (without the pragmas PoCL's build keeps it in memory and runs 5x slower). */
#define VEC_BLOCK_SUM(N, NV, TM, acc, rows, cols, count, stride)                                  \
    _Pragma("unroll") for (int r_ = 0; r_ < (TM); r_++)                                           \
        _Pragma("unroll") for (int v_ = 0; v_ < (NV); v_++)                                       \
            acc[r_][v_] = (VEC(N))0.0f;                                                           \
    {                                                                                             \
        __global const float *c_ = (cols);                                                        \
        for (uint i_ = 0; i_ < (count); i_++, c_ += (stride)) {                                   \
            VEC(N) cv_[NV];                                                                       \
            _Pragma("unroll") for (int v_ = 0; v_ < (NV); v_++)                                   \
                cv_[v_] = VLOAD(N, c_ + v_ * N);                                                  \
            _Pragma("unroll") for (int r_ = 0; r_ < (TM); r_++) {                                 \
                float s_ = rows[r_][i_];                                                          \
                _Pragma("unroll") for (int v_ = 0; v_ < (NV); v_++)                               \
                    acc[r_][v_] = fma((VEC(N))s_, cv_[v_], acc[r_][v_]);                          \
            }                                                                                     \
        }                                                                                         \
    }
#endif
