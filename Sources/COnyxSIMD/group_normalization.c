#include "onyx_simd.h"

#if defined(__x86_64__)
#include <immintrin.h>

int onyx_simd_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

__attribute__((target("avx2,fma"))) static float horizontal_sum(__m256 vector) {
    __m128 four = _mm_add_ps(_mm256_castps256_ps128(vector), _mm256_extractf128_ps(vector, 1));
    __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
    return _mm_cvtss_f32(_mm_add_ss(two, _mm_shuffle_ps(two, two, 1)));
}

// One loop does both streams, 16 values a step: the normalisation's loads come from L2 and its stores go out,
// while the next item's loads come from memory; FMA keeps the arithmetic below the memory time.
__attribute__((target("avx2,fma"))) void onyx_gn_normalize_and_sum_f32(
    const float *x, float *y, const float *next, ptrdiff_t start, ptrdiff_t count, ptrdiff_t plane,
    const float *factors, const float *shifts, float *sum, float *squares) {
    __m256 sums0 = _mm256_setzero_ps(), sums1 = _mm256_setzero_ps();
    __m256 squares0 = _mm256_setzero_ps(), squares1 = _mm256_setzero_ps();
    float tailSum = 0, tailSquares = 0;
    ptrdiff_t position = start, end = start + count;
    ptrdiff_t channel = position / plane;
    while (position < end) {
        ptrdiff_t stop = (channel + 1) * plane < end ? (channel + 1) * plane : end;
        const float factor = factors[channel], shift = shifts[channel];
        const __m256 factors8 = _mm256_set1_ps(factor), shifts8 = _mm256_set1_ps(shift);
        ptrdiff_t i = position;
        for (; i + 16 <= stop; i += 16) {
            _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), factors8, shifts8));
            _mm256_storeu_ps(y + i + 8, _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), factors8, shifts8));
            const __m256 low = _mm256_loadu_ps(next + i), high = _mm256_loadu_ps(next + i + 8);
            sums0 = _mm256_add_ps(sums0, low);
            sums1 = _mm256_add_ps(sums1, high);
            squares0 = _mm256_fmadd_ps(low, low, squares0);
            squares1 = _mm256_fmadd_ps(high, high, squares1);
        }
        for (; i < stop; i++) {
            y[i] = x[i] * factor + shift;
            tailSum += next[i];
            tailSquares += next[i] * next[i];
        }
        position = stop;
        channel += 1;
    }
    *sum += horizontal_sum(_mm256_add_ps(sums0, sums1)) + tailSum;
    *squares += horizontal_sum(_mm256_add_ps(squares0, squares1)) + tailSquares;
}

// Eight channels at a time, two rows a step so that each accumulator is added to every other row.
__attribute__((target("avx2,fma"))) void onyx_gn_rows_normalize_and_sum_f32(
    const float *x, float *y, const float *next, ptrdiff_t rows, ptrdiff_t width, const float *factors,
    const float *shifts, float *sums, float *squares) {
    ptrdiff_t column = 0;
    for (; column + 8 <= width; column += 8) {
        const __m256 factors8 = x ? _mm256_loadu_ps(factors + column) : _mm256_setzero_ps();
        const __m256 shifts8 = x ? _mm256_loadu_ps(shifts + column) : _mm256_setzero_ps();
        __m256 sums0 = _mm256_setzero_ps(), sums1 = _mm256_setzero_ps();
        __m256 squares0 = _mm256_setzero_ps(), squares1 = _mm256_setzero_ps();
        ptrdiff_t row = 0;
        for (; row + 2 <= rows; row += 2) {
            const ptrdiff_t first = row * width + column, second = first + width;
            if (x) {
                _mm256_storeu_ps(y + first, _mm256_fmadd_ps(_mm256_loadu_ps(x + first), factors8, shifts8));
                _mm256_storeu_ps(y + second, _mm256_fmadd_ps(_mm256_loadu_ps(x + second), factors8, shifts8));
            }
            if (next) {
                const __m256 a = _mm256_loadu_ps(next + first), b = _mm256_loadu_ps(next + second);
                sums0 = _mm256_add_ps(sums0, a);
                sums1 = _mm256_add_ps(sums1, b);
                squares0 = _mm256_fmadd_ps(a, a, squares0);
                squares1 = _mm256_fmadd_ps(b, b, squares1);
            }
        }
        if (row < rows) {
            const ptrdiff_t last = row * width + column;
            if (x) _mm256_storeu_ps(y + last, _mm256_fmadd_ps(_mm256_loadu_ps(x + last), factors8, shifts8));
            if (next) {
                const __m256 a = _mm256_loadu_ps(next + last);
                sums0 = _mm256_add_ps(sums0, a);
                squares0 = _mm256_fmadd_ps(a, a, squares0);
            }
        }
        if (next) {
            _mm256_storeu_ps(sums + column, _mm256_add_ps(sums0, sums1));
            _mm256_storeu_ps(squares + column, _mm256_add_ps(squares0, squares1));
        }
    }
    for (; column < width; column++) {
        float sum = 0, square = 0;
        for (ptrdiff_t row = 0; row < rows; row++) {
            const ptrdiff_t index = row * width + column;
            if (x) y[index] = x[index] * factors[column] + shifts[column];
            if (next) {
                sum += next[index];
                square += next[index] * next[index];
            }
        }
        if (next) {
            sums[column] = sum;
            squares[column] = square;
        }
    }
}

