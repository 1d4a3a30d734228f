/**
 * The TF.js internals we patch, where `tf.io` is frozen or an ES module namespace (a bundled ESM
 * build): the decodeWeights stand-in and the file:// router registration step aside, never throw,
 * and loading still works (tfjs just copies). Registration happens at most once per `io` object.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
// The library's entry point: importing it registers the file:// routers on the real tf.io.
import '../src/index.js';
import { armZeroCopyDecode, type DecodeWeightsHolder } from '../src/checkpoint/zero_copy_decode.js';
import { sharedWeakSet, trySetProperty } from '../src/checkpoint/tfjs_guard.js';
import { registerFileRouter, type RouterRegistry } from '../src/checkpoint/tfjs_router.js';
import { moduleNamespaceOf } from './fixtures/module_namespace.js';
import { tempDir } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/esm_io_child.ts', import.meta.url));
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('trySetProperty', () => {
  it('sets and confirms on a plain object', () => {
    const target: Record<string, unknown> = { a: 1 };
    assert.equal(trySetProperty(target, 'a', 2), true);
    assert.equal(target['a'], 2);
    assert.equal(trySetProperty(target, 'b', 3), true);
    assert.equal(target['b'], 3);
  });

  it('returns false and changes nothing on a frozen object', () => {
    const target = Object.freeze({ a: 1 });
    assert.equal(trySetProperty(target, 'a', 2), false);
    assert.equal(trySetProperty(target, 'b', 2), false);
    assert.deepEqual(Object.entries(target), [['a', 1]]);
  });

  it('returns false on an ES module namespace, whose descriptor claims writable: true', async () => {
    const ns = await moduleNamespaceOf({ f: () => 1 }, await tempDir());
    assert.equal(Object.prototype.toString.call(ns), '[object Module]');
    assert.equal(Object.getOwnPropertyDescriptor(ns, 'f')?.writable, true);
    assert.throws(() => ((ns as Record<string, unknown>)['f'] = () => 2), TypeError);
    const before = ns.f;
    assert.equal(trySetProperty(ns, 'f', () => 2), false);
    assert.equal(ns.f, before);
    assert.equal(trySetProperty(ns, 'g', 1), false);
  });

  it('returns false, and undoes what it can, for setters that refuse or ignore', () => {
    const getterOnly = Object.defineProperty({}, 'a', { get: () => 1, enumerable: true });
    assert.equal(trySetProperty(getterOnly, 'a', 2), false);
    let stored = 1;
    const ignoring = Object.defineProperty({}, 'a', { get: () => stored, set: () => undefined });
    assert.equal(trySetProperty(ignoring, 'a', 2), false);
    const mangling = Object.defineProperty({}, 'a', { get: () => stored, set: (v: number) => (stored = v + 1) });
    assert.equal(trySetProperty(mangling, 'a', 2), false);
    const refusing = new Proxy({ a: 1 }, { set: () => { throw new Error('no'); }, get: () => { throw new Error('no'); } });
    assert.equal(trySetProperty(refusing, 'a', 2), false);
  });
});

describe('armZeroCopyDecode', () => {
  const specs: tf.io.WeightsManifestEntry[] = [{ name: 'w', shape: [2, 2], dtype: 'float32' }];
  const bytes = () => [new Float32Array([1, 2, 3, 4]).buffer as ArrayBuffer];
  // What tfjs's own decode takes in every supported version (a list of buffers only from 4.6 on).
  const single = () => bytes()[0]!;

  it('arms on a plain object: one decode of exactly our buffers goes to the stand-in, then the original is back', () => {
    const real = tf.io.decodeWeights;
    const holder: DecodeWeightsHolder = { decodeWeights: real };
    const buffers = bytes();
    assert.equal(armZeroCopyDecode(buffers, holder), true);
    assert.notEqual(holder.decodeWeights, real);
    // Any other data goes to the real function and leaves the stand-in armed.
    const other = holder.decodeWeights(single(), specs);
    assert.deepEqual(Array.from(other['w']!.dataSync()), [1, 2, 3, 4]);
    assert.notEqual(holder.decodeWeights, real);
    const decoded = holder.decodeWeights(buffers, specs);
    assert.deepEqual(Array.from(decoded['w']!.dataSync()), [1, 2, 3, 4]);
    assert.equal(holder.decodeWeights, real);
  });

  it('disarms itself after the turn if tfjs never decodes', async () => {
    const real = tf.io.decodeWeights;
    const holder: DecodeWeightsHolder = { decodeWeights: real };
    assert.equal(armZeroCopyDecode(bytes(), holder), true);
    await nextTurn();
    assert.equal(holder.decodeWeights, real);
  });

  it('steps aside on a frozen copy of tf.io', () => {
    const frozen = Object.freeze({ ...tf.io });
    assert.equal(armZeroCopyDecode(bytes(), frozen), false);
    assert.equal(frozen.decodeWeights, tf.io.decodeWeights);
  });

  it('steps aside on an ES module namespace with the exports of tf.io', async () => {
    const ns = await moduleNamespaceOf(tf.io, await tempDir());
    assert.equal(Object.prototype.toString.call(ns), '[object Module]');
    assert.equal(armZeroCopyDecode(bytes(), ns), false);
    assert.equal(ns.decodeWeights, tf.io.decodeWeights);
    // tfjs decodes the same buffers fine without us (a copy).
    assert.deepEqual(Array.from(ns.decodeWeights(single(), specs)['w']!.dataSync()), [1, 2, 3, 4]);
  });

  it('steps aside where there is no decodeWeights function', () => {
    assert.equal(armZeroCopyDecode(bytes(), {} as DecodeWeightsHolder), false);
    assert.equal(armZeroCopyDecode(bytes(), Object.freeze({}) as DecodeWeightsHolder), false);
  });
});

describe('registerFileRouter', () => {
  /** An io-like object whose router registrations are counted, not applied to the real tfjs. */
  function countingIo() {
    const calls = { save: 0, load: 0 };
    const io: RouterRegistry = {
      ...tf.io,
      registerSaveRouter: () => void calls.save++,
      registerLoadRouter: () => void calls.load++,
    };
    return { io, calls };
  }

  it('registers once per io object: plain, frozen and namespace alike, never writing to it', async () => {
    const plain = countingIo();
    const frozen = countingIo();
    Object.freeze(frozen.io);
    const namespaced = countingIo();
    const ns = await moduleNamespaceOf(namespaced.io, await tempDir());
    assert.equal(Object.prototype.toString.call(ns), '[object Module]');
    for (const [io, calls] of [[plain.io, plain.calls], [frozen.io, frozen.calls], [ns, namespaced.calls]] as const) {
      const keys = Reflect.ownKeys(io).length;
      assert.equal(registerFileRouter(io), true);
      assert.equal(registerFileRouter(io), false);
      assert.equal(registerFileRouter(io), false);
      assert.deepEqual(calls, { save: 1, load: 1 });
      assert.equal(Reflect.ownKeys(io).length, keys, 'nothing added to io');
    }
  });

  it('the real tf.io was registered at import, once, and is remembered in the shared set', () => {
    assert.equal(registerFileRouter(), false);
    assert.equal(registerFileRouter(tf.io), false);
    assert.equal(sharedWeakSet('tfjs-checkpoint.fileRouter.registered').has(tf.io), true);
    assert.equal(tf.io.getSaveHandlers('file:///tmp/x').length, 1);
    assert.equal(tf.io.getLoadHandlers('file:///tmp/x').length, 1);
  });

  it('steps aside where the router functions are missing', () => {
    assert.equal(registerFileRouter({} as RouterRegistry), false);
    assert.equal(registerFileRouter(Object.freeze({ ...tf.io, registerLoadRouter: undefined }) as unknown as RouterRegistry), false);
  });

  it('sharedWeakSet is one set per name across calls', () => {
    const a = sharedWeakSet('tfjs-checkpoint.test.shared');
    assert.equal(sharedWeakSet('tfjs-checkpoint.test.shared'), a);
    assert.notEqual(sharedWeakSet('tfjs-checkpoint.test.other'), a);
  });
});

describe('a whole process whose tf.io is frozen or an ES module namespace', () => {
  for (const mode of ['frozen', 'namespace'] as const) {
    it(`${mode}: imports, registers once, saves and loads every way (copying)`, async () => {
      const dir = await tempDir();
      const child = spawnSync(process.execPath, ['--import', 'tsx', CHILD, mode, dir], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(child.status, 0, child.stderr);
      const report = JSON.parse(child.stdout.trim().split('\n').at(-1)!);
      assert.deepEqual(report, {
        ioKind: mode === 'namespace' ? '[object Module]' : '[object Object]',
        ioFrozen: mode === 'frozen',
        ioIsPatched: true,
        registerAgain: false,
        saveHandlers: 1,
        loadHandlers: 1,
        loadModel: true,
        loadLayersModelFileUrl: true,
        saveViaUrlThenLoad: true,
        loadWeights: true,
        decodeWeightsUntouched: true,
      });
    });
  }
});
