/* A plug-in whose ScaleShift asks for a string output, which plug-ins cannot make: the node must fail with the
 * host's reason rather than the kernel's own message. */
#include <onyx_plugin.h>

static const char *string_output(const OnyxKernelAPI *api, OnyxKernelCall *call, const OnyxTensor *inputs,
                                 int32_t input_count, int32_t output_count, void *user_data) {
    (void)input_count, (void)output_count, (void)user_data;
    if (!api->allocate_output(call, 0, 8, inputs[0].rank, inputs[0].dims)) return "allocation failed";
    return NULL;
}

ONYX_PLUGIN_EXPORT uint32_t onyx_plugin_abi_version(void) { return ONYX_PLUGIN_ABI_VERSION; }

ONYX_PLUGIN_EXPORT int onyx_register_kernels(const OnyxPluginHost *host) {
    return host->register_kernel(host, "com.example", "ScaleShift", 1, string_output, NULL);
}
