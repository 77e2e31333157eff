import type { DesiredProcess } from '../cloud/local/node/files.js';
import type { NodeRecord } from '../model/node.js';
import type { PreparedRuntime } from './plan.js';
import type { EngineState } from './state.js';

/**
 * Puts processes on a cluster's nodes and takes them off again; the deployer (engines.ts) decides
 * which. Two kinds: local processes kept alive by each local node's supervisor (local-runner.ts),
 * and nodes reached over SSH, where the runtime package is uploaded and run under the same
 * supervisor (ssh-runner.ts). Every method is idempotent: the supervisor converges on what it is
 * told, so a repeated start (a resumed `start`, a resize) does not start anything twice.
 */
export interface NodeRunner {
  /**
   * Readies `nodes` for the runtime (runtime package, Node.js, keys, as the kind needs) and says
   * where the controller listens and how each node starts the entry points.
   */
  prepare(
    nodes: readonly NodeRecord[],
    previous: EngineState | undefined,
    signal?: AbortSignal,
  ): Promise<PreparedRuntime>;
  /** Hands each node (by alias) the processes it should keep running. */
  run(processes: ReadonlyMap<string, DesiredProcess[]>, signal?: AbortSignal): Promise<void>;
  /**
   * Stops everything the runtime runs on `nodes` and returns once it is gone (or given up on:
   * terminate removes the machines anyway). `whole`: the whole runtime is going.
   */
  stop(nodes: readonly NodeRecord[], whole: boolean): Promise<void>;
  close(): void;
}
