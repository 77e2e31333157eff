/**
 * Secrets never reach logs, --json output or error messages. Every value that is a secret
 * (AWS secret keys, session tokens, passwords in plugin settings, CURVE secret keys) is registered
 * here as soon as it is read, and every line the CLI writes passes through `redact`.
 */
const registered = new Set<string>();

/** Shortest value we treat as a secret: shorter ones would redact ordinary words. */
const MIN_SECRET_LENGTH = 6;

export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= MIN_SECRET_LENGTH) registered.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of registered) {
    if (out.includes(secret)) out = out.split(secret).join('***');
  }
  return out;
}

/** Deep-redacts a JSON-able value (used for --json output). */
export function redactValue<T>(value: T): T {
  if (registered.size === 0) return value;
  return JSON.parse(redact(JSON.stringify(value))) as T;
}

/** For tests only. */
export function clearSecretsForTesting(): void {
  registered.clear();
}
