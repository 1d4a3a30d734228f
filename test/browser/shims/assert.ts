/**
 * `node:assert/strict` (and `node:assert`, in its strict mode) in the browser pages: the functions
 * Node's strict assert offers, with Node's semantics where the suites depend on them:
 *
 * - `equal`/`strictEqual`: `Object.is` (NaN equals NaN, 0 and -0 differ).
 * - `deepEqual`/`deepStrictEqual`: same prototype and type tag; primitives by `Object.is`; own
 *   enumerable keys (symbols too; a key set to `undefined` is not a missing key); arrays by length and
 *   elements; typed arrays, DataViews and ArrayBuffers by type and bytes; Maps and Sets by entries
 *   (object keys/members by deep equality, in any order); Dates by time, RegExps by source, flags and
 *   lastIndex; Errors also by name and message; boxed primitives by value; cycles handled.
 * - `throws`/`rejects` (and `doesNotThrow`/`doesNotReject`) validate with a class (instanceof), a
 *   RegExp (against `String(error)`), a function (must return exactly `true`) or an object (each of its
 *   keys deep-equal, or matched when it is a RegExp and the error's value a string).
 * - `match`/`doesNotMatch`, `ok`, `fail`, `ifError`, `notEqual`, `notDeepEqual` and friends.
 *
 * A `message` argument replaces the generated one; an Error as `message` is thrown as is. Failures are
 * `AssertionError`s (code 'ERR_ASSERTION') whose message shows both values and, for deep equality,
 * the path of the first difference.
 */

export class AssertionError extends Error {
  readonly code = 'ERR_ASSERTION';
  readonly actual: unknown;
  readonly expected: unknown;
  readonly operator: string;
  readonly generatedMessage: boolean;
  constructor(options: { message?: string; actual?: unknown; expected?: unknown; operator?: string; generatedMessage?: boolean }) {
    super(options.message ?? 'Failed');
    this.name = 'AssertionError';
    this.actual = options.actual;
    this.expected = options.expected;
    this.operator = options.operator ?? 'fail';
    this.generatedMessage = options.generatedMessage ?? options.message === undefined;
  }
}

type Message = string | Error | undefined;

function raise(message: Message, generated: string, details: { actual?: unknown; expected?: unknown; operator: string }, stackStart: Function): never {
  if (message instanceof Error) throw message;
  const error = new AssertionError({ message: message ?? generated, generatedMessage: message === undefined, ...details });
  (Error as { captureStackTrace?: (e: object, f: Function) => void }).captureStackTrace?.(error, stackStart);
  throw error;
}

// ---------------------------------------------------------------------------------------------------
// inspect: how values show in messages

const MAX_ITEMS = 24;
const MAX_STRING = 300;

