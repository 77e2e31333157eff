/**
 * The runtime's process entry points, by the name their bundle gets (`engine` → engine.mjs). Whoever
 * puts the runtime on a node (src/deploy) starts these, or bundles them into the runtime package;
 * the runtime itself never deploys anything. Each URL names the module with a `.js` extension, as a
 * relative import would: compiled under dist/, or the `.ts` source next to it.
 */
export const RUNTIME_ENTRIES = {
  controller: new URL('./controller/main.js', import.meta.url),
  engine: new URL('./engine/main.js', import.meta.url),
  'pipeline-worker': new URL('./pipeline/worker-main.js', import.meta.url),
  // Thread entries, not processes: the engine starts them as workers and finds NAME.mjs next to its own
  // bundle (startEngineWorker in engine/heart.ts), so the builder must put them there.
  'heart-worker': new URL('./engine/heart-worker.js', import.meta.url),
  'sigint-keeper': new URL('./engine/sigint-keeper.js', import.meta.url),
} as const;

export type RuntimeEntry = keyof typeof RUNTIME_ENTRIES;
