import type { Diagnostics, Located } from './diagnostics.js';
import { didYouMean, shown } from './diagnostics.js';

/**
 * The raw reading of a StarCluster config file: sections and `KEY = value` lines with the file
 * and line each came from. It follows StarCluster's ConfigParser dialect rather than the `ini`
 * package's: `#`/`;` start a comment at the start of a line, or inline only after whitespace
 * (so `KEY_LOCATION=~/.ssh/key#1` keeps its `#`); `KEY: value` works like `KEY = value`; an
 * indented line that is not itself a `KEY =` line continues the value above; section types and
 * keys are case-insensitive, section names are not. Values stay strings here: typing is zod's
 * job (schema.ts).
 */

export type SectionKind = 'global' | 'aws' | 'key' | 'cluster' | 'volume' | 'plugin' | 'permission';

export interface RawEntry extends Located {
  /** The key as written, e.g. `Cluster_Size`. */
  key: string;
  /** Lower case, the form schemas use: `cluster_size`. */
  lower: string;
  value: string;
}

export interface RawSection extends Located {
  kind: SectionKind;
  /** Empty for [global] and [aws info]. */
  name: string;
  entries: Map<string, RawEntry>;
}

/** How a section is named in messages: `[cluster smallcluster]`. */
export function sectionLabel(kind: SectionKind, name: string): string {
  if (kind === 'global') return '[global]';
  if (kind === 'aws') return '[aws info]';
  return `[${kind} ${name}]`;
}

const NAMED_KINDS: Record<string, SectionKind> = {
  key: 'key',
  cluster: 'cluster',
  volume: 'volume',
  vol: 'volume',
  plugin: 'plugin',
  permission: 'permission',
};
const SECTION_WORDS = ['global', 'aws info', ...Object.keys(NAMED_KINDS)];

/** An indented line that starts like `NAME =` is a key line, not a continuation. */
const KEY_START = /^[A-Za-z_][A-Za-z0-9_]*\s*[=:]/;
const INLINE_COMMENT = /\s[#;]/;

function stripInlineComment(text: string): string {
  const match = INLINE_COMMENT.exec(text);
  return (match ? text.slice(0, match.index) : text).trim();
}

/**
 * Reads one file's text into sections. Problems (malformed lines, unknown section types,
 * duplicates within the file) go to `diagnostics`; the rest of the file is still read.
 */
export function scanConfigText(text: string, file: string, diagnostics: Diagnostics): RawSection[] {
  diagnostics.noteFile(file);
  // A section written twice stays two sections here: the loader merges them (as ConfigParser did)
  // and reports both lines.
  const sections: RawSection[] = [];
  // `null`: before any section; `'skip'`: inside a section whose header was rejected.
  let current: RawSection | null | 'skip' = null;
  let last: RawEntry | undefined;
  const lines = text.replace(/^\ufeff/, '').split(/\r\n|\r|\n/);

  lines.forEach((rawLine, index) => {
    const line = index + 1;
    const at = { file, line };
    const trimmed = rawLine.trim();
    if (trimmed === '') {
      last = undefined;
      return;
    }
    if (trimmed.startsWith('#') || trimmed.startsWith(';')) return;

    if (/^\s/.test(rawLine) && last !== undefined && !KEY_START.test(trimmed)) {
      const more = stripInlineComment(trimmed);
      if (more) last.value = last.value ? `${last.value}\n${more}` : more;
      return;
    }
    last = undefined;

    if (trimmed.startsWith('[')) {
      current = readHeader(trimmed, at, diagnostics);
      if (current === 'skip') return;
      sections.push(current);
      return;
    }

    const delimiter = rawLine.search(/[=:]/);
    if (delimiter < 0) {
      diagnostics.add(at, `expected "KEY = VALUE" or a [section] header, got ${shown(trimmed)}`);
      return;
    }
    const key = rawLine.slice(0, delimiter).trim();
    if (key === '' || /\s/.test(key)) {
      diagnostics.add(at, `expected "KEY = VALUE" with a one-word KEY, got ${shown(trimmed)}`);
      return;
    }
    if (current === null) {
      diagnostics.add(at, `setting ${shown(key)} is outside any section: put it under a header such as [global]`);
      return;
    }
    if (current === 'skip') return;
    const lower = key.toLowerCase();
    const before = current.entries.get(lower);
    if (before) {
      diagnostics.add(
        at,
        `${sectionLabel(current.kind, current.name)} sets ${key.toUpperCase()} twice (first at line ${before.line}): keep one`,
      );
      return;
    }
    const entry: RawEntry = { file, line, key, lower, value: stripInlineComment(rawLine.slice(delimiter + 1)) };
    current.entries.set(lower, entry);
    last = entry;
  });
  return sections;
}

function readHeader(trimmed: string, at: Located, diagnostics: Diagnostics): RawSection | 'skip' {
  const match = /^\[([^\]]*)\]\s*(?:[#;].*)?$/.exec(trimmed);
  if (!match) {
    diagnostics.add(at, `malformed section header ${shown(trimmed)}: expected e.g. [cluster smallcluster]`);
    return 'skip';
  }
  const inner = (match[1] ?? '').trim().replace(/\s+/g, ' ');
  const lower = inner.toLowerCase();
  const make = (kind: SectionKind, name: string): RawSection => ({ ...at, kind, name, entries: new Map() });
  if (lower === 'global') return make('global', '');
  if (lower === 'aws info') return make('aws', '');
  const space = inner.indexOf(' ');
  const word = (space < 0 ? inner : inner.slice(0, space)).toLowerCase();
  const name = space < 0 ? '' : inner.slice(space + 1);
  const kind = NAMED_KINDS[word];
  if (kind === undefined) {
    const hint = didYouMean(
      space < 0 ? lower : word,
      SECTION_WORDS,
      (s) => `[${s}${s.includes(' ') || s === 'global' ? '' : ' …'}]`,
    );
    diagnostics.add(
      at,
      `unknown section type ${shown(`[${inner}]`)}${hint}: sections are [global], [aws info], [key NAME], [cluster NAME], [volume NAME], [plugin NAME], [permission NAME]`,
    );
    return 'skip';
  }
  if (name === '') {
    diagnostics.add(
      at,
      `section [${word}] needs a name, e.g. [${word} ${word === 'cluster' ? 'smallcluster' : 'myname'}]`,
    );
    return 'skip';
  }
  if (name.includes(' ')) {
    diagnostics.add(at, `section name ${shown(name)} in [${inner}] must be one word`);
    return 'skip';
  }
  return make(kind, name);
}
