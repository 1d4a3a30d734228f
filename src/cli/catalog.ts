/**
 * The checkpoints a command is pointed at, with what each records: one checkpoint, the checkpoints
 * of a template, or every checkpoint in a directory. Checkpoints of one template are read through
 * `CheckpointManager.list()` and `best()` (so best, latest and order are the library's own answer);
 * a directory holding several templates' checkpoints is one group per template, and checkpoints no
 * template claims (single saves, files Keras or PyTorch wrote) are listed alone, never ranked.
 */
import { CheckpointManager, readMetadata, type CheckpointMetadata, type CheckpointRecord, type Location, type Mode } from '../index.js';
import { UsageError } from './errors.js';
import { baseName, escapeTemplateText, formatOfName, isTemplate, locate, type CheckpointFormat } from './locate.js';

export interface CatalogEntry {
  /** Canonical path or URL. */
  url: string;
  key: string;
  name: string;
  format: CheckpointFormat;
  metadata?: CheckpointMetadata;
  /** Bytes of the checkpoint's files (a folder's recorded files; a single file's size). */
  bytes?: number;
  /** The template group it belongs to (its template's last segment), if any. */
  group?: string;
  /** The monitored metric its group ranks by, and that metric's value in this checkpoint. */
  monitor?: { name: string; mode: 'min' | 'max'; value: number | null };
  best: boolean;
  latest: boolean;
  /** The manager of its group (deleting goes through it). */
  manager?: CheckpointManager;
  record?: CheckpointRecord;
}

export interface Catalog {
  /** What was asked for, canonical. */
  where: string;
  entries: CatalogEntry[];
}

export interface RankOptions {
  monitor?: string;
  mode?: Mode;
}

export function isSingleFileName(name: string): boolean {
  return formatOfName(name) !== 'tfjs';
}

/** Whether something at `location` is one checkpoint (ours, a stock TF.js folder, or a single file). */
export async function isCheckpoint(location: Location): Promise<boolean> {
  if (isSingleFileName(location.key)) return true;
  const reader = await location.store.open(location.key);
  if (!reader) return false;
  try {
    for (const name of ['checkpoint.json', 'model.json', 'weights.json']) if (await reader.open(name)) return true;
    return false;
  } finally {
    await reader.close();
  }
}

/** A single file's size, or undefined when it cannot be opened. */
async function fileSize(location: Location, key: string): Promise<number | undefined> {
  const file = await location.store.openFile(key).catch(() => undefined);
  if (!file) return undefined;
  try {
    return file.size;
  } finally {
    await file.close();
  }
}

function recordedBytes(metadata: CheckpointMetadata | undefined): number | undefined {
  return metadata && metadata.files.length > 0 ? metadata.files.reduce((n, f) => n + f.size, 0) : undefined;
}

function keyOfUrl(dir: Location, name: string): string {
  return dir.key === '/' ? `/${name}` : `${dir.key}/${name}`;
}

function joinUrl(dirUrl: string, name: string): string {
  return dirUrl.endsWith('/') ? `${dirUrl}${name}` : `${dirUrl}/${name}`;
}

/** The checkpoints of one template as catalog entries, ranked by its monitor (given, else the newest checkpoint's). */
async function templateEntries(template: string, rank: RankOptions): Promise<CatalogEntry[]> {
  let manager = new CheckpointManager({ filepath: template, logger: { warn: () => undefined } });
  let records = await manager.list();
  const recorded = [...records].reverse().find((r) => r.metadata.monitor)?.metadata.monitor;
  const monitor = rank.monitor ?? recorded?.name;
  if (monitor !== undefined) {
    const mode = rank.mode ?? (rank.monitor === undefined || rank.monitor === recorded?.name ? recorded?.mode : undefined) ?? 'auto';
    manager = new CheckpointManager({ filepath: template, monitor, mode, logger: { warn: () => undefined } });
    records = await manager.list();
  }
  const best = monitor === undefined ? null : await manager.best();
  const newest = records[records.length - 1];
  return Promise.all(
    records.map(async (record) => {
      const format = formatOfName(record.key);
      return {
        url: record.path,
        key: record.key,
        name: baseName(record.key),
        format,
        metadata: record.metadata,
        bytes: recordedBytes(record.metadata) ?? (format === 'tfjs' ? undefined : await fileSize(locate(record.path, 'checkpoint'), record.key)),
        group: baseName(template),
        ...(monitor !== undefined ? { monitor: { name: monitor, mode: manager.direction === 'max' ? 'max' : 'min', value: record.value } } : {}),
        best: best !== null && best.key === record.key,
        latest: newest?.key === record.key,
        manager,
        record,
      } satisfies CatalogEntry;
    }),
  );
}

/** One checkpoint as a catalog entry (not ranked: it is alone). */
export async function singleEntry(location: Location): Promise<CatalogEntry> {
  const metadata = await readMetadata(location.url);
  const format = formatOfName(location.key);
  return {
    url: location.url,
    key: location.key,
    name: baseName(location.key),
    format,
    ...(metadata ? { metadata } : {}),
    bytes: recordedBytes(metadata) ?? (format === 'tfjs' ? undefined : await fileSize(location, location.key)),
    best: false,
    latest: false,
  };
}

function commitTime(entry: CatalogEntry): number {
  const m = entry.metadata;
  return m ? Date.parse(m.committedAt ?? m.createdAt) : Number.POSITIVE_INFINITY;
}

/** The checkpoints directly inside a directory, grouped by the template each was written under. */
async function directoryEntries(dir: Location, rank: RankOptions): Promise<CatalogEntry[]> {
  const listed = await dir.store.list(dir.key, { depth: 1, files: isSingleFileName });
  const groups = new Set<string>();
  const alone: CatalogEntry[] = [];
  for (const item of listed) {
    const name = baseName(item.key);
    const url = joinUrl(dir.url, name);
    const metadata = await readMetadata(url);
    const template = metadata?.template;
    if (template !== undefined && isTemplate(baseName(template))) groups.add(baseName(template));
    else alone.push(await singleEntry({ ...dir, key: keyOfUrl(dir, name), url }));
  }
  const grouped: CatalogEntry[] = [];
  for (const group of [...groups].sort()) {
    grouped.push(...(await templateEntries(`${escapeTemplateText(dir.url)}/${group}`, rank)));
  }
  // A checkpoint of a template whose group listing skipped it (a fixed-name template) stays listed, alone.
  const seen = new Set(grouped.map((e) => e.key));
  const rest = alone.filter((e) => !seen.has(e.key));
  return [...grouped, ...rest].sort((a, b) => commitTime(a) - commitTime(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** What `arg` (a directory, a template, one checkpoint, or a URL of any of them) holds. */
export async function catalog(arg: string, rank: RankOptions = {}, { allowSingle = true } = {}): Promise<Catalog> {
  if (isTemplate(arg)) {
    const manager = new CheckpointManager({ filepath: arg, logger: { warn: () => undefined } });
    const where = manager.describe(manager.template);
    return { where, entries: await templateEntries(arg, rank) };
  }
  const location = locate(arg, 'the location');
  if (allowSingle && (await isCheckpoint(location))) {
    if (!isSingleFileName(location.key) || (await location.store.exists(location.key))) return { where: location.url, entries: [await singleEntry(location)] };
  }
  if (!(await location.store.exists(location.key))) {
    throw new UsageError(`${location.url}: nothing is there. Check the path (or the bucket and prefix of an s3:// URL).`);
  }
  return { where: location.url, entries: await directoryEntries(location, rank) };
}
