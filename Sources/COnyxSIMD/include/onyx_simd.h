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
/// `*sum` and `*squares` (in float, 16 lanes). `x` and `y` must not overlap.
void onyx_gn_normalize_and_sum_f32(
    const float *x, float *y, const float *next, ptrdiff_t start, ptrdiff_t count, ptrdiff_t plane,
    const float *factors, const float *shifts, float *sum, float *squares);

/// GroupNormalization's channels-first step for whole items (groups) of `itemLength` values (AVX2, FMA). Writes
/// the `items` items of `x` normalised into `y`: each plane of `plane` values of item i as `x · factor + shift`,
/// with factor = scale[c] · inverses[i] and shift = bias[c] − means[i] · factor for the plane's channel c in the
/// sample, item i being group (firstGroup + i) modulo `groupsPerSample` of its sample. Writes the sum and sum of
/// squares of each of the `nextItems` items of `next` to `sums[i]` and `squares[i]` (in float). `x` and `y` must
/// not overlap.
void onyx_gn_items_normalize_and_sum_f32(
    const float *x, float *y, ptrdiff_t items, const float *next, ptrdiff_t nextItems, ptrdiff_t itemLength,
    ptrdiff_t plane, const float *means, const float *inverses, const double *scale, const double *bias,
    ptrdiff_t firstGroup, ptrdiff_t groupsPerSample, float *sums, float *squares);

/// GroupNormalization's channels-first kernel for short items (AVX2, FMA): `items` consecutive items (groups) of
/// `itemLength` values (at most 128) in one or two planes of `plane` values (at least 8), each read once from memory
/// (and again from L1), its mean and variance taken from float sums (about the mean when those would cancel), and
/// written normalised into `y`: `x · factor + shift` with factor = scale[c] / √(variance + epsilon) and shift =
/// bias[c] − mean · factor for the plane's channel c in the sample, item i being group (firstGroup + i) modulo
/// `groupsPerSample` of its sample. `x` and `y` must not overlap.
void onyx_gn_short_items_f32(
    const float *x, float *y, ptrdiff_t items, ptrdiff_t itemLength, ptrdiff_t plane, const double *scale,
    const double *bias, float epsilon, ptrdiff_t firstGroup, ptrdiff_t groupsPerSample);

/// GroupNormalization's moments (AVX2, FMA) for `groups` groups of `count` values each, from their float sums
/// `sums[g]` and sums of squares `squares[g]`: writes `means[g]` and `inverses[g]` = 1/√(variance + epsilon).
/// Returns 1 (with the outputs incomplete) when some group's sums would lose too much to cancellation — Σx² above
/// 8 times the sum of squared deviations, the mean far from zero compared with the spread — for the caller to
/// compute exactly; else 0.
int onyx_gn_moments_f32(
    const float *sums, const float *squares, ptrdiff_t groups, ptrdiff_t count, float epsilon, float *means,
    float *inverses);

/// GroupNormalization's channels-last step (AVX2, FMA) over `rows` rows of `width` channels. Unless `x` is NULL,
/// writes `y[r, c] = x[r, c] · factors[c] + shifts[c]`; unless `next` is NULL, writes the column sums of `next`
/// and of its squares to `sums[c]` and `squares[c]` (in float).
void onyx_gn_rows_normalize_and_sum_f32(
    const float *x, float *y, const float *next, ptrdiff_t rows, ptrdiff_t width, const float *factors,
    const float *shifts, float *sums, float *squares);

/// GroupNormalization's channels-last coefficients (AVX2, FMA) for `samples` samples of `rows` rows of `channels`
/// channels, from the float sums `sums[s · channels + c]` and sums of squares `squares[…]` of each channel's `rows`
/// values, `channelsPerGroup` (at most 512) channels a group. For channel c of sample s it writes
/// `factors[s · channels + c]` = scale[c] / √(variance + epsilon) and `shifts[…]` = bias[c] − mean · factor,
/// with the mean and variance of c's group. Returns 1, as ``onyx_gn_moments_f32`` does, when some group's sums
/// would cancel; else 0.
int onyx_gn_coefficients_f32(
    const float *sums, const float *squares, ptrdiff_t samples, ptrdiff_t channels, ptrdiff_t channelsPerGroup,
    ptrdiff_t rows, const double *scale, const double *bias, float epsilon, float *factors, float *shifts);

/// GroupNormalization's channels-last kernel for one sample small enough to stay in L1 (AVX2, FMA): `rows` rows of
/// `width` channels, `channelsPerGroup` (at most 512) a group: summed, its coefficients computed as in
/// ``onyx_gn_coefficients_f32``, then normalised into `y`, which must not overlap `x`. `workspace` holds 4 · width
/// floats of scratch. Returns 1, with `y` not written, when some group's sums would cancel or the sample is not one
/// this kernel takes (fewer than 8 channels); else 0.
int onyx_gn_sample_f32(
    const float *x, float *y, ptrdiff_t rows, ptrdiff_t width, ptrdiff_t channelsPerGroup, const double *scale,
    const double *bias, float epsilon, float *workspace);

#endif
#endif