// Eight groups side by side for the mean, the variance and 1/√(variance + ε); then a factor and a shift per channel.
__attribute__((target("avx2,fma"))) int onyx_gn_coefficients_f32(
    const float *sums, const float *squares, ptrdiff_t groups, ptrdiff_t count, ptrdiff_t channelsPerGroup,
    ptrdiff_t firstGroup, ptrdiff_t groupsPerSample, const double *scale, const double *bias, float epsilon,
    float *factors, float *shifts) {
    const __m256 inverseCount = _mm256_set1_ps(1.0f / (float)count), epsilons = _mm256_set1_ps(epsilon);
    const __m256 eight = _mm256_set1_ps(8), ones = _mm256_set1_ps(1);
    ptrdiff_t sampleGroup = firstGroup % groupsPerSample;
    for (ptrdiff_t first = 0; first < groups; first += 8) {
        const ptrdiff_t lanes = groups - first < 8 ? groups - first : 8;
        float laneSums[8] = {0}, laneSquares[8] = {0}, means[8], inverseDeviations[8];
        for (ptrdiff_t lane = 0; lane < lanes; lane++) {
            laneSums[lane] = sums[first + lane];
            laneSquares[lane] = squares[first + lane];
        }
        const __m256 sum = _mm256_loadu_ps(laneSums), square = _mm256_loadu_ps(laneSquares);
        const __m256 mean = _mm256_mul_ps(sum, inverseCount);
        const __m256 deviations = _mm256_fnmadd_ps(sum, mean, square);
        // Lanes past `lanes` hold zeros, which pass (0 ≤ 0); NaN fails, and is computed exactly too.
        const __m256 accurate = _mm256_cmp_ps(square, _mm256_mul_ps(eight, deviations), _CMP_LE_OQ);
        if (_mm256_movemask_ps(accurate) != 0xFF) return 1;
        const __m256 variance = _mm256_mul_ps(_mm256_max_ps(deviations, _mm256_setzero_ps()), inverseCount);
        _mm256_storeu_ps(means, mean);
        _mm256_storeu_ps(inverseDeviations, _mm256_div_ps(ones, _mm256_sqrt_ps(_mm256_add_ps(variance, epsilons))));
        for (ptrdiff_t lane = 0; lane < lanes; lane++) {
            const ptrdiff_t out = (first + lane) * channelsPerGroup, channel = sampleGroup * channelsPerGroup;
            for (ptrdiff_t k = 0; k < channelsPerGroup; k++) {
                const float factor = (float)scale[channel + k] * inverseDeviations[lane];
                factors[out + k] = factor;
                shifts[out + k] = (float)bias[channel + k] - means[lane] * factor;
            }
            sampleGroup = sampleGroup + 1 == groupsPerSample ? 0 : sampleGroup + 1;
        }
    }
    return 0;
}

#endif
