/**
 * Exact decimal digits of a double, the three ways CPython's `_Py_dg_dtoa` produces them: shortest
 * round-trip (mode 0), N significant digits (mode 2) and N digits after the point (mode 3). Rounding
 * is done on the exact binary value with BigInt, ties to even, so results match Python for every
 * double and any precision (unlike `toFixed`/`toPrecision`, which round ties away from zero and give
 * up above 1e21 or 100 digits).
 *
 * All functions take a finite, strictly positive number.
 */

/** `digits` with trailing zeros removed; the value is 0.<digits> × 10^pointPos. Empty digits mean 0. */
export interface DecimalDigits {
  digits: string;
  pointPos: number;
}

interface Fraction {
  numerator: bigint;
  denominator: bigint;
}

/** x = mantissa × 2^exponent, exactly. */
function decompose(x: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const high = view.getUint32(0);
  const low = view.getUint32(4);
  const biasedExponent = (high >>> 20) & 0x7ff;
  const fraction = (BigInt(high & 0xfffff) << 32n) | BigInt(low);
  if (biasedExponent === 0) return { mantissa: fraction, exponent: -1074 }; // subnormal
  return { mantissa: fraction | (1n << 52n), exponent: biasedExponent - 1075 };
}

/** x × 10^shift as an exact fraction. */
function scaledByPowerOfTen(x: number, shift: number): Fraction {
  const { mantissa, exponent } = decompose(x);
  let numerator = mantissa;
  let denominator = 1n;
  if (exponent >= 0) numerator <<= BigInt(exponent);
  else denominator <<= BigInt(-exponent);
  if (shift >= 0) numerator *= 10n ** BigInt(shift);
  else denominator *= 10n ** BigInt(-shift);
  return { numerator, denominator };
}

function roundHalfEven({ numerator, denominator }: Fraction): bigint {
  const quotient = numerator / denominator;
  const twiceRemainder = 2n * (numerator - quotient * denominator);
  if (twiceRemainder > denominator) return quotient + 1n;
  if (twiceRemainder === denominator) return quotient + (quotient & 1n);
  return quotient;
}

function trimTrailingZeros(digits: string, pointPos: number): DecimalDigits {
  return { digits: digits.replace(/0+$/, ''), pointPos };
}

/** The e with 10^(e-1) <= x < 10^e. */
function decimalExponent(x: number): number {
  const atLeastPowerOfTen = (power: number): boolean => {
    const { numerator, denominator } = scaledByPowerOfTen(x, -power);
    return numerator >= denominator;
  };
  // log10 is only an estimate next to powers of ten; settle it exactly.
  let exponent = Math.floor(Math.log10(x)) + 1;
  while (atLeastPowerOfTen(exponent)) exponent++;
  while (!atLeastPowerOfTen(exponent - 1)) exponent--;
  return exponent;
}

/** Rounded to `fractionDigits` digits after the decimal point (dtoa mode 3). */
export function fixedDigits(x: number, fractionDigits: number): DecimalDigits {
  const rounded = roundHalfEven(scaledByPowerOfTen(x, fractionDigits));
  // Like dtoa, a value that rounds to zero yields no digits, with the point just past the last place.
  if (rounded === 0n) return { digits: '', pointPos: -fractionDigits };
  const digits = rounded.toString();
  return trimTrailingZeros(digits, digits.length - fractionDigits);
}

/** Rounded to `count` (>= 1) significant digits (dtoa mode 2). */
export function significantDigits(x: number, count: number): DecimalDigits {
  let exponent = decimalExponent(x);
  let rounded = roundHalfEven(scaledByPowerOfTen(x, count - exponent));
  if (rounded === 10n ** BigInt(count)) {
    // Rounded up to the next power of ten (9.99 -> 10.0): one more integer digit.
    rounded /= 10n;
    exponent++;
  }
  return trimTrailingZeros(rounded.toString(), exponent);
}

/**
 * The shortest digits that read back as x, choosing the closest such string (dtoa mode 0, Python's
 * repr). ECMAScript's Number-to-String is specified to produce exactly these digits.
 */
export function shortestDigits(x: number): DecimalDigits {
  const [mantissa, exponentText] = String(x).split('e') as [string, string | undefined];
  const point = mantissa.indexOf('.');
  const integerPart = point < 0 ? mantissa : mantissa.slice(0, point);
  const fractionPart = point < 0 ? '' : mantissa.slice(point + 1);
  const allDigits = integerPart + fractionPart;
  const leadingZeros = /^0*/.exec(allDigits)![0].length;
  const pointPos = integerPart.length + Number(exponentText ?? 0) - leadingZeros;
  return trimTrailingZeros(allDigits.slice(leadingZeros), pointPos);
}
