#include "onyx_simd.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

int onyx_simd_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

__attribute__((target("avx2,fma"))) static float horizontal_sum(__m256 vector) {
    __m128 four = _mm_add_ps(_mm256_castps256_ps128(vector), _mm256_extractf128_ps(vector, 1));
    __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
    return _mm_cvtss_f32(_mm_add_ss(two, _mm_shuffle_ps(two, two, 1)));
}

// Lanes 0 ..< count of a mask (count ≤ 8).
__attribute__((target("avx2,fma"))) static __m256i first_lanes(ptrdiff_t count) {
    static const int lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(lanes + 8 - count));
}

// Where the factor and shift of an item's channel k come from: `factors[k]` and `shifts[k]`, or — when `factors`
// is NULL — scale[c] · inverse and bias[c] − mean · factor, for the sample's channel c = firstChannel + k.
struct coefficient_source {
    const float *factors, *shifts;
    float mean, inverse;
    const double *scale, *bias;
    ptrdiff_t firstChannel;
};

__attribute__((target("avx2,fma"), always_inline)) static inline void coefficients_of(
    const struct coefficient_source *source, ptrdiff_t k, float *factor, float *shift) {
    if (source->factors) {
        *factor = source->factors[k];
        *shift = source->shifts[k];
    } else {
        const ptrdiff_t c = source->firstChannel + k;
        *factor = (float)source->scale[c] * source->inverse;
        *shift = fmaf(-source->mean, *factor, (float)source->bias[c]);
    }
}

// One loop does both streams, 16 values a step: the normalisation's loads come from L2 and its stores go out,
// while the next item's loads come from memory; FMA keeps the arithmetic below the memory time. The sums are left
// in lanes, in `*sum` and `*squares`.
__attribute__((target("avx2,fma"), always_inline)) static inline void normalize_and_sum(
    const float *x, float *y, const float *next, ptrdiff_t start, ptrdiff_t count, ptrdiff_t plane,
    const struct coefficient_source *source, __m256 *sum, __m256 *squares) {
    __m256 sums0 = _mm256_setzero_ps(), sums1 = _mm256_setzero_ps();
    __m256 squares0 = _mm256_setzero_ps(), squares1 = _mm256_setzero_ps();
    ptrdiff_t position = start, end = start + count;
    ptrdiff_t channel = position / plane;
    while (position < end) {
        ptrdiff_t stop = (channel + 1) * plane < end ? (channel + 1) * plane : end;
        float factor, shift;
        coefficients_of(source, channel, &factor, &shift);
        const __m256 factors8 = _mm256_set1_ps(factor), shifts8 = _mm256_set1_ps(shift);
        ptrdiff_t i = position;
        // Up to the first 32-byte boundary of y, so that the steps below store whole halves of cache lines: one
        // vector written (again later over its aligned part, with the same values) and its first lanes summed.
        // Swift's arrays start 16 bytes past a 32-byte boundary, and split stores cost the loop about 5%.
        const ptrdiff_t head = (ptrdiff_t)(((32 - ((uintptr_t)(y + i) & 31)) & 31) / sizeof(float));
        if (head > 0 && i + 8 <= stop) {
            _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), factors8, shifts8));
            const __m256 values = _mm256_maskload_ps(next + i, first_lanes(head));
            sums1 = _mm256_add_ps(sums1, values);
            squares1 = _mm256_fmadd_ps(values, values, squares1);
            i += head;
        }
        for (; i + 16 <= stop; i += 16) {
            _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), factors8, shifts8));
            _mm256_storeu_ps(y + i + 8, _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), factors8, shifts8));
            const __m256 low = _mm256_loadu_ps(next + i), high = _mm256_loadu_ps(next + i + 8);
            sums0 = _mm256_add_ps(sums0, low);
            sums1 = _mm256_add_ps(sums1, high);
            squares0 = _mm256_fmadd_ps(low, low, squares0);
            squares1 = _mm256_fmadd_ps(high, high, squares1);
        }
        if (i + 8 <= stop) {
            _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), factors8, shifts8));
            const __m256 values = _mm256_loadu_ps(next + i);
            sums0 = _mm256_add_ps(sums0, values);
            squares0 = _mm256_fmadd_ps(values, values, squares0);
            i += 8;
        }
        if (i < stop) {
            // The rest of the run: written again as the whole vector that ends with it, when that stays in the run
            // (the same values, since x and y do not overlap); its sums through a masked load.
            if (stop - 8 >= position) {
                _mm256_storeu_ps(y + stop - 8, _mm256_fmadd_ps(_mm256_loadu_ps(x + stop - 8), factors8, shifts8));
            } else {
                for (ptrdiff_t j = i; j < stop; j++) y[j] = fmaf(x[j], factor, shift);
            }
            const __m256 values = _mm256_maskload_ps(next + i, first_lanes(stop - i));
            sums1 = _mm256_add_ps(sums1, values);
            squares1 = _mm256_fmadd_ps(values, values, squares1);
        }
        position = stop;
        channel += 1;
    }
    *sum = _mm256_add_ps(sums0, sums1);
    *squares = _mm256_add_ps(squares0, squares1);
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
    const struct coefficient_source source = {factors, shifts, 0, 0, NULL, NULL, 0};
    __m256 sums, squareSums;
    normalize_and_sum(x, y, next, start, count, plane, &source, &sums, &squareSums);
    *sum += horizontal_sum(sums);
    *squares += horizontal_sum(squareSums);
}

