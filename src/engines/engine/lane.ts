import { JobError } from '../../errors.js';
import { BulkServer, type BulkChannel } from '../protocol/bulk.js';
import type { PeerKeys } from '../protocol/keys.js';
import type { LaneInfo } from '../protocol/messages.js';
import { decodeOrDrop, readRoutedMessages } from '../protocol/read-loop.js';
import { curveServer, Outbox, tcpEndpoint, ZapHandler, zmq } from '../protocol/sockets.js';
import type { BulkOffer, ClientToLane, LaneToClientOut, ResultItem } from '../protocol/wire.js';
import { decodeClientToLane, encodeLaneToClient } from '../protocol/wire.js';

/** A lane client's message, its route (a CURVE routing id, or `bulk:<session>`), and how to answer it. */
export type LaneHandler = (route: Buffer, message: ClientToLane, reply: (message: LaneToClientOut) => void) => void;

/** A bulk connection's route (`bulk:<session>`); a CURVE routing id starts with a zero byte. */
const isBulkRoute = (route: Buffer): boolean => route[0] === 0x62 && route.toString('latin1').startsWith('bulk:');

/**
 * An engine's direct lane (see LaneInfo): a CURVE ROUTER bound with the engine's own key pair, whose
 * ZAP handler admits the client keys the controller names, and the bulk data server (AES-256-GCM over
 * TCP, protocol/bulk.ts) whose sessions are offered on it.
 */
export class EngineLane {
  private readonly bulkChannels = new Map<string, BulkChannel>();
  private loop: Promise<void> = Promise.resolve();
  private readonly out: Outbox;
  private bulk?: BulkServer;

  private constructor(
    readonly info: LaneInfo,
    private readonly zap: ZapHandler,
    private readonly sock: zmq.Router,
  ) {
    this.out = new Outbox(sock);
  }

  /** Binds the lane and its bulk server on `host`; LaneBindFailed if either cannot. */
  static async open(host: string, keys: PeerKeys, handle: LaneHandler): Promise<EngineLane> {
    const context = new zmq.Context();
    const zap = new ZapHandler(context, { lane: [] });
    const sock = new zmq.Router({
      context,
      linger: 0,
      sendHighWaterMark: 0,
      receiveHighWaterMark: 0,
      mandatory: true,
      // a send never waits (unlimited HWM), so zeromq.js need not ask ZMQ_EVENTS first (a poll()
      // and a getpid() per send); a send to a client that is gone fails at once, as before
      sendTimeout: 0,
      ...curveServer(keys.secretKey, 'lane'),
    });
    const failed = async (what: string, error: unknown): Promise<never> => {
      sock.close();
      await zap.close();
      throw new JobError('LaneBindFailed', `engine cannot bind its ${what} on ${host}: ${(error as Error).message}`, {
        cause: error,
      });
    };
    try {
      await sock.bind(tcpEndpoint(host));
    } catch (error) {
      return failed('lane', error);
    }
    const lane = new EngineLane({ endpoint: sock.lastEndpoint ?? '', key: keys.publicKey }, zap, sock);
    const bulk = new BulkServer(
      (route, channel) => {
        lane.bulkChannels.set(route.toString('latin1'), channel);
        return (frames) => {
          const message = decodeOrDrop(decodeClientToLane, frames);
          if (message) handle(route, message, (reply) => channel.send(encodeLaneToClient(reply)));
        };
      },
      (route) => lane.bulkChannels.delete(route.toString('latin1')),
    );
    try {
      await bulk.listen(host);
    } catch (error) {
      return failed('bulk lane', error);
    }
    lane.bulk = bulk;
    lane.loop = readRoutedMessages(sock, decodeClientToLane, (message, route) =>
      handle(route, message, (reply) => lane.out.send([route, ...encodeLaneToClient(reply)])),
    );
    return lane;
  }

  /** The client keys the lane admits (the controller's welcome names them). */
  allowClients(keys: string[]): void {
    this.zap.allow('lane', keys);
  }

  /** A bulk session for a client that asked on the CURVE lane (never on a bulk connection). */
  offerBulk(route: Buffer, clientRandom: string): BulkOffer | undefined {
    if (!this.bulk || isBulkRoute(route)) return undefined;
    const { s, r, ep } = this.bulk.offer(clientRandom);
    return { session: s, random: r, endpoint: ep };
  }

  /** Sends results back the way their tasks came: the bulk connection, or the CURVE lane. */
  sendResults(route: Buffer, results: ResultItem<Uint8Array | string>[]): void {
    const message = encodeLaneToClient({ kind: 'results', results });
    if (isBulkRoute(route)) this.bulkChannels.get(route.toString('latin1'))?.send(message);
    else this.out.send([route, ...message]);
  }

  async close(drain: boolean): Promise<void> {
    if (drain) await this.out.drain(200);
    this.sock.close();
    await this.loop;
    await this.zap.close();
    await this.bulk?.close();
  }
}