export function inspect(value: unknown, depth = 3, seen: Set<unknown> = new Set()): string {
  switch (typeof value) {
    case 'string': {
      const shown = value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}… (${value.length} characters)` : value;
      return `'${shown.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
    }
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'undefined':
      return 'undefined';
    case 'boolean':
      return String(value);
    case 'symbol':
      return value.toString();
    case 'function':
      return `[Function: ${(value as Function).name || '(anonymous)'}]`;
  }
  if (value === null) return 'null';
  const object = value as object;
  if (seen.has(object)) return '[Circular]';
  const className = (o: object) => (Object.getPrototypeOf(o) === null ? '[Object: null prototype]' : (o.constructor?.name ?? 'Object'));
  if (object instanceof Error) {
    const code = (object as { code?: unknown }).code;
    return `[${object.name}: ${object.message}${code !== undefined ? ` (code: ${String(code)})` : ''}]`;
  }
  if (object instanceof Date) return `Date(${Number.isNaN(object.getTime()) ? 'Invalid' : object.toISOString()})`;
  if (object instanceof RegExp) return String(object);
  if (ArrayBuffer.isView(object) && !(object instanceof DataView)) {
    const items = Array.from(object as unknown as ArrayLike<number | bigint>);
    const shown = items.slice(0, MAX_ITEMS).map((x) => (typeof x === 'bigint' ? `${x}n` : Object.is(x, -0) ? '-0' : String(x)));
    const more = items.length > MAX_ITEMS ? `, … ${items.length - MAX_ITEMS} more` : '';
    return `${className(object)}(${items.length}) [${shown.join(', ')}${more}]`;
  }
  if (object instanceof ArrayBuffer) return `ArrayBuffer { byteLength: ${object.byteLength} }`;
  if (object instanceof DataView) return `DataView { byteLength: ${object.byteLength} }`;
  if (depth < 0) return Array.isArray(object) ? '[Array]' : `[${className(object)}]`;
  seen.add(object);
  try {
    const show = (v: unknown) => inspect(v, depth - 1, seen);
    const list = (items: string[], total: number) => (total > MAX_ITEMS ? [...items, `… ${total - MAX_ITEMS} more`] : items).join(', ');
    if (Array.isArray(object)) {
      const items = object.slice(0, MAX_ITEMS).map(show);
      return `[${list(items, object.length)}]`;
    }
    if (object instanceof Map) {
      const items = [...object].slice(0, MAX_ITEMS).map(([k, v]) => `${show(k)} => ${show(v)}`);
      return `Map(${object.size}) {${items.length ? ` ${list(items, object.size)} ` : ''}}`;
    }
    if (object instanceof Set) {
      const items = [...object].slice(0, MAX_ITEMS).map(show);
      return `Set(${object.size}) {${items.length ? ` ${list(items, object.size)} ` : ''}}`;
    }
    const keys = ownKeys(object);
    const items = keys.slice(0, MAX_ITEMS).map((k) => `${typeof k === 'symbol' ? `[${k.toString()}]` : /^[A-Za-z_$][\w$]*$/.test(k) ? k : inspect(k)}: ${show((object as Record<PropertyKey, unknown>)[k])}`);
    const name = className(object);
    const body = items.length ? `{ ${list(items, keys.length)} }` : '{}';
    return name === 'Object' ? body : `${name} ${body}`;
  } finally {
    seen.delete(object);
  }
}

function ownKeys(object: object): Array<string | symbol> {
  return Reflect.ownKeys(object).filter((k) => Object.prototype.propertyIsEnumerable.call(object, k));
}

// ---------------------------------------------------------------------------------------------------
// deep strict equality: undefined when equal, else where and how they first differ

function pathOf(path: string): string {
  return path === '' ? 'the values themselves' : path;
}