// Lane j of the result is the sum of the lanes of vectors[j].
__attribute__((target("avx2,fma"))) static __m256 lane_totals(const __m256 vectors[8]) {
    const __m256 pairs01 = _mm256_hadd_ps(vectors[0], vectors[1]), pairs23 = _mm256_hadd_ps(vectors[2], vectors[3]);
    const __m256 pairs45 = _mm256_hadd_ps(vectors[4], vectors[5]), pairs67 = _mm256_hadd_ps(vectors[6], vectors[7]);
    // Each half of these holds four vectors' half-totals.
    const __m256 quads0123 = _mm256_hadd_ps(pairs01, pairs23), quads4567 = _mm256_hadd_ps(pairs45, pairs67);
    return _mm256_add_ps(
        _mm256_permute2f128_ps(quads0123, quads4567, 0x20), _mm256_permute2f128_ps(quads0123, quads4567, 0x31));
}

// The lane sums of `length` contiguous values and of their squares; the last partial vector through a masked load.
__attribute__((target("avx2,fma"))) static void lane_sums(
    const float *values, ptrdiff_t length, __m256 *sum, __m256 *squares) {
    __m256 sums0 = _mm256_setzero_ps(), sums1 = _mm256_setzero_ps();
    __m256 squares0 = _mm256_setzero_ps(), squares1 = _mm256_setzero_ps();
    ptrdiff_t i = 0;
    for (; i + 16 <= length; i += 16) {
        const __m256 low = _mm256_loadu_ps(values + i), high = _mm256_loadu_ps(values + i + 8);
        sums0 = _mm256_add_ps(sums0, low);
        sums1 = _mm256_add_ps(sums1, high);
        squares0 = _mm256_fmadd_ps(low, low, squares0);
        squares1 = _mm256_fmadd_ps(high, high, squares1);
    }
    for (; i < length; i += 8) {
        const __m256 last = _mm256_maskload_ps(values + i, first_lanes(length - i < 8 ? length - i : 8));
        sums0 = _mm256_add_ps(sums0, last);
        squares0 = _mm256_fmadd_ps(last, last, squares0);
    }
    *sum = _mm256_add_ps(sums0, sums1);
    *squares = _mm256_add_ps(squares0, squares1);
}

