import type { DesiredProcess } from '../cloud/local/node/files.js';
import type { EngineState } from './state.js';

/**
 * The pure half of deployment: from what the cluster is (its nodes, what a runner found on them,
 * what ran before) to the engine state to record and the processes each node should run. No I/O:
 * the NodeRunner (local processes or SSH) does what this says.
 */

/** Where the controller listens: the master's private IP (127.0.0.1 for a local cluster). */
export interface ControllerPlace {
  host: string;
  clientPort: number;
  enginePort: number;
}

/** How one node starts the runtime's entry points, and where its CURVE key files are. */
export interface NodeLayout {
  /** The command that runs each entry point, without its arguments. */
  command: { controller: readonly string[]; engine: readonly string[] };
  keys: { controller: string; engine: string };
}

/** A node the runner readied for the runtime. */
export interface PreparedNode {
  alias: string;
  /** Its cores: the default number of engines (a local node counts 1: they share this machine). */
  cores: number;
  layout: NodeLayout;
  /** The Node the node runs the runtime with (`node`, or our copy's path); recorded for pipeline workers. */
  node?: string;
}

/** What a runner found and readied; with the previous state, enough to plan. */
export interface PreparedRuntime {
  provider: EngineState['provider'];
  controller: ControllerPlace;
  nodes: PreparedNode[];
  /** How a client reaches the nodes, when not on this machine. */
  reach?: Pick<EngineState, 'ssh' | 'addresses' | 'runAs'>;
}

/** Restarts after a crash before a node's supervisor gives up. */
const MAX_RESTARTS = { controller: 3, engine: 5 } as const;

export function engineArgv(command: readonly string[], endpoint: string, keyFile: string, node: string): string[] {
  return [...command, '--controller', endpoint, '--keys', keyFile, '--node', node];
}

export function controllerArgv(command: readonly string[], place: ControllerPlace, keyFile: string): string[] {
  return [
    ...command,
    '--host',
    place.host,
    '--port',
    String(place.clientPort),
    '--engine-port',
    String(place.enginePort),
    '--keys',
    keyFile,
  ];
}

/** Engines on a node: ENGINES_PER_NODE, else one per core; at least one. */
export function enginesFor(enginesPerNode: number | undefined, cores: number): number {
  return Math.max(1, enginesPerNode ?? cores);
}

/**
 * The engine state after deploying `prepared`: with `adding`, the nodes join the previous state
 * (engines, addresses and Nodes of the other nodes are kept); else it replaces it. The start time
 * and ports of a runtime that ran before are kept.
 */
export function nextEngineState(
  previous: EngineState | undefined,
  prepared: PreparedRuntime,
  options: { adding: boolean; enginesPerNode: number | undefined; now: Date },
): EngineState {
  const kept = options.adding ? previous : undefined;
  const state: EngineState = {
    provider: prepared.provider,
    ...prepared.controller,
    engines: { ...kept?.engines },
    startedAt: previous?.startedAt ?? options.now.toISOString(),
  };
  for (const n of prepared.nodes) state.engines[n.alias] = enginesFor(options.enginesPerNode, n.cores);
  if (prepared.reach) {
    const { ssh, addresses, runAs } = prepared.reach;
    if (ssh) state.ssh = ssh;
    if (addresses) state.addresses = { ...kept?.addresses, ...addresses };
    if (runAs !== undefined) state.runAs = runAs;
  }
  const nodes = prepared.nodes.filter((n) => n.node !== undefined);
  if (nodes.length > 0) state.node = { ...kept?.node, ...Object.fromEntries(nodes.map((n) => [n.alias, n.node!])) };
  return state;
}

/** The processes one node runs: the controller on the master, then its engines. */
export function nodeProcesses(state: EngineState, alias: string, layout: NodeLayout): DesiredProcess[] {
  const processes: DesiredProcess[] = [];
  if (alias === 'master') {
    processes.push({
      name: 'controller',
      argv: controllerArgv(layout.command.controller, state, layout.keys.controller),
      maxRestarts: MAX_RESTARTS.controller,
    });
  }
  const endpoint = `tcp://${state.host}:${state.enginePort}`;
  for (let i = 1; i <= (state.engines[alias] ?? 0); i++) {
    processes.push({
      name: `engine-${i}`,
      argv: engineArgv(layout.command.engine, endpoint, layout.keys.engine, alias),
      maxRestarts: MAX_RESTARTS.engine,
    });
  }
  return processes;
}

/** The processes of every prepared node, by alias. */
export function planProcesses(state: EngineState, nodes: readonly PreparedNode[]): Map<string, DesiredProcess[]> {
  return new Map(nodes.map((n) => [n.alias, nodeProcesses(state, n.alias, n.layout)]));
}
