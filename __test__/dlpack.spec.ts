import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asarray, fromDlpack, InvalidArgumentError, toDlpack, type DlpackCapsule, type NDArray } from '../ts/index.js';

// The other side: a foreign addon (C, DLPack 1.x ABI and the capsule protocol only), built here.
const dir = mkdtempSync(join(tmpdir(), 'sb-dlpack-'));
const addonPath = join(dir, 'consumer.node');
execFileSync(process.env.CC ?? 'cc', ['-shared', '-fPIC', '-o', addonPath, join(import.meta.dirname, 'fixtures', 'dlpack_consumer.c')]);
const consumer = createRequire(import.meta.url)(addonPath) as { peekFlags(c: unknown): number; takeSumU16(c: unknown): number };

const u16 = (values: number[], shape: number[], memoryType: 'numpy' | 'jax' = 'numpy') =>
  asarray(new Uint16Array(values), { shape, memoryType }) as NDArray<'uint16'>;

test('a foreign addon reads and writes engine memory through a capsule, zero-copy', (t) => {
  const a = u16([1, 2, 3, 4, 5, 6], [1, 2, 3]);
  const capsule = toDlpack(a);
  t.is(consumer.peekFlags(capsule), 0);
  t.is(consumer.takeSumU16(capsule), 21);
  t.is(a.data[0], 7, 'the consumer wrote into the array’s own memory');
  t.is(consumer.takeSumU16(capsule), -1, 'a capsule is consumed once');
  t.throws(() => fromDlpack(capsule, 'numpy'), { instanceOf: InvalidArgumentError, message: /already consumed/ });
});

test('jax arrays are exported READ_ONLY and the consumer leaves them alone', (t) => {
  const j = u16([10, 20], [1, 1, 2], 'jax');
  const capsule = toDlpack(j);
  t.is(consumer.peekFlags(capsule), 1);
  t.is(consumer.takeSumU16(capsule), 30);
  t.is(j.data[0], 10);
});

test('the memory outlives a disposed array until the consumer deletes the tensor', (t) => {
  const a = u16([100, 200, 300], [1, 1, 3]);
  const capsule = toDlpack(a.sliceZ(0, 1));
  a.dispose();
  t.is(consumer.takeSumU16(capsule), 600);
});

test('fromDlpack(toDlpack(x)) shares memory, keeps shape and dtype, and jax stays read-only', (t) => {
  const a = u16([1, 2, 3, 4], [2, 1, 2]);
  const b = fromDlpack(toDlpack(a), 'torch');
  t.deepEqual([b.shape, b.dtype, b.memoryType, b.readonly], [[2, 1, 2], 'uint16', 'torch', false]);
  (b.data as Uint16Array)[3] = 4242;
  t.is(a.data[3], 4242);
  a.dispose();
  t.deepEqual(Array.from(b.data as Uint16Array), [1, 2, 3, 4242], 'the import keeps the memory alive');
  const j = fromDlpack(toDlpack(b), 'jax');
  t.true(j.readonly);
  t.true(fromDlpack(toDlpack(j), 'numpy').readonly, 'a READ_ONLY tensor stays read-only as numpy');
});

test('wrong capsules and memory types are typed errors', (t) => {
  t.throws(() => fromDlpack({} as DlpackCapsule, 'numpy'), { instanceOf: InvalidArgumentError, message: /DLPack capsule/ });
  t.throws(() => fromDlpack(42 as unknown as DlpackCapsule, 'numpy'), { instanceOf: InvalidArgumentError });
  const c = toDlpack(u16([1], [1, 1, 1]));
  t.throws(() => fromDlpack(c, 'cupy' as 'numpy'), { instanceOf: InvalidArgumentError });
  t.is(consumer.takeSumU16(c), 1, 'a refused memory type leaves the capsule unconsumed');
  t.throws(() => toDlpack({} as NDArray), { instanceOf: InvalidArgumentError });
});
