/* A CUDA driver library with no device: the two entry points stackbridge's probe calls before it knows
 * there is none. Built by crates/cuda/tests/driver_probe.rs and __test__/cuda.spec.ts with the C compiler. */
int cuInit(unsigned int flags) { (void)flags; return 100; /* CUDA_ERROR_NO_DEVICE */ }
int cuDriverGetVersion(int *version) { *version = 13000; return 0; }
