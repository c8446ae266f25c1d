/* A kernel plug-in for the tests and docs/custom-kernels.md: com.example.ScaleShift(x; scale, shift) = scale * x + shift
 * over float tensors. Build: cc -shared -fPIC -I Sources/COnyxPlugin/include scale_shift.c -o libscaleshift.so */
#include <onyx_plugin.h>

static const char *scale_shift(const OnyxKernelAPI *api, OnyxKernelCall *call, const OnyxTensor *inputs,
                               int32_t input_count, int32_t output_count, void *user_data) {
    (void)user_data;
    if (input_count != 1 || output_count != 1) return "ScaleShift takes one input and gives one output";
    const OnyxTensor *x = &inputs[0];
    if (x->dtype != ONYX_FLOAT) return "ScaleShift takes float tensors only";
    float scale, shift = 0;
    if (!api->attribute_float(call, "scale", &scale)) return "ScaleShift needs a float attribute 'scale'";
    api->attribute_float(call, "shift", &shift);
    float *y = api->allocate_output(call, 0, ONYX_FLOAT, x->rank, x->dims);
    if (!y) return "could not allocate the output";
    const float *data = x->data;
    for (int64_t i = 0; i < x->count; i++) y[i] = scale * data[i] + shift;
    return NULL;
}

ONYX_PLUGIN_EXPORT uint32_t onyx_plugin_abi_version(void) { return ONYX_PLUGIN_ABI_VERSION; }

ONYX_PLUGIN_EXPORT int onyx_register_kernels(const OnyxPluginHost *host) {
    return host->register_kernel(host, "com.example", "ScaleShift", 1, scale_shift, NULL);
}
