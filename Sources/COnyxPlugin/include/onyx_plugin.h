/*
 * onyx_plugin.h: the C interface between Onyx and kernel plug-ins (shared libraries that add operators).
 *
 * A plug-in exports two functions, declared at the end of this file:
 *
 *   uint32_t onyx_plugin_abi_version(void);                  returns ONYX_PLUGIN_ABI_VERSION
 *   int onyx_register_kernels(const OnyxPluginHost *host);   calls host->register_kernel once per op, returns 0
 *
 * `infer run --kernels libmykernels.so MODEL` (or `KernelRegistry.loadPlugin(at:)` in Swift) opens the library,
 * refuses it when its ABI version differs from the host's, then lets it register its kernels. The plug-in links
 * against nothing from Onyx: everything it calls arrives through the tables below, so a plug-in built once keeps
 * working with every Onyx build of the same ABI version. Build one with:
 *
 *   cc -shared -fPIC -O2 -I Sources/COnyxPlugin/include mykernels.c -o libmykernels.so
 */
#ifndef ONYX_PLUGIN_H
#define ONYX_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a struct or function signature below changes. */
#define ONYX_PLUGIN_ABI_VERSION 1u

#define ONYX_PLUGIN_EXPORT __attribute__((visibility("default")))

/*
 * Element types, numbered as ONNX's TensorProto.DataType (every other ONNX code but string works the same way).
 * Elements are contiguous, row-major, in the machine's byte order: float16 and bfloat16 take 2 bytes, bool 1 byte
 * (0 or 1), and 4-bit and 2-bit types one byte per element. String tensors are not passed to plug-ins.
 */
enum {
    ONYX_UNDEFINED = 0,
    ONYX_FLOAT = 1,
    ONYX_UINT8 = 2,
    ONYX_INT8 = 3,
    ONYX_UINT16 = 4,
    ONYX_INT16 = 5,
    ONYX_INT32 = 6,
    ONYX_INT64 = 7,
    ONYX_BOOL = 9,
    ONYX_FLOAT16 = 10,
    ONYX_DOUBLE = 11,
    ONYX_UINT32 = 12,
    ONYX_UINT64 = 13,
    ONYX_BFLOAT16 = 16
};

/* A read-only input tensor, valid until compute returns. An omitted optional input has dtype ONYX_UNDEFINED,
   rank 0 and data NULL. */
typedef struct OnyxTensor {
    int32_t dtype;
    int32_t rank;
    const int64_t *dims;
    /* The product of dims (1 for a scalar). */
    int64_t count;
    const void *data;
} OnyxTensor;

/* One invocation of a kernel; only the host looks inside. */
typedef struct OnyxKernelCall OnyxKernelCall;

/* What a kernel may ask of the host while it computes. */
typedef struct OnyxKernelAPI {
    /* Creates output `index` (0 ≤ index < output_count) with the given element type and shape and returns where to
       write its elements (count × element size bytes, 16-byte aligned). Returns NULL for a bad index, type or
       shape; the host then fails the node with the reason, so the kernel only has to return. */
    void *(*allocate_output)(OnyxKernelCall *call, int32_t index, int32_t dtype, int32_t rank, const int64_t *dims);
    /* Reads the node's int attribute `name`; returns 1 and sets *value when the node sets it, else 0. */
    int (*attribute_int)(const OnyxKernelCall *call, const char *name, int64_t *value);
    /* Reads the node's float attribute `name` (an int attribute is converted); returns 1 when set, else 0. */
    int (*attribute_float)(const OnyxKernelCall *call, const char *name, float *value);
    /* How many threads the kernel may use (at least 1). */
    int32_t (*threads)(const OnyxKernelCall *call);
} OnyxKernelAPI;

/* Computes one node: reads `inputs` (input_count of them, in node order), creates every one of the output_count
   outputs through api->allocate_output and fills it. Returns NULL on success, or a one-line reason the host copies
   at once (a string literal or a thread-local buffer is fine). Must not keep pointers into inputs or outputs. */
typedef const char *(*OnyxComputeFunction)(
    const OnyxKernelAPI *api, OnyxKernelCall *call, const OnyxTensor *inputs, int32_t input_count,
    int32_t output_count, void *user_data);

/* What onyx_register_kernels receives. */
typedef struct OnyxPluginHost {
    /* The host's ONYX_PLUGIN_ABI_VERSION. */
    uint32_t abi_version;
    /* The host's own; leave it alone. */
    void *host_data;
    /* Registers `compute` for `op_type` of `domain` (e.g. "com.example"; "" is the ONNX domain) from opset version
       `since_version` on. The strings are copied; `user_data` is passed to every compute call and must outlive the
       process. Returns 0, or -1 for a NULL or empty op type, a NULL domain or compute, or since_version < 1. */
    int (*register_kernel)(
        const struct OnyxPluginHost *host, const char *domain, const char *op_type, int32_t since_version,
        OnyxComputeFunction compute, void *user_data);
} OnyxPluginHost;

/* Exported by every plug-in: return ONYX_PLUGIN_ABI_VERSION. */
ONYX_PLUGIN_EXPORT uint32_t onyx_plugin_abi_version(void);

/* Exported by every plug-in: register the kernels through host->register_kernel; return 0 on success. */
ONYX_PLUGIN_EXPORT int onyx_register_kernels(const OnyxPluginHost *host);

#ifdef __cplusplus
}
#endif

#endif
