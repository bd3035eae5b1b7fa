/* transpose.cl - a transposed copy of a matrix (for hidden_delta_t in hidden_delta.cl).
 *   dst[c,r] = src[r,c]
 * Shapes: src rows x cols, dst cols x rows (=). Row-major. A copy: exact.
 * Each work-item copies the 8 x TR_C block of source rows r0..r0+7, columns c0..c0+TR_C-1, as
 * 8 x 8 tiles: 8 row loads (float8), the classic 3-stage register transpose (unpack, shuffle,
 * 128-bit permute: 24 shuffles for 64 floats, which LLVM maps to vunpcklps/vshufps/vperm2f128),
 * 8 row stores. A gather of single floats costs ~4x more instructions on PoCL. Tiles that cross
 * the matrix edge are copied one float at a time. Global size (ceil(rows/8), ceil(cols/TR_C));
 * work-items past the edge return. Twin: ref_transpose. */
#ifndef CLMLP_ACTIVATIONS_CL
#include "activations.cl"
#endif
#define TR_C 32 /* source columns per work-item: 4 tiles */

__kernel void transpose(__global const float *restrict src, __global float *restrict dst,
                        uint rows, uint cols)
{
    uint r0 = get_global_id(0) * 8, c0 = get_global_id(1) * TR_C;
    if (r0 >= rows || c0 >= cols)
        return;
    uint cend = min(c0 + TR_C, cols);
    uint c = c0;
    if (r0 + 8 <= rows) {
        for (; c + 8 <= cend; c += 8) {
            __global const float *s = src + (ulong)r0 * cols + c;
            float8 x0 = vload8(0, s), x1 = vload8(0, s + cols), x2 = vload8(0, s + 2 * cols);
            float8 x3 = vload8(0, s + 3 * cols), x4 = vload8(0, s + 4 * cols);
            float8 x5 = vload8(0, s + 5 * cols), x6 = vload8(0, s + 6 * cols);
            float8 x7 = vload8(0, s + 7 * cols);
            const uint8 lo = (uint8)(0, 8, 1, 9, 4, 12, 5, 13), hi = (uint8)(2, 10, 3, 11, 6, 14, 7, 15);
            float8 t0 = shuffle2(x0, x1, lo), t1 = shuffle2(x0, x1, hi);
            float8 t2 = shuffle2(x2, x3, lo), t3 = shuffle2(x2, x3, hi);
            float8 t4 = shuffle2(x4, x5, lo), t5 = shuffle2(x4, x5, hi);
            float8 t6 = shuffle2(x6, x7, lo), t7 = shuffle2(x6, x7, hi);
            const uint8 s0 = (uint8)(0, 1, 8, 9, 4, 5, 12, 13), s1 = (uint8)(2, 3, 10, 11, 6, 7, 14, 15);
            float8 u0 = shuffle2(t0, t2, s0), u1 = shuffle2(t0, t2, s1);
            float8 u2 = shuffle2(t1, t3, s0), u3 = shuffle2(t1, t3, s1);
            float8 u4 = shuffle2(t4, t6, s0), u5 = shuffle2(t4, t6, s1);
            float8 u6 = shuffle2(t5, t7, s0), u7 = shuffle2(t5, t7, s1);
            const uint8 p0 = (uint8)(0, 1, 2, 3, 8, 9, 10, 11), p1 = (uint8)(4, 5, 6, 7, 12, 13, 14, 15);
            __global float *d = dst + (ulong)c * rows + r0;
            vstore8(shuffle2(u0, u4, p0), 0, d);
            vstore8(shuffle2(u1, u5, p0), 0, d + rows);
            vstore8(shuffle2(u2, u6, p0), 0, d + 2 * rows);
            vstore8(shuffle2(u3, u7, p0), 0, d + 3 * rows);
            vstore8(shuffle2(u0, u4, p1), 0, d + 4 * rows);
            vstore8(shuffle2(u1, u5, p1), 0, d + 5 * rows);
            vstore8(shuffle2(u2, u6, p1), 0, d + 6 * rows);
            vstore8(shuffle2(u3, u7, p1), 0, d + 7 * rows);
        }
    }
    uint rend = min(r0 + 8, rows);
    for (; c < cend; c++)
        for (uint r = r0; r < rend; r++)
            dst[(ulong)c * rows + r] = src[(ulong)r * cols + c];
}