function keyPath(path: string, key: string | symbol): string {
  if (typeof key === 'symbol') return `${path}[${key.toString()}]`;
  if (/^\d+$/.test(key)) return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function bytesOf(view: ArrayBufferView | ArrayBuffer): Uint8Array {
  return view instanceof ArrayBuffer ? new Uint8Array(view) : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

const tagOf = (v: object) => Object.prototype.toString.call(v);

/** Where `a` and `b` first differ under Node's deep strict equality, or undefined if they do not. */
export function deepDifference(a: unknown, b: unknown, path = '', memo: Map<object, Set<object>> = new Map()): string | undefined {
  if (Object.is(a, b)) return undefined;
  const here = pathOf(path);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return `${here}: ${inspect(a, 1)} !== ${inspect(b, 1)}`;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) {
    return `${here}: different prototypes (${inspect(a, 0)} vs ${inspect(b, 0)})`;
  }
  if (tagOf(a) !== tagOf(b)) return `${here}: different types (${tagOf(a)} vs ${tagOf(b)})`;
  // Cycles: a pair already being compared is taken as equal (it is decided further up).
  const pairs = memo.get(a);
  if (pairs?.has(b)) return undefined;
  if (pairs) pairs.add(b);
  else memo.set(a, new Set([b]));

  if (a instanceof Date && b instanceof Date) {
    if (!Object.is(a.getTime(), b.getTime())) return `${here}: ${inspect(a)} !== ${inspect(b)}`;
  } else if (a instanceof RegExp && b instanceof RegExp) {
    if (a.source !== b.source || a.flags !== b.flags || a.lastIndex !== b.lastIndex) return `${here}: ${inspect(a)} !== ${inspect(b)}`;
  } else if (a instanceof Error && b instanceof Error) {
    if (a.name !== b.name) return `${keyPath(path, 'name')}: ${inspect(a.name)} !== ${inspect(b.name)}`;
    if (a.message !== b.message) return `${keyPath(path, 'message')}: ${inspect(a.message)} !== ${inspect(b.message)}`;
  } else if ((ArrayBuffer.isView(a) || a instanceof ArrayBuffer) && (ArrayBuffer.isView(b) || b instanceof ArrayBuffer)) {
    const x = bytesOf(a);
    const y = bytesOf(b);
    if (x.byteLength !== y.byteLength) return `${here}: byte length ${x.byteLength} !== ${y.byteLength} (${inspect(a, 0)} vs ${inspect(b, 0)})`;
    for (let i = 0; i < x.byteLength; i++) {
      if (x[i] !== y[i]) {
        if (ArrayBuffer.isView(a) && !(a instanceof DataView)) {
          const index = Math.floor(i / (a as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT);
          const at = (v: unknown) => inspect((v as ArrayLike<unknown>)[index]);
          return `${path}[${index}]: ${at(a)} !== ${at(b)}`;
        }
        return `${here}: byte ${i}: ${x[i]} !== ${y[i]}`;
      }
    }
    if (!ArrayBuffer.isView(a) || a instanceof DataView) return undefined;
  } else if (isBoxed(a)) {
    if (!Object.is((a as { valueOf(): unknown }).valueOf(), (b as { valueOf(): unknown }).valueOf())) return `${here}: ${inspect(a)} !== ${inspect(b)}`;
  }

  if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) {
    return `${keyPath(path, 'length')}: ${a.length} !== ${b.length} (${inspect(a, 1)} vs ${inspect(b, 1)})`;
  }

  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return `${here}: Map sizes ${a.size} !== ${b.size}`;
    for (const [key, value] of a) {
      if (b.has(key)) {
        const d = deepDifference(value, b.get(key), `${path}.get(${inspect(key, 0)})`, memo);
        if (d) return d;
        continue;
      }
      if (typeof key !== 'object' || key === null) return `${here}: key ${inspect(key)} is missing from the expected Map`;
      const match = [...b].find(([k, v]) => typeof k === 'object' && k !== null && !deepDifference(key, k, '', new Map()) && !deepDifference(value, v, '', new Map()));
      if (!match) return `${here}: entry ${inspect(key, 1)} => ${inspect(value, 1)} has no deep-equal entry in the expected Map`;
    }
  } else if (a instanceof Set && b instanceof Set) {
    if (a.size !== b.size) return `${here}: Set sizes ${a.size} !== ${b.size}`;
    for (const member of a) {
      if (b.has(member)) continue;
      if (typeof member !== 'object' || member === null) return `${here}: ${inspect(member)} is missing from the expected Set`;
      if (![...b].some((m) => typeof m === 'object' && m !== null && !deepDifference(member, m, '', new Map()))) {
        return `${here}: ${inspect(member, 1)} has no deep-equal member in the expected Set`;
      }
    }
  }

  // Own enumerable keys (for typed arrays: those beyond the elements).
  const skipIndices = ArrayBuffer.isView(a) && !(a instanceof DataView);
  const keysOf = (o: object) => ownKeys(o).filter((k) => !(skipIndices && typeof k === 'string' && /^\d+$/.test(k)));
  const ka = keysOf(a);
  const kb = keysOf(b);
  const inB = new Set(kb);
  for (const k of ka) {
    if (!inB.has(k)) return `${keyPath(path, k)}: present in actual (${inspect((a as Record<PropertyKey, unknown>)[k], 1)}), missing in expected`;
  }
  if (ka.length !== kb.length) {
    const inA = new Set(ka);
    const extra = kb.find((k) => !inA.has(k))!;
    return `${keyPath(path, extra)}: missing in actual, present in expected (${inspect((b as Record<PropertyKey, unknown>)[extra], 1)})`;
  }
  for (const k of ka) {
    const d = deepDifference((a as Record<PropertyKey, unknown>)[k], (b as Record<PropertyKey, unknown>)[k], keyPath(path, k), memo);
    if (d) return d;
  }
  return undefined;
}

