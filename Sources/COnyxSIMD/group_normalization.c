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
__attribute__((target("avx2,fma"), always_inline)) static inline void normalize_and_sum(
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

// One block of `lanes` (16 or 8) channels from `column` on, every row: the normalisation when `normalize`, the
// column sums when `sum` (constants at each call, so that each use gets its own loop). Two rows a step, with an
// accumulator each, so that no accumulator waits on the previous row.
__attribute__((target("avx2,fma"), always_inline)) static inline void rows_block(
    const float *x, float *y, const float *next, ptrdiff_t rows, ptrdiff_t width, ptrdiff_t column, int lanes,
    const float *factors, const float *shifts, float *sums, float *squares, const int normalize, const int sum) {
    const int halves = lanes / 8;
    __m256 factor[2], shift[2], sums0[2], sums1[2], squares0[2], squares1[2];
    for (int h = 0; h < halves; h++) {
        factor[h] = normalize ? _mm256_loadu_ps(factors + column + 8 * h) : _mm256_setzero_ps();
        shift[h] = normalize ? _mm256_loadu_ps(shifts + column + 8 * h) : _mm256_setzero_ps();
        sums0[h] = sums1[h] = squares0[h] = squares1[h] = _mm256_setzero_ps();
    }
    ptrdiff_t row = 0;
    for (; row + 2 <= rows; row += 2) {
        for (int h = 0; h < halves; h++) {
            const ptrdiff_t first = row * width + column + 8 * h, second = first + width;
            if (normalize) {
                _mm256_storeu_ps(y + first, _mm256_fmadd_ps(_mm256_loadu_ps(x + first), factor[h], shift[h]));
                _mm256_storeu_ps(y + second, _mm256_fmadd_ps(_mm256_loadu_ps(x + second), factor[h], shift[h]));
            }
            if (sum) {
                const __m256 a = _mm256_loadu_ps(next + first), b = _mm256_loadu_ps(next + second);
                sums0[h] = _mm256_add_ps(sums0[h], a);
                sums1[h] = _mm256_add_ps(sums1[h], b);
                squares0[h] = _mm256_fmadd_ps(a, a, squares0[h]);
                squares1[h] = _mm256_fmadd_ps(b, b, squares1[h]);
            }
        }
    }
    for (int h = 0; h < halves; h++) {
        if (row < rows) {
            const ptrdiff_t last = row * width + column + 8 * h;
            if (normalize) _mm256_storeu_ps(y + last, _mm256_fmadd_ps(_mm256_loadu_ps(x + last), factor[h], shift[h]));
            if (sum) {
                const __m256 a = _mm256_loadu_ps(next + last);
                sums0[h] = _mm256_add_ps(sums0[h], a);
                squares0[h] = _mm256_fmadd_ps(a, a, squares0[h]);
            }
        }
        if (sum) {
            _mm256_storeu_ps(sums + column + 8 * h, _mm256_add_ps(sums0[h], sums1[h]));
            _mm256_storeu_ps(squares + column + 8 * h, _mm256_add_ps(squares0[h], squares1[h]));
        }
    }
}

// Blocks of 16 channels (a whole cache line of each row), then of 8, then single channels.
__attribute__((target("avx2,fma"), always_inline)) static inline void all_rows(
    const float *x, float *y, const float *next, ptrdiff_t rows, ptrdiff_t width, const float *factors,
    const float *shifts, float *sums, float *squares, const int normalize, const int sum) {
    ptrdiff_t column = 0;
    for (; column + 16 <= width; column += 16)
        rows_block(x, y, next, rows, width, column, 16, factors, shifts, sums, squares, normalize, sum);
    for (; column + 8 <= width; column += 8)
        rows_block(x, y, next, rows, width, column, 8, factors, shifts, sums, squares, normalize, sum);
    for (; column < width; column++) {
        float total = 0, square = 0;
        for (ptrdiff_t row = 0; row < rows; row++) {
            const ptrdiff_t index = row * width + column;
            if (normalize) y[index] = x[index] * factors[column] + shifts[column];
            if (sum) {
                total += next[index];
                square += next[index] * next[index];
            }
        }
        if (sum) {
            sums[column] = total;
            squares[column] = square;
        }
    }
}

__attribute__((target("avx2,fma"))) void onyx_gn_rows_normalize_and_sum_f32(
    const float *x, float *y, const float *next, ptrdiff_t rows, ptrdiff_t width, const float *factors,
    const float *shifts, float *sums, float *squares) {
    if (x && next) {
        all_rows(x, y, next, rows, width, factors, shifts, sums, squares, 1, 1);
    } else if (x) {
        all_rows(x, y, next, rows, width, factors, shifts, sums, squares, 1, 0);
    } else if (next) {
        all_rows(x, y, next, rows, width, factors, shifts, sums, squares, 0, 1);
    }
}

__attribute__((target("avx2,fma"))) void onyx_gn_normalize_and_sum_f32(
    const float *x, float *y, const float *next, ptrdiff_t start, ptrdiff_t count, ptrdiff_t plane,
    const float *factors, const float *shifts, float *sum, float *squares) {
    normalize_and_sum(x, y, next, start, count, plane, factors, shifts, sum, squares);
}

__attribute__((target("avx2,fma"))) void onyx_gn_items_normalize_and_sum_f32(
    const float *x, float *y, const float *next, ptrdiff_t items, ptrdiff_t itemLength, ptrdiff_t plane,
    const float *factors, const float *shifts, float *sums, float *squares) {
    const ptrdiff_t channels = itemLength / plane;
    for (ptrdiff_t item = 0; item < items; item++) {
        const ptrdiff_t offset = item * itemLength;
        sums[item] = squares[item] = 0;
        normalize_and_sum(
            x + offset, y + offset, next + offset, 0, itemLength, plane, factors + item * channels,
            shifts + item * channels, sums + item, squares + item);
    }
}

// Eight double parameters, as floats.
__attribute__((target("avx2,fma"))) static __m256 load_doubles(const double *values) {
    return _mm256_set_m128(_mm256_cvtpd_ps(_mm256_loadu_pd(values + 4)), _mm256_cvtpd_ps(_mm256_loadu_pd(values)));
}

// y[j] = scale[j] · inverses[j], shifts[j] = bias[j] − means[j] · factors[j], for j < count.
__attribute__((target("avx2,fma"))) static void channel_coefficients(
    const double *scale, const double *bias, const float *means, const float *inverses, ptrdiff_t count,
    float *factors, float *shifts) {
    ptrdiff_t j = 0;
    for (; j + 8 <= count; j += 8) {
        const __m256 factor = _mm256_mul_ps(load_doubles(scale + j), _mm256_loadu_ps(inverses + j));
        _mm256_storeu_ps(factors + j, factor);
        _mm256_storeu_ps(shifts + j, _mm256_fnmadd_ps(_mm256_loadu_ps(means + j), factor, load_doubles(bias + j)));
    }
    for (; j < count; j++) {
        factors[j] = (float)scale[j] * inverses[j];
        shifts[j] = (float)bias[j] - means[j] * factors[j];
    }
}

// Groups a tile at a time: their means and 1/√(variance + ε) eight side by side, spread over their channels, then
// the channels' factors and shifts eight side by side, a run of channels contiguous in the sample at a time.
__attribute__((target("avx2,fma"))) int onyx_gn_coefficients_f32(
    const float *sums, const float *squares, ptrdiff_t groups, ptrdiff_t count, ptrdiff_t channelsPerGroup,
    ptrdiff_t firstGroup, ptrdiff_t groupsPerSample, const double *scale, const double *bias, float epsilon,
    float *factors, float *shifts) {
    enum { tileChannels = 512 };
    const __m256 inverseCount = _mm256_set1_ps(1.0f / (float)count), epsilons = _mm256_set1_ps(epsilon);
    const __m256 eight = _mm256_set1_ps(8), ones = _mm256_set1_ps(1);
    const ptrdiff_t tileGroups = tileChannels / channelsPerGroup;  // at least 1: channelsPerGroup ≤ 512
    float groupMeans[tileChannels + 8], groupInverses[tileChannels + 8];
    float channelMeans[tileChannels], channelInverses[tileChannels];
    ptrdiff_t sampleGroup = firstGroup % groupsPerSample;
    for (ptrdiff_t tile = 0; tile < groups; tile += tileGroups) {
        const ptrdiff_t tileCount = groups - tile < tileGroups ? groups - tile : tileGroups;
        // Per group, eight at a time; the last step reads zeros past the end, which pass the cancellation test.
        float tailSums[8] = {0}, tailSquares[8] = {0};
        for (ptrdiff_t first = 0; first < tileCount; first += 8) {
            const float *laneSums = sums + tile + first, *laneSquares = squares + tile + first;
            if (tileCount - first < 8) {
                for (ptrdiff_t lane = 0; lane < tileCount - first; lane++) {
                    tailSums[lane] = laneSums[lane];
                    tailSquares[lane] = laneSquares[lane];
                }
                laneSums = tailSums;
                laneSquares = tailSquares;
            }
            const __m256 sum = _mm256_loadu_ps(laneSums), square = _mm256_loadu_ps(laneSquares);
            const __m256 mean = _mm256_mul_ps(sum, inverseCount);
            const __m256 deviations = _mm256_fnmadd_ps(sum, mean, square);
            // NaN fails the test too, and is then computed exactly.
            const __m256 accurate = _mm256_cmp_ps(square, _mm256_mul_ps(eight, deviations), _CMP_LE_OQ);
            if (_mm256_movemask_ps(accurate) != 0xFF) return 1;
            const __m256 variance = _mm256_mul_ps(_mm256_max_ps(deviations, _mm256_setzero_ps()), inverseCount);
            _mm256_storeu_ps(groupMeans + first, mean);
            _mm256_storeu_ps(
                groupInverses + first, _mm256_div_ps(ones, _mm256_sqrt_ps(_mm256_add_ps(variance, epsilons))));
        }
        // Spread over the channels.
        const float *means = groupMeans, *inverses = groupInverses;
        if (channelsPerGroup > 1) {
            for (ptrdiff_t group = 0; group < tileCount; group++) {
                for (ptrdiff_t k = 0; k < channelsPerGroup; k++) {
                    channelMeans[group * channelsPerGroup + k] = groupMeans[group];
                    channelInverses[group * channelsPerGroup + k] = groupInverses[group];
                }
            }
            means = channelMeans;
            inverses = channelInverses;
        }
        // Runs of channels that are contiguous in the sample: up to the sample's end or the tile's.
        const ptrdiff_t tileChannelCount = tileCount * channelsPerGroup;
        for (ptrdiff_t done = 0; done < tileChannelCount;) {
            const ptrdiff_t run = (groupsPerSample - sampleGroup) * channelsPerGroup < tileChannelCount - done
                                      ? (groupsPerSample - sampleGroup) * channelsPerGroup
                                      : tileChannelCount - done;
            const ptrdiff_t channel = sampleGroup * channelsPerGroup, out = tile * channelsPerGroup + done;
            channel_coefficients(
                scale + channel, bias + channel, means + done, inverses + done, run, factors + out, shifts + out);
            done += run;
            sampleGroup = (sampleGroup + run / channelsPerGroup) % groupsPerSample;
        }
    }
    return 0;
}

#endif
