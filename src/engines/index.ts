/**
 * The engine runtime: a CURVE-encrypted ZeroMQ controller, engines and a client in the style of
 * IPython parallel. Only src/engines imports zeromq. Public surface:
 *
 * Keys (Z85 text; files 0600 in a 0700 dir: curve-controller.json, curve-engine.json, curve-client.json)
 *   generateClusterKeys(dir) / ensureClusterKeys(dir) / loadClusterKeys(dir) → ClusterKeys
 *   loadControllerKeys(file) → ControllerKeys; loadPeerKeys(file) → PeerKeys (engine or client)
 *   newClusterKeys() (in memory)
 *
 * Controller (binds a client port and an engine port on `host`, never 0.0.0.0 unless allowAnyInterface)
 *   startController({ host, port?, enginePort?, keys, scheme?, hwm?, heartbeatMs?, deadAfterBeats?,
 *                     engineLostBeats?, deathRetries? }) → ControllerHandle
 *     { clientEndpoint, engineEndpoint, scheme, engines(), stats(), waitForEngines(n, ms), close({stopEngines}) }
 *   process entry: src/engines/controller/main.ts — prints one JSON line
 *     {"clientEndpoint","engineEndpoint","pid","scheme"} on stdout when ready.
 *
 * Engine
 *   startEngine({ controller: engineEndpoint, keys, node?, heart?: 'thread'|'main', exitOnLost? }) → EngineHandle
 *     { id, uuid, ended: Promise<'closed'|'stopped'|'lost'>, close() }
 *   process entry: src/engines/engine/main.ts --controller tcp://… --keys curve-engine.json [--node NAME]
 *     (or env STARCLUSTER_CONTROLLER / STARCLUSTER_ENGINE_KEYS); exits when the controller stops it or is lost.
 *
 * Client (connects to clientEndpoint; through an SSH tunnel for a remote cluster)
 *   const client = await Client.connect({ endpoint, keys, timeoutMs?, lanes? })  // ControllerUnreachable on timeout
 *     lanes 'auto' (default) | 'on' | 'off': sequential tasks go straight to an engine's lane (2 hops, not 4)
 *   client.ids, client.engines, client.waitForEngines(n, ms), client.onEngines(cb)
 *   await client.loadModule('job', esmBundleCode)          // every engine now and later; exports callable
 *   const lview = client.loadBalancedView({ scheme?, retries?, targets?, timeLimitMs?, after?, follow? })
 *     lview.apply(fn, ...args) → AsyncResult<R>
 *     lview.map(fn, inputs, { ordered = true, chunksize = 1 }) → AsyncMapResult<R> (await → R[]; for await → items)
 *     lview.imap(fn, iterable, { ordered, chunksize, maxOutstanding }) → AsyncGenerator<R>
 *   const dview = client.directView(targets = 'all', { timeLimitMs? })  // number | number[] | 'all'; one result per engine
 *     dview.apply(fn, ...args), execute(code), push(ns), pull(name|names), scatter(name, array), gather(name)
 *   AsyncResult<T>: await / get(timeoutMs?) / ready() / wait(timeoutMs?) / successful() / progress / total /
 *     onProgress(cb) / abort({ running? }) / stdout[] / stderr[] /
 *     metadata[] { taskId, engine, submitted, started, completed, received, status, stdout?, stderr? }
 *   await client.queueStatus() → { engines: [{ id, node, queue, completed }], unassigned }
 *   Errors (JobError subclasses): RemoteTaskError (remoteName, remoteMessage, remoteStack, engine),
 *     EngineDiedError, TaskTimeoutError, TaskAbortedError, TaskTimeLimitError, CompositeTaskError; JobError codes ControllerUnreachable,
 *     ControllerLost, ControllerRestarted, DependencyFailed, ImpossibleDependency, ModuleLoadFailed, EnginesTimeout,
 *     NoEngines, ClientClosed.
 *   client.close()
 *
 * Functions: `fn` is a self-contained function shipped as source (fn.toString()) and compiled on the
 * engine in its namespace: closures do NOT travel (pass values as arguments or push them), and method
 * shorthands/native/bound functions cannot be shipped. Or `{ module, export, context? }`, an export of a
 * module loaded with loadModule; `context: true` appends `{ engine, task }` as the last argument.
 *
 * Values: JSON-able data plus typed arrays / ArrayBuffer / DataView (raw binary frames), BigInt,
 * undefined, NaN/±Infinity/-0, Date, Map, Set, Error (see protocol/codec.ts).
 *
 * Pipeline mode (PUSH/PULL/PUB, CURVE, start barrier, resend of lost task ids):
 *   runPipeline({ tasks, worker: fn | { module, export }, modules?, workers = 2 (local processes) | inline,
 *                 externalWorkers?, onListening?(endpoints, keys), keys?, host?, resendAfterMs?, onProgress? })
 *     → { results, resent, duplicates, seconds, workers }
 *   startPipelineWorker({ endpoints, keys, id?, modules? }); process entry src/engines/pipeline/worker-main.ts
 */
export type { ClusterKeys, ControllerKeys, CurveKeyPair, PeerKeys } from './protocol/keys.js';
export {
  KEY_FILES,
  clientKeysOf,
  controllerKeysOf,
  engineKeysOf,
  ensureClusterKeys,
  generateClusterKeys,
  loadClusterKeys,
  loadControllerKeys,
  loadPeerKeys,
  newClusterKeys,
  writeClusterKeys,
} from './protocol/keys.js';
export type { Encoded } from './protocol/codec.js';
export { decodeValue, encodeValue } from './protocol/codec.js';
export type { EngineInfo, QueueStatus } from './protocol/messages.js';
export type { Scheme } from './controller/schedulers.js';
export { DEFAULT_SCHEME, SCHEMES } from './controller/schedulers.js';
export type { ControllerHandle, ControllerOptions, ControllerStats, HighWaterMark } from './controller/controller.js';
export { startController } from './controller/controller.js';
export type { EngineEnd, EngineHandle, EngineOptions, EngineTaskContext } from './engine/engine.js';
export { startEngine } from './engine/engine.js';
export type { ClientOptions, FnRef, TaskFunction } from './client/client.js';
export { Client } from './client/client.js';
export type { Dependency, DirectOptions, ImapOptions, LoadBalancedOptions, MapOptions } from './client/views.js';
export { DirectView, LoadBalancedView } from './client/views.js';
export type { TaskMetadata } from './client/async-result.js';
export { AsyncMapResult, AsyncResult } from './client/async-result.js';
export {
  CompositeTaskError,
  EngineDiedError,
  RemoteTaskError,
  TaskAbortedError,
  TaskTimeLimitError,
  TaskTimeoutError,
} from './client/errors.js';
export type {
  PipelineEndpoints,
  PipelineOptions,
  PipelineResult,
  PipelineWorkerHandle,
  PipelineWorkerOptions,
} from './pipeline/pipeline.js';
export { runPipeline, startPipelineWorker } from './pipeline/pipeline.js';
