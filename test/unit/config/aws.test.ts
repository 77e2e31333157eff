import { afterEach, describe, expect, it } from 'vitest';
import { awsClientSettings, describeTemplate, getClusterTemplate, loadConfig } from '../../../src/config/index.js';
import { clearSecretsForTesting, redact } from '../../../src/secrets.js';
import { cleanEnv, load, tempConfig } from './_helpers.js';

afterEach(() => clearSecretsForTesting());

describe('awsClientSettings', () => {
  it('uses [aws info] credentials when set, else leaves them to the standard chain', async () => {
    const pinned = await load('starcluster-examples.ini');
    expect(awsClientSettings(pinned, {}).credentials).toEqual({
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    });
    const chain = await load('starcluster-default.ini');
    expect(awsClientSettings(chain, {})).toEqual({});
  });

  it('points at AWS_ENDPOINT_URL first, else builds the endpoint from AWS_REGION_HOST/PORT/IS_SECURE', async () => {
    const path = tempConfig(
      '[aws info]\nAWS_REGION_HOST = ec2.internal.example\nAWS_PORT = 8443\nAWS_IS_SECURE = False\nAWS_EC2_PATH = /api\n',
    );
    const config = await loadConfig({ path, env: cleanEnv() });
    expect(awsClientSettings(config, {}).endpoint).toBe('http://ec2.internal.example:8443/api');
    expect(awsClientSettings(config, { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' }).endpoint).toBe(
      'http://127.0.0.1:4566',
    );
    const plain = await load('full.ini');
    expect(awsClientSettings(plain, {}).endpoint).toBeUndefined();
  });

  it('registers secrets: AWS secret key, proxy password, secret-looking plugin settings', async () => {
    // Loading alone registers them: nothing later can print them by accident.
    await load('starcluster-examples.ini');
    const line = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY yourproxypass a-secret-password pickle';
    expect(redact(line)).toBe('*** *** *** pickle');
  });
});

describe('describeTemplate (config show)', () => {
  it('shows the resolved template with lower-case keys and secret plugin settings masked', async () => {
    const config = await load('full.ini');
    const shown = describeTemplate(getClusterTemplate(config, 'spot'));
    expect(shown).toMatchObject({
      name: 'spot',
      extends: 'vpc',
      provider: 'ec2',
      keyname: 'mykey',
      cluster_size: 4,
      cluster_shell: 'zsh',
      node_instance_type: 'c5.xlarge:ami-0fedcba9:2, m5.large',
      subnet_id: 'subnet-0a1b2c3d',
      public_ips: false,
      shared_fs: 'sshfs',
      ssh_cidr: '198.18.0.0/15',
      spot_bid: 0.25,
      force_spot_master: true,
      volumes: [{ name: 'data', volume_id: 'vol-0123abcd', mount_path: '/data', device: '/dev/sdz', partition: 1 }],
      permissions: [
        { name: 'http', ip_protocol: 'tcp', from_port: 80, to_port: 80, cidr_ip: '0.0.0.0/0' },
        { name: 'ping', ip_protocol: 'icmp', from_port: -1, to_port: -1, cidr_ip: '10.0.0.0/8' },
      ],
      plugins: [
        {
          name: 'notebook',
          setup_class: 'starcluster.plugins.ipcluster.IPCluster',
          notebook_passwd: '***',
          api_token: '***',
          packages: 'numpy,\nscipy',
        },
      ],
    });
    expect(JSON.stringify(shown)).not.toMatch(/hunter2|tok-1234567890/);
  });
});
