/* A shared library that is not an Onyx plug-in: it exports neither onyx_plugin_abi_version nor onyx_register_kernels. */
int not_a_plugin(void) { return 1; }