// y = x · factor + shift over `channels` planes of `plane` values. A plane's last partial vector is written as the
// whole vector that ends with the plane, again over values already written — the same values, since x and y do
// not overlap — rather than by a masked store.
__attribute__((target("avx2,fma"))) static void normalize_planes(
    const float *x, float *y, ptrdiff_t channels, ptrdiff_t plane, const struct coefficient_source *source) {
    for (ptrdiff_t k = 0; k < channels; k++, x += plane, y += plane) {
        float factor, shift;
        coefficients_of(source, k, &factor, &shift);
        if (plane < 8) {
            for (ptrdiff_t i = 0; i < plane; i++) y[i] = fmaf(x[i], factor, shift);
            continue;
        }
        const __m256 factors = _mm256_set1_ps(factor), shifts = _mm256_set1_ps(shift);
        ptrdiff_t i = 0;
        for (; i + 16 <= plane; i += 16) {
            _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), factors, shifts));
            _mm256_storeu_ps(y + i + 8, _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), factors, shifts));
        }
        for (; i < plane; i += 8) {
            const ptrdiff_t at = i + 8 <= plane ? i : plane - 8;
            _mm256_storeu_ps(y + at, _mm256_fmadd_ps(_mm256_loadu_ps(x + at), factors, shifts));
        }
    }
}

// Eight items a step: each item's lane sums are kept as vectors, and the eight are totalled side by side, which
// costs less than folding each item's lanes on its own (the fold is a chain of dependent adds). When `interleaved`
// (a constant at each call, so that each gets its own loop), an item normalised and an item summed go through one
// loop together.
__attribute__((target("avx2,fma"), always_inline)) static inline void items_step(
    const float *x, float *y, ptrdiff_t items, const float *next, ptrdiff_t nextItems, ptrdiff_t itemLength,
    ptrdiff_t plane, const float *means, const float *inverses, const double *scale, const double *bias,
    ptrdiff_t firstGroup, ptrdiff_t groupsPerSample, float *sums, float *squares, const int interleaved) {
    const ptrdiff_t channels = itemLength / plane, total = items > nextItems ? items : nextItems;
    ptrdiff_t group = firstGroup;
    for (ptrdiff_t first = 0; first < total; first += 8) {
        __m256 itemSums[8], itemSquares[8];
        for (ptrdiff_t k = 0; k < 8; k++) {
            const ptrdiff_t item = first + k, offset = item * itemLength;
            itemSums[k] = itemSquares[k] = _mm256_setzero_ps();
            if (item < items) {
                const struct coefficient_source source = {
                    NULL, NULL, means[item], inverses[item], scale, bias, group * channels};
                group = group + 1 == groupsPerSample ? 0 : group + 1;
                if (interleaved && item < nextItems) {
                    normalize_and_sum(
                        x + offset, y + offset, next + offset, 0, itemLength, plane, &source, itemSums + k,
                        itemSquares + k);
                    continue;
                }
                normalize_planes(x + offset, y + offset, channels, plane, &source);
            }
            if (item < nextItems) lane_sums(next + offset, itemLength, itemSums + k, itemSquares + k);
        }
        if (first < nextItems) {
            const __m256i stored = first_lanes(nextItems - first < 8 ? nextItems - first : 8);
            _mm256_maskstore_ps(sums + first, stored, lane_totals(itemSums));
            _mm256_maskstore_ps(squares + first, stored, lane_totals(itemSquares));
        }
    }
}

// Long items interleave, so that both streams stay in flight; items under 256 values (by timing on Zen 3) cost
// less one after the other.
__attribute__((target("avx2,fma"))) void onyx_gn_items_normalize_and_sum_f32(
    const float *x, float *y, ptrdiff_t items, const float *next, ptrdiff_t nextItems, ptrdiff_t itemLength,
    ptrdiff_t plane, const float *means, const float *inverses, const double *scale, const double *bias,
    ptrdiff_t firstGroup, ptrdiff_t groupsPerSample, float *sums, float *squares) {
    if (itemLength >= 256) {
        items_step(x, y, items, next, nextItems, itemLength, plane, means, inverses, scale, bias, firstGroup,
            groupsPerSample, sums, squares, 1);
    } else {
        items_step(x, y, items, next, nextItems, itemLength, plane, means, inverses, scale, bias, firstGroup,
            groupsPerSample, sums, squares, 0);
    }
}

