/**
 * Python reads widths, precisions and positional field numbers with `Py_UNICODE_TODECIMAL`, which
 * accepts any Unicode decimal digit (general category Nd), not just ASCII 0-9.
 */
const DECIMAL_DIGIT = /^\p{Nd}$/u;

export function isDecimalDigit(char: string): boolean {
  return DECIMAL_DIGIT.test(char);
}

/** The value 0-9 of one decimal digit character, or undefined when it is not a decimal digit. */
export function decimalDigitValue(char: string): number | undefined {
  if (!isDecimalDigit(char)) return undefined;
  const codePoint = char.codePointAt(0)!;
  if (codePoint <= 0x39) return codePoint - 0x30;
  // Unicode keeps every decimal digit set contiguous and in order 0..9, and some sets sit back to back,
  // so the digit's value is its distance from the start of its run, modulo 10.
  let runStart = codePoint;
  while (isDecimalDigit(String.fromCodePoint(runStart - 1))) runStart--;
  return (codePoint - runStart) % 10;
}

/** True when the string is non-empty and made only of decimal digits (Python's `str.isdecimal`). */
export function isAllDecimalDigits(text: string): boolean {
  if (text === '') return false;
  for (const char of text) if (!isDecimalDigit(char)) return false;
  return true;
}
