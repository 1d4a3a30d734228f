/**
 * The Python value a JS template value stands for, since the output must equal Python's
 * `template.format(**values)`.
 */
import { TemplateError } from '../errors.js';
import { floatRepr } from './float-render.js';

export type TemplateValue = number | bigint | string | boolean;

export type PyValue =
  | { type: 'int'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'float'; value: number }
  | { type: 'str'; value: string };

/** Keras passes these as Python ints; every other number in the logs is a float. */
const INTEGER_KEYS = new Set(['epoch', 'batch']);

/**
 * bigint → int, string → str, boolean → bool; a number is a float, except that an integral
 * `epoch` or `batch` is an int.
 */
export function toPyValue(key: string, value: TemplateValue): PyValue {
  switch (typeof value) {
    case 'bigint':
      return { type: 'int', value };
    case 'number':
      if (INTEGER_KEYS.has(key) && Number.isInteger(value)) return { type: 'int', value: BigInt(value) };
      return { type: 'float', value };
    case 'string':
      return { type: 'str', value };
    case 'boolean':
      return { type: 'bool', value };
    default:
      throw new TemplateError(
        'TEMPLATE_TYPE_MISMATCH',
        `the value of '${key}' is a ${value === null ? 'null' : typeof value}; template values must be numbers, bigints, strings or booleans`,
      );
  }
}

/** Python's `str(value)`. */
export function pyStr(value: PyValue): string {
  switch (value.type) {
    case 'int':
      return value.value.toString();
    case 'bool':
      return value.value ? 'True' : 'False';
    case 'float':
      return floatRepr(value.value);
    case 'str':
      return value.value;
  }
}
