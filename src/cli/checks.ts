/**
 * Checking a checkpoint: quick (every file it records is present with its recorded size: no bytes
 * read) or full (the library's `verify`: sizes and CRC-32 of every byte).
 */
import { verify } from '../index.js';
import type { CatalogEntry } from './catalog.js';
import { locate } from './locate.js';

export interface CheckResult {
  level: 'quick' | 'full';
  ok: boolean;
  /** 'verified' when checksums were checked; 'absent' for a checkpoint without them (a stock TF.js folder). */
  checksums?: 'verified' | 'absent';
  problem?: string;
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
}

export async function quickCheck(entry: CatalogEntry): Promise<CheckResult> {
  try {
    const location = locate(entry.url, 'checkpoint');
    if (entry.format !== 'tfjs') {
      const file = await location.store.openFile(location.key);
      if (!file) return { level: 'quick', ok: false, problem: `${entry.url} is missing` };
      await file.close();
      return { level: 'quick', ok: true };
    }
    const reader = await location.store.open(location.key);
    if (!reader) return { level: 'quick', ok: false, problem: `${entry.url} is missing` };
    try {
      for (const recorded of entry.metadata?.files ?? []) {
        const file = await reader.open(recorded.name);
        if (!file) return { level: 'quick', ok: false, problem: `${entry.url}/${recorded.name} is missing` };
        if (file.size !== recorded.size) {
          return { level: 'quick', ok: false, problem: `${entry.url}/${recorded.name} has ${file.size} bytes; ${recorded.size} were recorded` };
        }
      }
    } finally {
      await reader.close();
    }
    return { level: 'quick', ok: true };
  } catch (e) {
    return { level: 'quick', ok: false, problem: messageOf(e) };
  }
}

export async function fullCheck(url: string): Promise<CheckResult> {
  try {
    const result = await verify(url);
    return { level: 'full', ok: true, checksums: result.checksums };
  } catch (e) {
    return { level: 'full', ok: false, problem: messageOf(e) };
  }
}
