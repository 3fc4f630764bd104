/** Watches the event loop with a 1 ms timer: how often it ticked and its longest gap, once stopped. */
export function watchEventLoop(): { stop(): { ticks: number; maxGap: number } } {
  let ticks = 0;
  let maxGap = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      return { ticks, maxGap };
    },
  };
}
