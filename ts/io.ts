/**
 * Images (DESIGN §13): `readTiff` / `writeTiff` decode and encode in Rust (`crates/io`, the
 * `tiff` crate) on worker threads, straight into / out of an `NDArray`; `overlayPng` draws
 * detections on a contrast-stretched slice for reports.
 */
import { InvalidArgumentError, nativeAsync } from './errors.js';
import { addon } from './native.js';
import { describe, handleOf, isNDArray, wrap, type NDArray } from './ndarray.js';

/** OME-XML metadata of an OME-TIFF (the first `Image`'s `Pixels`). */
export interface OmeMetadata {
  /** OME's order of the pages' axes, fastest first after X and Y, e.g. `'XYCZT'`. */
  dimensionOrder: string;
  sizes: { x: number; y: number; z: number; c: number; t: number };
  /** Pixel size per axis (null when the file does not say), in `unit` (OME default µm). */
  physicalSize: { x: number | null; y: number | null; z: number | null; unit: string | null };
  /** One entry per channel (null when unnamed). */
  channelNames: (string | null)[];
}

/** What `readTiff` learned about the file besides its pixels. */
export interface TiffInfo {
  pages: number;
  width: number;
  height: number;
  /** The pixel type in the file (the array has the same dtype). */
  fileDtype: 'uint8' | 'uint16' | 'uint32' | 'int16' | 'int32' | 'float32' | 'float64';
  compression: 'none' | 'lzw' | 'deflate' | 'packbits' | string;
  bigtiff: boolean;
  tiled: boolean;
  description: string | null;
  ome: OmeMetadata | null;
}

/** A decoded TIFF: every page as one `[pages, Y, X]` numpy array. */
export interface TiffImage {
  array: NDArray;
  info: TiffInfo;
}

/**
 * Decodes a TIFF / OME-TIFF (single or multi-page; uint8/uint16/uint32/int16/int32/float32/
 * float64; uncompressed, LZW, Deflate, PackBits; strips or tiles; BigTIFF) off the main thread.
 * A truncated, corrupt or unsupported file rejects with `ImageFormatError` (its `path` names the
 * file, or `name` for a Buffer); never a partial array.
 */
export async function readTiff(source: string | Uint8Array, options: { name?: string } = {}): Promise<TiffImage> {
  let out;
  if (typeof source === 'string') {
    if (source === '') throw new InvalidArgumentError('readTiff needs a path or a Buffer');
    out = await nativeAsync(() => addon.readTiffFile(source, null));
  } else if (source instanceof Uint8Array) {
    const buf = Buffer.isBuffer(source) ? source : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
    out = await nativeAsync(() => addon.readTiffFile(options.name ?? '<buffer>', buf));
  } else {
    throw new InvalidArgumentError(`readTiff takes a path or a Buffer, got ${describe(source)}`);
  }
  return { array: wrap(out.array), info: JSON.parse(out.info) as TiffInfo };
}

/** Options of `writeTiff`. */
export interface WriteTiffOptions {
  /** Default `'none'`. */
  compression?: 'none' | 'lzw' | 'deflate' | 'packbits';
  /** Force BigTIFF (chosen anyway when the data would exceed a classic TIFF's 4 GiB). */
  bigtiff?: boolean;
  /**
   * OME metadata for a stack (sizes must multiply to the page count). A `[Z, Y, X]` stack
   * without it is written as OME `XYZCT` with every page a z plane; a 2D image as plain TIFF.
   */
  ome?: Partial<Omit<OmeMetadata, 'sizes'>> & { sizes?: Partial<OmeMetadata['sizes']> };
}

const COMPRESSIONS = new Set(['none', 'lzw', 'deflate', 'packbits']);

/**
 * Writes a host `[Y, X]` or `[Z, Y, X]` array as a TIFF that `readTiff` (and tifffile) read
 * back exactly. The file appears complete or not at all (written aside, then renamed).
 */
export async function writeTiff(path: string, array: NDArray, options: WriteTiffOptions = {}): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new InvalidArgumentError('writeTiff needs a path');
  if (!isNDArray(array)) throw new InvalidArgumentError(`writeTiff takes an NDArray, got ${describe(array)}`);
  const unknown = Object.keys(options).filter((k) => !['compression', 'bigtiff', 'ome'].includes(k));
  if (unknown.length) throw new InvalidArgumentError(`writeTiff: unknown option ${unknown.join(', ')}`);
  if (options.compression !== undefined && !COMPRESSIONS.has(options.compression)) {
    throw new InvalidArgumentError(`writeTiff: unknown compression ${JSON.stringify(options.compression)}; expected none, lzw, deflate or packbits`);
  }
  await nativeAsync(() => addon.writeTiffFile(path, handleOf(array), JSON.stringify(options)));
}

/** A detection drawn on an overlay: centre (x right, y down) and radius, in pixels. */
export interface OverlayCircle {
  x: number;
  y: number;
  r: number;
}

/**
 * PNG bytes of slice `z` of a host stack, contrast-stretched (0.5th–99.5th percentile) to grey,
 * with every detection drawn as a magenta circle.
 */
export async function overlayPng(array: NDArray, z: number, circles: readonly OverlayCircle[]): Promise<Buffer> {
  if (!isNDArray(array)) throw new InvalidArgumentError(`overlayPng takes an NDArray, got ${describe(array)}`);
  if (!Number.isInteger(z) || z < 0) throw new InvalidArgumentError(`overlayPng: slice must be a non-negative integer, got ${z}`);
  const flat = circles.flatMap((c) => [c.x, c.y, c.r]);
  return nativeAsync(() => addon.overlayPngBytes(handleOf(array), z, flat));
}
