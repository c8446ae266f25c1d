// GroupNormalization's channels-first loops (AVX2, FMA): short groups eight at a time, whole batches of longer
// groups, the interleaved chunk step of long ones, and the groups' moments.
#include "onyx_simd.h"

#if defined(__x86_64__)
#include "lanes.h"

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
        // (Aligning y's stores first, with one vector stored twice, timed 0–3% slower on Swift's arrays, which start
        // 16 bytes past a 32-byte boundary.)
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

__attribute__((target("avx2,fma"))) void onyx_gn_normalize_and_sum_f32(
    const float *x, float *y, const float *next, ptrdiff_t start, ptrdiff_t count, ptrdiff_t plane,
    const float *factors, const float *shifts, float *sum, float *squares) {
    const struct coefficient_source source = {factors, shifts, 0, 0, NULL, NULL, 0};
    __m256 sums, squareSums;
    normalize_and_sum(x, y, next, start, count, plane, &source, &sums, &squareSums);
    float sumTotal, squareTotal;
    horizontal_sums(sums, squareSums, &sumTotal, &squareTotal);
    *sum += sumTotal;
    *squares += squareTotal;
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
        const __m256 last = _mm256_maskload_ps(values + i, first_lanes(length - i));
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
            const __m256i stored = first_lanes(nextItems - first);
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

// Eight groups side by side; 1 as soon as some group's sums would cancel.
__attribute__((target("avx2,fma"))) int onyx_gn_moments_f32(
    const float *sums, const float *squares, ptrdiff_t groups, ptrdiff_t count, float epsilon, float *means,
    float *inverses) {
    const __m256 inverseCount = _mm256_set1_ps(1.0f / (float)count), epsilons = _mm256_set1_ps(epsilon);
    for (ptrdiff_t first = 0; first < groups; first += 8) {
        // Past the end the lanes load zeros, which pass the cancellation test.
        const ptrdiff_t count = groups - first;
        __m256 mean, inverse;
        if (lane_moments(load_first(sums + first, count), load_first(squares + first, count), inverseCount, epsilons,
                &mean, &inverse))
            return 1;
        store_first(means + first, count, mean);
        store_first(inverses + first, count, inverse);
    }
    return 0;
}

// Vector `v` of a short item of `vectors` vectors: the last one, when partial (`whole` < `vectors`), through a
// masked load.
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 short_item_vector(
    const float *x, int v, int whole, __m256i tailLanes) {
    return v < whole ? _mm256_loadu_ps(x + 8 * v) : _mm256_maskload_ps(x + 8 * v, tailLanes);
}

// The lane sums of item `item` of `items` short items and of its squares, unrolled over its `vectors` vectors (a
// constant at each call); zeros past the last item, which pass the cancellation test.
__attribute__((target("avx2,fma"), always_inline)) static inline void short_item_sums(
    const float *x, ptrdiff_t item, ptrdiff_t items, ptrdiff_t itemLength, const int vectors, int whole,
    __m256i tailLanes, __m256 *sum, __m256 *squares) {
    __m256 sums0 = _mm256_setzero_ps(), sums1 = _mm256_setzero_ps();
    __m256 squares0 = _mm256_setzero_ps(), squares1 = _mm256_setzero_ps();
    if (item < items) {
        x += item * itemLength;
#pragma unroll
        for (int v = 0; v < vectors; v++) {
            const __m256 values = short_item_vector(x, v, whole, tailLanes);
            if (v % 2 == 0) {
                sums0 = _mm256_add_ps(sums0, values);
                squares0 = _mm256_fmadd_ps(values, values, squares0);
            } else {
                sums1 = _mm256_add_ps(sums1, values);
                squares1 = _mm256_fmadd_ps(values, values, squares1);
            }
        }
    }
    *sum = _mm256_add_ps(sums0, sums1);
    *squares = _mm256_add_ps(squares0, squares1);
}

// The means and 1/√(variance + ε) of the short items `first` ..< min(first + 8, items), from their lane sums;
// where the float sums would cancel (or hold NaN), the deviations from each item's mean are summed again, from L1.
__attribute__((target("avx2,fma"), always_inline)) static inline void short_item_moments(
    const float *x, ptrdiff_t first, ptrdiff_t items, ptrdiff_t itemLength, const int vectors, int whole,
    __m256i tailLanes, const __m256 sums[8], const __m256 squares[8], float epsilon, float means[8],
    float inverses[8]) {
    const float inverseLength = 1.0f / (float)itemLength;
    __m256 mean, inverse;
    const int cancels = lane_moments(lane_totals(sums), lane_totals(squares), _mm256_set1_ps(inverseLength),
        _mm256_set1_ps(epsilon), &mean, &inverse);
    _mm256_storeu_ps(means, mean);
    if (!cancels) {
        _mm256_storeu_ps(inverses, inverse);
        return;
    }
    const ptrdiff_t count = items - first < 8 ? items - first : 8;
    x += first * itemLength;
    for (ptrdiff_t k = 0; k < count; k++, x += itemLength) {
        // (The mean's own rounding stays below that of x · factor + shift, which is as large as x is far from
        // zero, so it is not taken again.)
        const __m256 itemMeans = _mm256_set1_ps(means[k]);
        __m256 offsets = _mm256_setzero_ps(), offsetSquares = _mm256_setzero_ps();
#pragma unroll
        for (int v = 0; v < vectors; v++) {
            __m256 offset = _mm256_sub_ps(short_item_vector(x, v, whole, tailLanes), itemMeans);
            if (v == whole) offset = _mm256_and_ps(offset, _mm256_castsi256_ps(tailLanes));
            offsets = _mm256_add_ps(offsets, offset);
            offsetSquares = _mm256_fmadd_ps(offset, offset, offsetSquares);
        }
        float offsetSum, offsetSquareSum;
        horizontal_sums(offsets, offsetSquares, &offsetSum, &offsetSquareSum);
        const float deviations = fmaf(-offsetSum, offsetSum * inverseLength, offsetSquareSum);
        // sqrtss itself: sqrtf may call libm for errno, and every vector register is spilled around the call.
        inverses[k] = 1.0f / _mm_cvtss_f32(_mm_sqrt_ss(
                                 _mm_set_ss((deviations > 0 ? deviations : 0) * inverseLength + epsilon)));
    }
}

// Items of `vectors` (at most 16) vectors each and one or two channels, eight at a time: while one batch is
// normalised from L1, item by item, the next is summed, and then the eight items' moments are taken side by side.
// So X comes from memory once, as in an affine pass, and each batch's square roots and divisions overlap the next
// batch's loads rather than stalling every item. `vectors` is a constant at each call, so that the compiler unrolls
// the loops over an item's vectors. The last vector is partial when `tail` < 8, and is then written as the whole
// vector that ends the item. Planes hold at least 8 values.
__attribute__((target("avx2,fma"), always_inline)) static inline void short_items(
    const float *x, float *y, ptrdiff_t items, ptrdiff_t itemLength, ptrdiff_t plane, const double *scale,
    const double *bias, float epsilon, ptrdiff_t firstGroup, ptrdiff_t groupsPerSample, const int vectors) {
    const ptrdiff_t channels = itemLength / plane, tail = itemLength - 8 * (vectors - 1);
    const int whole = tail == 8 ? vectors : vectors - 1;
    const __m256i tailLanes = first_lanes(tail);
    // The vector in which the second channel starts (with two), and its lanes in the first; all lanes of the
    // vectors before it are in the first channel, of those after it in the last.
    const int split = channels == 2 ? (int)(plane / 8) : vectors;
    const __m256 splitLanes = _mm256_castsi256_ps(first_lanes(plane % 8));
    ptrdiff_t group = firstGroup;
    __m256 sums[8], squares[8];
    for (ptrdiff_t k = 0; k < 8; k++) {
        short_item_sums(x, k, items, itemLength, vectors, whole, tailLanes, sums + k, squares + k);
    }
    float means[8], inverses[8];
    short_item_moments(x, 0, items, itemLength, vectors, whole, tailLanes, sums, squares, epsilon, means, inverses);
    for (ptrdiff_t first = 0; first < items; first += 8) {
        for (ptrdiff_t k = 0; k < 8; k++) {
            short_item_sums(x, first + 8 + k, items, itemLength, vectors, whole, tailLanes, sums + k, squares + k);
            if (first + k >= items) continue;
            const float *itemX = x + (first + k) * itemLength;
            float *itemY = y + (first + k) * itemLength;
            const ptrdiff_t firstChannel = group * channels, lastChannel = firstChannel + channels - 1;
            group = group + 1 == groupsPerSample ? 0 : group + 1;
            const float firstFactor = (float)scale[firstChannel] * inverses[k];
            const float lastFactor = (float)scale[lastChannel] * inverses[k];
            const __m256 firstFactors = _mm256_set1_ps(firstFactor), lastFactors = _mm256_set1_ps(lastFactor);
            const __m256 firstShifts = _mm256_set1_ps(fmaf(-means[k], firstFactor, (float)bias[firstChannel]));
            const __m256 lastShifts = _mm256_set1_ps(fmaf(-means[k], lastFactor, (float)bias[lastChannel]));
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
                if (v < whole) {
                    _mm256_storeu_ps(itemY + 8 * v, _mm256_fmadd_ps(_mm256_loadu_ps(itemX + 8 * v), factor, shift));
                }
            }
            // Planes of at least 8 values: the vector that ends the item lies in its last channel.
            if (whole < vectors) {
                const ptrdiff_t end = itemLength - 8;
                const __m256 values = _mm256_loadu_ps(itemX + end);
                _mm256_storeu_ps(itemY + end, _mm256_fmadd_ps(values, lastFactors, lastShifts));
            }
        }
        if (first + 8 < items) {
            short_item_moments(
                x, first + 8, items, itemLength, vectors, whole, tailLanes, sums, squares, epsilon, means, inverses);
        }
    }
}

