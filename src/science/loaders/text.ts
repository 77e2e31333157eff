import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { createGunzip, gunzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { UsageError } from '../../errors.js';

/** A malformed row inside a data file. */
export class DataFormatError extends UsageError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super('DataFileInvalid', `${file}${line === undefined ? '' : `:${line}`}: ${reason}`, {
      hint: 'check that the file is the catalogue format the job expects (see the data README), or pick another format',
    });
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Reads a text file, gunzipping it when it is gzip (by magic bytes, not by name). */
export async function readText(path: string): Promise<string> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    throw new UsageError('DataNotFound', `cannot read ${path}: ${(err as Error).message}`, {
      hint: 'pass --param data=PATH with a path that exists',
      cause: err,
    });
  }
  if (!isGzip(raw)) return raw.toString('utf8');
  try {
    return gunzipSync(raw).toString('utf8');
  } catch (err) {
    throw new DataFormatError(path, undefined, `not a valid gzip file (${(err as Error).message})`);
  }
}

/**
 * Parses whitespace-separated numeric rows. `#` lines and blank lines are skipped. Each row is
 * handed to `onRow` with its 1-based line number; a row with the wrong number of columns or a
 * non-numeric value raises DataFormatError naming the file and line.
 */
export function parseNumericRows(
  text: string,
  file: string,
  minColumns: number,
  onRow: (values: number[], line: number) => void,
  /** Column names for the message, e.g. `t mag mag_err`. */
  names?: string,
): void {
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const raw = lines[k]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const parts = raw.split(/\s+/);
    if (parts.length < minColumns) {
      const what = names ? ` (${names})` : '';
      throw new DataFormatError(file, k + 1, `expected ${minColumns} columns${what}, found ${parts.length}`);
    }
    const values = new Array<number>(parts.length);
    for (let c = 0; c < parts.length; c++) {
      const v = Number(parts[c]);
      if (!Number.isFinite(v)) {
        throw new DataFormatError(file, k + 1, `column ${c + 1} is not a number: ${JSON.stringify(parts[c])}`);
      }
      values[c] = v;
    }
    onRow(values, k + 1);
  }
}

/** A table with a header line (`#`-prefixed column names); rows are records keyed by column name. */
export interface Table {
  columns: string[];
  rows: Record<string, string>[];
}

/**
 * Parses a whitespace table whose last `#`-comment line before the data names the columns
 * (`#id type P ...` or `##  objectID raLIN ...`). Rows with a different column count are errors.
 */
export function parseTable(text: string, file: string, expect: readonly string[]): Table {
  const lines = text.split('\n');
  let columns: string[] | undefined;
  const rows: Record<string, string>[] = [];
  for (let k = 0; k < lines.length; k++) {
    const raw = lines[k]!.trim();
    if (raw === '') continue;
    if (raw.startsWith('#')) {
      if (rows.length === 0) {
        const names = raw.replace(/^#+/, '').trim().split(/\s+/);
        if (expect.every((c) => names.includes(c))) columns = names;
      }
      continue;
    }
    if (!columns) {
      throw new DataFormatError(file, k + 1, `no header line naming the columns ${expect.join(', ')} before the data`);
    }
    const parts = raw.split(/\s+/);
    if (parts.length !== columns.length) {
      throw new DataFormatError(file, k + 1, `expected ${columns.length} columns, found ${parts.length}`);
    }
    const row: Record<string, string> = {};
    for (let c = 0; c < columns.length; c++) row[columns[c]!] = parts[c]!;
    rows.push(row);
  }
  if (!columns) throw new DataFormatError(file, undefined, `no header line naming the columns ${expect.join(', ')}`);
  return { columns, rows };
}

/** A number from a table cell, or a DataFormatError naming the file, line and column. */
export function cellNumber(row: Record<string, string>, column: string, file: string, line?: number): number {
  const v = Number(row[column]);
  if (!Number.isFinite(v)) {
    throw new DataFormatError(file, line, `column ${column} is not a number: ${JSON.stringify(row[column])}`);
  }
  return v;
}

/**
 * Streams the regular files of a tar or tar.gz archive (gzip detected by magic bytes), calling
 * `onFile(name, text)` for each; nothing but the current entry is held in memory.
 */
export async function forEachTarFile(
  path: string,
  onFile: (name: string, text: string) => void | Promise<void>,
): Promise<void> {
  const head = await readHead(path);
  const extract = tarStream.extract();
  const source = createReadStream(path);
  const input = isGzip(head) ? source.pipe(createGunzip()) : source;
  let failure: Error | undefined;
  const onError = (err: Error): void => {
    failure ??= err;
    extract.destroy(err);
  };
  source.on('error', onError);
  input.on('error', onError);
  input.pipe(extract);
  try {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      if (entry.header.type === 'file' || entry.header.type === 'contiguous-file') {
        await onFile(entry.header.name, Buffer.concat(chunks).toString('utf8'));
      }
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const cause = failure ?? (err as Error);
    throw new DataFormatError(path, undefined, `not a readable tar archive (${cause.message})`);
  }
  if (failure) throw new DataFormatError(path, undefined, `not a readable tar archive (${failure.message})`);
}

async function readHead(path: string): Promise<Uint8Array> {
  try {
    const fh = await open(path, 'r');
    try {
      const buf = new Uint8Array(2);
      await fh.read(buf, 0, 2, 0);
      return buf;
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new UsageError('DataNotFound', `cannot read ${path}: ${(err as Error).message}`, {
      hint: 'pass --param data=PATH with a path that exists',
      cause: err,
    });
  }
}

/** `table1/1399304.dat` → `1399304`. */
export function stemOf(name: string): string {
  return basename(name).replace(/\.dat(\.gz)?$/, '');
}
