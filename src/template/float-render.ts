/**
 * A double as text, the way CPython's `PyOS_double_to_string` lays out the digits from
 * float-digits.ts: where the decimal point goes, zero padding, exponent form, inf/nan.
 * Sign options, padding and grouping are applied later (number-layout.ts).
 */
import { fixedDigits, shortestDigits, significantDigits, type DecimalDigits } from './float-digits.js';

/** e: exponent, f: fixed, g: general, r: repr (shortest round-trip). */
export type FloatStyle = 'e' | 'f' | 'g' | 'r';

export interface FloatRenderOptions {
  /** E/F/G: 'E' in exponents, 'INF' and 'NAN'. */
  upper: boolean;
  /** `#`: keep a trailing decimal point, and trailing zeros for 'g'. */
  alternate: boolean;
  /** Make sure a non-exponent result has a '.0' (repr, and the empty presentation type). */
  addDotZero: boolean;
  /** `z`: no minus sign on a result whose digits are all zero. */
  noNegativeZero: boolean;
}

/** Python switches repr to exponent form for decimal exponents outside this range. */
const REPR_EXPONENT_THRESHOLD = 16;

function digitsFor(magnitude: number, style: FloatStyle, precision: number): DecimalDigits {
  if (magnitude === 0) return { digits: '0', pointPos: 1 };
  switch (style) {
    case 'f':
      return fixedDigits(magnitude, precision);
    case 'r':
      return shortestDigits(magnitude);
    default:
      return significantDigits(magnitude, precision);
  }
}

/**
 * `precision` means what it means in the format spec: digits after the point for 'e' and 'f',
 * significant digits for 'g' (0 is treated as 1); it is ignored for 'r'.
 */
export function renderFloat(x: number, style: FloatStyle, precision: number, options: FloatRenderOptions): string {
  // Python ignores the sign of a NaN.
  if (Number.isNaN(x)) return options.upper ? 'NAN' : 'nan';
  let negative = x < 0 || Object.is(x, -0);
  if (!Number.isFinite(x)) return (negative ? '-' : '') + (options.upper ? 'INF' : 'inf');

  // Like PyOS_double_to_string: 'e' counts significant digits, and 'g' never asks for zero of them.
  let digitCount = precision;
  if (style === 'e') digitCount = precision + 1;
  if (style === 'g' && precision === 0) digitCount = 1;

  const { digits, pointPos } = digitsFor(Math.abs(x), style, digitCount);
  if (options.noNegativeZero && /^0*$/.test(digits)) negative = false;

  // The output is a slice [start, end) of `digits` extended with zeros on both sides, with the decimal
  // point before index `point` (CPython's "vdigits").
  let point = pointPos;
  let end = digits.length;
  let useExponent = false;
  switch (style) {
    case 'e':
      useExponent = true;
      end = digitCount;
      break;
    case 'f':
      end = point + digitCount;
      break;
    case 'g':
      if (point <= -4 || point > (options.addDotZero ? digitCount - 1 : digitCount)) useExponent = true;
      if (options.alternate) end = digitCount;
      break;
    case 'r':
      if (point <= -4 || point > REPR_EXPONENT_THRESHOLD) useExponent = true;
      break;
  }
  let exponent = 0;
  if (useExponent) {
    exponent = point - 1;
    point = 1;
  }
  const start = point <= 0 ? point - 1 : 0;
  end = Math.max(end, !useExponent && options.addDotZero ? point + 1 : point);

  const padded = '0'.repeat(-start) + digits + '0'.repeat(Math.max(0, end - digits.length));
  const integerPart = padded.slice(0, point - start);
  const fractionPart = padded.slice(point - start, end - start);
  let text = integerPart;
  if (fractionPart !== '' || options.alternate) text += '.' + fractionPart;
  if (useExponent) {
    const magnitude = String(Math.abs(exponent)).padStart(2, '0');
    text += (options.upper ? 'E' : 'e') + (exponent < 0 ? '-' : '+') + magnitude;
  }
  return (negative ? '-' : '') + text;
}

/** Python's `repr(x)` / `str(x)` for a float. */
export function floatRepr(x: number): string {
  return renderFloat(x, 'r', 0, { upper: false, alternate: false, addDotZero: true, noNegativeZero: false });
}
