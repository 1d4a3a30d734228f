/** How the numbers were taken, for RESULTS.md. Keep in step with the case modules. */
export const METHOD = [
  'Model: `tf.sequential` of 4 × `dense(w)` on input `[w]` (w = 500 / 2500 / 5000 for 1M / 25M / 100M float32 parameters; with `--huge`, 15811 for 1B = 4 GB and 18318 for 1.34B = 5 GiB), zeros initializers, every weight then filled once so its pages are resident; compiled with SGD. CPU backend (pure JS).',
  'Every case runs in its own child process, after a `sync`. Save cases run one unreported warm-up save first (the peers likewise drop their first save); cells are **median (min–max)** over the reported reps. Each load runs in a fresh process.',
  '**blocked**: how long the save holds training (for ours: `await cb.onEpochEnd(…)`; naive: the whole `model.save`; peers: their callback\'s save call). Before each save one layer\'s kernel is replaced (`kernel.write(kernel.read().add(1))`), as an optimizer step would.',
  '**time to durable**: from the start of the save until the checkpoint is committed and fsync\'d (for ours: `onEpochEnd` plus waiting for pending work). **MB/s** = weight bytes (10^6 B/s) / time to durable. Naive, Keras and Lightning never fsync, so they are never durable.',
  '**extra peak RSS**: VmHWM rise over the RSS just before the operation (VmHWM reset through `/proc/self/clear_refs`), median (min–max) and, in parentheses, the worst rep as a multiple of the weight bytes. Memory freed by an earlier rep and kept by the allocator can hide small allocations (below glibc\'s 32 MiB mmap threshold), so small-model values are lower bounds. **process max RSS**: `/usr/bin/time` maximum resident set of the whole case process (model included).',
  '**bare snapshot**: `model.getWeights().map(t => t.dataSync())` (the CPU backend hands out its own arrays) and a copy of every weight into a reused, already-resident pool; the pool copy is the bar for "blocked ≤ 1.5× bare snapshot".',
  '**peers**: Keras 3 (JAX backend, CPU) and Lightning (torch CPU) in a Python venv at `bench/.venv`, on the same 4 × Dense/Linear(w) model with its weights filled, writing to the same disk; one batch of 8 per epoch, a save every epoch; the time of the callback\'s save call (Keras `on_epoch_end`, Lightning `_save_checkpoint`). Each saved file is deleted after its timed save.',
  '**raw disk**: the same number of bytes written from a reused 16 MiB buffer with a FileHandle, `sync()`, close, rename, directory fsync: the ceiling for a durable save.',
];

export const TARGETS_INTRO =
  'Ratios of medians (RSS: worst rep) from this one run. "(info)" marks sizes where a target does not apply: ' +
  'blocked-time targets from 100M parameters, durability, memory and load targets from 100 MB of weights. ' +
  'The RSS target for a save is ≈ 0 because this is the CPU backend (≤ 1.2× weights applies to backends whose ' +
  'reads copy, not run here). Disk timings on this VM drift by up to 1.5× between runs, so a ratio near its limit can flip.';
