/**
 * `formatFilepath(template, values)`: Python's `template.format(**values)`, character for character,
 * for the filepath templates of ModelCheckpoint (`weights.{epoch:02d}-{val_loss:.2f}`).
 */
import { TemplateError, type CheckpointErrorCode } from '../errors.js';
import { resolveAlias } from './alias.js';
import { formatPyValue } from './format-value.js';
import { parseTemplate, type FieldPart } from './parse.js';
import { pyStr, toPyValue, type PyValue, type TemplateValue } from './python-value.js';

export type { TemplateValue } from './python-value.js';

type TemplateErrorCode = Extract<CheckpointErrorCode, `TEMPLATE_${string}`>;

function failure(template: string, code: TemplateErrorCode, reason: string): TemplateError {
  return new TemplateError(code, `Failed to format this callback filepath: "${template}". Reason: ${reason}`);
}

function isAvailable(values: Record<string, TemplateValue>, key: string): boolean {
  // Own keys only: `{constructor}` must not find Object.prototype.constructor.
  return Object.prototype.hasOwnProperty.call(values, key) && values[key] !== undefined;
}

function missingKeyReason(name: string, values: Record<string, TemplateValue>): string {
  const keys = Object.keys(values)
    .filter((key) => isAvailable(values, key))
    .sort();
  const list = keys.length === 0 ? '(none)' : `[${keys.map((key) => `'${key}'`).join(', ')}]`;
  const trimmed = name.trim();
  const hint = trimmed !== name && isAvailable(values, trimmed) ? ` (field names are not trimmed; did you mean {${trimmed}}?)` : '';
  return `'${name}' is not available; available keys: ${list}${hint}`;
}

function formatField(template: string, field: FieldPart, values: Record<string, TemplateValue>): string {
  const key = resolveAlias(field.name, (candidate) => isAvailable(values, candidate));
  if (key === undefined) throw failure(template, 'TEMPLATE_MISSING_KEY', missingKeyReason(field.name, values));
  try {
    let value: PyValue = toPyValue(key, values[key]!);
    if (field.conversion === 's') value = { type: 'str', value: pyStr(value) };
    return formatPyValue(value, field.spec, field.name);
  } catch (error) {
    if (error instanceof TemplateError) throw failure(template, error.code as TemplateErrorCode, error.message);
    throw error;
  }
}

/**
 * Formats `template` like Python's `template.format(**values)`. A JS number is a Python float,
 * except an integral `epoch`/`batch`, which is an int; bigint is int, string is str, boolean is bool.
 * A missing `accuracy`-style key falls back to its `acc` twin and vice versa.
 *
 * Throws TemplateError: TEMPLATE_SYNTAX (malformed template; checked before any field is formatted),
 * TEMPLATE_MISSING_KEY, TEMPLATE_BAD_SPEC or TEMPLATE_TYPE_MISMATCH.
 */
export function formatFilepath(template: string, values: Record<string, TemplateValue>): string {
  let output = '';
  for (const part of parseTemplate(template)) {
    output += part.kind === 'literal' ? part.text : formatField(template, part, values);
  }
  return output;
}
