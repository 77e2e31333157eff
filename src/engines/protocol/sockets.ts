import * as zmq from 'zeromq';
import { type Clock, deadlineIn, systemClock } from '../../clock.js';
import { z85Decode } from './z85.js';

/** Frames as zeromq.js accepts them. */
export type Frames = (Uint8Array | string)[];

/** What a CURVE server socket admits, by ZAP domain. */
export type Allowlist = Record<string, readonly string[]>;

/** Counts of ZAP decisions, for diagnostics and tests. */
export interface ZapStats {
  admitted: number;
  rejected: number;
  lastRejected?: { domain: string; address: string };
}

const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/**
 * A ZAP handler (RFC 27) for one zeromq context: admits a CURVE peer only if its long-term public
 * key is on the allowlist of the ZAP domain of the socket it connects to. Without a handler libzmq's
 * CURVE server admits anyone who knows the server's public key; with it, a client key cannot
 * register as an engine and vice versa.
 */
export class ZapHandler {
  readonly stats: ZapStats = { admitted: 0, rejected: 0 };
  private readonly socket: zmq.Router;
  private readonly allowed = new Map<string, Set<string>>();
  private readonly done: Promise<void>;

  constructor(context: zmq.Context, allow: Allowlist) {
    for (const [domain, keys] of Object.entries(allow)) this.allow(domain, keys);
    this.socket = new zmq.Router({ context, linger: 0 });
    // Bound synchronously: it must exist before any CURVE server socket in the context accepts.
    this.socket.bindSync('inproc://zeromq.zap.01');
    this.done = this.serve();
  }

  /** Sets the keys a domain admits (replacing its list); later handshakes see the new list. */
  allow(domain: string, keys: readonly string[]): void {
    this.allowed.set(domain, new Set(keys.map((k) => hex(z85Decode(k)))));
  }

  private async serve(): Promise<void> {
    try {
      for await (const msg of this.socket) {
        // [routing id, empty, version, request id, domain, address, identity, mechanism, credentials…]
        const [route, empty, version, requestId, domain, address, , mechanism, credential] = msg;
        if (!route || !empty || !requestId) continue;
        const dom = domain?.toString() ?? '';
        const ok =
          version?.toString() === '1.0' &&
          mechanism?.toString() === 'CURVE' &&
          credential !== undefined &&
          credential.length === 32 &&
          (this.allowed.get(dom)?.has(hex(credential)) ?? false);
        if (ok) this.stats.admitted++;
        else {
          this.stats.rejected++;
          this.stats.lastRejected = { domain: dom, address: address?.toString() ?? '' };
        }
        await this.socket.send([
          route,
          empty,
          '1.0',
          requestId,
          ok ? '200' : '400',
          ok ? 'OK' : 'key not allowed',
          ok ? dom : '',
          '',
        ]);
      }
    } catch {
      // closed
    }
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.done;
  }
}

/** Options for a CURVE server socket (the controller's sockets, pipeline distributor/collector). */
export function curveServer(
  secretKey: string,
  zapDomain: string,
): { curveServer: true; curveSecretKey: string; zapDomain: string } {
  return { curveServer: true, curveSecretKey: secretKey, zapDomain };
}

/** Options for a CURVE client socket (engines, clients, pipeline workers). */
export function curveClient(keys: { serverPublicKey: string; publicKey: string; secretKey: string }): {
  curveServerKey: string;
  curvePublicKey: string;
  curveSecretKey: string;
} {
  return { curveServerKey: keys.serverPublicKey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey };
}

type Sendable = { send(message: Frames): Promise<void>; readonly closed: boolean; readonly sendTimeout?: number };

/**
 * A FIFO in front of a socket's send(): zeromq.js allows one send in flight per socket, so concurrent
 * senders queue here. The first message goes straight to the socket (no added latency). A failed
 * send (a ROUTER peer that is gone) is reported to `onError` and the queue continues.
 *
 * A socket with `sendTimeout: 0` never has a send in flight: zeromq.js hands each message to libzmq
 * before send() returns (and rejects at once if it cannot), so the Outbox sends to it straight away,
 * with no queue and no wait for the previous send's promise. Use it with an unlimited send HWM, so
 * that a message is never refused for a full pipe.
 */
export class Outbox {
  private queue: Frames[] = [];
  private head = 0;
  private busy = false;
  /** The socket sends synchronously (sendTimeout 0): no queue. */
  private readonly direct: boolean;

  constructor(
    private readonly socket: Sendable,
    private readonly onError: (error: unknown, frames: Frames) => void = () => {},
  ) {
    this.direct = socket.sendTimeout === 0;
  }

  get pending(): number {
    return this.queue.length - this.head + (this.busy ? 1 : 0);
  }

  send(frames: Frames): void {
    if (this.direct) {
      this.sendNow(frames);
      return;
    }
    if (this.busy) {
      this.queue.push(frames);
      return;
    }
    this.start(frames);
  }

  private start(frames: Frames): void {
    if (this.socket.closed) return;
    this.busy = true;
    let p: Promise<void>;
    try {
      p = this.socket.send(frames);
    } catch (error) {
      this.failed(error, frames);
      return;
    }
    p.then(this.next, (error: unknown) => this.failed(error, frames));
  }

  /** A synchronous socket's send: done when send() returns; only a refusal is left to report. */
  private sendNow(frames: Frames): void {
    if (this.socket.closed) return;
    try {
      this.socket.send(frames).then(undefined, (error: unknown) => {
        if (!this.socket.closed) this.onError(error, frames);
      });
    } catch (error) {
      if (!this.socket.closed) this.onError(error, frames);
    }
  }

  private failed(error: unknown, frames: Frames): void {
    if (!this.socket.closed) this.onError(error, frames);
    this.next();
  }

  private readonly next = (): void => {
    this.busy = false;
    if (this.head >= this.queue.length) {
      if (this.queue.length) {
        this.queue = [];
        this.head = 0;
      }
      return;
    }
    const frames = this.queue[this.head]!;
    this.queue[this.head++] = [];
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.start(frames);
  };

  /** Resolves when everything queued so far has been handed to the socket (or failed), or after `timeoutMs`. */
  async drain(timeoutMs = 1000, clock: Clock = systemClock): Promise<void> {
    const deadline = deadlineIn(timeoutMs, clock);
    while (this.pending > 0 && !this.socket.closed && !deadline.expired()) await clock.sleep(2);
  }
}

/** Is `host` a loopback address (or name)? */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The host of a `tcp://HOST:PORT` endpoint, or undefined for other transports. */
export function endpointHost(endpoint: string): string | undefined {
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):\d+$/.exec(endpoint);
  return m?.[1]?.replace(/^\[|\]$/g, '');
}

/** An endpoint string for binding on `host` (a port of 0 means an ephemeral one). */
export function tcpEndpoint(host: string, port = 0): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `tcp://${h}:${port === 0 ? '*' : port}`;
}

export { zmq };
