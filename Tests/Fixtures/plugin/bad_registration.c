/* A plug-in registering an op from opset version 0, which does not exist: loading it must fail. */
#include <onyx_plugin.h>

static const char *nothing(const OnyxKernelAPI *api, OnyxKernelCall *call, const OnyxTensor *inputs,
                           int32_t input_count, int32_t output_count, void *user_data) {
    (void)api, (void)call, (void)inputs, (void)input_count, (void)output_count, (void)user_data;
    return "unreachable";
}

ONYX_PLUGIN_EXPORT uint32_t onyx_plugin_abi_version(void) { return ONYX_PLUGIN_ABI_VERSION; }

ONYX_PLUGIN_EXPORT int onyx_register_kernels(const OnyxPluginHost *host) {
    return host->register_kernel(host, "com.example", "ScaleShift", 0, nothing, NULL);
}
