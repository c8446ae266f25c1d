// Vector steps that GroupNormalization's channels-first and channels-last loops share (AVX2, FMA), inlined into
// each.
#ifndef ONYX_SIMD_LANES_H
#define ONYX_SIMD_LANES_H

#include <immintrin.h>
#include <math.h>
#include <stddef.h>

// Lanes 0 ..< count of a mask: none for count ≤ 0, all for count ≥ 8.
__attribute__((target("avx2,fma"), always_inline)) static inline __m256i first_lanes(ptrdiff_t count) {
    static const int lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(lanes + 8 - (count < 0 ? 0 : count > 8 ? 8 : count)));
}

// The first `count` (≤ 8) floats at `values`, zeros in the lanes past them.
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 load_first(
    const float *values, ptrdiff_t count) {
    return count >= 8 ? _mm256_loadu_ps(values) : _mm256_maskload_ps(values, first_lanes(count));
}

// Lanes 0 ..< count (≤ 8) of `vector` stored at `values`.
__attribute__((target("avx2,fma"), always_inline)) static inline void store_first(
    float *values, ptrdiff_t count, __m256 vector) {
    if (count >= 8) {
        _mm256_storeu_ps(values, vector);
    } else {
        _mm256_maskstore_ps(values, first_lanes(count), vector);
    }
}

// The lanes of `vector` added up, and those of `other`: (Σ vector, Σ other).
__attribute__((target("avx2,fma"), always_inline)) static inline void horizontal_sums(
    __m256 vector, __m256 other, float *vectorSum, float *otherSum) {
    const __m256 pairs = _mm256_hadd_ps(vector, other);
    const __m128 quads = _mm_add_ps(_mm256_castps256_ps128(pairs), _mm256_extractf128_ps(pairs, 1));
    const __m128 totals = _mm_hadd_ps(quads, quads);
    *vectorSum = _mm_cvtss_f32(totals);
    *otherSum = _mm_cvtss_f32(_mm_shuffle_ps(totals, totals, 1));
}

// Eight lanes' means and 1/√(variance + ε) from their sums and sums of squares over 1/inverseCount values; 1
// when some lane's sums would lose too much to cancellation (NaN too, which is then computed exactly), else 0.
// `*mean` is written either way, `*inverse` only with 0.
__attribute__((target("avx2,fma"), always_inline)) static inline int lane_moments(
    __m256 sum, __m256 square, __m256 inverseCount, __m256 epsilons, __m256 *mean, __m256 *inverse) {
    *mean = _mm256_mul_ps(sum, inverseCount);
    const __m256 deviations = _mm256_fnmadd_ps(sum, *mean, square);
    const __m256 accurate = _mm256_cmp_ps(square, _mm256_mul_ps(_mm256_set1_ps(8), deviations), _CMP_LE_OQ);
    if (_mm256_movemask_ps(accurate) != 0xFF) return 1;
    const __m256 variance = _mm256_mul_ps(_mm256_max_ps(deviations, _mm256_setzero_ps()), inverseCount);
    *inverse = _mm256_div_ps(_mm256_set1_ps(1), _mm256_sqrt_ps(_mm256_add_ps(variance, epsilons)));
    return 0;
}

// Eight double parameters, as floats.
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 load_doubles(const double *values) {
    return _mm256_set_m128(_mm256_cvtpd_ps(_mm256_loadu_pd(values + 4)), _mm256_cvtpd_ps(_mm256_loadu_pd(values)));
}

#endif
