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

/// ``onyx_gn_normalize_and_sum_f32`` over the whole of `items` consecutive items of `itemLength` values: item i
/// of `x` normalised into `y` with `factors` and `shifts` from `i · itemLength / plane` on, and the sum and sum of
/// squares of item i of `next` written to `sums[i]` and `squares[i]`.
void onyx_gn_items_normalize_and_sum_f32(
    const float *x, float *y, const float *next, ptrdiff_t items, ptrdiff_t itemLength, ptrdiff_t plane,
    const float *factors, const float *shifts, float *sums, float *squares);

/// GroupNormalization's channels-last step (AVX2, FMA) over `rows` rows of `width` channels. Unless `x` is NULL,
/// writes `y[r, c] = x[r, c] · factors[c] + shifts[c]`; unless `next` is NULL, writes the column sums of `next`
/// and of its squares to `sums[c]` and `squares[c]` (in float).
void onyx_gn_rows_normalize_and_sum_f32(
    const float *x, float *y, const float *next, ptrdiff_t rows, ptrdiff_t width, const float *factors,
    const float *shifts, float *sums, float *squares);

/// GroupNormalization's coefficients (AVX2, FMA) for `groups` groups of `count` values each, from their float
/// sums `sums[g]` and sums of squares `squares[g]`. For channel k of group g it writes
/// `factors[g · channelsPerGroup + k]` = scale[c] / √(variance + epsilon) and `shifts[…]` = bias[c] − mean · factor,
/// where c = s · channelsPerGroup + k and s, the group's place in its sample, counts on from `firstGroup`
/// modulo `groupsPerSample`; `channelsPerGroup` is at most 512. Returns 1 (with the outputs incomplete) when
/// some group's sums would lose too much to cancellation — Σx² above 8 times the sum of squared deviations, the
/// mean far from zero compared with the spread — for the caller to compute exactly; else 0.
int onyx_gn_coefficients_f32(
    const float *sums, const float *squares, ptrdiff_t groups, ptrdiff_t count, ptrdiff_t channelsPerGroup,
    ptrdiff_t firstGroup, ptrdiff_t groupsPerSample, const double *scale, const double *bias, float epsilon,
    float *factors, float *shifts);

#endif
#endif
