/**
 * A small fault-injecting HTTP proxy on 127.0.0.1 in front of LocalStack, for tests of how the
 * cluster operations behave when the EC2 API misbehaves. Each call is decided by a seeded PRNG in
 * arrival order (the same seed gives the same sequence of decisions):
 *
 * - `throttle`: HTTP 400 with EC2's `RequestLimitExceeded` XML (the request never reaches LocalStack);
 * - `serverError`: HTTP 500 `InternalError` (never reaches LocalStack);
 * - `timeout`: the request is held for `holdMs`, then its connection is dropped with no answer.
 *   Half of them (by the same PRNG) are first forwarded to LocalStack, so the call *did* happen
 *   and only its answer is lost — the case that finds non-idempotent retries.
 *
 * LocalStack 2026.3 ignores RunInstances' ClientToken (two calls with one token make two sets of
 * instances), where EC2 returns the first call's answer again. The proxy plays EC2's part: it
 * remembers each successful RunInstances answer by ClientToken and replays it to a retry
 * (`emulateClientToken`, default on), so a lost answer tests our retries, not LocalStack's gap.
 *
 * A `script` decides chosen calls before the random faults: answer them with a given EC2 error
 * (InsufficientInstanceCapacity, InvalidInstanceID.NotFound, …) or hold them until `release()`,
 * so a test can put the CLI exactly where it wants (e.g. mid-launch) and wait for that event.
 *
 * The EC2 client has no request timeout of its own (the SDK's default), so "past the client's
 * timeout" is modelled by dropping the connection after the hold: the client sees a reset and
 * retries, as it would after its own timeout.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { EventEmitter, once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { mulberry32 } from '../../src/science/loaders/synthetic.js';

/** One call as a script sees it: the EC2 action, its form parameters, and how many came before it. */
export interface ProxyCall {
  action: string;
  form: URLSearchParams;
  /** A JSON-protocol call's parsed body (Service Quotas: { ServiceCode, QuotaCode }). */
  json?: Record<string, unknown>;
  index: number;
}

/**
 * A script's decision: an error answer (EC2's XML, or JSON for a JSON-protocol service such as
 * Service Quotas), a successful JSON answer (`json`: for services LocalStack lacks) or EC2 XML
 * answer (`xml`: an account unlike LocalStack's, e.g. without a default VPC), holding the
 * call until `release()`, or nothing (as usual).
 */
export type ScriptedAnswer =
  | { error: { status?: number; code: string; message: string } }
  | { json: unknown }
  | { xml: string }
  | { hold: true }
  | undefined;

export interface FaultRates {
  throttle: number;
  serverError: number;
  timeout: number;
}

export interface FaultProxyOptions {
  /** LocalStack's endpoint, e.g. http://127.0.0.1:4566. */
  target: string;
  seed: number;
  rates: FaultRates;
  /** How long a `timeout` fault holds the call before dropping it (default 1500 ms). */
  holdMs?: number;
  /** Which EC2 actions may be faulted (default: all). The action is read from the form body. */
  only?: (action: string) => boolean;
  /** Replay RunInstances answers by ClientToken, as EC2 does (default true). */
  emulateClientToken?: boolean;
  /** Decides a call before the random faults (see above). */
  script?: (call: ProxyCall) => ScriptedAnswer;
}

export interface FaultCounters {
  calls: number;
  forwarded: number;
  throttle: number;
  serverError: number;
  timeout: number;
  /** Timeouts whose request reached LocalStack before the answer was dropped. */
  timeoutAfterForward: number;
  /** RunInstances retries answered from the ClientToken cache (EC2's idempotency, see above). */
  replayedByClientToken: number;
  /** Faults by EC2 action, e.g. { RunInstances: 2 }. */
  byAction: Record<string, number>;
}

export interface FaultProxy {
  url: string;
  counters: FaultCounters;
  /** Total faults injected. */
  faults(): number;
  /** Turn injection on or off (a test's cleanup runs with faults off). */
  setEnabled(on: boolean): void;
  /** Forwards every held call; the script decides later calls as before. */
  release(): void;
  /** Resolves with the next call (answered, faulted or held) that matches. */
  nextCall(match: (call: ProxyCall & { held: boolean; scripted: boolean }) => boolean): Promise<ProxyCall>;
  /** Calls the script answered with an error, by action and code, e.g. { 'RunInstances InsufficientInstanceCapacity': 1 }. */
  scripted: Record<string, number>;
  close(): Promise<void>;
}

/** mulberry32 (the synthetic light curves' generator): small, fast, deterministic for a seed. */
export const seededRandom = mulberry32;

