/**
 * Recognising names a template could have produced (for "latest checkpoint" lookups): an anchored
 * RegExp in which literal text matches only itself and each field matches what its format spec can
 * produce, for every value type that accepts the spec. It may accept a few names formatting could not
 * produce (pad counts are not exact), but it never rejects a real output.
 *
 * Text that comes from a value never includes '/': such a value would have created directories, not
 * named a file, so fields match within one path segment.
 */
import { formatPyValue } from './format-value.js';
import { parseTemplate, type FieldPart } from './parse.js';
import type { PyValue } from './python-value.js';
import { parseFormatSpec, type FormatSpec } from './spec.js';

/** What one value type's output looks like: <sign><prefix><content>, before padding. */
interface Shape {
  /** The possible sign texts, as regex source of length 0 or 1 each. */
  signs: string[];
  /** Literal text after the sign (`0x`), unescaped. */
  prefix: string;
  content: string;
  /** A character class covering every character `content` can match. */
  alphabet: string;
  /** Left for strings, right for numbers. */
  defaultAlign: '<' | '>';
}

const ANY_CHAR = '[^/]';
const NEVER = '(?!)';
const FLOAT_TYPES = new Set(['e', 'E', 'f', 'F', 'g', 'G', '%']);
const INTEGER_DIGITS: Record<string, string> = { b: '01', o: '0-7', x: '0-9a-f', X: '0-9A-F' };

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** Whether formatting a typical value of this type with `specText` succeeds (so the type is possible). */
function accepts(sample: PyValue, specText: string): boolean {
  try {
    formatPyValue(sample, specText, 'sample');
    return true;
  } catch {
    return false;
  }
}

/** Regex sources for the sign: '' or '-' by default; '+'/'-' or ' '/'-' when the spec forces a sign. */
function signs(spec: FormatSpec): string[] {
  if (spec.sign === '+') return ['\\+', '-'];
  if (spec.sign === ' ') return [' ', '-'];
  return ['', '-'];
}

/** Digits, grouped from the right when asked (zero padding with '0=' stays inside the groups). */
function digitRun(digitClass: string, separator: string | undefined, size: number): string {
  const digit = `[${digitClass}]`;
  return separator === undefined ? `${digit}+` : `${digit}{1,${size}}(?:${separator}${digit}{${size}})*`;
}

function integerShape(spec: FormatSpec): Shape {
  const type = spec.type ?? 'd';
  if (type === 'c') return { signs: [''], prefix: '', content: ANY_CHAR, alphabet: ANY_CHAR, defaultAlign: '>' };
  const digitClass = INTEGER_DIGITS[type] ?? '0-9';
  const prefix = spec.alternate && type in INTEGER_DIGITS ? `0${type}` : '';
  const separator = type === 'n' ? undefined : spec.grouping;
  const groupSize = separator === '_' && type in INTEGER_DIGITS ? 4 : 3;
  return {
    signs: signs(spec),
    prefix: type === 'X' ? prefix.toUpperCase() : prefix,
    content: digitRun(digitClass, separator, groupSize),
    alphabet: `[${digitClass}${separator ?? ''}]`,
    defaultAlign: '>',
  };
}

function floatShape(spec: FormatSpec): Shape {
  const type = spec.type;
  const upper = type === 'E' || type === 'F' || type === 'G';
  const separator = type === 'n' ? undefined : spec.grouping;
  const integerPart = digitRun('0-9', separator, 3);
  const precision = spec.precision ?? 6;
  const fixedFraction = precision > 0 ? `\\.[0-9]{${precision}}` : spec.alternate ? '\\.' : '';
  const e = upper ? 'E' : 'e';
  const exponent = `${e}[+\\-][0-9]{2,}`;
  let finite: string;
  let exponentChars = `${e}+\\-`;
  switch (type) {
    case 'f':
    case 'F':
    case '%':
      finite = integerPart + fixedFraction;
      exponentChars = '';
      break;
    case 'e':
    case 'E':
      finite = integerPart + fixedFraction + exponent;
      break;
    default: // g, G, n, and no type
      finite = `${integerPart}(?:\\.[0-9]*)?(?:${exponent})?`;
  }
  const percent = type === '%' ? '%' : '';
  return {
    signs: signs(spec),
    prefix: '',
    content: `(?:${finite}|${upper ? 'INF|NAN' : 'inf|nan'})${percent}`,
    alphabet: `[0-9${separator ?? ''}.${exponentChars}${upper ? 'INFA' : 'infa'}${percent}]`,
    defaultAlign: '>',
  };
}

