/* A plug-in claiming an ABI version no Onyx has: loading it must fail with a clear message. */
#include <onyx_plugin.h>

ONYX_PLUGIN_EXPORT uint32_t onyx_plugin_abi_version(void) { return 999; }

ONYX_PLUGIN_EXPORT int onyx_register_kernels(const OnyxPluginHost *host) {
    (void)host;
    return 0;
}
