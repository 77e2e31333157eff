import { closest, distance } from 'fastest-levenshtein';

/** A place in a config file: what every problem message starts with. */
export interface Located {
  file: string;
  line: number;
}

interface Problem extends Located {
  message: string;
}

/**
 * Collects every problem found while loading a config, so the user sees all of them at once,
 * each as `FILE:LINE: message`, sorted by file (in reading order) and line, without repeats.
 */
export class Diagnostics {
  private readonly problems: Problem[] = [];
  private readonly notes: Problem[] = [];
  private readonly fileOrder = new Map<string, number>();

  /** Records the reading order of files, so problems in the main file come first. */
  noteFile(file: string): void {
    if (!this.fileOrder.has(file)) this.fileOrder.set(file, this.fileOrder.size);
  }

  add(at: Located, message: string): void {
    this.noteFile(at.file);
    this.problems.push({ file: at.file, line: at.line, message });
  }

  /** Something that loads but the user should know (a merged duplicate section, a setting with no effect). */
  warn(at: Located, message: string): void {
    this.noteFile(at.file);
    this.notes.push({ file: at.file, line: at.line, message });
  }

  get count(): number {
    return this.problems.length;
  }

  lines(): string[] {
    return this.sorted(this.problems);
  }

  /** The warnings, as `FILE:LINE: message` lines in file and line order. */
  warnings(): string[] {
    return this.sorted(this.notes);
  }

  private sorted(list: readonly Problem[]): string[] {
    const sorted = [...list].sort(
      (a, b) =>
        (this.fileOrder.get(a.file) ?? 0) - (this.fileOrder.get(b.file) ?? 0) ||
        a.line - b.line ||
        a.message.localeCompare(b.message),
    );
    return [...new Set(sorted.map((p) => `${p.file}:${p.line}: ${p.message}`))];
  }
}

/** The nearest candidate, if it is near enough to be a plausible typo (case is ignored). */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const list = [...candidates];
  if (list.length === 0 || word.length === 0) return undefined;
  const lowered = word.toLowerCase();
  const exactIgnoringCase = list.find((c) => c.toLowerCase() === lowered);
  if (exactIgnoringCase !== undefined) return exactIgnoringCase;
  const best = closest(
    lowered,
    list.map((c) => c.toLowerCase()),
  );
  const index = list.findIndex((c) => c.toLowerCase() === best);
  const limit = Math.max(2, Math.floor(Math.max(word.length, best.length) / 3));
  return distance(lowered, best) <= limit ? list[index] : undefined;
}

/** ` (did you mean X?)`, or nothing. */
export function didYouMean(word: string, candidates: Iterable<string>, show: (s: string) => string = (s) => s): string {
  const hit = suggest(word, candidates);
  return hit === undefined ? '' : ` (did you mean ${show(hit)}?)`;
}

/** A value as it can be shown in one message line: quoted, control bytes escaped, shortened. */
export function shown(value: string): string {
  const escaped = value.replace(
    // Control bytes are exactly what must be escaped here (junk in a config file).
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f\ufffd]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return JSON.stringify(escaped.length > 60 ? `${escaped.slice(0, 57)}...` : escaped).replace(/\\\\x/g, '\\x');
}
