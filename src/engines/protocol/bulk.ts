import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DecipherGCM } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { JobError } from '../../errors.js';
import { registerSecret } from '../../secrets.js';
import { adoptWithReader, reusedReader } from './bulk-reader.js';
import type { Frames } from './sockets.js';

/**
 * The bulk data lane: a client ↔ engine TCP connection that carries the same messages as the
 * engine's direct lane (`[header JSON, ...frames]`) but encrypts them with AES-256-GCM from
 * node:crypto instead of CURVE, streamed in records so that a gigabyte never sits in one cipher call,
 * one socket write or one event-loop turn.
 *
 * Keys come from the CURVE lane: the client asks for a session on its CURVE-authenticated lane (only
 * the cluster's client key gets in; only the engine holds the lane's server key), each side sends
 * 32 random bytes there, and HKDF-SHA256 over both gives one key per direction. The session id
 * (16 random bytes) opens exactly one TCP connection; a connection that names no open session, or
 * whose first record does not authenticate, is closed at once.
 *
 * Records: `[u32 length L][L bytes ciphertext][16-byte GCM tag]`, the 4-byte length as associated
 * data, the nonce `0x00000000 ‖ u64 counter`: the counter of each direction starts at 0 and counts
 * every record, and the receiver decrypts record n only with nonce n, so a replayed, reordered,
 * dropped or altered record fails authentication and ends the connection. Nonces never repeat under
 * a key: keys are per session and direction, counters never wrap (2^53 records).
 * A message is one head record (`u32 frame count`, then each frame's length as a f64, at most
 * HEAD_MAX bytes) followed by each frame's bytes in records of at most RECORD_MAX bytes. A message
 * reaches the caller only after every record of it has authenticated (a receiver that places frames
 * in its own memory, Placement, hands that memory to no one before then).
 *
 * Speed: 256 KiB records are where Node's AES-256-GCM (one createCipheriv + update per record, each
 * update allocating its output) runs fastest here: larger records cost more in fresh output pages,
 * smaller ones in per-call overhead. Each record goes to the socket as one writev (cork) of its
 * length, ciphertext and tag; both sides read the socket into one reused buffer (bulk-reader.ts) and
 * decrypt each read straight into where the frame goes (a copy out of the decipher's output, no
 * concatenation): one allocation for the frames after the header, or memory the receiver placed
 * them in (a gather's final array).
 */

/** The largest data record's plaintext. */
export const RECORD_MAX = 256 << 10;
/** The largest head record (frame count and lengths). */
const HEAD_MAX = 1 << 20;
/** The most frames a message may have. */
const MAX_FRAMES = (HEAD_MAX - 4) / 8;
/** The largest message a peer may announce (bytes). */
const MAX_MESSAGE = 2 ** 40;
/** Ciphertext a sender lets the socket buffer before it waits for it to drain. */
const SEND_BUFFER = 4 << 20;
/** Plaintext a sender seals between turns of the event loop (about a millisecond of cipher). */
const YIELD_BYTES = 1 << 20;
const TAG = 16;
const MAGIC = Buffer.from('SCB1');
const PREAMBLE = MAGIC.length + 16;

export interface BulkKeys {
  send: Buffer;
  receive: Buffer;
}

/** The keys of one side of a session: HKDF-SHA256(client random ‖ engine random, salt = session id). */
export function bulkKeys(role: 'client' | 'engine', sid: Buffer, clientRandom: Buffer, engineRandom: Buffer): BulkKeys {
  if (clientRandom.length !== 32 || engineRandom.length !== 32 || sid.length !== 16) {
    throw new JobError('BulkHandshake', 'bulk session: bad key material lengths');
  }
  const ikm = Buffer.concat([clientRandom, engineRandom]);
  const derive = (dir: string): Buffer => Buffer.from(hkdfSync('sha256', ikm, sid, `starcluster bulk v1 ${dir}`, 32));
  const c2e = derive('client->engine');
  const e2c = derive('engine->client');
  return role === 'client' ? { send: c2e, receive: e2c } : { send: e2c, receive: c2e };
}

/** 32 random bytes as base64 for the lane handshake (registered as a secret: never printed). */
export function bulkRandom(): { bytes: Buffer; text: string } {
  const bytes = randomBytes(32);
  const text = bytes.toString('base64');
  registerSecret(text);
  return { bytes, text };
}

/** The nonce of record `counter` (`0x00000000 ‖ u64 counter`), written into `n` (the cipher copies it). */
function nonce(counter: number, n: Buffer = Buffer.alloc(12)): Buffer {
  n.writeUInt32BE(Math.floor(counter / 2 ** 32), 4);
  n.writeUInt32BE(counter >>> 0, 8);
  return n;
}

