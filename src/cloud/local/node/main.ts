import { parseArgs } from 'node:util';
import { NodeSupervisor } from './supervisor.js';

/**
 * Process entry of a local node's supervisor:
 * `node main.js --sc-node=CLUSTER/ALIAS --dir NODE_DIR`. Started detached by the local provider;
 * the `--sc-node` marker lets starcluster verify a pid is really this process before signalling it.
 */
const { values } = parseArgs({
  options: { 'sc-node': { type: 'string' }, dir: { type: 'string' } },
  strict: true,
});
const marker = values['sc-node'] ?? '';
const [cluster, alias] = marker.split('/');
if (!cluster || !alias || !values.dir) {
  console.error('usage: main --sc-node=CLUSTER/ALIAS --dir NODE_DIR');
  process.exit(2);
}

const supervisor = new NodeSupervisor({ nodeDir: values.dir, cluster, alias });
let stopping = false;
const shutdown = (): void => {
  if (stopping) return;
  stopping = true;
  void supervisor.stop().finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.on('SIGHUP', shutdown);
await supervisor.start();
console.log(`starcluster node ${cluster}/${alias} supervising (pid ${process.pid})`);
