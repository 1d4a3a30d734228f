/**
 * formatFilepath against a table of Python 3's own answers (scripts/gen-format-table.py writes
 * format-table.json; Python is not needed to run this test), plus hand-written checks.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { TemplateError } from '../../src/errors.js';
import { resolveAlias } from '../../src/template/alias.js';
import { formatFilepath, type TemplateValue } from '../../src/template/format.js';

interface EncodedValue {
  number?: string;
  bigint?: string;
  str?: string;
  bool?: boolean;
}

interface TableCase {
  group: string;
  template: string;
  values: Record<string, EncodedValue>;
  expected?: string;
  error?: string;
  pyMessage?: string;
  syntax?: boolean;
}

const SPECIAL_NUMBERS: Record<string, number> = { inf: Infinity, '-inf': -Infinity, nan: NaN };

function decode(encoded: EncodedValue): TemplateValue {
  if (encoded.number !== undefined) return SPECIAL_NUMBERS[encoded.number] ?? Number(encoded.number);
  if (encoded.bigint !== undefined) return BigInt(encoded.bigint);
  if (encoded.str !== undefined) return encoded.str;
  if (encoded.bool !== undefined) return encoded.bool;
  throw new Error(`bad encoded value ${JSON.stringify(encoded)}`);
}

/** The TemplateError codes that stand for the Python exception of a case. */
function expectedCodes(testCase: TableCase): string[] {
  if (testCase.syntax) return ['TEMPLATE_SYNTAX'];
  switch (testCase.error) {
    case 'KeyError':
      return ['TEMPLATE_MISSING_KEY'];
    case 'IndexError':
      return ['TEMPLATE_SYNTAX'];
    case 'ValueError':
      return ['TEMPLATE_BAD_SPEC', 'TEMPLATE_TYPE_MISMATCH'];
    case 'OverflowError':
      return ['TEMPLATE_TYPE_MISMATCH'];
    default:
      throw new Error(`no mapping for Python ${testCase.error}`);
  }
}

/** The part of Python's message ours must contain (we name the field instead of the object type). */
function expectedMessagePart(testCase: TableCase): string | undefined {
  if (testCase.syntax || testCase.pyMessage === undefined) return undefined;
  if (testCase.error === 'KeyError') return `'${testCase.pyMessage}' is not available`;
  if (testCase.error === 'ValueError') return testCase.pyMessage.replace(/ for object of type '\w+'$/, '');
  return undefined;
}

/** Undefined when the case passes, else a description of the difference. */
function check(testCase: TableCase): string | undefined {
  const values = Object.fromEntries(Object.entries(testCase.values).map(([key, value]) => [key, decode(value)]));
  const label = `${JSON.stringify(testCase.template)} with ${JSON.stringify(testCase.values)}`;
  let output: string;
  try {
    output = formatFilepath(testCase.template, values);
  } catch (error) {
    if (!(error instanceof TemplateError)) return `${label}: threw ${String(error)}`;
    if (testCase.expected !== undefined && !testCase.syntax) return `${label}: expected ${JSON.stringify(testCase.expected)}, threw ${error.message}`;
    const codes = expectedCodes(testCase);
    if (!codes.includes(error.code)) return `${label}: expected ${codes.join('|')}, got ${error.code}: ${error.message}`;
    const part = expectedMessagePart(testCase);
    if (part !== undefined && !error.message.includes(part)) return `${label}: message ${JSON.stringify(error.message)} lacks ${JSON.stringify(part)}`;
    return undefined;
  }
  if (testCase.syntax || testCase.error !== undefined) {
    return `${label}: expected ${testCase.syntax ? 'TEMPLATE_SYNTAX' : testCase.error}, got ${JSON.stringify(output)}`;
  }
  return output === testCase.expected ? undefined : `${label}: expected ${JSON.stringify(testCase.expected)}, got ${JSON.stringify(output)}`;
}

const table = JSON.parse(readFileSync(new URL('./format-table.json', import.meta.url), 'utf8')) as TableCase[];
const groups = new Map<string, TableCase[]>();
for (const testCase of table) {
  const group = groups.get(testCase.group) ?? [];
  group.push(testCase);
  groups.set(testCase.group, group);
}

describe('formatFilepath matches Python str.format (generated table)', () => {
  it('has a table of reasonable size', () => {
    assert.ok(table.length > 1000, `only ${table.length} cases`);
  });
  for (const [group, cases] of groups) {
    it(`${group} (${cases.length} cases)`, () => {
      const failures = cases.map(check).filter((failure): failure is string => failure !== undefined);
      assert.deepEqual(failures.slice(0, 25), [], `${failures.length} of ${cases.length} cases differ from Python`);
    });
  }
});

function errorOf(run: () => unknown): TemplateError {
  try {
    run();
  } catch (error) {
    if (error instanceof TemplateError) return error;
    throw error;
  }
  assert.fail('expected a TemplateError');
}

