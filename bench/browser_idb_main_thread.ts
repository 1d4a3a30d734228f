/**
 * Where a page's main thread goes during an IndexedDB checkpoint: `npx tsx bench/browser_idb_main_thread.ts`.
 * Headless Chromium, a 64 MiB weights-only checkpoint (browser_idb_main_thread_page.ts), one warm-up and
 * SAVES (default 3) profiled saves with the DevTools CPU profiler (200 µs sampling). Prints the time
 * `fit` is held and the time to durable per save, and the main thread's samples per save by function:
 * everything not idle is time training on that thread would not get. Each save also runs one step's
 * weight update (the `tf.js` kernels), sampled with it.
 */
import { openReadyPage } from './lib/browser_page.js';

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

const saves = Number(process.env['SAVES'] ?? 3);
const { tab, close } = await openReadyPage(new URL('./browser_idb_main_thread_page.ts', import.meta.url), 'idb-main');
try {
  const cdp = await tab.context().newCDPSession(tab);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await tab.evaluate(() => window.__save!());
  const byFunction = new Map<string, number>();
  for (let i = 0; i < saves; i++) {
    await cdp.send('Profiler.start');
    const { heldMs, durableMs } = await tab.evaluate(() => window.__save!());
    const { profile } = (await cdp.send('Profiler.stop')) as unknown as { profile: Profile };
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples.forEach((id, k) => {
      const frame = nodes.get(id)!.callFrame;
      const name = frame.url.includes('/tf.js') ? 'tf.js kernels (the step)' : `${frame.functionName || '(anonymous)'}${frame.url ? ` ${frame.url.split('/').pop()}:${frame.lineNumber}` : ''}`;
      byFunction.set(name, (byFunction.get(name) ?? 0) + profile.timeDeltas[k]! / 1000 / saves);
    });
    console.log(`save ${i + 1}: fit held ${heldMs.toFixed(1)} ms, durable after ${durableMs.toFixed(0)} ms`);
  }
  const busy = [...byFunction].filter(([name]) => name !== '(idle)' && !name.startsWith('tf.js')).reduce((sum, [, ms]) => sum + ms, 0);
  console.log(`\nmain thread per save, not idle and not the step's kernels: ${busy.toFixed(0)} ms`);
  for (const [name, ms] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${ms.toFixed(1).padStart(8)} ms  ${name}`);
} finally {
  await close();
}