// Eight lanes' means and 1/√(variance + ε) from their sums and sums of squares over 1/inverseCount values; 0
// when some lane's sums would lose too much to cancellation (NaN too, which is then computed exactly), else 1.
__attribute__((target("avx2,fma"), always_inline)) static inline int lane_moments(
    __m256 sum, __m256 square, __m256 inverseCount, __m256 epsilons, __m256 *mean, __m256 *inverse) {
    *mean = _mm256_mul_ps(sum, inverseCount);
    const __m256 deviations = _mm256_fnmadd_ps(sum, *mean, square);
    const __m256 accurate = _mm256_cmp_ps(square, _mm256_mul_ps(_mm256_set1_ps(8), deviations), _CMP_LE_OQ);
    if (_mm256_movemask_ps(accurate) != 0xFF) return 0;
    const __m256 variance = _mm256_mul_ps(_mm256_max_ps(deviations, _mm256_setzero_ps()), inverseCount);
    *inverse = _mm256_div_ps(_mm256_set1_ps(1), _mm256_sqrt_ps(_mm256_add_ps(variance, epsilons)));
    return 1;
}

// Means and 1/√(variance + ε) of `groups` groups eight side by side; 1 as soon as some group's sums would cancel.
__attribute__((target("avx2,fma"))) static int moments(
    const float *sums, const float *squares, ptrdiff_t groups, ptrdiff_t count, float epsilon, float *means,
    float *inverses) {
    const __m256 inverseCount = _mm256_set1_ps(1.0f / (float)count), epsilons = _mm256_set1_ps(epsilon);
    for (ptrdiff_t first = 0; first < groups; first += 8) {
        // Past the end the lanes load zeros, which pass the cancellation test.
        const int whole = groups - first >= 8;
        const __m256i used = first_lanes(whole ? 8 : groups - first);
        const __m256 sum = whole ? _mm256_loadu_ps(sums + first) : _mm256_maskload_ps(sums + first, used);
        const __m256 square = whole ? _mm256_loadu_ps(squares + first) : _mm256_maskload_ps(squares + first, used);
        __m256 mean, inverse;
        if (!lane_moments(sum, square, inverseCount, epsilons, &mean, &inverse)) return 1;
        if (whole) {
            _mm256_storeu_ps(means + first, mean);
            _mm256_storeu_ps(inverses + first, inverse);
        } else {
            _mm256_maskstore_ps(means + first, used, mean);
            _mm256_maskstore_ps(inverses + first, used, inverse);
        }
    }
    return 0;
}

