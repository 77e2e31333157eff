import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SFTPWrapper } from 'ssh2';
import { AbortError, RemoteError } from '../errors.js';
import type { TransferOptions } from './types.js';

/** SFTP copies of files and directory trees (`put`, `get`), for SshConnection. */

/** Copies a local file or tree to `remotePath` over SFTP, with byte progress. */
export async function putTree(
  sftp: SFTPWrapper,
  alias: string,
  localPath: string,
  remotePath: string,
  options: TransferOptions = {},
): Promise<void> {
  const files = await localTree(localPath);
  const total = files.reduce((sum, f) => sum + f.size, 0);
  let done = 0;
  for (const file of files) {
    if (options.signal?.aborted) throw new AbortError();
    const target = file.relative ? posix.join(remotePath, file.relative) : remotePath;
    if (file.directory) {
      await sftpMkdir(sftp, target);
      continue;
    }
    let sent = 0;
    await pipeline(
      createReadStream(file.path),
      counting(file.size, (n) => {
        sent += n;
        done += n;
        options.onProgress?.({ file: file.path, transferred: sent, size: file.size, totalTransferred: done, total });
      }),
      sftp.createWriteStream(target, { mode: file.mode }),
    ).catch((error: unknown) => {
      throw new RemoteError(
        'SftpFailed',
        `cannot copy ${file.path} to ${alias}:${target}: ${(error as Error).message}`,
        { cause: error },
      );
    });
    if (file.size === 0)
      options.onProgress?.({ file: file.path, transferred: 0, size: 0, totalTransferred: done, total });
  }
}

/** Copies a remote file or tree to `localPath` over SFTP, with byte progress. */
export async function getTree(
  sftp: SFTPWrapper,
  alias: string,
  remotePath: string,
  localPath: string,
  options: TransferOptions = {},
): Promise<void> {
  const files = await remoteTree(sftp, remotePath).catch((error: unknown) => {
    throw new RemoteError('SftpFailed', `cannot read ${alias}:${remotePath}: ${(error as Error).message}`, {
      cause: error,
    });
  });
  const total = files.reduce((sum, f) => sum + f.size, 0);
  let done = 0;
  for (const file of files) {
    if (options.signal?.aborted) throw new AbortError();
    const target = file.relative ? join(localPath, ...file.relative.split('/')) : localPath;
    if (file.directory) {
      await mkdir(target, { recursive: true });
      continue;
    }
    let got = 0;
    await pipeline(
      sftp.createReadStream(file.path),
      counting(file.size, (n) => {
        got += n;
        done += n;
        options.onProgress?.({ file: file.path, transferred: got, size: file.size, totalTransferred: done, total });
      }),
      createWriteStream(target, { mode: file.mode & 0o777 }),
    );
    if (file.size === 0)
      options.onProgress?.({ file: file.path, transferred: 0, size: 0, totalTransferred: done, total });
  }
}

function counting(_size: number, onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onBytes(chunk.length);
      callback(null, chunk);
    },
  });
}

interface TreeEntry {
  path: string;
  /** Path below the root, `/`-separated; '' for the root itself. */
  relative: string;
  directory: boolean;
  size: number;
  mode: number;
}

async function localTree(root: string): Promise<TreeEntry[]> {
  const top = await stat(root).catch((error: unknown) => {
    throw new RemoteError(
      'LocalPathMissing',
      `cannot read ${root}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  });
  if (!top.isDirectory())
    return [{ path: root, relative: '', directory: false, size: top.size, mode: top.mode & 0o777 }];
  const out: TreeEntry[] = [{ path: root, relative: '', directory: true, size: 0, mode: top.mode & 0o777 }];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const relative = rel ? `${rel}/${entry.name}` : entry.name;
      const info = await stat(path);
      if (info.isDirectory()) {
        out.push({ path, relative, directory: true, size: 0, mode: info.mode & 0o777 });
        await walk(path, relative);
      } else if (info.isFile()) {
        out.push({ path, relative, directory: false, size: info.size, mode: info.mode & 0o777 });
      }
    }
  };
  await walk(root, '');
  return out;
}

function sftpStat(sftp: SFTPWrapper, path: string): Promise<{ isDirectory(): boolean; size: number; mode: number }> {
  return new Promise((resolve, reject) => sftp.stat(path, (error, stats) => (error ? reject(error) : resolve(stats))));
}

function sftpMkdir(sftp: SFTPWrapper, path: string): Promise<void> {
  return new Promise((resolve, reject) =>
    sftp.mkdir(path, (error) => {
      if (!error) resolve();
      else
        sftpStat(sftp, path).then(
          (s) => (s.isDirectory() ? resolve() : reject(error)),
          () => reject(error),
        );
    }),
  );
}

async function remoteTree(sftp: SFTPWrapper, root: string): Promise<TreeEntry[]> {
  const top = await sftpStat(sftp, root);
  if (!top.isDirectory()) return [{ path: root, relative: '', directory: false, size: top.size, mode: top.mode }];
  const out: TreeEntry[] = [{ path: root, relative: '', directory: true, size: 0, mode: top.mode }];
  const walk = async (dir: string, rel: string): Promise<void> => {
    const list = await new Promise<{ filename: string; attrs: { size: number; mode: number } }[]>((resolve, reject) =>
      sftp.readdir(dir, (error, items) => (error ? reject(error) : resolve(items))),
    );
    for (const item of list.sort((a, b) => a.filename.localeCompare(b.filename))) {
      const path = posix.join(dir, item.filename);
      const relative = rel ? `${rel}/${item.filename}` : item.filename;
      const kind = item.attrs.mode & 0o170000;
      if (kind === 0o040000) {
        out.push({ path, relative, directory: true, size: 0, mode: item.attrs.mode });
        await walk(path, relative);
      } else if (kind === 0o100000) {
        out.push({ path, relative, directory: false, size: item.attrs.size, mode: item.attrs.mode });
      }
    }
  };
  await walk(root, '');
  return out;
}
