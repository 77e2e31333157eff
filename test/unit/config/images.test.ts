import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_TEMPLATE_PATH, describeTemplate, getClusterTemplate, loadConfig } from '../../../src/config/index.js';
import { cleanEnv, problems, tempConfig } from './_helpers.js';

/** Image settings take aliases and resolve:ssm as well as AMI ids; LOGIN_USER names the image's user. */
const base = ['[global]', '[key k]', 'KEY_LOCATION = /tmp/k.pem', '[cluster c]', 'KEYNAME = k', 'CLUSTER_SIZE = 4'];

describe('image aliases in the config', () => {
  it('accepts aliases, resolve:ssm and ids in NODE_IMAGE_ID, MASTER_IMAGE_ID and NODE_INSTANCE_TYPE items', async () => {
    const path = tempConfig(
      [
        ...base,
        'NODE_IMAGE_ID = Debian-12',
        'MASTER_IMAGE_ID = resolve:ssm:/golden/current',
        'NODE_INSTANCE_TYPE = m7g.large:ubuntu-24.04:1, c7g.large:resolve:ssm:/golden/arm:1, t4g.small:al2023, t3.micro',
        'LOGIN_USER = admin',
        '',
      ].join('\n'),
    );
    const template = getClusterTemplate(await loadConfig({ path, env: cleanEnv() }), 'c');
    expect(template).toMatchObject({
      nodeImageId: 'debian-12',
      masterImageId: 'resolve:ssm:/golden/current',
      nodeInstanceType: 't3.micro',
      nodeInstanceTypes: [
        { instanceType: 'm7g.large', imageId: 'ubuntu-24.04', count: 1 },
        { instanceType: 'c7g.large', imageId: 'resolve:ssm:/golden/arm', count: 1 },
        { instanceType: 't4g.small', imageId: 'al2023', count: 1 },
      ],
      loginUser: 'admin',
    });
    expect(describeTemplate(template)).toMatchObject({ node_image_id: 'debian-12', login_user: 'admin' });
  });

  it('reports an unknown alias with its line and the nearest alias, before anything runs', async () => {
    const path = tempConfig(
      [...base, 'NODE_IMAGE_ID = debain-12', 'NODE_INSTANCE_TYPE = m7g.large:ubuntu-2404:1, t3.micro', ''].join('\n'),
    );
    const found = (await problems(path)).join('\n');
    expect(found).toContain(
      'config:7: [cluster c] NODE_IMAGE_ID: "debain-12" is neither an AMI id nor an image alias (did you mean debian-12?)',
    );
    expect(found).toContain('config:8: [cluster c] NODE_INSTANCE_TYPE: item "m7g.large:ubuntu-2404:1"');
    expect(found).toContain('did you mean ubuntu-24.04?');
  });

  it("config init's EC2 example names its image by alias, not by an id to hunt for", () => {
    const text = readFileSync(CONFIG_TEMPLATE_PATH, 'utf8');
    expect(text).toMatch(/^#NODE_IMAGE_ID = debian-12$/m);
    expect(text).not.toMatch(/^#(NODE|MASTER)_IMAGE_ID = ami-/m);
    expect(text).toMatch(/^#LOGIN_USER = /m);
  });
});