const ec2Error = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>`;

function parseJson(body: Buffer): Record<string, unknown> {
  try {
    return JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(opts.target);
  const random = seededRandom(opts.seed);
  const holdMs = opts.holdMs ?? 1500;
  let enabled = true;
  const counters: FaultCounters = {
    calls: 0,
    forwarded: 0,
    throttle: 0,
    serverError: 0,
    timeout: 0,
    timeoutAfterForward: 0,
    replayedByClientToken: 0,
    byAction: {},
  };
  const emulateToken = opts.emulateClientToken ?? true;
  const answersByToken = new Map<string, { status: number; headers: IncomingMessage['headers']; data: Buffer }>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const events = new EventEmitter();
  const heldCalls: (() => void)[] = [];
  const scripted: Record<string, number> = {};

  const forward = (
    req: IncomingMessage,
    body: Buffer,
    onAnswer: (status: number, headers: IncomingMessage['headers'], data: Buffer) => void,
    onError: (e: Error) => void,
  ) => {
    const form = new URLSearchParams(body.toString('latin1'));
    const token = emulateToken && form.get('Action') === 'RunInstances' ? form.get('ClientToken') : null;
    const cached = token ? answersByToken.get(token) : undefined;
    if (cached) {
      counters.replayedByClientToken += 1;
      onAnswer(cached.status, cached.headers, cached.data);
      return;
    }
    counters.forwarded += 1;
    const up = httpRequest(
      {
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        timeout: 120_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const data = Buffer.concat(chunks);
          const status = res.statusCode ?? 502;
          if (token && status === 200) answersByToken.set(token, { status, headers: res.headers, data });
          onAnswer(status, res.headers, data);
        });
        res.on('error', onError);
      },
    );
    up.on('timeout', () => up.destroy(new Error('upstream timeout')));
    up.on('error', onError);
    up.end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    counters.calls += 1;
    // EC2 and SSM's query forms name the action in the body; JSON protocols (Service Quotas) in X-Amz-Target.
    const target = req.headers['x-amz-target'];
    const jsonProtocol = typeof target === 'string';
    const action = jsonProtocol
      ? (target.split('.').pop() ?? target)
      : (/(?:^|&)Action=([A-Za-z0-9]+)/.exec(body.toString('latin1'))?.[1] ?? req.method ?? '?');
    // Always draw twice per call so the sequence of decisions depends only on the call order.
    const r = random();
    const half = random() < 0.5;
    const form = new URLSearchParams(body.toString('latin1'));
    const call: ProxyCall = {
      action,
      form,
      ...(jsonProtocol ? { json: parseJson(body) } : {}),
      index: counters.calls - 1,
    };
    const decision = enabled ? opts.script?.(call) : undefined;
    const faultable = enabled && !decision && (opts.only ? opts.only(action) : true);
    const { throttle, serverError, timeout } = opts.rates;
    let fault: 'throttle' | 'serverError' | 'timeout' | undefined;
    if (faultable) {
      if (r < throttle) fault = 'throttle';
      else if (r < throttle + serverError) fault = 'serverError';
      else if (r < throttle + serverError + timeout) fault = 'timeout';
    }
    const reply = (status: number, headers: IncomingMessage['headers'], data: Buffer) => {
      if (res.writableEnded || res.destroyed) return;
      const h = { ...headers };
      delete h['transfer-encoding'];
      h['content-length'] = String(data.length);
      res.writeHead(status, h);
      res.end(data);
    };
    const fail = (e: Error) => {
      if (!res.headersSent && !res.destroyed) reply(502, { 'content-type': 'text/plain' }, Buffer.from(e.message));
    };
    if (decision && 'error' in decision) {
      const key = `${action} ${decision.error.code}`;
      scripted[key] = (scripted[key] ?? 0) + 1;
      const { code, message } = decision.error;
      reply(
        decision.error.status ?? 400,
        jsonProtocol
          ? { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': code }
          : { 'content-type': 'text/xml' },
        Buffer.from(jsonProtocol ? JSON.stringify({ __type: code, message }) : ec2Error(code, message)),
      );
      events.emit('call', { ...call, held: false, scripted: true });
      return;
    }
    if (decision && 'xml' in decision) {
      scripted[`${action} xml`] = (scripted[`${action} xml`] ?? 0) + 1;
      reply(200, { 'content-type': 'text/xml' }, Buffer.from(decision.xml));
      events.emit('call', { ...call, held: false, scripted: true });
      return;
    }
    if (decision && 'json' in decision) {
      scripted[`${action} json`] = (scripted[`${action} json`] ?? 0) + 1;
      reply(200, { 'content-type': 'application/x-amz-json-1.1' }, Buffer.from(JSON.stringify(decision.json)));
      events.emit('call', { ...call, held: false, scripted: true });
      return;
    }
    if (decision && 'hold' in decision) {
      heldCalls.push(() => forward(req, body, reply, fail));
      events.emit('call', { ...call, held: true, scripted: true });
      return;
    }
    events.emit('call', { ...call, held: false, scripted: false });
    if (!fault) {
      forward(req, body, reply, fail);
      return;
    }
    counters[fault] += 1;
    counters.byAction[action] = (counters.byAction[action] ?? 0) + 1;
    if (fault === 'throttle') {
      reply(
        400,
        { 'content-type': 'text/xml' },
        Buffer.from(ec2Error('RequestLimitExceeded', 'Request limit exceeded.')),
      );
    } else if (fault === 'serverError') {
      reply(
        500,
        { 'content-type': 'text/xml' },
        Buffer.from(ec2Error('InternalError', 'An internal error has occurred')),
      );
    } else {
      if (half) {
        counters.timeoutAfterForward += 1;
        forward(
          req,
          body,
          () => undefined,
          () => undefined,
        );
      }
      const t = setTimeout(() => {
        timers.delete(t);
        req.socket.destroy();
      }, holdMs);
      timers.add(t);
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counters,
    faults: () => counters.throttle + counters.serverError + counters.timeout,
    setEnabled: (on) => {
      enabled = on;
    },
    release: () => {
      for (const go of heldCalls.splice(0)) go();
    },
    nextCall: async (match) => {
      for (;;) {
        const [call] = (await once(events, 'call')) as [ProxyCall & { held: boolean; scripted: boolean }];
        if (match(call)) return call;
      }
    },
    scripted,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
