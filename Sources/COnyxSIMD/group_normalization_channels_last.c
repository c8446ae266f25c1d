// GroupNormalization's channels-last loops (AVX2, FMA): blocks of rows interleaved with the next sample's sums,
// whole samples that stay in L1, and the channels' coefficients from their sums.
#include "onyx_simd.h"

#if defined(__x86_64__)
#include "lanes.h"

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
            if (normalize) y[index] = fmaf(x[index], factors[column], shifts[column]);
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

// factors[j] = scale[j] · inverses[j], shifts[j] = bias[j] − means[j] · factors[j], for j < count.
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
        shifts[j] = fmaf(-means[j], factors[j], (float)bias[j]);
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

// One vector of channels of `small_group_coefficients`, `count` (≤ 8) of them: 1 when some group's sums would
// cancel, else 0.
__attribute__((target("avx2,fma"), always_inline)) static inline int small_group_vector(
    const float *sums, const float *squares, ptrdiff_t count, ptrdiff_t channelsPerGroup, const double *scale,
    const double *bias, __m256 inverseCount, __m256 epsilons, float *factors, float *shifts) {
    // Lanes past the end load zeros, which pass the cancellation test.
    double lastScale[8] = {0}, lastBias[8] = {0};
    if (count < 8) {
        for (ptrdiff_t k = 0; k < count; k++) {
            lastScale[k] = scale[k];
            lastBias[k] = bias[k];
        }
        scale = lastScale;
        bias = lastBias;
    }
    __m256 mean, inverse;
    if (lane_moments(group_totals(load_first(sums, count), channelsPerGroup),
            group_totals(load_first(squares, count), channelsPerGroup), inverseCount, epsilons, &mean, &inverse))
        return 1;
    const __m256 factor = _mm256_mul_ps(load_doubles(scale), inverse);
    store_first(factors, count, factor);
    store_first(shifts, count, _mm256_fnmadd_ps(mean, factor, load_doubles(bias)));
    return 0;
}

// Groups of two channels, sixteen channels (eight groups) at a time: the groups' totals side by side in one vector,
// so that each group's square root and division is taken once rather than once per channel, then spread back over
// the channels. 1 when some group's sums would cancel, else 0.
__attribute__((target("avx2,fma"), always_inline)) static inline int channel_pair_vectors(
    const float *sums, const float *squares, const double *scale, const double *bias, __m256 inverseCount,
    __m256 epsilons, float *factors, float *shifts) {
    // Lanes: groups 0, 1, 4, 5 in the low half, 2, 3, 6, 7 in the high one.
    const __m256 groupSums = _mm256_hadd_ps(_mm256_loadu_ps(sums), _mm256_loadu_ps(sums + 8));
    const __m256 groupSquares = _mm256_hadd_ps(_mm256_loadu_ps(squares), _mm256_loadu_ps(squares + 8));
    __m256 mean, inverse;
    if (lane_moments(groupSums, groupSquares, inverseCount, epsilons, &mean, &inverse)) return 1;
    for (int half = 0; half < 2; half++) {
        // Each group's lane twice: groups 0–3 for the first eight channels, 4–7 for the next.
        const __m256 means = half ? _mm256_unpackhi_ps(mean, mean) : _mm256_unpacklo_ps(mean, mean);
        const __m256 inverses = half ? _mm256_unpackhi_ps(inverse, inverse) : _mm256_unpacklo_ps(inverse, inverse);
        const __m256 factor = _mm256_mul_ps(load_doubles(scale + 8 * half), inverses);
        _mm256_storeu_ps(factors + 8 * half, factor);
        _mm256_storeu_ps(shifts + 8 * half, _mm256_fnmadd_ps(means, factor, load_doubles(bias + 8 * half)));
    }
    return 0;
}

// Groups that fit a vector (channelsPerGroup dividing 8): eight channels at a time, each lane computing its own
// group's moments from its group's sums gathered within the vector, with no folding or spreading in memory; pairs of
// channels sixteen at a time, by `channel_pair_vectors`.
__attribute__((target("avx2,fma"))) static int small_group_coefficients(
    const float *sums, const float *squares, ptrdiff_t samples, ptrdiff_t channels, ptrdiff_t channelsPerGroup,
    ptrdiff_t rows, const double *scale, const double *bias, float epsilon, float *factors, float *shifts) {
    const __m256 inverseCount = _mm256_set1_ps(1.0f / (float)(rows * channelsPerGroup));
    const __m256 epsilons = _mm256_set1_ps(epsilon);
    for (ptrdiff_t sample = 0; sample < samples; sample++) {
        ptrdiff_t channel = 0;
        for (; channelsPerGroup == 2 && channel + 16 <= channels; channel += 16) {
            const ptrdiff_t at = sample * channels + channel;
            if (channel_pair_vectors(sums + at, squares + at, scale + channel, bias + channel, inverseCount, epsilons,
                    factors + at, shifts + at))
                return 1;
        }
        for (; channel < channels; channel += 8) {
            const ptrdiff_t at = sample * channels + channel, count = channels - channel < 8 ? channels - channel : 8;
            if (small_group_vector(
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
    if (channelsPerGroup > tileChannels) return 1;  // wider than a tile: for the caller to compute exactly
    // Whole groups per tile: at least one.
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
            if (onyx_gn_moments_f32(groupSums, groupSquares, tileCount, count, epsilon, groupMeans, groupInverses))
                return 1;
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

// One pass of `column_sums` over 64 columns from `column` on; `masked` (a constant at each call) when fewer remain.
__attribute__((target("avx2,fma"), always_inline)) static inline void column_sums_pass(
    const float *values, ptrdiff_t rows, ptrdiff_t width, ptrdiff_t column, float *sums, float *squares,
    const int masked) {
    __m256 sum[8], square[8];
    for (int k = 0; k < 8; k++) sum[k] = square[k] = _mm256_setzero_ps();
    for (ptrdiff_t row = 0; row < rows; row++) {
        const float *at = values + row * width + column;
        for (int k = 0; k < 8; k++) {
            const __m256 value = masked ? _mm256_maskload_ps(at + 8 * k, first_lanes(width - column - 8 * k))
                                        : _mm256_loadu_ps(at + 8 * k);
            sum[k] = _mm256_add_ps(sum[k], value);
            square[k] = _mm256_fmadd_ps(value, value, square[k]);
        }
    }
    for (int k = 0; k < 8; k++) {
        if (masked) {
            _mm256_maskstore_ps(sums + column + 8 * k, first_lanes(width - column - 8 * k), sum[k]);
            _mm256_maskstore_ps(squares + column + 8 * k, first_lanes(width - column - 8 * k), square[k]);
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
    const double *bias, float epsilon, float *workspace) {
    if (width < 8) return 1;  // normalize_columns' last vector must lie within the row
    float *sums = workspace, *squares = workspace + width, *factors = workspace + 2 * width;
    float *shifts = workspace + 3 * width;
    column_sums(x, rows, width, sums, squares);
    if (onyx_gn_coefficients_f32(
            sums, squares, 1, width, channelsPerGroup, rows, scale, bias, epsilon, factors, shifts))
        return 1;
    normalize_columns(x, y, rows, width, factors, shifts);
    return 0;
}

#endif
