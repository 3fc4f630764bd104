/* stackbridge device kernels: one source for OpenCL C (this domain) and CUDA C++ through NVRTC
 * (the CUDA domain). Kernels use only these macros for what differs between the two: qualifiers,
 * work-item ids, atomics, and the integer type names OpenCL has built in.
 *
 * Rules every kernel follows: explicit size arguments and a bounds check (CUDA grids round up),
 * element types come in as macros (-D T_IN=ushort ...), accumulation in `acc_t` (double where the
 * device has it: SB_HAS_FP64). */
#ifndef SB_PORTABILITY_H
#define SB_PORTABILITY_H

#ifdef __OPENCL_VERSION__
#define SB_KERNEL __kernel
#define SB_GLOBAL __global
#define SB_CONST_GLOBAL __global const
#define SB_GID(d) ((long)get_global_id(d))
#define SB_ATOMIC_ADD_U32(p, v) atomic_add((p), (v))
#define SB_DEVICE_FN static inline
#ifdef SB_HAS_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#else /* CUDA (NVRTC) */
#define SB_KERNEL extern "C" __global__
#define SB_GLOBAL
#define SB_CONST_GLOBAL const
#define SB_DEVICE_FN static __device__ inline
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long long ulong;
SB_DEVICE_FN long sb_gid(int d) {
  return d == 0 ? (long)blockIdx.x * blockDim.x + threadIdx.x
       : d == 1 ? (long)blockIdx.y * blockDim.y + threadIdx.y
                : (long)blockIdx.z * blockDim.z + threadIdx.z;
}
#define SB_GID(d) sb_gid(d)
#define SB_ATOMIC_ADD_U32(p, v) atomicAdd((p), (v))
#define SB_HAS_FP64 1
#endif

#ifdef SB_HAS_FP64
typedef double acc_t;
#else
typedef float acc_t;
#endif

#endif