__attribute__((target("avx2,fma"))) int onyx_gn_moments_f32(
    const float *sums, const float *squares, ptrdiff_t groups, ptrdiff_t count, float epsilon, float *means,
    float *inverses) {
    return moments(sums, squares, groups, count, epsilon, means, inverses);
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

// Items of `vectors` (at most 16) vectors each and one or two channels, held in registers from their one read to
// their one write, as in an affine pass; `vectors` is a constant at each call, so that the compiler unrolls the
// loops over them and keeps `values` in registers. The last vector is partial when `tail` < 8, and is then written
// as the whole vector that ends the item. Planes hold at least 8 values. (The loops test their bounds inside,
// rather than stopping early, so that they can be unrolled.)
__attribute__((target("avx2,fma"), always_inline)) static inline void register_items(
    const float *x, float *y, ptrdiff_t items, ptrdiff_t itemLength, ptrdiff_t plane, const double *scale,
    const double *bias, float epsilon, ptrdiff_t firstGroup, ptrdiff_t groupsPerSample, const int vectors) {
    const ptrdiff_t channels = itemLength / plane, tail = itemLength - 8 * (vectors - 1);
    const int whole = tail == 8 ? vectors : vectors - 1;
    const __m256i tailLanes = first_lanes(tail);
    const float inverseLength = 1.0f / (float)itemLength;
    // The vector in which the second channel starts (with two), and its lanes in the first; all lanes of the
    // vectors before it are in the first channel, of those after it in the last.
    const int split = channels == 2 ? (int)(plane / 8) : vectors;
    const __m256 splitLanes = _mm256_castsi256_ps(first_lanes(plane % 8));
    ptrdiff_t group = firstGroup;
    for (ptrdiff_t item = 0; item < items; item++, x += itemLength, y += itemLength) {
        __m256 values[16];
        __m256 sums0 = _mm256_setzero_ps(), sums1 = _mm256_setzero_ps();
        __m256 squares0 = _mm256_setzero_ps(), squares1 = _mm256_setzero_ps();
#pragma unroll
        for (int v = 0; v < vectors; v++) {
            values[v] = v < whole ? _mm256_loadu_ps(x + 8 * v) : _mm256_maskload_ps(x + 8 * v, tailLanes);
            if (v % 2 == 0) {
                sums0 = _mm256_add_ps(sums0, values[v]);
                squares0 = _mm256_fmadd_ps(values[v], values[v], squares0);
            } else {
                sums1 = _mm256_add_ps(sums1, values[v]);
                squares1 = _mm256_fmadd_ps(values[v], values[v], squares1);
            }
        }
        float sum, square;
        horizontal_sums(_mm256_add_ps(sums0, sums1), _mm256_add_ps(squares0, squares1), &sum, &square);
        const float mean = sum * inverseLength;
        float deviations = fmaf(-sum, mean, square);
        if (!(square <= 8 * deviations)) {
            // The float sums would cancel (or hold NaN): the deviations from the mean, summed again. (The mean's
            // own rounding stays below that of x · factor + shift, which is as large as x is far from zero.)
            const __m256 means = _mm256_set1_ps(mean);
            __m256 offsets = _mm256_setzero_ps(), offsetSquares = _mm256_setzero_ps();
#pragma unroll
            for (int v = 0; v < vectors; v++) {
                __m256 offset = _mm256_sub_ps(values[v], means);
                if (v == whole) offset = _mm256_and_ps(offset, _mm256_castsi256_ps(tailLanes));
                offsets = _mm256_add_ps(offsets, offset);
                offsetSquares = _mm256_fmadd_ps(offset, offset, offsetSquares);
            }
            float offsetSum, offsetSquareSum;
            horizontal_sums(offsets, offsetSquares, &offsetSum, &offsetSquareSum);
            deviations = fmaf(-offsetSum, offsetSum * inverseLength, offsetSquareSum);
        }
        // sqrtss itself: sqrtf may call libm for errno, and every vector register is spilled around the call.
        const float inverse = 1.0f / _mm_cvtss_f32(_mm_sqrt_ss(
                                         _mm_set_ss((deviations > 0 ? deviations : 0) * inverseLength + epsilon)));
        const ptrdiff_t first = group * channels, last = first + channels - 1;
        group = group + 1 == groupsPerSample ? 0 : group + 1;
        const float firstFactor = (float)scale[first] * inverse, lastFactor = (float)scale[last] * inverse;
        const __m256 firstFactors = _mm256_set1_ps(firstFactor), lastFactors = _mm256_set1_ps(lastFactor);
        const __m256 firstShifts = _mm256_set1_ps(fmaf(-mean, firstFactor, (float)bias[first]));
        const __m256 lastShifts = _mm256_set1_ps(fmaf(-mean, lastFactor, (float)bias[last]));
#pragma unroll
        for (int v = 0; v < vectors; v++) {
            __m256 factor = lastFactors, shift = lastShifts;
            if (v < split) {
                factor = firstFactors;
                shift = firstShifts;
            } else if (v == split) {
                factor = _mm256_blendv_ps(lastFactors, firstFactors, splitLanes);
                shift = _mm256_blendv_ps(lastShifts, firstShifts, splitLanes);
            }
            if (v < whole) _mm256_storeu_ps(y + 8 * v, _mm256_fmadd_ps(values[v], factor, shift));
        }
        // Planes of at least 8 values: the vector that ends the item lies in its last channel.
        if (whole < vectors) {
            const ptrdiff_t start = itemLength - 8;
            _mm256_storeu_ps(y + start, _mm256_fmadd_ps(_mm256_loadu_ps(x + start), lastFactors, lastShifts));
        }
    }
}

#define REGISTER_ITEMS_CASE(vectors)                                                                          \
    case vectors:                                                                                             \
        register_items(                                                                                       \
            x, y, items, itemLength, plane, scale, bias, epsilon, firstGroup, groupsPerSample, vectors);     \
        break;

__attribute__((target("avx2,fma"))) void onyx_gn_register_items_f32(
    const float *x, float *y, ptrdiff_t items, ptrdiff_t itemLength, ptrdiff_t plane, const double *scale,
    const double *bias, float epsilon, ptrdiff_t firstGroup, ptrdiff_t groupsPerSample) {
    switch ((itemLength + 7) / 8) {
        REGISTER_ITEMS_CASE(1)
        REGISTER_ITEMS_CASE(2)
        REGISTER_ITEMS_CASE(3)
        REGISTER_ITEMS_CASE(4)
        REGISTER_ITEMS_CASE(5)
        REGISTER_ITEMS_CASE(6)
        REGISTER_ITEMS_CASE(7)
        REGISTER_ITEMS_CASE(8)
        REGISTER_ITEMS_CASE(9)
        REGISTER_ITEMS_CASE(10)
        REGISTER_ITEMS_CASE(11)
        REGISTER_ITEMS_CASE(12)
        REGISTER_ITEMS_CASE(13)
        REGISTER_ITEMS_CASE(14)
        REGISTER_ITEMS_CASE(15)
        REGISTER_ITEMS_CASE(16)
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

// Each lane's group total, for groups of `channelsPerGroup` (1, 2, 4 or 8) consecutive lanes: the lanes added to
// their neighbours', then to the neighbouring pairs', then to the other half's.
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 group_totals(
    __m256 lanes, ptrdiff_t channelsPerGroup) {
    if (channelsPerGroup >= 2) lanes = _mm256_add_ps(lanes, _mm256_permute_ps(lanes, 0xB1));
    if (channelsPerGroup >= 4) lanes = _mm256_add_ps(lanes, _mm256_permute_ps(lanes, 0x4E));
    if (channelsPerGroup >= 8) lanes = _mm256_add_ps(lanes, _mm256_permute2f128_ps(lanes, lanes, 0x01));
    return lanes;
}

// One vector of channels of `small_group_coefficients`, `count` (≤ 8) of them: 0 when some group's sums would
// cancel, else 1.
__attribute__((target("avx2,fma"), always_inline)) static inline int small_group_vector(
    const float *sums, const float *squares, ptrdiff_t count, ptrdiff_t channelsPerGroup, const double *scale,
    const double *bias, __m256 inverseCount, __m256 epsilons, float *factors, float *shifts) {
    __m256 sum, square, scales, biases;
    const __m256i used = first_lanes(count);
    if (count == 8) {
        sum = _mm256_loadu_ps(sums);
        square = _mm256_loadu_ps(squares);
        scales = load_doubles(scale);
        biases = load_doubles(bias);
    } else {
        // Lanes past the end load zeros, which pass the cancellation test.
        double lastScale[8] = {0}, lastBias[8] = {0};
        for (ptrdiff_t k = 0; k < count; k++) {
            lastScale[k] = scale[k];
            lastBias[k] = bias[k];
        }
        sum = _mm256_maskload_ps(sums, used);
        square = _mm256_maskload_ps(squares, used);
        scales = load_doubles(lastScale);
        biases = load_doubles(lastBias);
    }
    __m256 mean, inverse;
    if (!lane_moments(
            group_totals(sum, channelsPerGroup), group_totals(square, channelsPerGroup), inverseCount, epsilons,
            &mean, &inverse))
        return 0;
    const __m256 factor = _mm256_mul_ps(scales, inverse), shift = _mm256_fnmadd_ps(mean, factor, biases);
    if (count == 8) {
        _mm256_storeu_ps(factors, factor);
        _mm256_storeu_ps(shifts, shift);
    } else {
        _mm256_maskstore_ps(factors, used, factor);
        _mm256_maskstore_ps(shifts, used, shift);
    }
    return 1;
}

// Groups that fit a vector (channelsPerGroup dividing 8): eight channels at a time, each lane computing its own
// group's moments from its group's sums gathered within the vector, with no folding or spreading in memory.
__attribute__((target("avx2,fma"))) static int small_group_coefficients(
    const float *sums, const float *squares, ptrdiff_t samples, ptrdiff_t channels, ptrdiff_t channelsPerGroup,
    ptrdiff_t rows, const double *scale, const double *bias, float epsilon, float *factors, float *shifts) {
    const __m256 inverseCount = _mm256_set1_ps(1.0f / (float)(rows * channelsPerGroup));
    const __m256 epsilons = _mm256_set1_ps(epsilon);
    for (ptrdiff_t sample = 0; sample < samples; sample++) {
        for (ptrdiff_t channel = 0; channel < channels; channel += 8) {
            const ptrdiff_t at = sample * channels + channel, count = channels - channel < 8 ? channels - channel : 8;
            if (!small_group_vector(
                    sums + at, squares + at, count, channelsPerGroup, scale + channel, bias + channel, inverseCount,
                    epsilons, factors + at, shifts + at))
                return 1;
        }
    }
    return 0;
}

// Larger groups a sample and a tile of groups at a time: the groups' sums folded from their channels', their means
// and 1/√(variance + ε) eight side by side, spread over their channels, then the channels' factors and shifts eight
// side by side.
__attribute__((target("avx2,fma"))) int onyx_gn_coefficients_f32(
    const float *sums, const float *squares, ptrdiff_t samples, ptrdiff_t channels, ptrdiff_t channelsPerGroup,
    ptrdiff_t rows, const double *scale, const double *bias, float epsilon, float *factors, float *shifts) {
    if (8 % channelsPerGroup == 0)
        return small_group_coefficients(
            sums, squares, samples, channels, channelsPerGroup, rows, scale, bias, epsilon, factors, shifts);
    enum { tileChannels = 512 };
    // Whole groups per tile: at least one, since channelsPerGroup ≤ 512.
    const ptrdiff_t tileGroups = tileChannels / channelsPerGroup, groups = channels / channelsPerGroup;
    const ptrdiff_t count = rows * channelsPerGroup;
    float groupSums[tileChannels], groupSquares[tileChannels], groupMeans[tileChannels], groupInverses[tileChannels];
    float channelMeans[tileChannels], channelInverses[tileChannels];
    for (ptrdiff_t sample = 0; sample < samples; sample++) {
        for (ptrdiff_t tile = 0; tile < groups; tile += tileGroups) {
            const ptrdiff_t tileCount = groups - tile < tileGroups ? groups - tile : tileGroups;
            const ptrdiff_t first = sample * channels + tile * channelsPerGroup;
            for (ptrdiff_t group = 0; group < tileCount; group++) {
                float sum = 0, square = 0;
                for (ptrdiff_t k = 0; k < channelsPerGroup; k++) {
                    sum += sums[first + group * channelsPerGroup + k];
                    square += squares[first + group * channelsPerGroup + k];
                }
                groupSums[group] = sum;
                groupSquares[group] = square;
            }
            if (moments(groupSums, groupSquares, tileCount, count, epsilon, groupMeans, groupInverses)) return 1;
            for (ptrdiff_t group = 0; group < tileCount; group++) {
                for (ptrdiff_t k = 0; k < channelsPerGroup; k++) {
                    channelMeans[group * channelsPerGroup + k] = groupMeans[group];
                    channelInverses[group * channelsPerGroup + k] = groupInverses[group];
                }
            }
            const ptrdiff_t channel = tile * channelsPerGroup;
            channel_coefficients(
                scale + channel, bias + channel, channelMeans, channelInverses, tileCount * channelsPerGroup,
                factors + first, shifts + first);
        }
    }
    return 0;
}

// Lanes 0 ..< count of each of the 8 vectors from column `first` on, among `width` columns.
__attribute__((target("avx2,fma"), always_inline)) static inline __m256i column_lanes(
    ptrdiff_t first, ptrdiff_t width) {
    const ptrdiff_t count = width - first;
    return first_lanes(count < 0 ? 0 : count < 8 ? count : 8);
}

// One pass of `column_sums` over 64 columns from `column` on; `masked` (a constant at each call) when fewer remain.
__attribute__((target("avx2,fma"), always_inline)) static inline void column_sums_pass(
    const float *values, ptrdiff_t rows, ptrdiff_t width, ptrdiff_t column, float *sums, float *squares,
    const int masked) {
    __m256 sum[8], square[8];
    for (int k = 0; k < 8; k++) sum[k] = square[k] = _mm256_setzero_ps();
    for (ptrdiff_t row = 0; row < rows; row++) {
        const float *at = values + row * width + column;
        for (int k = 0; k < 8; k++) {
            const __m256 value =
                masked ? _mm256_maskload_ps(at + 8 * k, column_lanes(column + 8 * k, width)) : _mm256_loadu_ps(at + 8 * k);
            sum[k] = _mm256_add_ps(sum[k], value);
            square[k] = _mm256_fmadd_ps(value, value, square[k]);
        }
    }
    for (int k = 0; k < 8; k++) {
        if (masked) {
            _mm256_maskstore_ps(sums + column + 8 * k, column_lanes(column + 8 * k, width), sum[k]);
            _mm256_maskstore_ps(squares + column + 8 * k, column_lanes(column + 8 * k, width), square[k]);
        } else {
            _mm256_storeu_ps(sums + column + 8 * k, sum[k]);
            _mm256_storeu_ps(squares + column + 8 * k, square[k]);
        }
    }
}

// Column sums of `rows` rows of `width` values and of their squares, row by row, 64 columns (8 accumulator pairs)
// a pass: a row's 256 bytes are read in order, so the pass costs about the same however the rows lie across cache
// lines (blocks of one cache line per row took 1.6 times as long when the rows did not start on a line).
__attribute__((target("avx2,fma"))) static void column_sums(
    const float *values, ptrdiff_t rows, ptrdiff_t width, float *sums, float *squares) {
    ptrdiff_t column = 0;
    for (; column + 64 <= width; column += 64) column_sums_pass(values, rows, width, column, sums, squares, 0);
    if (column < width) column_sums_pass(values, rows, width, column, sums, squares, 1);
}

// y = x · factors[c] + shifts[c] over `rows` rows of `width` (at least 8) columns: 32 columns (4 factor and shift
// vectors) a pass, then 8; a row's last partial vector is written as the whole vector that ends the row, again
// over values already written — the same values, since x and y do not overlap.
__attribute__((target("avx2,fma"))) static void normalize_columns(
    const float *x, float *y, ptrdiff_t rows, ptrdiff_t width, const float *factors, const float *shifts) {
    ptrdiff_t column = 0;
    for (; column + 32 <= width; column += 32) {
        __m256 factor[4], shift[4];
        for (int k = 0; k < 4; k++) {
            factor[k] = _mm256_loadu_ps(factors + column + 8 * k);
            shift[k] = _mm256_loadu_ps(shifts + column + 8 * k);
        }
        for (ptrdiff_t row = 0; row < rows; row++) {
            const ptrdiff_t at = row * width + column;
            for (int k = 0; k < 4; k++)
                _mm256_storeu_ps(y + at + 8 * k, _mm256_fmadd_ps(_mm256_loadu_ps(x + at + 8 * k), factor[k], shift[k]));
        }
    }
    for (; column < width; column += 8) {
        if (column + 8 > width) column = width - 8;
        const __m256 factor = _mm256_loadu_ps(factors + column), shift = _mm256_loadu_ps(shifts + column);
        for (ptrdiff_t row = 0; row < rows; row++) {
            const ptrdiff_t at = row * width + column;
            _mm256_storeu_ps(y + at, _mm256_fmadd_ps(_mm256_loadu_ps(x + at), factor, shift));
        }
    }
}

__attribute__((target("avx2,fma"))) int onyx_gn_sample_f32(
    const float *x, float *y, ptrdiff_t rows, ptrdiff_t width, ptrdiff_t channelsPerGroup, const double *scale,
    const double *bias, float epsilon, float *sums, float *squares, float *factors, float *shifts) {
    column_sums(x, rows, width, sums, squares);
    if (onyx_gn_coefficients_f32(
            sums, squares, 1, width, channelsPerGroup, rows, scale, bias, epsilon, factors, shifts))
        return 1;
    normalize_columns(x, y, rows, width, factors, shifts);
    return 0;
}

#endif