function stringShape(spec: FormatSpec): Shape {
  const content = spec.precision === undefined ? `${ANY_CHAR}*` : `${ANY_CHAR}{0,${spec.precision}}`;
  return { signs: [''], prefix: '', content, alphabet: ANY_CHAR, defaultAlign: '<' };
}

/**
 * The shape with the spec's width applied. Without padding the text is at least `width` long; with
 * padding it is exactly `width` long. Lookaheads over the shape's alphabet stand in for those lengths.
 */
function widthAware(shape: Shape, spec: FormatSpec): string {
  const prefix = escapeRegExp(shape.prefix);
  const anySign = shape.signs.length === 1 ? shape.signs[0]! : `(?:${shape.signs.join('|')})`;
  const width = spec.width;
  if (width === undefined) return anySign + prefix + shape.content;

  const atLeast = (count: number, charClass: string): string => (count > 0 ? `(?=${charClass}{${count}})` : '');
  const signLength = (sign: string): number => (sign === '' ? 0 : 1);
  const unpadded = shape.signs.map((sign) => {
    const rest = width - signLength(sign) - shape.prefix.length;
    return sign + prefix + atLeast(rest, shape.alphabet) + shape.content;
  });

  const fill = `(?:${escapeRegExp(spec.fill ?? (spec.zeroPad ? '0' : ' '))})`;
  const fillOrContent = `(?:${fill}|${shape.alphabet})`;
  const prefixChars = shape.prefix === '' ? '' : `|[${shape.prefix}]`;
  const anything = `(?:${fill}|${shape.alphabet}|[+\\- ]${prefixChars})`;
  const align = spec.align ?? (spec.zeroPad && shape.defaultAlign === '>' ? '=' : shape.defaultAlign);
  let padded: string[];
  switch (align) {
    case '<':
      padded = shape.signs.map(
        (sign) => sign + prefix + atLeast(width - signLength(sign) - shape.prefix.length, fillOrContent) + shape.content + `${fill}+`,
      );
      break;
    case '=':
      padded = shape.signs.map(
        (sign) => sign + prefix + atLeast(width - signLength(sign) - shape.prefix.length, fillOrContent) + `${fill}+` + shape.content,
      );
      break;
    case '>':
      padded = [atLeast(width, anything) + `${fill}+` + anySign + prefix + shape.content];
      break;
    case '^': {
      const body = anySign + prefix + shape.content;
      padded = [atLeast(width, anything) + `(?:${fill}+${body}${fill}*|${body}${fill}+)`];
      break;
    }
  }
  return [...unpadded, ...padded].join('|');
}

/** The Python types a field's value may have; templates of checkpoints know theirs (see checkpointValueTypes). */
export type ValueType = 'int' | 'float' | 'str' | 'bool';
export type ValueTypes = (fieldName: string) => ReadonlySet<ValueType>;

const ALL_TYPES: ReadonlySet<ValueType> = new Set(['int', 'float', 'str', 'bool']);
const INT_ONLY: ReadonlySet<ValueType> = new Set(['int']);
const FLOAT_ONLY: ReadonlySet<ValueType> = new Set(['float']);

/**
 * What a checkpoint's template is formatted with: `epoch`, `batch` and `step` are integers, every
 * other field a logged metric (a float). So `w{epoch}` matches `w12`, never `w-best`.
 */
