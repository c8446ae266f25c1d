// The memory floor under GroupNormalization's 1.2×-BatchNormalization target, for tools/bench-normalization.py.
//
// On one thread it times two passes over the same X and Y, with as little arithmetic as keeps every load:
//   affine:   y = a·x + b, each value read once and written once — what BatchNormalization must do;
//   two-read: group by group, the next group read (its sums) while this group is read again and written — what
//             any GroupNormalization must do whose groups do not stay in registers or L1 between its two reads
//             (Onyx's interleaved loop, without its arithmetic).
// Their ratio is the least "× BN" that a two-read kernel can reach on this machine for this group size.
//
// Build: cc -O2 -mavx2 -mfma -o memory-floor tools/memory-floor.c
// Usage: memory-floor GROUPS GROUP_VALUES ROUNDS
// Prints JSON: the median times of both passes in ms and the median of their per-round ratios.
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

static void affine(const float *x, float *y, long count) {
    const __m256 factor = _mm256_set1_ps(1.01f), shift = _mm256_set1_ps(0.5f);
    for (long i = 0; i + 8 <= count; i += 8) {
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), factor, shift));
    }
}

// Writes this group and adds the next one's values to `sums`, which are returned so that their loads are kept.
static __m256 normalize_and_read(const float *x, float *y, const float *next, long count, __m256 sums) {
    const __m256 factor = _mm256_set1_ps(1.01f), shift = _mm256_set1_ps(0.5f);
    for (long i = 0; i + 8 <= count; i += 8) {
        sums = _mm256_add_ps(sums, _mm256_loadu_ps(next + i));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), factor, shift));
    }
    return sums;
}

// The first group read alone, then each group written while the next is read, then the last written alone.
static __m256 two_read(const float *x, float *y, long groups, long length) {
    __m256 sums = _mm256_setzero_ps();
    for (long i = 0; i + 8 <= length; i += 8) sums = _mm256_add_ps(sums, _mm256_loadu_ps(x + i));
    for (long group = 0; group + 1 < groups; group++) {
        sums = normalize_and_read(x + group * length, y + group * length, x + (group + 1) * length, length, sums);
    }
    affine(x + (groups - 1) * length, y + (groups - 1) * length, length);
    return sums;
}

static int ascending(const void *a, const void *b) {
    const double left = *(const double *)a, right = *(const double *)b;
    return (left > right) - (left < right);
}

static double median(double *values, int count) {
    qsort(values, (size_t)count, sizeof *values, ascending);
    return values[count / 2];
}

int main(int argc, char **argv) {
    if (argc != 4 || atol(argv[1]) < 1 || atol(argv[2]) < 8 || atoi(argv[3]) < 1) {
        fprintf(stderr, "usage: memory-floor GROUPS GROUP_VALUES ROUNDS (GROUP_VALUES ≥ 8)\n");
        return 2;
    }
    const long groups = atol(argv[1]), length = atol(argv[2]) / 8 * 8, count = groups * length;
    const int rounds = atoi(argv[3]);
    // 16 bytes past a 64-byte boundary, where Swift's arrays put their elements.
    float *xBlock = aligned_alloc(64, (size_t)count * sizeof(float) + 64);
    float *yBlock = aligned_alloc(64, (size_t)count * sizeof(float) + 64);
    double *affineTimes = malloc((size_t)rounds * sizeof(double));
    double *twoReadTimes = malloc((size_t)rounds * sizeof(double)), *ratios = malloc((size_t)rounds * sizeof(double));
    if (!xBlock || !yBlock || !affineTimes || !twoReadTimes || !ratios) {
        fprintf(stderr, "memory-floor: out of memory\n");
        return 1;
    }
    float *x = xBlock + 4, *y = yBlock + 4;
    for (long i = 0; i < count; i++) x[i] = (float)(i % 97) * 0.01f;
    __m256 kept = _mm256_setzero_ps();
    for (int round = -3; round < rounds; round++) {  // three rounds to warm the caches
        double start = seconds();
        affine(x, y, count);
        const double affineTime = seconds() - start;
        start = seconds();
        kept = _mm256_add_ps(kept, two_read(x, y, groups, length));
        const double twoReadTime = seconds() - start;
        if (round < 0) continue;
        affineTimes[round] = affineTime;
        twoReadTimes[round] = twoReadTime;
        ratios[round] = twoReadTime / affineTime;
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, kept);
    printf("{\"affine_ms\": %.5f, \"two_read_ms\": %.5f, \"ratio\": %.4f, \"checksum\": %g}\n",
        1e3 * median(affineTimes, rounds), 1e3 * median(twoReadTimes, rounds), median(ratios, rounds), lanes[0]);
    return 0;
}
