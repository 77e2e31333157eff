import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ConfigError } from '../../errors.js';

/**
 * EC2 user data for the nodes we launch: the one place it is assembled (PLAN: "User data").
 *
 * Our own part is a #cloud-config that lets node setup log in as root with the cluster's key (as
 * StarCluster did with `disable_root: 0`); stock Ubuntu/Debian images refuse root until cloud-init
 * allows it. Passwords stay off. USERDATA_SCRIPTS follow as further parts, as StarCluster sent them
 * (userdata.py): a multipart/mixed MIME message whose parts are typed by their first line, so
 * `#cloud-config`, `#!` scripts, `#include` URL lists and the rest of cloud-init's formats work.
 * With DISABLE_CLOUDINIT (an image without cloud-init, whose agent only runs a `#!` script), the
 * user data is one shell script doing what our cloud-config does, then running the `#!` scripts.
 *
 * EC2 accepts at most 16 KB of user data (before base64). Like StarCluster, a message over that is
 * sent gzip-compressed (cloud-init unpacks it) if that fits; otherwise it is refused before launch.
 * The MIME message is written here by hand: cloud-init's format is Python's email.mime with a few
 * Content-Types, and the npm MIME packages are mail composers that add mail headers.
 */

export const NODE_USER_DATA = ['#cloud-config', 'disable_root: false', 'ssh_pwauth: false', ''].join('\n');

/** EC2's limit on user data, in bytes, before base64. */
export const USER_DATA_LIMIT = 16 * 1024;

/** cloud-init's part types by first line, longest prefix first (StarCluster's starts_with_mappings). */
const PART_TYPES: [prefix: string, type: string][] = [
  ['#cloud-config-archive', 'text/cloud-config-archive'],
  ['#cloud-boothook', 'text/cloud-boothook'],
  ['#cloud-config', 'text/cloud-config'],
  ['#part-handler', 'text/part-handler'],
  ['#upstart-job', 'text/upstart-job'],
  ['#include', 'text/x-include-url'],
  ['#ignored', 'text/ignore'],
  ['#!', 'text/x-shellscript'],
];

export interface UserDataPart {
  /** Shown as the part's filename (the script's base name). */
  filename: string;
  content: Buffer;
}

/** The cloud-init Content-Type of a part, from its first line; undefined when cloud-init would not know it. */
export function partType(content: Buffer | string): string | undefined {
  const text = typeof content === 'string' ? content : content.subarray(0, 64).toString('utf8');
  return PART_TYPES.find(([prefix]) => text.startsWith(prefix))?.[1];
}

/** One part alone as it is; several as a multipart/mixed MIME message (parts base64, CRLF lines). */
export function assembleUserData(parts: readonly UserDataPart[]): Buffer {
  const [only] = parts;
  if (parts.length === 1 && only) return only.content;
  const boundary = `===============starcluster${randomBytes(12).toString('hex')}==`;
  const lines = [
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    'MIME-Version: 1.0',
    '',
    ...parts.flatMap((part) => [
      `--${boundary}`,
      `Content-Type: ${partType(part.content) ?? 'text/plain'}; charset="utf-8"`,
      'MIME-Version: 1.0',
      'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; filename="${part.filename.replace(/["\\\r\n]/g, '_')}"`,
      '',
      ...(part.content.toString('base64').match(/.{1,76}/g) ?? []),
    ]),
    `--${boundary}--`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}

/** Without cloud-init: one script that opens root to the launch key, then runs each `#!` script once. */
function scriptUserData(parts: readonly UserDataPart[]): Buffer {
  const run = parts.map((part, i) => {
    const path = `/var/lib/starcluster/userdata-${i}-${part.filename.replace(/[^A-Za-z0-9._-]/g, '_')}`;
    return [
      `base64 -d > ${path} <<'STARCLUSTER_EOF'`,
      ...(part.content.toString('base64').match(/.{1,76}/g) ?? []),
      'STARCLUSTER_EOF',
      `chmod 700 ${path} && ${path}`,
    ].join('\n');
  });
  return Buffer.from(
    [
      '#!/bin/sh',
      '# starcluster user data (DISABLE_CLOUDINIT): what our #cloud-config does, then USERDATA_SCRIPTS.',
      "# Root may log in with the launch key only (the image's forced command is removed, as StarCluster did).",
      "[ -f /root/.ssh/authorized_keys ] && sed -i 's/^.*\\(\\(ssh\\|ecdsa\\)-[a-z0-9-]* \\)/\\1/' /root/.ssh/authorized_keys",
      'mkdir -p /var/lib/starcluster',
      ...run,
      '',
    ].join('\n'),
  );
}

export interface NodeUserData {
  /** What RunInstances gets (before base64). */
  userData: Buffer;
  /** Bytes before compression. */
  plainSize: number;
  compressed: boolean;
}

/** What user data needs from a template. */
export interface UserDataSettings {
  userdataScripts: readonly string[];
  disableCloudinit: boolean;
}

/**
 * Reads USERDATA_SCRIPTS and builds the nodes' user data. Every problem (a script missing or of a
 * kind cloud-init does not know, a #cloud-config without cloud-init, too big) is a ConfigError
 * listing them all, so `start` refuses before it launches anything.
 */
export async function nodeUserData(
  settings: UserDataSettings,
  read: (path: string) => Promise<Buffer> = (path) => readFile(path),
): Promise<NodeUserData> {
  const problems: string[] = [];
  const scripts: UserDataPart[] = [];
  for (const path of settings.userdataScripts) {
    let content: Buffer;
    try {
      content = await read(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      problems.push(`USERDATA_SCRIPTS: cannot read ${path} (${code})`);
      continue;
    }
    const type = partType(content);
    if (!type)
      problems.push(
        `USERDATA_SCRIPTS: ${path} starts with ${JSON.stringify(content.subarray(0, 20).toString('utf8').split('\n')[0])}, which cloud-init does not know: start it with #!, #cloud-config, #include or another cloud-init marker`,
      );
    else if (settings.disableCloudinit && type !== 'text/x-shellscript')
      problems.push(
        `USERDATA_SCRIPTS: ${path} is ${type}, which needs cloud-init, but DISABLE_CLOUDINIT = True: only #! scripts run without it`,
      );
    scripts.push({ filename: basename(path), content });
  }
  if (problems.length === 0) {
    const plain = settings.disableCloudinit
      ? scriptUserData(scripts)
      : assembleUserData([{ filename: 'starcluster.cfg', content: Buffer.from(NODE_USER_DATA) }, ...scripts]);
    if (plain.length <= USER_DATA_LIMIT) return { userData: plain, plainSize: plain.length, compressed: false };
    // cloud-init unpacks gzip; an image without it would not.
    if (!settings.disableCloudinit) {
      const packed = gzipSync(plain, { level: 9 });
      if (packed.length <= USER_DATA_LIMIT) return { userData: packed, plainSize: plain.length, compressed: true };
    }
    problems.push(
      `USERDATA_SCRIPTS: the user data is ${kb(plain.length)}${settings.disableCloudinit ? '' : ' (gzip-compressed too)'}, over EC2's limit of 16 KB: make the scripts smaller, or have one fetch the rest (#include a URL)`,
    );
  }
  throw new ConfigError('UserDataInvalid', `the nodes' user data cannot be built: ${problems.length} problem(s)`, {
    details: problems,
  });
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;
