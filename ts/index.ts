/**
 * stackbridge: OpenHCS's memory type system for Node.js. See README.md for a tour and
 * docs/ARCHITECTURE.md for how a call flows from here through the napi binding into Rust.
 */
export { MemoryType, DtypeConversion, MEMORY_TYPES } from './types.js';
export type { ConcreteMemoryType, MemoryTypeName, Dtype, DeviceId, ConversionKind, AnyTypedArray, DtypeArrayMap } from './types.js';
export { NDArray, asarray, zeros, isNDArray } from './ndarray.js';
export type { AsArrayOptions, ZerosOptions } from './ndarray.js';
export { convertMemory, convertMemorySync, detectMemoryType, planConversion, MemoryWrapper } from './convert.js';
export type { ConvertOptions, Converted } from './convert.js';
export type { Tensor, TensorLike, TensorDtype } from './tfjs.js';
// The seed's explicit converters: convertNumpyToTorch, convertCupyToTorch, … (all 30 ordered pairs).
export * from './converters.js';
export { astype, scaleToDtype, concatZ, copy } from './ops.js';
export { numpy, cupy, torch, tensorflow, jax, pyclesperanto, memoryTypes } from './decorators.js';
export type { MemoryTypeOptions, MemoryTypesOptions, DecoratedFunction, DecoratedMetadata, ResolvedMemoryTypeOptions, ContractCheck, PerCallOptions } from './decorators.js';
export { stackSlices, unstackSlices, processSlices } from './stack.js';
export { FunctionStep, Pipeline } from './pipeline.js';
export type { PipelinePlan, PipelineRunOptions, PipelineResult, PipelineTrace, StepTrace, StepPlan, PipelineProgress } from './pipeline.js';
export { registerFunction, getFunction, listFunctions, unregisterFunction } from './registry.js';
export { devices, memoryInfo, emptyCache, setMemoryLimit, openclQueues, cudaRuntime } from './devices.js';
export type { DeviceInfo, MemoryInfo, QueueInfo, CudaRuntime } from './devices.js';
export { TraceCollector, withTrace, ConversionCounters, conversionCounters, resetConversionCounters } from './trace.js';
export { toDlpack, fromDlpack } from './dlpack.js';
export type { DlpackCapsule, DlpackMemoryType } from './dlpack.js';
export type { OperationProgress } from './cancel.js';
export type { ConversionRecord, RecoveryRecord, KernelRecord, ConversionTotals, ConversionCountersJSON } from './trace.js';
export { readTiff, writeTiff, overlayPng } from './io.js';
export type { TiffImage, TiffInfo, OmeMetadata, WriteTiffOptions, OverlayCircle } from './io.js';
export { readPlate, wellId, compareWells } from './plate.js';
export type { Plate, PlateImage, PlateLayout, ReadPlateOptions } from './plate.js';
export { cpuFeatures } from './cpu.js';
export type { CpuFeatures, CpuLevel } from './cpu.js';
export {
  StackbridgeError,
  MemoryConversionError,
  CpuRoundtripRequiredError,
  UnsupportedConversionError,
  UnknownMemoryTypeError,
  DeviceError,
  GpuUnavailableError,
  InvalidDeviceError,
  DeviceMismatchError,
  DeviceLostError,
  MemoryTypeUnavailableError,
  OutOfMemoryError,
  DimensionError,
  DtypeError,
  InvalidArgumentError,
  KernelCompileError,
  DisposedError,
  PipelineError,
  ContractError,
  AbortError,
  ImageFormatError,
  PlateLayoutError,
  InternalError,
} from './errors.js';