#define SHORT_ITEMS_CASE(vectors)                                                                             \
    case vectors:                                                                                             \
        short_items(                                                                                          \
            x, y, items, itemLength, plane, scale, bias, epsilon, firstGroup, groupsPerSample, vectors);       \
        break;

__attribute__((target("avx2,fma"))) void onyx_gn_short_items_f32(
    const float *x, float *y, ptrdiff_t items, ptrdiff_t itemLength, ptrdiff_t plane, const double *scale,
    const double *bias, float epsilon, ptrdiff_t firstGroup, ptrdiff_t groupsPerSample) {
    // The split between two channels assumes one or two planes, and the rewritten end vector a plane of 8 or more.
    if (plane < 8 || (itemLength != plane && itemLength != 2 * plane)) __builtin_trap();
    switch ((itemLength + 7) / 8) {
        SHORT_ITEMS_CASE(1)
        SHORT_ITEMS_CASE(2)
        SHORT_ITEMS_CASE(3)
        SHORT_ITEMS_CASE(4)
        SHORT_ITEMS_CASE(5)
        SHORT_ITEMS_CASE(6)
        SHORT_ITEMS_CASE(7)
        SHORT_ITEMS_CASE(8)
        SHORT_ITEMS_CASE(9)
        SHORT_ITEMS_CASE(10)
        SHORT_ITEMS_CASE(11)
        SHORT_ITEMS_CASE(12)
        SHORT_ITEMS_CASE(13)
        SHORT_ITEMS_CASE(14)
        SHORT_ITEMS_CASE(15)
        SHORT_ITEMS_CASE(16)
    default:
        __builtin_trap();  // the caller promised at most 128 values
    }
}

#endif
