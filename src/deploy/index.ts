/**
 * Puts the engine runtime (src/engines) on a cluster's nodes and takes it off again; src/cluster
 * wires it. A pure plan (plan.ts: cluster state → the processes each node runs), a NodeRunner for
 * local processes and one for SSH (runner.ts), the runtime package (runtime-package.ts) with our
 * Node.js for images without one (node-runtime.ts), and how a client reaches a running runtime
 * (connect.ts). src/engines knows none of this.
 */
export { addEngines, openNodeRunner, startEngines, stopEngines } from './engines.js';
export { connectToCluster, connectToRuntime, listRunningClusters, runningEngineState } from './connect.js';
export { openRemotePipeline, type RemotePipelineWorkers } from './pipeline-workers.js';
export { startThrowawayCluster, type ThrowawayCluster } from './throwaway.js';
export { ENGINE_STATE_FILE, readEngineState, remoteRoot, type EngineState } from './state.js';
export type { NodeRunner } from './runner.js';
export { buildEngineRuntime, installEngineRuntime, type EngineRuntimePackage } from './runtime-package.js';
