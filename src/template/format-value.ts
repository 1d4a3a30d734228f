/**
 * `format(value, spec)` for one Python value: picks the int, float or str formatter and applies
 * the checks CPython makes for that type, in the same order, with the same wording.
 */
import { TemplateError } from '../errors.js';
import { renderFloat, type FloatStyle } from './float-render.js';
import { layoutNumber, type DigitGrouping, type NumberLayout, type NumberPieces } from './number-layout.js';
import { pyStr, type PyValue } from './python-value.js';
import { describeTypeChar, groupingTypeError, parseFormatSpec, type FormatSpec, type PresentationType } from './spec.js';

const INTEGER_TYPES = new Set<PresentationType>(['b', 'c', 'd', 'o', 'x', 'X', 'n']);
/** Types an int is converted to float for (PyNumber_Float). */
const FLOAT_ONLY_TYPES = new Set<PresentationType>(['e', 'E', 'f', 'F', 'g', 'G', '%']);
const INTEGER_BASES: Partial<Record<PresentationType, number>> = { b: 2, o: 8, x: 16, X: 16 };
const MAX_C_INT = 2 ** 31 - 1;
const MAX_C_LONG = 2n ** 63n - 1n;
const MAX_CODE_POINT = 0x10ffff;

function mismatch(reason: string, fieldName: string, hint = ''): TemplateError {
  return new TemplateError('TEMPLATE_TYPE_MISMATCH', `${reason} (field '${fieldName}')${hint}`);
}

function unknownCode(type: string, typeName: string, fieldName: string): TemplateError {
  const intCodeOnFloat = typeName === 'float' && INTEGER_TYPES.has(type as PresentationType);
  const hint = intCodeOnFloat ? `; the value is a float, so use a float format such as {${fieldName}:.0f}` : '';
  return mismatch(`Unknown format code '${describeTypeChar(type)}' for object of type '${typeName}'`, fieldName, hint);
}

/** Fill and alignment for numbers: right-aligned, and the `0` flag means zero padding after the sign. */
function numberLayout(spec: FormatSpec, grouping: DigitGrouping | undefined): NumberLayout {
  return {
    fill: spec.fill ?? (spec.zeroPad ? '0' : ' '),
    align: spec.align ?? (spec.zeroPad ? '=' : '>'),
    width: spec.width,
    sign: spec.sign,
    grouping,
  };
}

function formatInteger(value: bigint, typeName: 'int' | 'bool', spec: FormatSpec, fieldName: string): string {
  const type = spec.type ?? 'd';
  if (FLOAT_ONLY_TYPES.has(type)) {
    const asFloat = Number(value); // rounds half to even, as PyNumber_Float does
    if (!Number.isFinite(asFloat)) throw mismatch('int too large to convert to float', fieldName);
    return formatFloat(asFloat, spec, fieldName);
  }
  if (!INTEGER_TYPES.has(type)) throw unknownCode(type, typeName, fieldName);
  if (spec.precision !== undefined) throw mismatch('Precision not allowed in integer format specifier', fieldName);
  if (spec.z) throw mismatch('Negative zero coercion (z) not allowed in integer format specifier', fieldName);

  if (type === 'c') {
    if (spec.sign !== undefined) throw mismatch("Sign not allowed with integer format specifier 'c'", fieldName);
    if (spec.alternate) throw mismatch("Alternate form (#) not allowed with integer format specifier 'c'", fieldName);
    if (value > MAX_C_LONG || value < -MAX_C_LONG - 1n) throw mismatch('Python int too large to convert to C long', fieldName);
    if (value < 0n || value > MAX_CODE_POINT) throw mismatch('%c arg not in range(0x110000)', fieldName);
    const char = String.fromCodePoint(Number(value));
    const pieces = { negative: false, prefix: '', digits: '', hasDecimalPoint: false, remainder: char };
    return layoutNumber(pieces, numberLayout(spec, undefined));
  }

  const base = INTEGER_BASES[type] ?? 10;
  const magnitude = value < 0n ? -value : value;
  let digits = magnitude.toString(base);
  let prefix = spec.alternate && base !== 10 ? `0${type}` : '';
  if (type === 'X') {
    digits = digits.toUpperCase();
    prefix = prefix.toUpperCase();
  }
  // 'n' groups by the locale, and Python runs with the C locale for numbers: no grouping.
  let grouping: DigitGrouping | undefined;
  if (type !== 'n' && spec.grouping !== undefined) {
    grouping = { separator: spec.grouping, size: spec.grouping === '_' && base !== 10 ? 4 : 3 };
  }
  const pieces: NumberPieces = { negative: value < 0n, prefix, digits, hasDecimalPoint: false, remainder: '' };
  return layoutNumber(pieces, numberLayout(spec, grouping));
}