function isBoxed(v: object): boolean {
  return v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt || v instanceof Symbol;
}

export function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  return deepDifference(a, b) === undefined;
}

// ---------------------------------------------------------------------------------------------------
// the assertions

export function ok(value: unknown, message?: Message): asserts value {
  if (!value) raise(message, `The expression evaluated to a falsy value: ${inspect(value)}`, { actual: value, expected: true, operator: '==' }, ok);
}

export function equal(actual: unknown, expected: unknown, message?: Message): void {
  if (!Object.is(actual, expected)) {
    raise(message, `Expected values to be strictly equal:\n\n  actual:   ${inspect(actual)}\n  expected: ${inspect(expected)}\n`, { actual, expected, operator: 'strictEqual' }, equal);
  }
}

export function notEqual(actual: unknown, expected: unknown, message?: Message): void {
  if (Object.is(actual, expected)) raise(message, `Expected "actual" to be strictly unequal to: ${inspect(expected)}`, { actual, expected, operator: 'notStrictEqual' }, notEqual);
}

export function deepEqual(actual: unknown, expected: unknown, message?: Message): void {
  const difference = deepDifference(actual, expected);
  if (difference !== undefined) {
    raise(
      message,
      `Expected values to be strictly deep-equal:\n\n  actual:   ${inspect(actual)}\n  expected: ${inspect(expected)}\n\n  first difference at ${difference}\n`,
      { actual, expected, operator: 'deepStrictEqual' },
      deepEqual,
    );
  }
}

export function notDeepEqual(actual: unknown, expected: unknown, message?: Message): void {
  if (deepDifference(actual, expected) === undefined) {
    raise(message, `Expected "actual" not to be strictly deep-equal to: ${inspect(expected)}`, { actual, expected, operator: 'notDeepStrictEqual' }, notDeepEqual);
  }
}

export function match(value: unknown, pattern: RegExp, message?: Message): void {
  if (typeof value !== 'string') raise(message, `The "string" argument must be of type string. Received ${inspect(value)}`, { actual: value, expected: pattern, operator: 'match' }, match);
  if (RegExp.prototype.exec.call(pattern, value) === null) {
    raise(message, `The input did not match the regular expression ${String(pattern)}. Input:\n\n${inspect(value)}\n`, { actual: value, expected: pattern, operator: 'match' }, match);
  }
}

export function doesNotMatch(value: unknown, pattern: RegExp, message?: Message): void {
  if (typeof value !== 'string') raise(message, `The "string" argument must be of type string. Received ${inspect(value)}`, { actual: value, expected: pattern, operator: 'doesNotMatch' }, doesNotMatch);
  if (RegExp.prototype.exec.call(pattern, value) !== null) {
    raise(message, `The input was expected to not match the regular expression ${String(pattern)}. Input:\n\n${inspect(value)}\n`, { actual: value, expected: pattern, operator: 'doesNotMatch' }, doesNotMatch);
  }
}

export function fail(message: Message = 'Failed'): never {
  if (message instanceof Error) throw message;
  const error = new AssertionError({ message, operator: 'fail', generatedMessage: false });
  (Error as { captureStackTrace?: (e: object, f: Function) => void }).captureStackTrace?.(error, fail);
  throw error;
}

