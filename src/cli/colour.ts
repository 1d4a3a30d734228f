/**
 * The colour policy, in one place: colour only when the stream is a terminal, never with `NO_COLOR`
 * (https://no-color.org: any non-empty value) or `--no-color`.
 */
export interface Paint {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

export function colourWanted(stream: { isTTY?: boolean }, flag = true): boolean {
  const noColor = process.env['NO_COLOR'];
  if (!flag || (noColor !== undefined && noColor !== '')) return false;
  return stream.isTTY === true;
}

function sgr(enabled: boolean, open: number, close: number): (text: string) => string {
  return enabled ? (text) => `\u001b[${open}m${text}\u001b[${close}m` : (text) => text;
}

export function paint(enabled: boolean): Paint {
  return {
    enabled,
    bold: sgr(enabled, 1, 22),
    dim: sgr(enabled, 2, 22),
    red: sgr(enabled, 31, 39),
    green: sgr(enabled, 32, 39),
    yellow: sgr(enabled, 33, 39),
    cyan: sgr(enabled, 36, 39),
  };
}
