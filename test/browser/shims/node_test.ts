/**
 * `node:test` in the browser pages: enough of it for suites written for Node's runner (such as
 * test/stores/conformance.ts) to run unchanged in a page. `describe`/`it`/`test` (and `suite`) collect
 * into a tree as in Node, with `before`/`after`/`beforeEach`/`afterEach` hooks per suite and the
 * options `{ skip, todo, timeout }` (`only` and `concurrency` are accepted and ignored: everything
 * runs, one test at a time). A test gets a context `t` with `name`, `fullName`, `signal`,
 * `skip(message)`, `todo(message)` and `diagnostic(message)`; subtests (`t.test`) and mocks are not
 * offered and say so when used.
 *
 * Nothing runs until the page calls `runCollected()`, which runs the tree in order and resolves to one
 * result per test, named with its suites' names: "suite > inner suite > test".
 */

export interface TestResult {
  /** The suites' names and the test's, joined with " > ". */
  name: string;
  status: 'pass' | 'fail' | 'skip';
  /** For a failure: the message and stack (and causes); for a skip: why. */
  error?: string;
  /** For a failure, the thrown error's "Name [code]: message" (the start of `error`). */
  message?: string;
  /** The reason a skip or todo gave. */
  reason?: string;
  /** Whether the test was marked todo (a todo test that fails is reported as 'skip', as Node does not count it). */
  todo?: boolean;
  /** Messages from `t.diagnostic(...)`. */
  diagnostics?: string[];
  ms: number;
}

export interface TestOptions {
  skip?: boolean | string;
  todo?: boolean | string;
  only?: boolean;
  timeout?: number;
  concurrency?: number | boolean;
  signal?: AbortSignal;
}

export interface TestContext {
  readonly name: string;
  readonly fullName: string;
  readonly signal: AbortSignal;
  skip(message?: string): void;
  todo(message?: string): void;
  diagnostic(message: string): void;
  test(...args: unknown[]): never;
  readonly mock: never;
}

export interface SuiteContext {
  readonly name: string;
  readonly fullName: string;
  readonly signal: AbortSignal;
}

type TestFn = (t: TestContext, done?: (error?: unknown) => void) => unknown;
type SuiteFn = (s: SuiteContext) => unknown;
type HookFn = (context: TestContext | SuiteContext, done?: (error?: unknown) => void) => unknown;

interface Hook {
  fn: HookFn;
  timeout: number | undefined;
}

interface TestNode {
  kind: 'test';
  name: string;
  fn: TestFn | undefined;
  options: TestOptions;
}

interface SuiteNode {
  kind: 'suite';
  name: string;
  options: TestOptions;
  children: Array<TestNode | SuiteNode>;
  before: Hook[];
  after: Hook[];
  beforeEach: Hook[];
  afterEach: Hook[];
  /** Why collecting this suite failed (its callback threw or returned a promise). */
  broken?: unknown;
}

const newSuite = (name: string, options: TestOptions): SuiteNode => ({ kind: 'suite', name, options, children: [], before: [], after: [], beforeEach: [], afterEach: [] });

const root = newSuite('', {});
let current: SuiteNode = root;
let running = false;

/** Node's argument forms: (name?, options?, fn?), where a function first is the test itself. */
function parseArgs<F extends (...args: never[]) => unknown>(args: unknown[]): { name: string; options: TestOptions; fn: F | undefined } {
  let name: string | undefined;
  let options: TestOptions = {};
  let fn: F | undefined;
  for (const arg of args) {
    if (typeof arg === 'function') fn = arg as F;
    else if (typeof arg === 'string') name = arg;
    else if (arg !== null && typeof arg === 'object') options = arg as TestOptions;
    else if (arg !== undefined) name = String(arg);
  }
  return { name: name ?? (fn?.name || '<anonymous>'), options, fn };
}

function notWhileRunning(what: string): void {
  if (running) throw new Error(`${what}() was called while tests run: the browser node:test shim collects tests first (no subtests)`);
}

export function describe(...args: unknown[]): void {
  notWhileRunning('describe');
  const { name, options, fn } = parseArgs<SuiteFn>(args);
  const suite = newSuite(name, options);
  current.children.push(suite);
  if (!fn) return;
  const parent = current;
  current = suite;
  try {
    const returned = fn({ name, fullName: name, signal: new AbortController().signal });
    if (returned && typeof (returned as PromiseLike<unknown>).then === 'function') {
      suite.broken = new Error(`describe("${name}") returned a promise: the browser node:test shim collects suites synchronously`);
    }
  } catch (e) {
    suite.broken = e;
  } finally {
    current = parent;
  }
}