export function ifError(value: unknown): void {
  if (value === null || value === undefined) return;
  if (value instanceof Error) throw value;
  raise(undefined, `ifError got unwanted exception: ${inspect(value)}`, { actual: value, expected: null, operator: 'ifError' }, ifError);
}

type Expected = RegExp | Function | object;

/** Checks a thrown or rejected `actual` against `expected` (class, RegExp, validator or object), as Node does. */
function validate(actual: unknown, expected: Expected | undefined, message: Message, operator: string, stackStart: Function): void {
  if (expected === undefined) return;
  if (expected instanceof RegExp) {
    const text = String(actual);
    if (RegExp.prototype.exec.call(expected, text) !== null) return;
    raise(message, `The input did not match the regular expression ${String(expected)}. Input:\n\n${inspect(text)}\n`, { actual, expected, operator }, stackStart);
  }
  if (typeof expected === 'function') {
    if (expected.prototype !== undefined && actual instanceof (expected as new () => unknown)) return;
    if (Object.prototype.isPrototypeOf.call(Error, expected) || expected === Error) {
      const got = actual instanceof Error ? `${actual.name}: ${actual.message}` : inspect(actual);
      raise(message, `The error is expected to be an instance of "${expected.name}". Received ${got}`, { actual, expected, operator }, stackStart);
    }
    const verdict = (expected as (e: unknown) => unknown).call({}, actual);
    if (verdict === true) return;
    const got = actual instanceof Error ? describeThrown(actual) : inspect(actual);
    raise(message, `The ${expected.name ? `"${expected.name}" ` : ''}validation function is expected to return "true". Received ${inspect(verdict)}\n\nCaught error:\n\n${got}`, { actual, expected, operator }, stackStart);
  }
  // An object: each of its keys must match the error's.
  if (typeof actual !== 'object' || actual === null) {
    raise(message, `The error is expected to be an object with ${inspect(expected)}. Received ${inspect(actual)}`, { actual, expected, operator }, stackStart);
  }
  const keys = [...ownKeys(expected)];
  if (expected instanceof Error) keys.push('name', 'message');
  for (const key of keys) {
    const want = (expected as Record<PropertyKey, unknown>)[key];
    const got = (actual as Record<PropertyKey, unknown>)[key];
    if (want instanceof RegExp && typeof got === 'string') {
      if (RegExp.prototype.exec.call(want, got) !== null) continue;
      raise(message, `The error's ${String(key)} ${inspect(got)} does not match ${String(want)}\n\nCaught error:\n\n${describeThrown(actual)}`, { actual, expected, operator }, stackStart);
    }
    const difference = deepDifference(got, want, keyPath('error', key));
    if (difference !== undefined) {
      raise(message, `The error does not have the expected ${String(key)}: first difference at ${difference}\n\nCaught error:\n\n${describeThrown(actual)}`, { actual, expected, operator }, stackStart);
    }
  }
}

function describeThrown(error: unknown): string {
  if (!(error instanceof Error)) return inspect(error);
  const code = (error as { code?: unknown }).code;
  return `${error.name}: ${error.message}${code !== undefined ? ` (code: ${String(code)})` : ''}`;
}

/** Node's (expected?, message?) pair: a string second argument is the message. */
function splitExpected(expected: Expected | string | undefined, message: Message): { expected: Expected | undefined; message: Message } {
  return typeof expected === 'string' ? { expected: undefined, message: expected } : { expected, message };
}

export function throws(fn: () => unknown, expected?: Expected | string, message?: Message): void {
  if (typeof fn !== 'function') throw new TypeError(`The "fn" argument must be of type function. Received ${inspect(fn)}`);
  const split = splitExpected(expected, message);
  let threw = false;
  let error: unknown;
  try {
    fn();
  } catch (e) {
    threw = true;
    error = e;
  }
  if (!threw) raise(split.message, `Missing expected exception${typeof split.message === 'string' ? `: ${split.message}` : '.'}`, { actual: undefined, expected: split.expected, operator: 'throws' }, throws);
  validate(error, split.expected, split.message, 'throws', throws);
}

