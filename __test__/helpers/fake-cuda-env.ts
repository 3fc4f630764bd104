/**
 * Imported first by specs that run the CUDA domain on the fake device: the engine installs two
 * fake CUDA cards of 256 MiB as cuda:0 and cuda:1 when it discovers its devices (on first use).
 * ava runs each spec file in its own process (workerThreads: false), so this changes no other spec.
 */
process.env.STACKBRIDGE_FAKE_CUDA = '2';
process.env.STACKBRIDGE_FAKE_CUDA_MEMORY = String(256 << 20);
