import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CliIoHost } from '../../src/cli/cli-io-host.js';
import {
  clearSecretsForTesting,
  redact,
  redactValue,
  registerEnvSecrets,
  registerScriptSecrets,
  registerSecret,
} from '../../src/secrets.js';
import { runCommand } from '../_helpers/cli.js';

afterEach(() => clearSecretsForTesting());

describe('secrets', () => {
  it('redactValue reaches every string of a JSON document, keys and escaped characters included', () => {
    const secret = 'p"a\\ss/wörd-123';
    registerSecret(secret);
    const value = { printed: [`token ${secret}`], nested: { [secret]: 1, when: new Date(0) }, n: 3, ok: true };
    const out = JSON.stringify(redactValue(value));
    expect(out).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(redactValue(value).printed).toEqual(['token ***']);
    expect(Object.keys(redactValue(value).nested)).toContain('***');
    expect(redactValue(value).n).toBe(3);
  });

  it('registers secret-named environment variables, not others', () => {
    registerEnvSecrets({ AWS_SECRET_ACCESS_KEY: 'envsecret1', GITHUB_TOKEN: 'ghtoken22', HOME: '/home/someone' });
    expect(redact('envsecret1 ghtoken22 /home/someone')).toBe('*** *** /home/someone');
  });

  it('registers secret-named assignments of a user data script', () => {
    registerScriptSecrets(
      [
        '#!/bin/sh',
        "export DB_PASSWORD='hunter2hunter2'",
        'API_TOKEN="tok-abcdef"',
        'MY_SECRET=plain-value # comment',
        'HOSTNAME=node001',
      ].join('\n'),
    );
    expect(redact('hunter2hunter2 tok-abcdef plain-value node001')).toBe('*** *** *** node001');
  });

  it('the CLI host writes --json documents redacted', () => {
    registerSecret('supersecret-1');
    const stdout = new PassThrough();
    let written = '';
    stdout.on('data', (b: Buffer) => (written += b.toString()));
    const io = new CliIoHost({ json: true, debug: false, stdout: stdout as unknown as NodeJS.WriteStream });
    io.json({ printed: ['supersecret-1'] });
    expect(written).not.toContain('supersecret-1');
    expect(JSON.parse(written)).toEqual({ printed: ['***'] });
  });

  it("a command's --json document, success and failure alike, goes out redacted (BaseCommand.logJson, report)", async () => {
    // The secret comes from a secret-named environment variable (registered as the command starts)
    // and reaches the result through the config path the command reports.
    const secret = 'tok-planted-0451';
    const dir = await mkdtemp(join(tmpdir(), 'sc-json-redact-'));
    const env = { PLANTED_TOKEN: secret, STARCLUSTER_CONFIG: undefined };
    try {
      const path = join(dir, `${secret}.ini`);
      const where = await runCommand(['config', 'path', '--config', path, '--json'], { env });
      expect(where.code).toBe(0);
      expect(where.out).not.toContain(secret);
      expect(JSON.parse(where.stdout)).toEqual({ path: join(dir, '***.ini'), source: 'flag', exists: false });

      const failed = await runCommand(['config', 'validate', '--config', path, '--json'], { env });
      expect(failed.code).toBeGreaterThan(0);
      expect(failed.out).not.toContain(secret);
      const body = JSON.parse(failed.stdout) as { error: { message: string } };
      expect(body.error.message).toContain('***.ini');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
