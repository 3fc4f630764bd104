import test from 'ava';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// A real absence: the compiled package copied to a folder with no node_modules, so that
// require('@tensorflow/tfjs') genuinely fails to resolve.
test('without @tensorflow/tfjs the tensorflow kind is MemoryTypeUnavailableError naming the package', (t) => {
  const root = resolve(import.meta.dirname, '..');
  if (!existsSync(join(root, 'dist', 'index.js'))) {
    t.fail('dist/ is missing: npm test runs `npm run build:ts` first');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sb-notfjs-'));
  try {
    cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
    cpSync(join(root, 'native'), join(dir, 'native'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      join(dir, 'probe.mjs'),
      `import { asarray, convertMemory, planConversion, MemoryTypeUnavailableError, detectMemoryType } from './dist/index.js';
       const out = {};
       try { await convertMemory(asarray([1], { shape: [1] }), { targetType: 'tensorflow' }); out.convert = 'no error'; }
       catch (e) { out.convert = [e instanceof MemoryTypeUnavailableError, e.code, e.message]; }
       try { planConversion('numpy', 'tensorflow'); out.plan = 'no error'; }
       catch (e) { out.plan = [e instanceof MemoryTypeUnavailableError, e.code]; }
       out.detect = detectMemoryType({});
       console.log(JSON.stringify(out));`,
    );
    const env = { ...process.env, NODE_PATH: '' };
    const out = JSON.parse(execFileSync(process.execPath, ['probe.mjs'], { cwd: dir, env, encoding: 'utf8' }));
    t.deepEqual(out.convert.slice(0, 2), [true, 'SB_MEMORY_TYPE_UNAVAILABLE']);
    t.regex(out.convert[2], /@tensorflow\/tfjs/);
    t.deepEqual(out.plan, [true, 'SB_MEMORY_TYPE_UNAVAILABLE']);
    t.is(out.detect, 'unknown');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