export function doesNotThrow(fn: () => unknown, expected?: Expected | string, message?: Message): void {
  const split = splitExpected(expected, message);
  try {
    fn();
  } catch (e) {
    raise(split.message, `Got unwanted exception.\nActual message: "${e instanceof Error ? e.message : String(e)}"`, { actual: e, expected: split.expected, operator: 'doesNotThrow' }, doesNotThrow);
  }
}

async function settle(promiseOrFn: PromiseLike<unknown> | (() => PromiseLike<unknown>), operator: string): Promise<{ rejected: boolean; value: unknown }> {
  let promise: PromiseLike<unknown>;
  if (typeof promiseOrFn === 'function') {
    const returned = promiseOrFn(); // a synchronous throw rejects the assertion itself, as in Node
    if (!returned || typeof (returned as PromiseLike<unknown>).then !== 'function') {
      throw Object.assign(new TypeError(`Expected instance of Promise to be returned from the "promiseFn" function but got ${inspect(returned)}.`), { code: 'ERR_INVALID_RETURN_VALUE' });
    }
    promise = returned;
  } else if (promiseOrFn && typeof (promiseOrFn as PromiseLike<unknown>).then === 'function') {
    promise = promiseOrFn;
  } else {
    throw Object.assign(new TypeError(`${operator}: the "promiseFn" argument must be a function or a Promise. Received ${inspect(promiseOrFn)}`), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  return Promise.resolve(promise).then(
    (value) => ({ rejected: false, value }),
    (value: unknown) => ({ rejected: true, value }),
  );
}

export async function rejects(promiseOrFn: PromiseLike<unknown> | (() => PromiseLike<unknown>), expected?: Expected | string, message?: Message): Promise<void> {
  const split = splitExpected(expected, message);
  const { rejected, value } = await settle(promiseOrFn, 'rejects');
  if (!rejected) {
    raise(split.message, `Missing expected rejection${typeof split.message === 'string' ? `: ${split.message}` : '.'} It resolved to ${inspect(value)}`, { actual: value, expected: split.expected, operator: 'rejects' }, rejects);
  }
  validate(value, split.expected, split.message, 'rejects', rejects);
}

export async function doesNotReject(promiseOrFn: PromiseLike<unknown> | (() => PromiseLike<unknown>), expected?: Expected | string, message?: Message): Promise<void> {
  const split = splitExpected(expected, message);
  const { rejected, value } = await settle(promiseOrFn, 'doesNotReject');
  if (rejected) {
    raise(split.message, `Got unwanted rejection.\nActual message: "${value instanceof Error ? value.message : String(value)}"`, { actual: value, expected: split.expected, operator: 'doesNotReject' }, doesNotReject);
  }
}

/** The default export: `assert(value)` is `ok`, with every assertion on it (Node's strict names and the plain ones, here the same). */
const assert = Object.assign((value: unknown, message?: Message): void => ok(value, message), {
  ok,
  equal,
  strictEqual: equal,
  notEqual,
  notStrictEqual: notEqual,
  deepEqual,
  deepStrictEqual: deepEqual,
  notDeepEqual,
  notDeepStrictEqual: notDeepEqual,
  match,
  doesNotMatch,
  throws,
  doesNotThrow,
  rejects,
  doesNotReject,
  fail,
  ifError,
  AssertionError,
  strict: undefined as unknown,
});
assert.strict = assert;

export { equal as strictEqual, notEqual as notStrictEqual, deepEqual as deepStrictEqual, notDeepEqual as notDeepStrictEqual };
export const strict = assert;
export default assert;