export function it(...args: unknown[]): void {
  notWhileRunning('it');
  const { name, options, fn } = parseArgs<TestFn>(args);
  current.children.push({ kind: 'test', name, fn, options });
}

export const test = it;
export const suite = describe;

function variant<T extends (...args: unknown[]) => void>(base: T, extra: TestOptions): T {
  return ((...args: unknown[]) => {
    const { name, options, fn } = parseArgs<TestFn>(args);
    base(name, { ...options, ...extra }, fn);
  }) as T;
}
for (const f of [describe, it] as Array<((...args: unknown[]) => void) & Record<string, unknown>>) {
  f['skip'] = variant(f, { skip: true });
  f['todo'] = variant(f, { todo: true });
  f['only'] = variant(f, { only: true });
}

function hook(kind: 'before' | 'after' | 'beforeEach' | 'afterEach') {
  return (fn: HookFn, options: { timeout?: number } = {}): void => {
    notWhileRunning(kind);
    current[kind].push({ fn, timeout: options.timeout });
  };
}

export const before = hook('before');
export const after = hook('after');
export const beforeEach = hook('beforeEach');
export const afterEach = hook('afterEach');

export default Object.assign(test, { describe, it, test, suite, before, after, beforeEach, afterEach });

/** The error as text: "Name [code]: message", the stack, and its causes; `message` is the first error's "Name [code]: message". */
export function describeError(error: unknown): { message: string; text: string } {
  const lines: string[] = [];
  let message: string | undefined;
  const seen = new Set<unknown>();
  for (let e = error, depth = 0; e !== undefined && !seen.has(e) && depth < 5; depth++) {
    seen.add(e);
    let part: string;
    if (e instanceof Error) {
      const head = `${e.name}: ${e.message}`;
      const stack = typeof e.stack === 'string' ? e.stack : '';
      part = stack.startsWith(head) ? stack : stack ? `${head}\n${stack}` : head;
      const code = (e as { code?: unknown }).code;
      const named = code === undefined ? head : `${e.name} [${String(code)}]: ${e.message}`;
      part = part.replace(head, named);
      message ??= named;
      e = (e as { cause?: unknown }).cause;
    } else {
      part = String(e);
      message ??= part;
      e = undefined;
    }
    lines.push(depth === 0 ? part : `Caused by: ${part}`);
  }
  return { message: message ?? String(error), text: lines.join('\n') };
}

