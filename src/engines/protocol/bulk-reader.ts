import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';

/**
 * Socket reads for the bulk lane (protocol/bulk.ts) into one reused buffer: Node's `onread` option.
 * A socket read the default way allocates a fresh 64 KiB buffer per read; with `onread` the kernel
 * copies into the same warm memory every time, in reads as large as the socket has ready (up to
 * READ_BUFFER), so the receiver also makes fewer and larger decipher calls. On this VM that cut a
 * client's receive CPU per byte by about a quarter.
 */

/** Each side's reused socket read buffer. */
export const READ_BUFFER = 1 << 20;

export interface ReusedReader {
  /** For `createConnection` / `new Socket`. */
  readonly onread: OnReadOpts & { buffer: Buffer };
  /**
   * Where reads go from now on: `to` must consume each chunk before it returns (the memory is read
   * into again). Bytes read before there was a sink are handed over first.
   */
  sink(to: (chunk: Buffer) => void): void;
  /** The socket reads into `onread.buffer` (false: it was left on its own reads, see adoptWithReader). */
  reused: boolean;
  /** Bytes from a socket that reads the default way. */
  feed(chunk: Buffer): void;
}

export function reusedReader(): ReusedReader {
  let to: ((chunk: Buffer) => void) | undefined;
  let early: Buffer[] = [];
  const feed = (chunk: Buffer): void => {
    if (to) to(chunk);
    else early.push(Buffer.from(chunk)); // a copy: the buffer is read into again
  };
  return {
    onread: {
      buffer: Buffer.allocUnsafe(READ_BUFFER),
      callback: (n: number, buf: Uint8Array): boolean => {
        feed(Buffer.from(buf.buffer, buf.byteOffset, n));
        return true;
      },
    },
    sink(target) {
      to = target;
      const before = early;
      early = [];
      if (before.length > 0) target(before.length === 1 ? before[0]! : Buffer.concat(before));
    },
    reused: false,
    feed,
  };
}

/** The private part of a net.Socket this module relies on: its libuv stream handle. */
interface StreamHandle {
  useUserBuffer(buffer: Uint8Array): void;
  readStart(): number;
  readStop(): number;
}

function streamHandle(socket: Socket): StreamHandle | undefined {
  const handle = (socket as unknown as { _handle?: Partial<StreamHandle> | null })._handle;
  const ok =
    handle &&
    typeof handle.useUserBuffer === 'function' &&
    typeof handle.readStart === 'function' &&
    typeof handle.readStop === 'function';
  return ok ? (handle as StreamHandle) : undefined;
}

/**
 * A server's accepted connection, made to read into `reader`'s buffer. Node takes `onread` only when
 * a socket is made, and a server makes its sockets itself, so the accepted one (made paused:
 * `pauseOnConnect`, it has read nothing) hands its handle to a new Socket made with `onread`, the way
 * the server made it; the empty shell is destroyed (it has no handle left to close) so the server
 * counts the connection as gone. If this Node's sockets do not look as expected the connection
 * keeps its own reads, fed to the reader (`reader.reused` stays false).
 */
export function adoptWithReader(accepted: Socket, reader: ReusedReader): Socket {
  const handle = streamHandle(accepted);
  if (!handle) {
    accepted.on('data', (chunk: Buffer) => reader.feed(chunk));
    accepted.resume();
    return accepted;
  }
  (accepted as unknown as { _handle: unknown })._handle = null;
  accepted.destroy();
  reader.reused = true;
  // `handle` and `onread` are what net.Server and net.connect pass; Node's types list neither here
  const options = { handle, onread: reader.onread, readable: true, writable: true };
  return new Socket(options as SocketConstructorOpts);
}
