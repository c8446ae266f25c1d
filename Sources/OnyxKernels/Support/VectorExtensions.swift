import COnyxSIMD

/// Instruction-set extensions beyond the baseline the module is compiled for, which a few hot loops use through
/// the C functions of COnyxSIMD when the CPU running the process has them.
enum VectorExtensions {
    /// The CPU has AVX2 and FMA.
    static let hasAVX2FMA: Bool = {
        #if arch(x86_64)
            onyx_simd_has_avx2_fma() != 0
        #else
            false
        #endif
    }()

    /// Whether kernels started in this task may use the extensions: tests turn it off to cover the Swift loops on
    /// a CPU that has them.
    @TaskLocal static var allowed = true

    /// AVX2 and FMA are present and allowed for kernels started in this task.
    static var useAVX2FMA: Bool { hasAVX2FMA && allowed }
}