function splitNumberText(text: string): NumberPieces {
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  const digits = /^\d*/.exec(body)![0];
  const hasDecimalPoint = body[digits.length] === '.';
  const remainder = body.slice(digits.length + (hasDecimalPoint ? 1 : 0));
  return { negative, prefix: '', digits, hasDecimalPoint, remainder };
}

function formatFloat(x: number, spec: FormatSpec, fieldName: string): string {
  const type = spec.type;
  if (type !== undefined && !FLOAT_ONLY_TYPES.has(type) && type !== 'n') throw unknownCode(type, 'float', fieldName);
  if (spec.precision !== undefined && spec.precision > MAX_C_INT) {
    throw new TemplateError('TEMPLATE_BAD_SPEC', `precision too big (field '${fieldName}')`);
  }
  let style: FloatStyle;
  let precision = spec.precision ?? 6;
  let value = x;
  let suffix = '';
  switch (type) {
    case undefined:
      // No type: repr, or with a precision like 'g' but always with a digit after the point.
      style = spec.precision === undefined ? 'r' : 'g';
      precision = spec.precision ?? 0;
      break;
    case 'e':
    case 'E':
      style = 'e';
      break;
    case 'f':
    case 'F':
      style = 'f';
      break;
    case '%':
      style = 'f';
      value = x * 100; // a rounded double multiply, as in CPython
      suffix = '%';
      break;
    default: // g, G, n
      style = 'g';
  }
  const text =
    renderFloat(value, style, precision, {
      upper: type === 'E' || type === 'F' || type === 'G',
      alternate: spec.alternate,
      addDotZero: type === undefined,
      noNegativeZero: spec.z,
    }) + suffix;
  const grouping = type !== 'n' && spec.grouping !== undefined ? { separator: spec.grouping, size: 3 } : undefined;
  return layoutNumber(splitNumberText(text), numberLayout(spec, grouping));
}

function formatString(text: string, spec: FormatSpec, fieldName: string): string {
  if (spec.type === undefined && spec.grouping !== undefined) throw mismatch(groupingTypeError(spec.grouping, 's'), fieldName);
  if (spec.type !== undefined && spec.type !== 's') throw unknownCode(spec.type, 'str', fieldName);
  if (spec.sign === ' ') throw mismatch('Space not allowed in string format specifier', fieldName);
  if (spec.sign !== undefined) throw mismatch('Sign not allowed in string format specifier', fieldName);
  if (spec.z) throw mismatch('Negative zero coercion (z) not allowed in string format specifier', fieldName);
  if (spec.alternate) throw mismatch('Alternate form (#) not allowed in string format specifier', fieldName);
  if (spec.align === '=') throw mismatch("'=' alignment not allowed in string format specifier", fieldName);

  // Python counts code points, not UTF-16 units.
  let chars = Array.from(text);
  if (spec.precision !== undefined && chars.length > spec.precision) chars = chars.slice(0, spec.precision);
  const padding = Math.max(0, (spec.width ?? 0) - chars.length);
  // Since Python 3.10 the '0' flag does not change a string's default (left) alignment.
  const align = spec.align ?? '<';
  const fill = spec.fill ?? (spec.zeroPad ? '0' : ' ');
  const left = align === '>' ? padding : align === '^' ? Math.floor(padding / 2) : 0;
  return fill.repeat(left) + chars.join('') + fill.repeat(padding - left);
}

/** Python's `format(value, specText)`; errors name `fieldName`. */
export function formatPyValue(value: PyValue, specText: string, fieldName: string): string {
  if (specText === '') return pyStr(value);
  const spec = parseFormatSpec(specText, fieldName);
  switch (value.type) {
    case 'int':
      return formatInteger(value.value, 'int', spec, fieldName);
    case 'bool':
      // bool is an int subclass: only the empty spec gives 'True'/'False'.
      return formatInteger(value.value ? 1n : 0n, 'bool', spec, fieldName);
    case 'float':
      return formatFloat(value.value, spec, fieldName);
    case 'str':
      return formatString(value.value, spec, fieldName);
  }
}
