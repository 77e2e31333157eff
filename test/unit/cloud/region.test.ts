import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveRegion } from '../../../src/cloud/ec2/region.js';

/** The region chain, with real files read by the AWS SDK's shared-config loader. */
const home = mkdtempSync(join(tmpdir(), 'sc-region-'));
mkdirSync(join(home, '.aws'));
writeFileSync(
  join(home, '.aws', 'config'),
  ['[default]', 'region = eu-central-1', '', '[profile dev]', 'region = ap-northeast-1', '', '[profile bare]', ''].join(
    '\n',
  ),
);
const other = join(home, 'other-config');
writeFileSync(other, ['[profile dev]', 'region = ca-central-1', ''].join('\n'));

describe('resolveRegion', () => {
  it('follows --region, [aws info] AWS_REGION_NAME, $AWS_REGION, $AWS_DEFAULT_REGION, in that order', async () => {
    const env = { HOME: home, AWS_REGION: 'eu-north-1', AWS_DEFAULT_REGION: 'sa-east-1' };
    expect(await resolveRegion({ flag: 'ap-south-1', configRegion: 'us-west-2', env })).toEqual({
      region: 'ap-south-1',
      source: '--region',
    });
    expect(
      await resolveRegion({ env: { ...env, STARCLUSTER_REGION: 'ap-south-2' }, configRegion: 'us-west-2' }),
    ).toEqual({ region: 'ap-south-2', source: '--region' });
    expect((await resolveRegion({ configRegion: 'us-west-2', env })).region).toBe('us-west-2');
    expect(await resolveRegion({ env })).toEqual({ region: 'eu-north-1', source: '$AWS_REGION' });
    expect(await resolveRegion({ env: { HOME: home, AWS_DEFAULT_REGION: 'sa-east-1' } })).toEqual({
      region: 'sa-east-1',
      source: '$AWS_DEFAULT_REGION',
    });
  });

  it("then the profile's region in ~/.aws/config ($AWS_PROFILE, $AWS_CONFIG_FILE), then us-east-1", async () => {
    expect(await resolveRegion({ env: { HOME: home } })).toEqual({
      region: 'eu-central-1',
      source: `profile default in ${join(home, '.aws', 'config')}`,
    });
    expect((await resolveRegion({ env: { HOME: home, AWS_PROFILE: 'dev' } })).region).toBe('ap-northeast-1');
    expect((await resolveRegion({ env: { HOME: home, AWS_PROFILE: 'dev', AWS_CONFIG_FILE: other } })).region).toBe(
      'ca-central-1',
    );
    expect(await resolveRegion({ env: { HOME: home, AWS_PROFILE: 'bare' } })).toEqual({
      region: 'us-east-1',
      source: 'default',
    });
    expect((await resolveRegion({ env: { HOME: join(home, 'nowhere') } })).region).toBe('us-east-1');
  });
});
