import test from 'ava';
import { readFile, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTiff, writeTiff, asarray, ImageFormatError, InvalidArgumentError, DimensionError, type Dtype, type TiffInfo } from '../ts/index.js';

const DIR = new URL('./fixtures/tiff/', import.meta.url).pathname;
const manifest = JSON.parse(await readFile(join(DIR, 'manifest.json'), 'utf8')) as {
  files: { file: string; shape: number[]; dtype: Dtype; fileDtype: TiffInfo['fileDtype']; compression: string; ome: boolean }[];
  bad: { file: string; problem: string }[];
};

/** The raw little-endian values tifffile wrote, as the array's dtype. */
function expected(f: (typeof manifest.files)[number], raw: Buffer): number[] {
  const b = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  const view = { uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, int16: Int16Array, int32: Int32Array, float32: Float32Array, float64: Float64Array }[f.fileDtype as 'uint8']!;
  return Array.from(new view(b));
}

test('every tifffile-written layout decodes to exactly what tifffile wrote (path and Buffer)', async (t) => {
  for (const f of manifest.files) {
    const raw = await readFile(join(DIR, `${f.file}.raw`));
    const { array, info } = await readTiff(join(DIR, f.file));
    t.deepEqual([...array.shape], f.shape, f.file);
    t.is(array.dtype, f.dtype, f.file);
    t.is(info.fileDtype, f.fileDtype, f.file);
    t.is(info.ome !== null, f.ome, f.file);
    t.deepEqual(Array.from(array.data), expected(f, raw), f.file);
    const fromBuffer = await readTiff(await readFile(join(DIR, f.file)), { name: f.file });
    t.deepEqual(Array.from(fromBuffer.array.data), Array.from(array.data), f.file);
    array.dispose();
    fromBuffer.array.dispose();
  }
});

test('OME-TIFF metadata: dimension order, physical size, channel names', async (t) => {
  const { array, info } = await readTiff(join(DIR, 'ome_zcyx.ome.tif'));
  t.deepEqual([...array.shape], [6, 32, 48]);
  t.deepEqual(info.ome, {
    dimensionOrder: 'XYCZT',
    sizes: { x: 48, y: 32, z: 3, c: 2, t: 1 },
    physicalSize: { x: 0.65, y: 0.65, z: 2, unit: null },
    channelNames: ['DAPI', 'GFP'],
  });
});

test('corrupt, truncated and unsupported files are ImageFormatError naming the file and the problem', async (t) => {
  for (const b of manifest.bad) {
    const path = join(DIR, b.file);
    const e = await t.throwsAsync(readTiff(path), { instanceOf: ImageFormatError }, b.file);
    t.is(e!.path, path);
    t.true(e!.message.startsWith(`${path}: `), e!.message);
    t.true(e!.message.includes(b.problem), e!.message);
  }
  const missing = await t.throwsAsync(readTiff('/nonexistent/x.tif'), { instanceOf: ImageFormatError });
  t.true(missing!.message.includes('/nonexistent/x.tif'));
  const buf = await t.throwsAsync(readTiff(Buffer.from('II*\0garbage'), { name: 'upload.tif' }), { instanceOf: ImageFormatError });
  t.is(buf!.path, 'upload.tif');
  await t.throwsAsync(readTiff(42 as unknown as string), { instanceOf: InvalidArgumentError });
});

test('writeTiff writes what readTiff reads, with every compression and OME-XML for stacks', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sb-tiff-'));
  const stack = asarray(Float32Array.from({ length: 4 * 30 * 20 }, (_, i) => Math.sin(i) * 1000), { shape: [4, 30, 20] });
  for (const compression of ['none', 'lzw', 'deflate', 'packbits'] as const) {
    const p = join(dir, `s_${compression}.tif`);
    await writeTiff(p, stack, { compression, ome: { dimensionOrder: 'XYCZT', sizes: { z: 2, c: 2, t: 1 }, channelNames: ['a', 'b'], physicalSize: { x: 0.5, y: 0.5, z: null, unit: 'µm' } } });
    const { array, info } = await readTiff(p);
    t.deepEqual(Array.from(array.data), Array.from(stack.data), compression);
    t.is(info.compression, compression);
    t.deepEqual(info.ome?.sizes, { x: 20, y: 30, z: 2, c: 2, t: 1 });
    t.deepEqual(info.ome?.channelNames, ['a', 'b']);
    t.is(info.ome?.physicalSize.unit, 'µm');
  }
  const plain = join(dir, 'plain.tif');
  await writeTiff(plain, stack);
  t.is((await readTiff(plain)).info.ome?.dimensionOrder, 'XYZCT');
  // Nothing but finished files in the folder (written aside, then renamed).
  t.false((await readdir(dir)).some((f) => f.includes('.partial')));
  await t.throwsAsync(writeTiff(join(dir, 'x.tif'), stack, { compression: 'jpeg' as 'lzw' }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(writeTiff(join(dir, 'x.tif'), stack, { ome: { sizes: { z: 3 } } }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(writeTiff(join(dir, 'x.tif'), asarray(new Uint8Array(8), { shape: [2, 2, 2, 1] })), { instanceOf: DimensionError });
  await t.throwsAsync(writeTiff('/nonexistent-dir/x.tif', stack), { instanceOf: ImageFormatError });
});
