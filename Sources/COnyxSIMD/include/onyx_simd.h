// Hot loops that need instructions beyond baseline x86-64 (AVX2, FMA). Swift compiles its SIMD types for the
// target CPU the whole module is built for, and cannot pick an instruction set per function; these C functions
// are compiled for AVX2 and FMA one by one, and Swift calls them only after `onyx_simd_has_avx2_fma` said the
// CPU has both. On other architectures the functions do not exist and Swift uses its own loops.
#ifndef ONYX_SIMD_H
#define ONYX_SIMD_H

#include <stddef.h>

#if defined(__x86_64__)

/// 1 when the CPU running the process has AVX2 and FMA, else 0.
int onyx_simd_has_avx2_fma(void);

/// GroupNormalization's interleaved step (AVX2, FMA). For positions `start` ..< `start + count` of an item whose
/// channel planes hold `plane` values each, writes `y[i] = x[i] · factors[c] + shifts[c]` (c = i / plane, the
/// channel within the item) and, for the same positions of `next`, adds the values and their squares to
/// `*sum` and `*squares` (in float, 16 lanes).
void onyx_gn_normalize_and_sum_f32(
    const float *x, float *y, const float *next, ptrdiff_t start, ptrdiff_t count, ptrdiff_t plane,
    const float *factors, const float *shifts, float *sum, float *squares);

/// GroupNormalization's channels-last step (AVX2, FMA) over `rows` rows of `width` channels. Unless `x` is NULL,
/// writes `y[r, c] = x[r, c] · factors[c] + shifts[c]`; unless `next` is NULL, writes the column sums of `next`
/// and of its squares to `sums[c]` and `squares[c]` (in float).
void onyx_gn_rows_normalize_and_sum_f32(
    const float *x, float *y, const float *next, ptrdiff_t rows, ptrdiff_t width, const float *factors,
    const float *shifts, float *sums, float *squares);

#endif
#endif