const align8 = (n: number): number => (n + 7) & ~7;

/**
 * Where a received message's frames after the first go: given the first frame (complete and
 * authenticated) and the lengths of the others, buffers of exactly those lengths, or undefined for
 * fresh memory. The bytes land there record by record, before the whole message has authenticated:
 * the placer hands them to no one until the message is delivered (a message that fails closes the
 * channel and is never delivered).
 */
export type Placement = (first: Buffer, lens: readonly number[]) => Buffer[] | undefined;

/** Counts of what a channel refused, for tests. */
export interface BulkStats {
  recordsIn: number;
  recordsOut: number;
}

/**
 * One authenticated, encrypted bulk connection. `send` queues messages (sent in order, with TCP
 * back-pressure); `onMessage` gets each received message once it has fully authenticated; `onClose`
 * is called once, with the reason if the connection failed (bad record, peer gone).
 */
export class BulkChannel {
  readonly stats: BulkStats = { recordsIn: 0, recordsOut: 0 };
  /** Its socket reads into one reused buffer (no allocation per read), as both sides' do where Node allows. */
  readsReused = false;
  private sendCounter = 0;
  /** Plaintext bytes sealed since the sender last let the event loop turn. */
  private sinceYield = 0;
  private receiveCounter = 0;
  private readonly queue: Frames[] = [];
  private sending = false;
  private closed = false;
  // receive state
  private phase: 'len' | 'body' | 'tag' = 'len';
  private readonly lenBuf = Buffer.alloc(4);
  private readonly nonceBuf = Buffer.alloc(12);
  private lenGot = 0;
  private length = 0;
  private got = 0;
  private decipher?: DecipherGCM;
  private readonly tagBuf = Buffer.alloc(TAG);
  private tagGot = 0;
  private headBuf?: Buffer;
  private msg?: { lens: number[]; frames: Buffer[]; index: number; offset: number };
  private drainWait?: () => void;

