/**
 * compileTemplatePattern must accept everything formatFilepath can produce (checked on Python's own
 * outputs from format-table.json and on seeded random cases) and reject names whose literal text differs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { TemplateError } from '../../src/errors.js';
import { formatFilepath, type TemplateValue } from '../../src/template/format.js';
import { compileTemplatePattern, templateHasFields } from '../../src/template/match.js';
import { parseTemplate } from '../../src/template/parse.js';
import { seededRandom } from '../helpers.js';

const random = seededRandom(0x5eed);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (p: number): boolean => random() < p;

function randomSpec(): string {
  let spec = '';
  if (chance(0.3)) spec += pick(['', '*', '0', 'x', ' ', '.', '/', '😀']) + pick(['<', '>', '=', '^']);
  if (chance(0.3)) spec += pick(['+', '-', ' ']);
  if (chance(0.1)) spec += 'z';
  if (chance(0.15)) spec += '#';
  if (chance(0.2)) spec += '0';
  if (chance(0.4)) spec += String(1 + Math.floor(random() * 25));
  if (chance(0.2)) spec += pick([',', '_']);
  if (chance(0.5)) spec += '.' + String(Math.floor(random() * 18));
  return spec + pick(['', '', 'e', 'E', 'f', 'F', 'g', 'G', 'n', '%', 'd', 'x', 'X', 'b', 'o', 's', 'c']);
}

function randomValue(): TemplateValue {
  const kind = random();
  if (kind < 0.15) return pick([0, -0, Infinity, -Infinity, NaN, 5e-324, 1e16, 1e21, 0.5, 2.5]);
  if (kind < 0.45) return (random() - 0.5) * 10 ** Math.floor(random() * 30 - 12);
  if (kind < 0.6) return Math.floor((random() - 0.5) * 1e6);
  if (kind < 0.75) return BigInt(Math.floor((random() - 0.3) * 2 ** 53)) * BigInt(pick([1, 1000, 10 ** 9]));
  if (kind < 0.85) return chance(0.5);
  return pick(['', 'abc', 'a b', 'ünï', '😀x', 'x.y', '1e5', '-', '*']);
}

function formatsOrUndefined(template: string, values: Record<string, TemplateValue>): string | undefined {
  try {
    return formatFilepath(template, values);
  } catch (error) {
    if (error instanceof TemplateError) return undefined;
    throw error;
  }
}

describe('compileTemplatePattern', () => {
  it('matches formatted Keras-style names', () => {
    const pattern = compileTemplatePattern('weights.{epoch:02d}-{val_loss:.2f}');
    assert.ok(pattern.test('weights.03-0.12'));
    assert.ok(pattern.test('weights.123-12.00'));
    assert.ok(pattern.test('weights.-1-inf'));
    assert.ok(!pattern.test('weights.03-0.123'));
    assert.ok(!pattern.test('weights.ab-0.12'));
  });

  it('respects widths', () => {
    const pattern = compileTemplatePattern('w.{epoch:02d}-{val_loss:.2f}');
    assert.ok(pattern.test('w.01-0.25'));
    assert.ok(pattern.test('w.-1-0.25'));
    assert.ok(!pattern.test('w.1-0.25'));
    assert.ok(!pattern.test('w.01-0.250'));
    const spaced = compileTemplatePattern('{epoch:>3d}|');
    assert.ok(spaced.test('  1|'));
    assert.ok(spaced.test('1234|'));
    assert.ok(!spaced.test('1|'));
    assert.ok(!spaced.test(' 1|'));
    const zeroPadded = compileTemplatePattern('{acc:07.4f}');
    assert.ok(zeroPadded.test('00.9375'));
    assert.ok(!zeroPadded.test('0.9375'));
    assert.ok(compileTemplatePattern('{x:010}').test('0000000inf'));
  });

  it('is anchored at both ends', () => {
    const pattern = compileTemplatePattern('weights.{epoch:02d}');
    assert.ok(pattern.test('weights.01'));
    assert.ok(!pattern.test('weights.01.tmp-123'));
    assert.ok(!pattern.test('old-weights.01'));
  });

  it('matches literal text literally', () => {
    const pattern = compileTemplatePattern('f.batch{batch:02d}epoch{epoch:02d}.h5');
    assert.ok(pattern.test('f.batch09epoch09.h5'));
    assert.ok(!pattern.test('fXbatch09epoch09.h5'));
    assert.ok(!pattern.test('f.batch09epoch09Xh5'));
    const metacharacters = compileTemplatePattern('a+b(c)[d]^$|?*\\{{{epoch}}}');
    assert.ok(metacharacters.test('a+b(c)[d]^$|?*\\{7}'));
    assert.ok(!metacharacters.test('aab(c)[d]^$|?*\\{7}'));
  });

  it('keeps fields inside one path segment', () => {
    const pattern = compileTemplatePattern('ckpt-{name}');
    assert.ok(pattern.test('ckpt-anything at all'));
    assert.ok(!pattern.test('ckpt-a/b'));
  });

  it('lets a field match only what its spec can produce', () => {
    assert.ok(!compileTemplatePattern('{x:d}').test('1.5'));
    assert.ok(!compileTemplatePattern('{x:x}').test('ff.0'));
    assert.ok(compileTemplatePattern('{x:#X}').test('-0XFF'));
    assert.ok(!compileTemplatePattern('{x:.3f}').test('1.5'));
    assert.ok(compileTemplatePattern('{x:,}').test('1,234,567.5'));
    assert.ok(compileTemplatePattern('{x:e}').test('1.000000e+300'));
    assert.ok(!compileTemplatePattern('{x:e}').test('1.000000'));
    // A spec no type accepts: nothing can match.
    assert.ok(!compileTemplatePattern('a{x:+c}').test('aA'));
  });

  it('throws the formatter’s errors for invalid templates and specs', () => {
    assert.throws(() => compileTemplatePattern('{epoch'), { code: 'TEMPLATE_SYNTAX' });
    assert.throws(() => compileTemplatePattern('{epoch:.2fx}'), { code: 'TEMPLATE_BAD_SPEC' });
  });

  it('accepts every output of the Python table', () => {
    const table = JSON.parse(readFileSync(new URL('./format-table.json', import.meta.url), 'utf8')) as {
      template: string;
      expected?: string;
      syntax?: boolean;
    }[];
    let checked = 0;
    const failures: string[] = [];
    for (const { template, expected, syntax } of table) {
      if (expected === undefined || syntax) continue;
      const literalSlashes = parseTemplate(template)
        .map((part) => (part.kind === 'literal' ? part.text : ''))
        .join('')
        .split('/').length;
      if (expected.split('/').length !== literalSlashes) continue; // a value produced a '/'
      checked++;
      if (!compileTemplatePattern(template).test(expected)) failures.push(`${template} -> ${JSON.stringify(expected)}`);
    }
    assert.ok(checked > 5000, `only ${checked} outputs checked`);
    assert.deepEqual(failures.slice(0, 20), []);
  });

  it('accepts every output for random specs and values (seeded)', () => {
    let checked = 0;
    const failures: string[] = [];
    for (let i = 0; i < 6000; i++) {
      const template = `${pick(['', 'w.', 'ckpt-', '(a)+'])}{x:${randomSpec()}}${pick(['', '-', '.h5', '|'])}{y:${randomSpec()}}`;
      const values = { x: randomValue(), y: randomValue() };
      const output = formatsOrUndefined(template, values);
      if (output === undefined) continue;
      checked++;
      let pattern: RegExp;
      try {
        pattern = compileTemplatePattern(template);
      } catch (error) {
        failures.push(`${template}: ${String(error)}`);
        continue;
      }
      if (!pattern.test(output)) failures.push(`${template} with ${String(values.x)}, ${String(values.y)} -> ${JSON.stringify(output)}`);
    }
    assert.ok(checked > 1000, `only ${checked} random cases formatted`);
    assert.deepEqual(failures.slice(0, 20), []);
  });
});

describe('templateHasFields', () => {
  it('tells templates with fields from fixed paths', () => {
    assert.equal(templateHasFields('weights.{epoch:02d}'), true);
    assert.equal(templateHasFields('{x}'), true);
    assert.equal(templateHasFields('weights.h5'), false);
    assert.equal(templateHasFields('a{{b}}'), false);
    assert.equal(templateHasFields(''), false);
  });
});
