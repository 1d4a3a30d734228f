/**
 * Python's format-spec mini-language, parsed the way CPython's `parse_internal_render_format_spec`
 * does it. Only the checks that do not depend on the value's type happen here (TEMPLATE_BAD_SPEC);
 * the formatter for each type does the rest.
 *
 *   [[fill]align][sign]["z"]["#"]["0"][width][grouping]["." precision][type]
 */
import { TemplateError } from '../errors.js';
import { decimalDigitValue } from './unicode-digits.js';

export type Align = '<' | '>' | '=' | '^';
export type Sign = '+' | '-' | ' ';
export type Grouping = ',' | '_';
export type PresentationType = 'b' | 'c' | 'd' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 'n' | 'o' | 's' | 'x' | 'X' | '%';

export interface FormatSpec {
  /** The fill character as written (one code point), or undefined. */
  fill: string | undefined;
  /** The alignment as written; the default depends on the value's type (numbers `>`, strings `<`). */
  align: Align | undefined;
  sign: Sign | undefined;
  /** `z`: turn negative zero (after rounding) into positive zero. Floats only. */
  z: boolean;
  /** `#`: alternate form (0x prefixes, keep the decimal point / trailing zeros). */
  alternate: boolean;
  /** `0` before the width (only recognised when no fill character was written, as in Python). */
  zeroPad: boolean;
  width: number | undefined;
  grouping: Grouping | undefined;
  precision: number | undefined;
  /** undefined means no type was written; each value type has its own default. */
  type: PresentationType | undefined;
}

const ALIGNS = new Set<string>(['<', '>', '=', '^']);
const SIGNS = new Set<string>(['+', '-', ' ']);
const TYPES = new Set<string>(['b', 'c', 'd', 'e', 'E', 'f', 'F', 'g', 'G', 'n', 'o', 's', 'x', 'X', '%']);
/** Types that accept `,` (PEP 378); `_` is also accepted by b/o/x/X (PEP 515). */
const GROUPABLE_TYPES = new Set<string>(['d', 'e', 'f', 'g', 'E', 'G', '%', 'F']);
const UNDERSCORE_ONLY_TYPES = new Set<string>(['b', 'o', 'x', 'X']);
/** Python refuses widths and precisions that overflow Py_ssize_t. */
const MAX_SIZE = 2n ** 63n - 1n;

function badSpec(message: string): TemplateError {
  return new TemplateError('TEMPLATE_BAD_SPEC', message);
}

/** How Python quotes a presentation type in messages: printable ASCII as is, the rest as \xNN. */
export function describeTypeChar(type: string): string {
  const code = type.codePointAt(0)!;
  return code > 32 && code < 128 ? type : `\\x${code.toString(16)}`;
}

export function groupingTypeError(grouping: Grouping, type: string): string {
  return `Cannot specify '${grouping}' with '${describeTypeChar(type)}'.`;
}

/** Reads a run of decimal digits starting at `start`; returns its value (or undefined) and the end index. */
function readInteger(chars: string[], start: number): { value: number | undefined; end: number } {
  let pos = start;
  let value = 0n;
  for (; pos < chars.length; pos++) {
    const digit = decimalDigitValue(chars[pos]!);
    if (digit === undefined) break;
    value = value * 10n + BigInt(digit);
    if (value > MAX_SIZE) throw badSpec('Too many decimal digits in format string');
  }
  return { value: pos === start ? undefined : Number(value), end: pos };
}

/** Parses the text after `:` in `{fieldName:spec}`. Throws TEMPLATE_BAD_SPEC like Python's ValueError. */
export function parseFormatSpec(spec: string, fieldName: string): FormatSpec {
  const chars = Array.from(spec);
  const result: FormatSpec = {
    fill: undefined,
    align: undefined,
    sign: undefined,
    z: false,
    alternate: false,
    zeroPad: false,
    width: undefined,
    grouping: undefined,
    precision: undefined,
    type: undefined,
  };
  let pos = 0;
  const at = (index: number): string | undefined => chars[index];

  if (chars.length >= 2 && ALIGNS.has(at(1)!)) {
    result.fill = at(0);
    result.align = at(1) as Align;
    pos = 2;
  } else if (chars.length >= 1 && ALIGNS.has(at(0)!)) {
    result.align = at(0) as Align;
    pos = 1;
  }
  if (pos < chars.length && SIGNS.has(at(pos)!)) result.sign = at(pos++) as Sign;
  if (at(pos) === 'z') {
    result.z = true;
    pos++;
  }
  if (at(pos) === '#') {
    result.alternate = true;
    pos++;
  }
  // With an explicit fill, a leading 0 is simply part of the width.
  if (result.fill === undefined && at(pos) === '0') {
    result.zeroPad = true;
    pos++;
  }
  const width = readInteger(chars, pos);
  result.width = width.value;
  pos = width.end;

  if (at(pos) === ',') {
    result.grouping = ',';
    pos++;
  }
  if (at(pos) === '_') {
    if (result.grouping !== undefined) throw badSpec("Cannot specify both ',' and '_'.");
    result.grouping = '_';
    pos++;
  }
  if (at(pos) === ',' && result.grouping === '_') throw badSpec("Cannot specify both ',' and '_'.");

  if (at(pos) === '.') {
    const precision = readInteger(chars, pos + 1);
    if (precision.value === undefined) throw badSpec(`Format specifier missing precision (field '${fieldName}', spec '${spec}')`);
    result.precision = precision.value;
    pos = precision.end;
  }

  if (chars.length - pos > 1) {
    throw badSpec(
      `Invalid format specifier '${spec}' for field '${fieldName}'. ` +
        'The spec is [[fill]align][sign][z][#][0][width][,|_][.precision][type].',
    );
  }
  const type = at(pos);
  if (type !== undefined && result.grouping !== undefined) {
    const allowed = GROUPABLE_TYPES.has(type) || (result.grouping === '_' && UNDERSCORE_ONLY_TYPES.has(type));
    if (!allowed) throw badSpec(`${groupingTypeError(result.grouping, type)} (field '${fieldName}')`);
  }
  if (type !== undefined && !TYPES.has(type)) {
    throw badSpec(`Unknown format code '${describeTypeChar(type)}' in format spec '${spec}' for field '${fieldName}'.`);
  }
  result.type = type as PresentationType | undefined;
  return result;
}