  constructor(
    private readonly socket: Socket,
    private readonly keys: BulkKeys,
    private readonly onMessage: (frames: Buffer[]) => void,
    private readonly onClose: (error?: Error) => void,
    private readonly place?: Placement,
  ) {
    socket.setNoDelay(true);
    socket.on('drain', () => this.drainWait?.());
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail());
  }

  /** Messages queued and not yet handed to the socket. */
  get pending(): number {
    return this.queue.length + (this.sending ? 1 : 0);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(frames: Frames): void {
    if (frames.length > MAX_FRAMES) throw new JobError('BulkProtocol', `a bulk message of ${frames.length} frames`);
    if (this.closed) return;
    this.queue.push(frames);
    if (!this.sending) void this.pump();
  }

  close(): void {
    if (this.closed) return;
    this.socket.end();
    this.socket.destroySoon();
    this.fail();
  }

  private fail(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.drainWait?.();
    if (error) this.socket.destroy();
    this.onClose(error);
  }

  // ------------------------------------------------------------ sending

  private async pump(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const frames = this.queue.shift()!.map((f) => (typeof f === 'string' ? Buffer.from(f) : f));
        const head = Buffer.alloc(4 + 8 * frames.length);
        head.writeUInt32BE(frames.length, 0);
        frames.forEach((f, i) => head.writeDoubleBE(f.byteLength, 4 + 8 * i));
        await this.record(head);
        for (const f of frames) {
          for (let off = 0; off < f.byteLength && !this.closed; off += RECORD_MAX) {
            await this.record(f.subarray(off, Math.min(f.byteLength, off + RECORD_MAX)));
          }
        }
      }
    } finally {
      this.sending = false;
    }
  }

  private async record(plain: Uint8Array): Promise<void> {
    if (this.closed) return;
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(plain.byteLength, 0);
    const cipher = createCipheriv('aes-256-gcm', this.keys.send, nonce(this.sendCounter++, this.nonceBuf));
    cipher.setAAD(len);
    const body = cipher.update(plain);
    cipher.final();
    this.socket.cork();
    this.socket.write(len);
    this.socket.write(body);
    this.socket.write(cipher.getAuthTag());
    this.socket.uncork();
    this.stats.recordsOut++;
    this.sinceYield += plain.byteLength;
    if (this.socket.writableLength > SEND_BUFFER) {
      this.sinceYield = 0;
      await new Promise<void>((resolve) => (this.drainWait = resolve));
      this.drainWait = undefined;
    } else if (this.sinceYield >= YIELD_BYTES) {
      // let timers and other sockets (heartbeats, a controller in this process) have their turn
      this.sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  // ------------------------------------------------------------ receiving

  /**
   * Takes bytes read from the socket (see reusedReader): consumed before it returns (copied or
   * deciphered out), so the caller may reuse `chunk`'s memory at once.
   */
  ingest(chunk: Buffer): void {
    let pos = 0;
    try {
      while (pos < chunk.length && !this.closed) {
        if (this.phase === 'len') {
          const take = Math.min(4 - this.lenGot, chunk.length - pos);
          chunk.copy(this.lenBuf, this.lenGot, pos, pos + take);
          this.lenGot += take;
          pos += take;
          if (this.lenGot < 4) break;
          this.lenGot = 0;
          this.startRecord(this.lenBuf.readUInt32BE(0));
        } else if (this.phase === 'body') {
          const take = Math.min(this.length - this.got, chunk.length - pos);
          const out = this.decipher!.update(chunk.subarray(pos, pos + take));
          if (this.msg) {
            out.copy(this.msg.frames[this.msg.index]!, this.msg.offset + this.got);
          } else out.copy(this.headBuf!, this.got);
          this.got += take;
          pos += take;
          if (this.got === this.length) this.phase = 'tag';
        } else {
          const take = Math.min(TAG - this.tagGot, chunk.length - pos);
          chunk.copy(this.tagBuf, this.tagGot, pos, pos + take);
          this.tagGot += take;
          pos += take;
          if (this.tagGot < TAG) break;
          this.tagGot = 0;
          this.endRecord();
        }
      }
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private startRecord(length: number): void {
    if (length === 0 || length > (this.msg ? RECORD_MAX : HEAD_MAX)) throw protocolError(`a record of ${length} bytes`);
    if (this.msg) {
      const room = this.msg.lens[this.msg.index]! - this.msg.offset;
      if (length > room) throw protocolError('a record that overruns its frame');
    } else this.headBuf = Buffer.alloc(length);
    this.length = length;
    this.got = 0;
    this.decipher = createDecipheriv('aes-256-gcm', this.keys.receive, nonce(this.receiveCounter, this.nonceBuf));
    this.decipher.setAAD(this.lenBuf);
    this.phase = 'body';
  }

  private endRecord(): void {
    const decipher = this.decipher!;
    this.decipher = undefined;
    decipher.setAuthTag(this.tagBuf);
    try {
      decipher.final();
    } catch {
      throw new JobError('BulkRecordRejected', `bulk record ${this.receiveCounter} failed authentication`);
    }
    this.receiveCounter++;
    this.stats.recordsIn++;
    this.phase = 'len';
    if (!this.msg) {
      this.startMessage(this.headBuf!);
      this.headBuf = undefined;
    } else {
      this.msg.offset += this.length;
    }
    this.advance();
  }

  private startMessage(head: Buffer): void {
    if (head.length < 4) throw protocolError('a short message head');
    const count = head.readUInt32BE(0);
    if (count > MAX_FRAMES || head.length !== 4 + 8 * count) throw protocolError('a bad message head');
    const lens: number[] = [];
    let total = 0;
    for (let i = 0; i < count; i++) {
      const n = head.readDoubleBE(4 + 8 * i);
      if (!Number.isSafeInteger(n) || n < 0) throw protocolError('a bad frame length');
      lens.push(n);
      total += align8(n);
    }
    if (total > MAX_MESSAGE) throw protocolError(`a message of ${total} bytes`);
    // The first frame (a header) alone; the others once it is in (see layOut).
    this.msg = { lens, frames: count > 0 ? [Buffer.allocUnsafe(lens[0]!)] : [], index: 0, offset: 0 };
  }

  /**
   * Memory for the frames after the first: where `place` says (it has read the first), else one
   * allocation for them all, each frame 8-aligned in it, so that a typed array spread over consecutive
   * frames decodes as one view without another copy.
   */
  private layOut(m: NonNullable<BulkChannel['msg']>): void {
    const lens = m.lens.slice(1);
    const placed = this.place?.(m.frames[0]!, lens);
    if (placed && placed.length === lens.length && placed.every((b, i) => b.byteLength === lens[i])) {
      m.frames.push(...placed);
      return;
    }
    const slab = Buffer.allocUnsafeSlow(
      Math.max(
        1,
        lens.reduce((s, n) => s + align8(n), 0),
      ),
    );
    let at = 0;
    for (const n of lens) {
      m.frames.push(Buffer.from(slab.buffer, slab.byteOffset + at, n));
      at += align8(n);
    }
  }

  /** Skips finished (and empty) frames; delivers the message when every frame is in. */
  private advance(): void {
    const m = this.msg;
    if (!m) return;
    while (m.index < m.lens.length && m.offset >= m.lens[m.index]!) {
      m.index++;
      m.offset = 0;
      if (m.index === 1 && m.lens.length > 1) this.layOut(m);
    }
    if (m.index < m.lens.length) return;
    this.msg = undefined;
    this.onMessage(m.frames);
  }
}

function protocolError(what: string): JobError {
  return new JobError('BulkProtocol', `bulk peer sent ${what}`);
}

/** The engine's side: a TCP server that admits connections naming a session offered on the CURVE lane. */
export class BulkServer {
  private readonly server: Server;
  private readonly sessions = new Map<string, { keys: BulkKeys; expires: number }>();
  private readonly open = new Set<BulkChannel>();
  endpoint = '';
  /** Connections refused (no such session, bad preamble, first record not authentic). */
  refused = 0;

  constructor(
    private readonly onChannel: (route: Buffer, channel: BulkChannel) => (frames: Buffer[]) => void,
    private readonly onChannelClosed: (route: Buffer) => void,
  ) {
    // paused: an accepted connection reads nothing until adoptWithReader has given it its reused buffer
    this.server = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
  }

  async listen(host: string): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host, () => resolve());
    });
    const addr = this.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    this.endpoint = `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return this.endpoint;
  }

  /** Opens a session for a client that asked on the CURVE lane: its id and the engine's random (base64). */
  offer(clientRandom: string): { s: string; r: string; ep: string } {
    const cr = Buffer.from(clientRandom, 'base64');
    const sid = randomBytes(16);
    const er = bulkRandom();
    const keys = bulkKeys('engine', sid, cr, er.bytes);
    const now = Date.now();
    for (const [k, v] of this.sessions) if (v.expires < now) this.sessions.delete(k);
    if (this.sessions.size >= 256) this.sessions.delete(this.sessions.keys().next().value!);
    this.sessions.set(sid.toString('hex'), { keys, expires: now + 30_000 });
    return { s: sid.toString('hex'), r: er.text, ep: this.endpoint };
  }

  private accept(accepted: Socket): void {
    // Reads land in one reused buffer, as the client's do (see reusedReader); the preamble first.
    const reader = reusedReader();
    const socket = adoptWithReader(accepted, reader);
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => refuse(), 10_000);
    timer.unref();
    const refuse = (): void => {
      clearTimeout(timer);
      this.refused++;
      socket.destroy();
    };
    socket.on('error', () => {});
    reader.sink((chunk) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < PREAMBLE) return;
      clearTimeout(timer);
      const magic = got.subarray(0, MAGIC.length);
      const sid = got.subarray(MAGIC.length, PREAMBLE).toString('hex');
      const session = this.sessions.get(sid);
      if (!timingSafeEqual(magic, MAGIC) || !session) {
        reader.sink(() => {});
        return refuse();
      }
      this.sessions.delete(sid); // one connection per session
      const route = Buffer.from(`bulk:${sid}`, 'latin1');
      const box: { handler?: (frames: Buffer[]) => void } = {};
      let authentic = false;
      const channel = new BulkChannel(
        socket,
        session.keys,
        (frames) => {
          authentic = true;
          box.handler?.(frames);
        },
        (error) => {
          this.open.delete(channel);
          if (error && !authentic) this.refused++;
          this.onChannelClosed(route);
        },
      );
      channel.readsReused = reader.reused;
      this.open.add(channel);
      box.handler = this.onChannel(route, channel);
      reader.sink((chunk) => channel.ingest(chunk));
      const rest = got.subarray(PREAMBLE);
      if (rest.length > 0) channel.ingest(rest);
    });
  }

  async close(): Promise<void> {
    for (const c of this.open) c.close();
    this.open.clear();
    this.sessions.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The client's side: connects to an engine's bulk endpoint with a session it got on the lane. */
export async function connectBulk(
  endpoint: string,
  session: { s: string; r: string },
  clientRandom: Buffer,
  onMessage: (frames: Buffer[]) => void,
  onClose: (error?: Error) => void,
  place?: Placement,
): Promise<BulkChannel> {
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)$/.exec(endpoint);
  if (!m) throw new JobError('BulkHandshake', `bad bulk endpoint ${JSON.stringify(endpoint)}`);
  const sid = Buffer.from(session.s, 'hex');
  const keys = bulkKeys('client', sid, clientRandom, Buffer.from(session.r, 'base64'));
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const reader = reusedReader();
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = createConnection({ host, port: Number(m[2]), onread: reader.onread }, () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
  socket.write(Buffer.concat([MAGIC, sid]));
  const channel = new BulkChannel(socket, keys, onMessage, onClose, place);
  channel.readsReused = reader.reused = true;
  reader.sink((chunk) => channel.ingest(chunk));
  return channel;
}
