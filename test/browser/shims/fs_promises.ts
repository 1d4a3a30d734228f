/**
 * `node:fs/promises` in the browser pages: there is no local file system there. The conformance suite
 * calls `writeFile` only on stores that offer `writeLocal` (a local disk), which no browser store does;
 * if one ever did, this says so loudly instead of pretending.
 */
function unavailable(name: string): never {
  throw new Error(`node:fs/promises ${name}() is not available in the browser (test/browser/shims/fs_promises.ts)`);
}

export async function writeFile(..._args: unknown[]): Promise<never> {
  return unavailable('writeFile');
}

export async function readFile(..._args: unknown[]): Promise<never> {
  return unavailable('readFile');
}

export default { writeFile, readFile };
