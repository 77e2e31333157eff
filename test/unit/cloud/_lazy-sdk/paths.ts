import { createProvider } from '../../../../src/cloud/index.js';
import { openCluster } from '../../../../src/cloud/open.js';
import { listClusters } from '../../../../src/cluster/list.js';
import { startCluster } from '../../../../src/cluster/start.js';
import { terminateCluster } from '../../../../src/cluster/terminate.js';
import { defaultTemplate, emptyConfig } from '../../../../src/model/template.js';
import { RecordingIoHost } from '../../../_helpers/recording-io-host.js';

/**
 * Code paths run in a child process by lazy-sdk.test.ts: `local` goes through start (plan),
 * listclusters, openCluster and terminate of a local cluster; `ec2` only makes an EC2 provider.
 */
export async function run(which: string): Promise<void> {
  const io = new RecordingIoHost();
  if (which === 'ec2') {
    await createProvider({ provider: 'ec2' }, undefined, { env: { AWS_REGION: 'us-east-1' } });
    return;
  }
  const template = defaultTemplate({ name: 'lazy', provider: 'local', clusterSize: 2 });
  const config = emptyConfig();
  const started = await startCluster({ name: 'lazy', template, config, io, mode: 'plan' });
  if (started.plan.actions.length === 0) throw new Error('the plan has no actions');
  const provider = await createProvider(template, config);
  await listClusters({ providers: [provider], config });
  await openCluster('lazy', { io, provider, config });
  await terminateCluster({ name: 'lazy', provider, io, confirm: true });
}
