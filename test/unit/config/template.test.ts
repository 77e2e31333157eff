import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_TEMPLATE_PATH, getClusterTemplate, loadConfig } from '../../../src/config/index.js';
import { cleanEnv, tempConfig } from './_helpers.js';

describe('templates/config.ini', () => {
  it('validates as written, and its default template is the local cluster of size 2', async () => {
    const config = await loadConfig({ path: CONFIG_TEMPLATE_PATH, env: cleanEnv() });
    expect([...config.clusters.keys()]).toEqual(['local']);
    expect(getClusterTemplate(config)).toMatchObject({ name: 'local', provider: 'local', clusterSize: 2 });
  });

  it('still validates with every commented setting and section switched on (bar INCLUDE)', async () => {
    const text = readFileSync(CONFIG_TEMPLATE_PATH, 'utf8')
      .split('\n')
      .filter((line) => !line.startsWith('#INCLUDE'))
      .map((line) => line.replace(/^#(\[|[A-Z_0-9]+ = )/, '$1'))
      .join('\n');
    const config = await loadConfig({ path: tempConfig(text), env: cleanEnv() });
    expect([...config.clusters.keys()]).toEqual(['local', 'smallcluster', 'mediumcluster', 'largecluster']);
    expect(getClusterTemplate(config, 'largecluster')).toMatchObject({
      provider: 'ec2',
      clusterSize: 16,
      nodeInstanceType: 'c5.xlarge',
      volumes: [{ name: 'oceandata', mountPath: '/mydata', partition: 2 }],
    });
    expect(config.aws.proxy?.host).toBe('your.proxyhost.com');
  });
});
