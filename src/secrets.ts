/**
 * Secrets never reach logs, --json output or error messages. Every value that is a secret
 * (AWS secret keys, session tokens, passwords in plugin settings, secret-named assignments in user
 * data scripts, secret-named environment variables, CURVE secret keys) is registered here as soon
 * as it is read, and every line and every JSON document the CLI writes passes through `redact` /
 * `redactValue` (the CLI's IoHost is the one path to stdout and stderr).
 */
const registered = new Set<string>();

/** Shortest value we treat as a secret: shorter ones would redact ordinary words. */
const MIN_SECRET_LENGTH = 6;

/** Names (config keys, environment variables, script variables) whose values are secrets. */
export const SECRET_NAME = /(^|_)pass(_|$)|passw(or)?d|secret|token|credential|private_?key|api_?key/i;

export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= MIN_SECRET_LENGTH) registered.add(value);
}

/** The environment's secrets: the AWS ones and any variable whose name says it is one (e.g. GITHUB_TOKEN). */
export function registerEnvSecrets(env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) if (SECRET_NAME.test(name)) registerSecret(value);
}

/**
 * Secret-named assignments in a shell script (USERDATA_SCRIPTS): `export DB_PASSWORD='…'`,
 * `API_TOKEN=…`. A script that echoes one and fails would otherwise show it in the error.
 */
export function registerScriptSecrets(text: string): void {
  const assignment = /^\s*(?:export\s+|readonly\s+|declare\s+(?:-\w+\s+)?)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;
  for (const line of text.split('\n')) {
    const m = assignment.exec(line);
    if (!m?.[1] || !SECRET_NAME.test(m[1])) continue;
    const raw = (m[2] ?? '').trim();
    const quoted = /^(['"])(.*)\1$/.exec(raw);
    registerSecret(quoted ? quoted[2] : raw.split(/\s+#/)[0]);
  }
}

export function redact(text: string): string {
  let out = text;
  for (const secret of registered) {
    if (out.includes(secret)) out = out.split(secret).join('***');
  }
  return out;
}

/**
 * Deep-redacts a JSON-able value (every --json document): each string, keys included, goes through
 * `redact`, so a secret is found whatever JSON would have escaped in it.
 */
export function redactValue<T>(value: T): T {
  if (registered.size === 0) return value;
  return walk(value) as T;
}

function walk(value: unknown): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map(walk);
  if (value instanceof Date || value === null || typeof value !== 'object') return value;
  // Class instances with toJSON (e.g. Buffers) are serialised first, as JSON.stringify would.
  const plain =
    typeof (value as { toJSON?: unknown }).toJSON === 'function' ? (value as { toJSON(): unknown }).toJSON() : value;
  if (plain !== value) return walk(plain);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[redact(k)] = walk(v);
  return out;
}

/** For tests only. */
export function clearSecretsForTesting(): void {
  registered.clear();
}