describe('formatFilepath, hand-written', () => {
  it('formats Keras-style templates', () => {
    assert.equal(formatFilepath('weights.{epoch:02d}-{val_loss:.2f}.hdf5', { epoch: 3, val_loss: 0.12345 }), 'weights.03-0.12.hdf5');
    assert.equal(formatFilepath('e{epoch}b{batch}', { epoch: 1, batch: 20 }), 'e1b20');
    assert.equal(formatFilepath('{loss}', { loss: 1 }), '1.0'); // a number that is not epoch/batch is a float
    assert.equal(formatFilepath('{epoch}', { epoch: 1.5 }), '1.5');
  });

  it('falls back between accuracy and acc', () => {
    assert.equal(formatFilepath('{val_accuracy:.2f}', { val_acc: 0.5 }), '0.50');
    assert.equal(formatFilepath('{accuracy:.2f}', { acc: 0.25 }), '0.25');
    assert.equal(formatFilepath('{acc:.2f}', { accuracy: 0.75 }), '0.75');
    assert.equal(formatFilepath('{val_acc:.2f}', { val_accuracy: 1 }), '1.00');
    // The exact key wins over its twin.
    assert.equal(formatFilepath('{acc}', { acc: 0.5, accuracy: 0.25 }), '0.5');
  });

  it('resolveAlias swaps acc/accuracy only as whole words', () => {
    const has = (keys: string[]) => (key: string) => keys.includes(key);
    assert.equal(resolveAlias('val_accuracy', has(['val_acc'])), 'val_acc');
    assert.equal(resolveAlias('val_acc', has(['val_accuracy'])), 'val_accuracy');
    assert.equal(resolveAlias('dense_1_acc', has(['dense_1_accuracy'])), 'dense_1_accuracy');
    assert.equal(resolveAlias('loss', has(['loss'])), 'loss');
    assert.equal(resolveAlias('loss', has([])), undefined);
    assert.equal(resolveAlias('accumulated', has(['accuracyumulated'])), undefined);
    assert.equal(resolveAlias('val_acc', has(['val_loss'])), undefined);
  });

  it('names the missing key and lists the available ones', () => {
    const error = errorOf(() => formatFilepath('w.{epoch:02d}-{val_loss:.2f}', { loss: 0.5, epoch: 2 }));
    assert.equal(error.code, 'TEMPLATE_MISSING_KEY');
    assert.equal(
      error.message,
      `Failed to format this callback filepath: "w.{epoch:02d}-{val_loss:.2f}". Reason: 'val_loss' is not available; available keys: ['epoch', 'loss']`,
    );
  });

  it('does not find keys on Object.prototype', () => {
    assert.equal(errorOf(() => formatFilepath('{constructor}', {})).code, 'TEMPLATE_MISSING_KEY');
    assert.equal(errorOf(() => formatFilepath('{toString}', { a: 1 })).code, 'TEMPLATE_MISSING_KEY');
  });

  it('explains a float given an integer format', () => {
    const error = errorOf(() => formatFilepath('{loss:d}', { loss: 0.5 }));
    assert.equal(error.code, 'TEMPLATE_TYPE_MISMATCH');
    assert.match(error.message, /Unknown format code 'd' for object of type 'float'/);
    assert.match(error.message, /field 'loss'/);
    assert.match(error.message, /"\{loss:d\}"/);
  });

  it('reports bad specs with the field name', () => {
    const error = errorOf(() => formatFilepath('{loss:.2fx}', { loss: 0.5 }));
    assert.equal(error.code, 'TEMPLATE_BAD_SPEC');
    assert.match(error.message, /Invalid format specifier '\.2fx' for field 'loss'/);
    assert.equal(errorOf(() => formatFilepath('{epoch:.2d}', { epoch: 1 })).code, 'TEMPLATE_TYPE_MISMATCH');
  });

  it('points at the position of a syntax error', () => {
    const error = errorOf(() => formatFilepath('weights}{epoch}', { epoch: 1 }));
    assert.equal(error.code, 'TEMPLATE_SYNTAX');
    assert.match(error.message, /Single '\}' encountered in format string \(at index 7\)/);
    assert.match(error.message, /weights\}\{epoch\}\n {9}\^/);
    assert.match(errorOf(() => formatFilepath('{}', {})).message, /positional/);
    assert.match(errorOf(() => formatFilepath('{a.b}', { 'a.b': 1 })).message, /attribute and index access/);
    assert.match(errorOf(() => formatFilepath('{a:{b}}', { a: 1, b: 2 })).message, /Nested fields/);
    assert.match(errorOf(() => formatFilepath('{a!r}', { a: 1 })).message, /'!r' is not supported/);
  });

  it('reports a syntax error before formatting any field', () => {
    assert.equal(errorOf(() => formatFilepath('{missing}}', {})).code, 'TEMPLATE_SYNTAX');
  });

  it('supports !s', () => {
    assert.equal(formatFilepath('{loss!s:>6}', { loss: 0.5 }), '   0.5');
    assert.equal(formatFilepath('{flag!s}', { flag: true }), 'True');
  });

  it('treats epoch/batch as ints only when integral, and bigint as int everywhere', () => {
    assert.equal(formatFilepath('{epoch:x}{batch:b}', { epoch: 255, batch: 5 }), 'ff101');
    assert.equal(errorOf(() => formatFilepath('{epoch:d}', { epoch: 2.5 })).code, 'TEMPLATE_TYPE_MISMATCH');
    assert.equal(formatFilepath('{step:,}', { step: 12345678901234567890n }), '12,345,678,901,234,567,890');
  });

  it('rejects values of other types', () => {
    const values = { x: null } as unknown as Record<string, TemplateValue>;
    assert.equal(errorOf(() => formatFilepath('{x}', values)).code, 'TEMPLATE_TYPE_MISMATCH');
  });

  it('rounds exactly, for any double and precision', () => {
    assert.equal(formatFilepath('{x:.0f}|{y:.0f}|{z:.2f}', { x: 0.5, y: 2.5, z: 0.125 }), '0|2|0.12');
    assert.equal(formatFilepath('{x:.1f}', { x: 1e22 }), '10000000000000000000000.0');
    assert.equal(formatFilepath('{x:.3e}', { x: 5e-324 }), '4.941e-324');
    assert.equal(formatFilepath('{x:.30f}', { x: 0.1 }), '0.100000000000000005551115123126');
  });
});
