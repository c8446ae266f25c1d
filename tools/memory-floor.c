// The memory floor under GroupNormalization's 1.2×-BatchNormalization target, for tools/bench-normalization.py.
//
// On one thread it times two passes over the same X and Y, with as little arithmetic as keeps every load and store:
//   affine:   y = a·x + b, each value read once and written once — the traffic of BatchNormalization;
//   two-read: group by group, the next group read (for its sums) while this group is read again and written — the
//             traffic of Onyx's interleaved GroupNormalization loop, for groups too large to stay in L1 between
//             their two reads;
//   one after the other: each group read, then read again and written — the same reads in the other order.
// The two-read pass over the affine pass is the least "× BN" that Onyx's loop can reach on this machine for this
// group size, whatever its arithmetic.
//
// Build: cc -O2 -mavx2 -mfma -o memory-floor tools/memory-floor.c
// Usage: memory-floor GROUPS GROUP_VALUES ROUNDS
// Prints JSON: the medians of the per-round ratios of the two orders' times to the affine pass's, and a checksum of
// the sums, printed so that the compiler keeps their loads.
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
    long i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), factor, shift));
    for (; i < count; i++) y[i] = x[i] * 1.01f + 0.5f;
}

// Adds the group's values to `sums`, which are returned so that their loads are kept; four sums side by side, so
// that the adds' latency stays below the loads'.
static __m256 read_group(const float *x, long count, __m256 sums) {
    __m256 more = _mm256_setzero_ps(), most = more, last = more;
    long i = 0;
    for (; i + 32 <= count; i += 32) {
        sums = _mm256_add_ps(sums, _mm256_loadu_ps(x + i));
        more = _mm256_add_ps(more, _mm256_loadu_ps(x + i + 8));
        most = _mm256_add_ps(most, _mm256_loadu_ps(x + i + 16));
        last = _mm256_add_ps(last, _mm256_loadu_ps(x + i + 24));
    }
    for (; i < count; i++) sums = _mm256_add_ps(sums, _mm256_set1_ps(x[i]));
    return _mm256_add_ps(_mm256_add_ps(sums, more), _mm256_add_ps(most, last));
}

// Writes this group and adds the next one's values to `sums`, as `read_group`, 16 values a step.
static __m256 normalize_and_read(const float *x, float *y, const float *next, long count, __m256 sums) {
    const __m256 factor = _mm256_set1_ps(1.01f), shift = _mm256_set1_ps(0.5f);
    __m256 more = _mm256_setzero_ps();
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        sums = _mm256_add_ps(sums, _mm256_loadu_ps(next + i));
        more = _mm256_add_ps(more, _mm256_loadu_ps(next + i + 8));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), factor, shift));
        _mm256_storeu_ps(y + i + 8, _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), factor, shift));
    }
    for (; i < count; i++) {
        sums = _mm256_add_ps(sums, _mm256_set1_ps(next[i]));
        y[i] = x[i] * 1.01f + 0.5f;
    }
    return _mm256_add_ps(sums, more);
}

// The first group read alone, then each group written while the next is read, then the last written alone.
static __m256 two_read(const float *x, float *y, long groups, long length) {
    __m256 sums = read_group(x, length, _mm256_setzero_ps());
    for (long group = 0; group + 1 < groups; group++) {
        sums = normalize_and_read(x + group * length, y + group * length, x + (group + 1) * length, length, sums);
    }
    affine(x + (groups - 1) * length, y + (groups - 1) * length, length);
    return sums;
}

// Each group read, then read again and written.
static __m256 one_after_the_other(const float *x, float *y, long groups, long length) {
    __m256 sums = _mm256_setzero_ps();
    for (long group = 0; group < groups; group++) {
        sums = read_group(x + group * length, length, sums);
        affine(x + group * length, y + group * length, length);
    }
    return sums;
}

// Y is never read, so without this the compiler could drop the stores.
static void keep(float *y) { __asm__ volatile("" : : "r"(y) : "memory"); }

// A whole number in [low, high] from `text`, or -1.
static long argument(const char *text, long low, long high) {
    char *end;
    const long value = strtol(text, &end, 10);
    return *text && !*end && value >= low && value <= high ? value : -1;
}

static int ascending(const void *a, const void *b) {
    const double left = *(const double *)a, right = *(const double *)b;
    return (left > right) - (left < right);
}

static double median(double *values, long count) {
    qsort(values, (size_t)count, sizeof *values, ascending);
    return (values[(count - 1) / 2] + values[count / 2]) / 2;
}

int main(int argc, char **argv) {
    const long groups = argc == 4 ? argument(argv[1], 1, 1L << 24) : -1;
    const long length = argc == 4 ? argument(argv[2], 1, 1L << 28) : -1;
    const long rounds = argc == 4 ? argument(argv[3], 1, 100000) : -1;
    if (groups < 0 || length < 0 || rounds < 0 || groups * length > (1L << 28)) {
        fprintf(stderr, "usage: memory-floor GROUPS GROUP_VALUES ROUNDS (at most 2^28 values in all)\n");
        return 2;
    }
    const long count = groups * length;
    // 16 bytes past a 64-byte boundary, where Swift's arrays put their elements; sizes in whole 64-byte lines.
    const size_t bytes = ((size_t)count * sizeof(float) + 16 + 63) / 64 * 64;
    float *xBlock = aligned_alloc(64, bytes), *yBlock = aligned_alloc(64, bytes);
    // Per round, the two orders' times over the affine pass's.
    double *twoReadRatios = malloc((size_t)rounds * sizeof(double));
    double *sequentialRatios = malloc((size_t)rounds * sizeof(double));
    if (!xBlock || !yBlock || !twoReadRatios || !sequentialRatios) {
        fprintf(stderr, "memory-floor: out of memory\n");
        return 1;
    }
    float *x = xBlock + 4, *y = yBlock + 4;
    for (long i = 0; i < count; i++) x[i] = (float)(i % 97) * 0.01f;
    __m256 kept = _mm256_setzero_ps();
    for (long round = -3; round < rounds; round++) {  // three rounds to warm the caches
        double start = seconds();
        affine(x, y, count);
        keep(y);
        const double affineTime = seconds() - start;
        start = seconds();
        kept = _mm256_add_ps(kept, two_read(x, y, groups, length));
        keep(y);
        const double twoReadTime = seconds() - start;
        start = seconds();
        kept = _mm256_add_ps(kept, one_after_the_other(x, y, groups, length));
        keep(y);
        const double sequentialTime = seconds() - start;
        if (round < 0) continue;
        twoReadRatios[round] = twoReadTime / affineTime;
        sequentialRatios[round] = sequentialTime / affineTime;
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, kept);
    printf("{\"ratio\": %.4f, \"one_after_the_other_ratio\": %.4f, \"checksum\": %g}\n",
        median(twoReadRatios, rounds), median(sequentialRatios, rounds), lanes[0]);
    return 0;
}
