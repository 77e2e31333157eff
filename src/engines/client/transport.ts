import { JobError } from '../../errors.js';
import type { PeerKeys } from '../protocol/keys.js';
import { readMessages } from '../protocol/read-loop.js';
import { curveClient, Outbox, zmq } from '../protocol/sockets.js';
import type { ClientToControllerOut, ControllerToClient } from '../protocol/wire.js';
import { decodeControllerToClient, encodeClientToController } from '../protocol/wire.js';

export type WelcomeMessage = Extract<ControllerToClient, { kind: 'welcome' }>;

const [PING] = encodeClientToController({ kind: 'ping' }) as [string];

/**
 * A client's connection to the controller: the main CURVE DEALER (tasks, results, everything else)
 * and a second one for pings, so a big result streaming in on the main one never makes the
 * controller look silent. It knows nothing of tasks: messages in go to `onMessage`, typed.
 */
export class ControllerConnection {
  private readonly sock: zmq.Dealer;
  private readonly out: Outbox;
  private readonly pingSock: zmq.Dealer;
  private loop?: Promise<void>;
  private pingLoop?: Promise<void>;
  private pingTimer?: NodeJS.Timeout;
  private lastHeard = Date.now();
  private welcomed?: (message: WelcomeMessage) => void;
  private authError?: string;

  constructor(
    private readonly endpoint: string,
    keys: PeerKeys,
    private readonly onMessage: (message: ControllerToClient) => void,
  ) {
    this.sock = new zmq.Dealer({
      ...curveClient(keys),
      linger: 0,
      sendHighWaterMark: 0,
      receiveHighWaterMark: 0,
      sendTimeout: 0,
    });
    this.out = new Outbox(this.sock);
    this.pingSock = new zmq.Dealer({ ...curveClient(keys), linger: 0, sendTimeout: 0 });
    this.sock.events.on('handshake:error:auth', (e) => {
      this.authError = `the controller refused this client's CURVE key (${e.error.message})`;
    });
    this.sock.events.on('handshake:error:protocol', (e) => {
      this.authError = `CURVE handshake failed (${e.error.message}): are these the cluster's keys?`;
    });
  }

  /** Connects, says hello and waits for the welcome; ControllerUnreachable if none within `timeoutMs`. */
  async open(timeoutMs: number): Promise<WelcomeMessage> {
    const welcome = new Promise<WelcomeMessage>((resolve) => {
      this.welcomed = resolve;
    });
    try {
      this.sock.connect(this.endpoint);
    } catch (error) {
      this.sock.close();
      throw new JobError(
        'ControllerUnreachable',
        `bad controller endpoint ${this.endpoint}: ${(error as Error).message}`,
      );
    }
    this.loop = readMessages(this.sock, decodeControllerToClient, this.receive);
    this.send({ kind: 'hello' });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    const w = await Promise.race([welcome, timeout]);
    clearTimeout(timer);
    if (!w) {
      await this.close();
      const why = this.authError ?? 'is the cluster running, the SSH tunnel up, and are these the cluster keys?';
      throw new JobError(
        'ControllerUnreachable',
        `no answer from the controller at ${this.endpoint} within ${timeoutMs} ms: ${why}`,
      );
    }
    return w;
  }

  /** Pings every other beat on the ping socket; `onLost` once no word came for `lostAfterMs`. */
  startPings(heartbeatMs: number, lostAfterMs: number, onLost: () => void): void {
    this.pingSock.connect(this.endpoint);
    this.pingLoop = readMessages(this.pingSock, decodeControllerToClient, this.receive);
    this.pingTimer = setInterval(
      () => {
        this.pingSock.send(PING).catch(() => {});
        if (Date.now() - this.lastHeard > lostAfterMs) onLost();
      },
      Math.max(50, heartbeatMs) * 2,
    );
    this.pingTimer.unref();
  }

  private readonly receive = (message: ControllerToClient): void => {
    this.lastHeard = Date.now();
    if (message.kind === 'welcome' && this.welcomed) {
      this.welcomed(message);
      this.welcomed = undefined;
      return;
    }
    this.onMessage(message);
  };

  send(message: ClientToControllerOut): void {
    this.out.send(encodeClientToController(message));
  }

  /** Resolves when what was sent has been handed to the socket (or after `timeoutMs`). */
  drain(timeoutMs: number): Promise<void> {
    return this.out.drain(timeoutMs);
  }

  async close(): Promise<void> {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.sock.close();
    this.pingSock.close();
    await this.loop;
    await this.pingLoop;
  }
}
