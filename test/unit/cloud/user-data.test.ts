import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { NODE_USER_DATA, USER_DATA_LIMIT, nodeUserData } from '../../../src/cloud/ec2/user-data.js';
import { StarclusterError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'sc-userdata-'));
const file = (name: string, content: string | Buffer): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

/** Parses user data as cloud-init does (Python's email package), returning each part's type, filename and text. */
function cloudInitParts(userData: Buffer): { type: string; filename: string | null; text: string }[] {
  const script = [
    'import email, json, sys',
    'msg = email.message_from_bytes(sys.stdin.buffer.read())',
    'parts = [p for p in msg.walk() if not p.is_multipart()]',
    'print(json.dumps([{"type": p.get_content_type(), "filename": p.get_filename(),',
    '  "text": p.get_payload(decode=True).decode()} for p in parts]))',
  ].join('\n');
  return JSON.parse(execFileSync('python3', ['-c', script], { input: userData }).toString()) as {
    type: string;
    filename: string | null;
    text: string;
  }[];
}

async function problemsOf(settings: Parameters<typeof nodeUserData>[0]): Promise<readonly string[]> {
  const error = await nodeUserData(settings).catch((e: unknown) => e);
  expect(StarclusterError.is(error) && error.exitCode).toBe(3);
  return (error as StarclusterError).details;
}

describe('EC2 user data (our #cloud-config + USERDATA_SCRIPTS)', () => {
  it('is our #cloud-config alone when there are no scripts', async () => {
    const built = await nodeUserData({ userdataScripts: [], disableCloudinit: false });
    expect(built.userData.toString()).toBe(NODE_USER_DATA);
    expect(built.compressed).toBe(false);
  });

  it('is multipart MIME as StarCluster sent it: #cloud-config, #! scripts and #include parts, typed by first line', async () => {
    const cfg = file('packages.cfg', '#cloud-config\npackages: [htop]\n');
    const sh = file('hello.sh', '#!/bin/sh\necho "héllo" > /tmp/hello\n');
    const inc = file('more.txt', '#include\nhttps://example.invalid/more.sh\n');
    const built = await nodeUserData({ userdataScripts: [cfg, sh, inc], disableCloudinit: false });
    expect(built.userData.toString()).toMatch(/^Content-Type: multipart\/mixed; boundary=/);
    expect(cloudInitParts(built.userData)).toEqual([
      { type: 'text/cloud-config', filename: 'starcluster.cfg', text: NODE_USER_DATA },
      { type: 'text/cloud-config', filename: 'packages.cfg', text: '#cloud-config\npackages: [htop]\n' },
      { type: 'text/x-shellscript', filename: 'hello.sh', text: '#!/bin/sh\necho "héllo" > /tmp/hello\n' },
      { type: 'text/x-include-url', filename: 'more.txt', text: '#include\nhttps://example.invalid/more.sh\n' },
    ]);
  });

  it('refuses, before launch, scripts that are missing or of a kind cloud-init does not know', async () => {
    const plain = file('notes.txt', 'just some notes\n');
    expect(await problemsOf({ userdataScripts: [plain, join(dir, 'nope.sh')], disableCloudinit: false })).toEqual([
      `USERDATA_SCRIPTS: ${plain} starts with "just some notes", which cloud-init does not know: start it with #!, #cloud-config, #include or another cloud-init marker`,
      `USERDATA_SCRIPTS: cannot read ${join(dir, 'nope.sh')} (ENOENT)`,
    ]);
  });

  it('gzips what is over 16 KB when that fits, and refuses what does not', async () => {
    const big = file('big.sh', `#!/bin/sh\n${'echo the same line again and again\n'.repeat(1000)}`);
    const packed = await nodeUserData({ userdataScripts: [big], disableCloudinit: false });
    expect(packed.compressed).toBe(true);
    expect(packed.plainSize).toBeGreaterThan(USER_DATA_LIMIT);
    expect(packed.userData.length).toBeLessThanOrEqual(USER_DATA_LIMIT);
    expect(cloudInitParts(gunzipSync(packed.userData))[1]?.filename).toBe('big.sh');

    // More random bytes than the limit: no compression can bring them under it (12 KB sometimes fit).
    const noise = file('noise.sh', `#!/bin/sh\n# ${randomBytes(17 * 1024).toString('base64')}\n`);
    const [problem] = await problemsOf({ userdataScripts: [noise], disableCloudinit: false });
    expect(problem).toMatch(
      /^USERDATA_SCRIPTS: the user data is \d+\.\d KB \(gzip-compressed too\), over EC2's limit of 16 KB/,
    );
  });

  it('with DISABLE_CLOUDINIT is one shell script, and refuses parts that need cloud-init', async () => {
    const sh = file('setup.sh', '#!/bin/sh\necho ok\n');
    const built = await nodeUserData({ userdataScripts: [sh], disableCloudinit: true });
    const script = built.userData.toString();
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain(Buffer.from('#!/bin/sh\necho ok\n').toString('base64'));
    execFileSync('sh', ['-n'], { input: built.userData }); // it parses as a shell script
    const cfg = file('c.cfg', '#cloud-config\n');
    expect(await problemsOf({ userdataScripts: [cfg], disableCloudinit: true })).toEqual([
      `USERDATA_SCRIPTS: ${cfg} is text/cloud-config, which needs cloud-init, but DISABLE_CLOUDINIT = True: only #! scripts run without it`,
    ]);
  });
});
