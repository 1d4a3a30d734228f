// Preloaded into every test file's process by scripts/run-tests.mjs. A file still running after
// 8 minutes (the longest takes under 3) is about to be cancelled by the runner's 10-minute timeout:
// say which file and what keeps its process alive (a hung request, a thread or timer left running),
// so a hang on a CI machine names its cause in the log. The timer never keeps the process alive.
if (process.env.NODE_TEST_CONTEXT) {
  const file = process.argv[1];
  const afterMs = Number(process.env.TFJS_CKPT_WATCHDOG_MS ?? 8 * 60_000);
  setTimeout(() => {
    process.stderr.write(`test watchdog: ${file} is still running after ${afterMs / 1000} s; open resources: ${process.getActiveResourcesInfo().join(', ')}\n`);
  }, afterMs).unref();
}
