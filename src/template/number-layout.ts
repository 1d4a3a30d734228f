/**
 * Sign, prefix, padding and digit grouping around a number's text, as CPython's
 * `calc_number_widths` / `fill_number` / `_PyUnicode_InsertThousandsGrouping` do it:
 *
 *   <left pad><sign><prefix><sign-aware pad><grouped digits><decimal point><remainder><right pad>
 *
 * Zero padding with `=` alignment (the `0` flag) is special: the zeros go *into* the digit grouping,
 * so `format(1234, '09,')` is `0,001,234`.
 */
import type { Align, Sign } from './spec.js';

export interface NumberPieces {
  negative: boolean;
  /** `0x` etc., already in the right case. */
  prefix: string;
  /** The leading run of digits, which grouping applies to (empty for inf/nan and for 'c'). */
  digits: string;
  hasDecimalPoint: boolean;
  /** Everything after the decimal point, or after the digits when there is none (exponent, '%', 'inf'). */
  remainder: string;
}

export interface DigitGrouping {
  separator: string;
  size: number;
}

export interface NumberLayout {
  fill: string;
  align: Align;
  width: number | undefined;
  sign: Sign | undefined;
  grouping: DigitGrouping | undefined;
}

function codePointLength(text: string): number {
  let length = 0;
  for (const _ of text) length++;
  return length;
}

/** Groups `digits` from the right, padding with zeros until the result is at least `minWidth` long. */
function groupDigits(digits: string, minWidth: number, grouping: DigitGrouping | undefined): string {
  if (grouping === undefined) return digits.padStart(minWidth, '0');
  const groups: string[] = [];
  let remaining = digits.length;
  let widthLeft = Math.max(0, minWidth);
  for (;;) {
    const length = Math.min(grouping.size, Math.max(remaining, widthLeft, 1));
    const taken = Math.min(remaining, length);
    groups.unshift('0'.repeat(length - taken) + digits.slice(remaining - taken, remaining));
    remaining -= taken;
    widthLeft -= length;
    if (remaining <= 0 && widthLeft <= 0) break;
    widthLeft -= grouping.separator.length;
  }
  return groups.join(grouping.separator);
}

export function layoutNumber(pieces: NumberPieces, layout: NumberLayout): string {
  let signText = '';
  if (pieces.negative) signText = '-';
  else if (layout.sign === '+' || layout.sign === ' ') signText = layout.sign;

  const decimalPoint = pieces.hasDecimalPoint ? '.' : '';
  const nonDigitLength = signText.length + pieces.prefix.length + decimalPoint.length + codePointLength(pieces.remainder);
  const width = layout.width ?? -1;
  const zeroPadsDigits = layout.fill === '0' && layout.align === '=';
  const groupedDigits =
    pieces.digits === '' ? '' : groupDigits(pieces.digits, zeroPadsDigits ? width - nonDigitLength : 0, layout.grouping);

  const padding = Math.max(0, width - (nonDigitLength + groupedDigits.length));
  let left = 0;
  let inner = 0;
  let right = 0;
  switch (layout.align) {
    case '<':
      right = padding;
      break;
    case '^':
      left = Math.floor(padding / 2);
      right = padding - left;
      break;
    case '=':
      inner = padding;
      break;
    case '>':
      left = padding;
      break;
  }
  const pad = (count: number): string => layout.fill.repeat(count);
  return (
    pad(left) + signText + pieces.prefix + pad(inner) + groupedDigits + decimalPoint + pieces.remainder + pad(right)
  );
}