export const checkpointValueTypes: ValueTypes = (name) => (name === 'epoch' || name === 'batch' || name === 'step' ? INT_ONLY : FLOAT_ONLY);

/** Python's `str()` of each type, for fields without a spec. */
const REPR: Record<ValueType, string> = {
  int: '-?[0-9]+',
  float: '-?(?:[0-9]+\\.[0-9]+(?:e[+\\-][0-9]+)?|[0-9]+e[+\\-][0-9]+|inf|nan)',
  bool: '(?:True|False)',
  str: `${ANY_CHAR}*`,
};
const REPR_ALPHABET: Record<ValueType, string> = { int: '[\\-0-9]', float: '[\\-+0-9.einfa]', bool: '[TrueFals]', str: ANY_CHAR };

function fieldPattern(field: FieldPart, types: ReadonlySet<ValueType>): string {
  const kinds = [...types];
  if (field.spec === '') return `(?:${kinds.map((t) => REPR[t]).join('|')})`;
  // Throws TEMPLATE_BAD_SPEC for specs no value could satisfy, as formatting would.
  const spec = parseFormatSpec(field.spec, field.name);
  const shapes: Shape[] = [];
  if (field.conversion === 's') {
    if (accepts({ type: 'str', value: 'a' }, field.spec)) {
      const alphabet = types.has('str') ? ANY_CHAR : `(?:${kinds.map((t) => REPR_ALPHABET[t]).join('|')})`;
      const content = spec.precision === undefined ? `(?:${kinds.map((t) => REPR[t]).join('|')})` : `${alphabet}{0,${spec.precision}}`;
      shapes.push({ ...stringShape(spec), content, alphabet });
    }
  } else {
    // An int (or bool) given a float type is formatted as a float: the float shape covers it.
    const intStaysInt = spec.type === undefined || !FLOAT_TYPES.has(spec.type);
    const integral = types.has('int') || types.has('bool');
    if (integral && intStaysInt && accepts({ type: 'int', value: 65n }, field.spec)) shapes.push(integerShape(spec));
    if ((types.has('float') || (integral && !intStaysInt)) && accepts({ type: 'float', value: 1.5 }, field.spec)) shapes.push(floatShape(spec));
    if (types.has('str') && accepts({ type: 'str', value: 'a' }, field.spec)) shapes.push(stringShape(spec));
  }
  return shapes.length === 0 ? NEVER : `(?:${shapes.map((shape) => widthAware(shape, spec)).join('|')})`;
}

/**
 * An anchored RegExp matching every string `formatFilepath(template, values)` can return (for values
 * without '/' and of the types `valueTypes` allows; any type by default), and no string whose literal
 * text differs. Throws TemplateError for invalid templates.
 */
export function compileTemplatePattern(template: string, valueTypes: ValueTypes = () => ALL_TYPES): RegExp {
  const source = parseTemplate(template)
    .map((part) => (part.kind === 'literal' ? escapeRegExp(part.text) : fieldPattern(part, valueTypes(part.name))))
    .join('');
  return new RegExp(`^${source}$`, 'u');
}

/** Whether the template has any replacement field (else it names one fixed path). */
export function templateHasFields(template: string): boolean {
  return parseTemplate(template).some((part) => part.kind === 'field');
}

/**
 * Splits a path template into its `/`-separated segments, each still a template. Only literal
 * slashes split: a `/` inside a field's spec (a fill character) stays in its field.
 */
export function splitTemplateSegments(template: string): string[] {
  const segments: string[] = [''];
  for (const part of parseTemplate(template)) {
    if (part.kind === 'field') {
      segments[segments.length - 1] += `{${part.name}${part.conversion ? `!${part.conversion}` : ''}${part.spec ? `:${part.spec}` : ''}}`;
      continue;
    }
    const pieces = part.text.replace(/\{/g, '{{').replace(/\}/g, '}}').split('/');
    segments[segments.length - 1] += pieces[0];
    segments.push(...pieces.slice(1));
  }
  return segments;
}