/** Runs `fn(context)` (or `fn(context, done)` for a callback-style one), failing after `timeout` ms. */
async function invoke(fn: TestFn | HookFn, context: TestContext | SuiteContext, timeout: number | undefined, what: string): Promise<void> {
  const call =
    fn.length >= 2
      ? new Promise<void>((resolve, reject) => {
          const returned = (fn as (c: unknown, done: (e?: unknown) => void) => unknown)(context, (e) => (e ? reject(e) : resolve()));
          if (returned && typeof (returned as PromiseLike<unknown>).then === 'function') {
            reject(new Error(`${what} takes a done callback and returned a promise: use one or the other`));
          }
        })
      : Promise.resolve().then(() => (fn as (c: unknown) => unknown)(context));
  if (timeout === undefined || !Number.isFinite(timeout)) {
    await call;
    return;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([call, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeout} ms`)), timeout)))]);
  } finally {
    clearTimeout(timer);
  }
}

const reasonOf = (value: boolean | string | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

export interface RunOptions {
  /** Runs only the tests whose full name this accepts (the rest are left out of the results). */
  filter?: (name: string) => boolean;
  /** Called with each result as soon as it is known (for progress output). */
  onResult?: (result: TestResult) => void;
}

/** Runs every collected test, in order, one at a time; resolves to their results. Runs once. */
export async function runCollected(options: RunOptions = {}): Promise<TestResult[]> {
  if (running) throw new Error('runCollected() runs the collected tests once');
  running = true;
  const results: TestResult[] = [];
  const filter = options.filter ?? (() => true);
  const report = (result: TestResult) => {
    results.push(result);
    options.onResult?.(result);
  };
  const join = (prefix: string, name: string) => (prefix ? `${prefix} > ${name}` : name);

  /** Every test under `suite` that the filter takes, with its full name. */
  const testsUnder = (suite: SuiteNode, prefix: string): string[] =>
    suite.children.flatMap((child) => (child.kind === 'test' ? [join(prefix, child.name)].filter(filter) : testsUnder(child, join(prefix, child.name))));

  const suiteContext = (name: string, fullName: string): SuiteContext => ({ name, fullName, signal: new AbortController().signal });

  async function runSuite(suite: SuiteNode, prefix: string, eachBefore: Hook[], eachAfter: Hook[], skipped: string | undefined): Promise<void> {
    const fullName = prefix;
    const wanted = testsUnder(suite, prefix);
    if (wanted.length === 0) return;
    const skip = skipped ?? (suite.options.skip ? (reasonOf(suite.options.skip) ?? 'skipped') : undefined);
    if (suite.broken !== undefined || skip !== undefined) {
      const { message, text } = suite.broken !== undefined ? describeError(suite.broken) : { message: '', text: '' };
      for (const name of wanted) {
        report(suite.broken !== undefined ? { name, status: 'fail', message: `suite failed while collecting: ${message}`, error: text, ms: 0 } : { name, status: 'skip', reason: skip, ms: 0 });
      }
      return;
    }
    const context = suiteContext(suite.name, fullName);
    for (const h of suite.before) {
      try {
        await invoke(h.fn, context, h.timeout, `before hook of "${fullName}"`);
      } catch (e) {
        const { message, text } = describeError(e);
        for (const name of wanted) report({ name, status: 'fail', message: `before hook failed: ${message}`, error: text, ms: 0 });
        await runAfterHooks(suite, context, fullName);
        return;
      }
    }
    const befores = [...eachBefore, ...suite.beforeEach];
    const afters = [...suite.afterEach, ...eachAfter];
    for (const child of suite.children) {
      const name = join(prefix, child.name);
      if (child.kind === 'suite') await runSuite(child, name, befores, afters, undefined);
      else if (filter(name)) report(await runTest(child, name, befores, afters));
    }
    await runAfterHooks(suite, context, fullName);
  }

  async function runAfterHooks(suite: SuiteNode, context: SuiteContext, fullName: string): Promise<void> {
    for (const h of suite.after) {
      const started = performance.now();
      try {
        await invoke(h.fn, context, h.timeout, `after hook of "${fullName}"`);
      } catch (e) {
        const { message, text } = describeError(e);
        report({ name: join(fullName, '<after hook>'), status: 'fail', message, error: text, ms: performance.now() - started });
      }
    }
  }

  async function runTest(node: TestNode, fullName: string, befores: Hook[], afters: Hook[]): Promise<TestResult> {
    const started = performance.now();
    const ms = () => Math.round((performance.now() - started) * 10) / 10;
    if (node.options.skip) return { name: fullName, status: 'skip', reason: reasonOf(node.options.skip) ?? 'skipped', ms: 0 };
    let skipReason: string | undefined;
    let todoReason: string | undefined = node.options.todo ? (reasonOf(node.options.todo) ?? 'todo') : undefined;
    const diagnostics: string[] = [];
    const abort = new AbortController();
    const context: TestContext = {
      name: node.name,
      fullName,
      signal: abort.signal,
      skip: (message?: string) => void (skipReason = message ?? 'skipped'),
      todo: (message?: string) => void (todoReason = message ?? 'todo'),
      diagnostic: (message: string) => void diagnostics.push(message),
      test: () => {
        throw new Error('subtests (t.test) are not supported by the browser node:test shim');
      },
      get mock(): never {
        throw new Error('mocks (t.mock) are not supported by the browser node:test shim');
      },
    };
    let failure: unknown;
    let failed = false;
    try {
      for (const h of befores) await invoke(h.fn, context, h.timeout, `beforeEach hook of "${fullName}"`);
      if (node.fn) await invoke(node.fn, context, node.options.timeout, `test "${fullName}"`);
      else todoReason ??= 'no test function';
    } catch (e) {
      failed = true;
      failure = e;
    }
    for (const h of afters) {
      try {
        await invoke(h.fn, context, h.timeout, `afterEach hook of "${fullName}"`);
      } catch (e) {
        if (!failed) {
          failed = true;
          failure = e;
        }
      }
    }
    abort.abort();
    const extra = diagnostics.length > 0 ? { diagnostics } : {};
    if (todoReason !== undefined) {
      const outcome = failed ? ` (it failed: ${describeError(failure).message})` : '';
      return { name: fullName, status: 'skip', todo: true, reason: `${todoReason}${outcome}`, ms: ms(), ...extra };
    }
    if (failed) {
      const { message, text } = describeError(failure);
      return { name: fullName, status: 'fail', message, error: text, ms: ms(), ...extra };
    }
    if (skipReason !== undefined) return { name: fullName, status: 'skip', reason: skipReason, ms: ms(), ...extra };
    return { name: fullName, status: 'pass', ms: ms(), ...extra };
  }

  await runSuite(root, '', [], [], undefined);
  return results;
}
