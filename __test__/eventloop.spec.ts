import test from 'ava';
import { zeros } from '../ts/index.js';
import { copy, scaleToDtype } from '../ts/ops.js';
import { watchEventLoop } from './helpers/eventloop.js';

// Engine operations run on worker threads: while a large one runs, the event loop keeps turning.
test.serial('a timer keeps ticking while a large engine operation runs', async (t) => {
  const big = zeros([64, 1024, 1024], { dtype: 'float32' }); // 256 MiB
  big.data[12345] = 3; // not constant, so the min–max stretch really runs
  const loop = watchEventLoop();
  const t0 = performance.now();
  let rounds = 0;
  // keep the work going long enough to see several ticks whatever the machine's speed
  while (performance.now() - t0 < 300 || rounds < 2) {
    const out = await scaleToDtype(big, 'uint16');
    t.is(out.data[12345], 65535);
    out.dispose();
    const c = await copy(big);
    c.dispose();
    rounds++;
  }
  const elapsed = performance.now() - t0;
  const { ticks, maxGap } = loop.stop();
  big.dispose();
  t.log(`${rounds} rounds in ${elapsed.toFixed(0)} ms: ${ticks} ticks, longest gap ${maxGap.toFixed(1)} ms`);
  t.true(ticks >= 10, `only ${ticks} ticks in ${elapsed} ms`);
  // a blocked loop would show a gap as long as one whole operation
  t.true(maxGap < elapsed / rounds, `gap ${maxGap} ms vs ${elapsed / rounds} ms per round`);
});
