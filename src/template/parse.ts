/**
 * Splits a filepath template into literal text and replacement fields, following the grammar of
 * Python's `str.format` (CPython's MarkupIterator), and rejects the parts of that grammar that make no
 * sense for a dict of log values: positional fields, attribute/index access, nested fields in specs,
 * and the `!r` / `!a` conversions (they would put quotes and escapes into file names). `!s` is kept.
 */
import { TemplateError } from '../errors.js';
import { isAllDecimalDigits } from './unicode-digits.js';

export { parseFormatSpec } from './spec.js';
export type { Align, FormatSpec, Grouping, PresentationType, Sign } from './spec.js';

export interface LiteralPart {
  kind: 'literal';
  /** The text with `{{` / `}}` already turned into single braces. */
  text: string;
}

export interface FieldPart {
  kind: 'field';
  /** The key to look up, verbatim (Python does not trim it). */
  name: string;
  /** `'s'` for `{name!s}`: format `str(value)` instead of the value. */
  conversion: 's' | undefined;
  /** The text after `:`, or `''`. */
  spec: string;
  /** Index of the field's `{` in the template, for error messages. */
  index: number;
}

export type TemplatePart = LiteralPart | FieldPart;

function syntaxError(template: string, index: number, problem: string, hint: string): TemplateError {
  const caret = ' '.repeat(index) + '^';
  return new TemplateError(
    'TEMPLATE_SYNTAX',
    `Invalid filepath template: ${problem} (at index ${index}).\n  ${template}\n  ${caret}\n${hint}`,
  );
}

const LITERAL_OPEN_HINT = "Write '{{' for a literal '{'.";
const LITERAL_CLOSE_HINT = "Write '}}' for a literal '}'.";

/** Parses the field that starts with the `{` at `open`; returns it and the index just past its `}`. */
function parseField(template: string, open: number): { field: FieldPart; next: number } {
  const end = template.length;
  let pos = open + 1;
  let terminator: string | undefined;
  while (pos < end) {
    const char = template[pos++]!;
    if (char === '{') throw syntaxError(template, pos - 1, "unexpected '{' in field name", LITERAL_OPEN_HINT);
    if (char === '[') {
      // Like Python: inside [...] the characters '}', ':' and '!' do not end the name.
      while (pos < end && template[pos] !== ']') pos++;
      continue;
    }
    if (char === '}' || char === ':' || char === '!') {
      terminator = char;
      break;
    }
  }
  if (terminator === undefined) {
    throw syntaxError(template, open, "expected '}' before end of string", LITERAL_OPEN_HINT);
  }
  const name = template.slice(open + 1, pos - 1);
  let conversion: string | undefined;
  let spec = '';
  if (terminator === '!') {
    if (pos >= end) {
      throw syntaxError(template, pos - 1, 'end of string while looking for conversion specifier', LITERAL_OPEN_HINT);
    }
    conversion = String.fromCodePoint(template.codePointAt(pos)!);
    pos += conversion.length;
    if (pos < end) {
      const after = template[pos++]!;
      if (after === '}') terminator = '}';
      else if (after !== ':') {
        throw syntaxError(template, pos - 1, "expected ':' after conversion specifier", 'A conversion is written {name!s} or {name!s:spec}.');
      }
    }
  }
  if (terminator !== '}') {
    // A format spec runs to the matching '}', counting nested braces as Python does.
    const specStart = pos;
    let depth = 1;
    while (pos < end && depth > 0) {
      const char = template[pos++]!;
      if (char === '{') depth++;
      else if (char === '}') depth--;
    }
    if (depth > 0) throw syntaxError(template, open, "unmatched '{' in format spec", LITERAL_OPEN_HINT);
    spec = template.slice(specStart, pos - 1);
  }
  return { field: checkSupported(template, open, name, conversion, spec), next: pos };
}

/** Rejects the valid Python constructs this library does not support. */
function checkSupported(template: string, index: number, name: string, conversion: string | undefined, spec: string): FieldPart {
  const firstPart = name.split(/[.[]/, 1)[0]!;
  if (firstPart === '' || isAllDecimalDigits(firstPart)) {
    throw syntaxError(
      template,
      index,
      `positional field '{${name}}'`,
      'Only named fields such as {epoch} are supported: the values are passed by name, so a positional ' +
        "field has nothing to refer to (Python raises IndexError: 'Replacement index 0 out of range').",
    );
  }
  if (name.includes('.') || name.includes('[')) {
    throw syntaxError(
      template,
      index,
      `field name '${name}' contains '${name.includes('.') ? '.' : '['}'`,
      "Python treats '.' and '[' in a field name as attribute and index access, so log keys that contain " +
        'them cannot be used in a filepath template.',
    );
  }
  if (conversion !== undefined && conversion !== 's') {
    const problem =
      conversion === 'r' || conversion === 'a'
        ? `conversion '!${conversion}' is not supported`
        : `Unknown conversion specifier ${conversion}`;
    throw syntaxError(template, index, problem, "Only '!s' is supported ('!r' and '!a' would put quotes and escapes into the file name).");
  }
  if (spec.includes('{')) {
    throw syntaxError(
      template,
      index,
      `nested replacement field in the format spec of '{${name}:${spec}}'`,
      'Nested fields in format specs (e.g. {loss:.{digits}f}) are not supported; write the spec out.',
    );
  }
  return { kind: 'field', name, conversion: conversion === 's' ? 's' : undefined, spec, index };
}

/** Parsed templates: a save formats its filepath and matches names on the main thread every time. */
const parsedTemplates = new Map<string, readonly TemplatePart[]>();
const MAX_CACHED_TEMPLATES = 256;

/** The literal and field parts of `template`; throws TEMPLATE_SYNTAX on malformed or unsupported templates. */
export function parseTemplate(template: string): readonly TemplatePart[] {
  let parts = parsedTemplates.get(template);
  if (!parts) {
    parts = Object.freeze(parseTemplateUncached(template));
    if (parsedTemplates.size >= MAX_CACHED_TEMPLATES) parsedTemplates.clear();
    parsedTemplates.set(template, parts);
  }
  return parts;
}

function parseTemplateUncached(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = '';
  let pos = 0;
  while (pos < template.length) {
    const char = template[pos]!;
    const doubled = template[pos + 1] === char;
    if (char === '{' && !doubled) {
      if (pos + 1 >= template.length) throw syntaxError(template, pos, "Single '{' encountered in format string", LITERAL_OPEN_HINT);
      if (literal !== '') parts.push({ kind: 'literal', text: literal });
      literal = '';
      const { field, next } = parseField(template, pos);
      parts.push(field);
      pos = next;
    } else if (char === '}' && !doubled) {
      throw syntaxError(template, pos, "Single '}' encountered in format string", LITERAL_CLOSE_HINT);
    } else {
      literal += char;
      pos += char === '{' || char === '}' ? 2 : 1;
    }
  }
  if (literal !== '') parts.push({ kind: 'literal', text: literal });
  return parts;
}

/** The names of the template's fields, in order of appearance (with repeats). */
export function templateFieldNames(template: string): string[] {
  return parseTemplate(template).flatMap((part) => (part.kind === 'field' ? [part.name] : []));
}
