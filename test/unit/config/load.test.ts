import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ini from 'ini';
import { describe, expect, it } from 'vitest';
import { getClusterTemplate, loadConfig, resolveConfigPath } from '../../../src/config/index.js';
import { Diagnostics } from '../../../src/config/diagnostics.js';
import { scanConfigText } from '../../../src/config/locate.js';
import { StarclusterError } from '../../../src/errors.js';
import { FIXTURES, cleanEnv, fixture, load, problems, tempConfig } from './_helpers.js';

describe('StarCluster compatibility', () => {
  it("validates StarCluster 0.95's own default config unchanged", async () => {
    const config = await load('starcluster-default.ini');
    expect(config.global.defaultTemplate).toBe('smallcluster');
    expect(config.global.refreshInterval).toBeUndefined(); // EC2 waits back off from 1 s to 10 s
    // `AWS_ACCESS_KEY_ID = #your_aws_access_key_id` is an inline comment: unset, so the AWS chain is used.
    expect(config.aws.accessKeyId).toBeUndefined();
    expect(config.aws.secretAccessKey).toBeUndefined();
    const t = getClusterTemplate(config);
    expect(t).toMatchObject({
      name: 'smallcluster',
      provider: 'ec2',
      keyname: 'mykey',
      clusterSize: 2,
      clusterUser: 'sgeadmin',
      clusterShell: 'bash',
      nodeImageId: 'ami-899d49e0',
      nodeInstanceType: 'm1.small',
      nodeInstanceTypes: [],
      sharedFs: 'nfs',
      sshCidr: '0.0.0.0/0',
      dnsPrefix: false,
      disableQueue: false,
    });
    expect(t.key?.location).toBe(join(cleanEnv().HOME ?? '', '.ssh/mykey.rsa'));
    expect(t.location).toEqual({ file: fixture('starcluster-default.ini'), line: 75 });
  });

  it('validates the template with every commented example switched on (PROTOCOL accepted as IP_PROTOCOL)', async () => {
    const config = await load('starcluster-examples.ini');
    expect([...config.clusters.keys()]).toEqual(['smallcluster', 'mediumcluster', 'largecluster']);
    const large = getClusterTemplate(config, 'largecluster');
    expect(large).toMatchObject({
      extends: 'mediumcluster',
      keyname: 'myotherkey',
      clusterSize: 16,
      nodeInstanceType: 'c1.xlarge',
      spotBid: 0.5,
      disableQueue: true,
    });
    expect(large.volumes.map((v) => [v.name, v.mountPath])).toEqual([['biodata2', '/opt']]);
    expect(large.permissions.map((p) => [p.name, p.protocol, p.fromPort, p.cidrIp])).toEqual([
      ['ssh', 'tcp', 22, '203.0.113.7/32'],
      ['http', 'tcp', 80, '18.0.0.0/8'],
    ]);
    expect(large.plugins.map((p) => p.setupClass)).toEqual([
      'starcluster.plugins.pkginstaller.PackageInstaller',
      'starcluster.plugins.ipcluster.IPCluster',
    ]);
    expect(config.plugins.get('ipcluster')?.settings).toEqual({
      enable_notebook: 'True',
      notebook_passwd: 'a-secret-password',
      notebook_directory: '/path/to/notebook/dir',
      packer: 'pickle',
    });
    expect(config.aws).toMatchObject({
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      regionName: 'eu-west-1',
      endpoint: 'https://ec2.eu-west-1.amazonaws.com',
      proxy: { host: 'your.proxyhost.com', port: 8080, user: 'yourproxyuser', pass: 'yourproxypass' },
    });
    expect(config.global).toMatchObject({ enableExperimental: true, refreshInterval: 15, webBrowser: 'chromium' });
    expect(config.warnings).toEqual([
      `${fixture('starcluster-examples.ini')}:5: [global] ENABLE_EXPERIMENTAL = True changes nothing here: StarCluster used it to unlock \`loadbalance\`, which needs no unlocking here; every feature is on`,
    ]);
  });

  it('reads the same values as the ini package where the two dialects agree', () => {
    const path = fixture('starcluster-examples.ini');
    const text = readFileSync(path, 'utf8');
    const ours = scanConfigText(text, path, new Diagnostics());
    const theirs = ini.decode(text) as Record<string, Record<string, string>>;
    const header = (kind: string, name: string) =>
      kind === 'aws' ? 'aws info' : kind === 'global' ? 'global' : `${kind} ${name}`;
    for (const section of ours) {
      const expected = Object.fromEntries(
        Object.entries(theirs[header(section.kind, section.name)] ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
      );
      const actual = Object.fromEntries([...section.entries.values()].map((e) => [e.lower, e.value]));
      expect(actual).toEqual(expected);
    }
  });
});

describe('syntax', () => {
  it('treats section types and keys case-insensitively, strips inline comments only after whitespace', async () => {
    const config = await load('case-and-comments.ini');
    expect(config.global.defaultTemplate).toBe('small');
    expect(config.aws.regionName).toBe('eu-west-1');
    expect(config.keys.get('k1')?.location).toBe('/keys/id#1;v2');
    const t = getClusterTemplate(config, 'small');
    expect(t).toMatchObject({
      keyname: 'k1',
      clusterSize: 3,
      clusterShell: 'tcsh',
      dnsPrefix: true,
      disableQueue: false,
      forceSpotMaster: true,
    });
    // `PLUGINS = a,` continued on an indented line.
    expect(t.plugins.map((p) => p.name)).toEqual(['a', 'b']);
  });

  it('keeps section names case-sensitive', async () => {
    const path = tempConfig('[global]\nDEFAULT_TEMPLATE = Local\n[cluster local]\nPROVIDER = local\n');
    expect(await problems(path)).toEqual([
      `${path}:2: [global] DEFAULT_TEMPLATE: there is no [cluster Local] section (did you mean local?); cluster templates: local`,
    ]);
  });

  it('reports malformed lines, unnamed or unknown sections and duplicates, each with its line', async () => {
    expect(await problems('malformed.ini')).toEqual([
      'malformed.ini:1: setting "KEYNAME" is outside any section: put it under a header such as [global]',
      'malformed.ini:2: section [cluster] needs a name, e.g. [cluster smallcluster]',
      'malformed.ini:3: unknown section type "[clusterr big]" (did you mean [cluster …]?): sections are [global], [aws info], [key NAME], [cluster NAME], [volume NAME], [plugin NAME], [permission NAME]',
      'malformed.ini:4: section name "two words" in [cluster two words] must be one word',
      'malformed.ini:5: malformed section header "[cluster ok": expected e.g. [cluster smallcluster]',
      'malformed.ini:6: expected "KEY = VALUE" or a [section] header, got "just some words"',
      'malformed.ini:7: expected "KEY = VALUE" with a one-word KEY, got "= novalue"',
      'malformed.ini:10: [cluster c] sets PROVIDER twice (first at line 9): keep one',
    ]);
  });

  it('merges a section written twice with a warning naming both lines, unless the values conflict', async () => {
    const merged = tempConfig(
      '[cluster l]\nPROVIDER = local\n\n[volume data]\nVOLUME_ID = vol-1\n\n[volume data]\nMOUNT_PATH = /data\nVOLUME_ID = vol-1\n\n[cluster l]\nVOLUMES = data\n',
    );
    const config = await loadConfig({ path: merged, env: cleanEnv() });
    expect(config.clusters.get('l')?.volumes).toEqual([{ name: 'data', volumeId: 'vol-1', mountPath: '/data' }]);
    expect(config.warnings).toEqual([
      `${merged}:7: [volume data] is written twice, at ${merged}:4 and ${merged}:7: merged into one, as StarCluster did; write it once`,
      `${merged}:11: [cluster l] is written twice, at ${merged}:1 and ${merged}:11: merged into one, as StarCluster did; write it once`,
    ]);
    const secret = tempConfig(
      '[aws info]\nAWS_PROXY = p\nAWS_PROXY_PASS = first-pass\n[aws info]\nAWS_PROXY_PASS = other-pass\n',
    );
    expect(await problems(secret)).toEqual([
      `${secret}:5: [aws info] AWS_PROXY_PASS = *** conflicts with *** at ${secret}:3 ([aws info] is written twice, at ${secret}:1 and ${secret}:4): keep one value`,
    ]);
    const conflict = tempConfig('[cluster l]\nPROVIDER = local\nCLUSTER_SIZE = 2\n[cluster l]\nCLUSTER_SIZE = 3\n');
    expect(await problems(conflict)).toEqual([
      `${conflict}:5: [cluster l] CLUSTER_SIZE = "3" conflicts with "2" at ${conflict}:3 ([cluster l] is written twice, at ${conflict}:1 and ${conflict}:4): keep one value`,
    ]);
  });

  it('escapes junk bytes in messages', async () => {
    const path = tempConfig('[global]\n\u0001\u0002junk\u0000 here\n');
    expect(await problems(path)).toEqual([
      `${path}:2: expected "KEY = VALUE" or a [section] header, got "\\x01\\x02junk\\x00 here"`,
    ]);
  });
});

describe('types and values', () => {
  it('reports every wrong type at once, naming the bad value', async () => {
    expect(await problems('types-bad.ini')).toEqual([
      'types-bad.ini:2: [global] REFRESH_INTERVAL: expected a whole number, got "soon"',
      'types-bad.ini:3: [global] ENABLE_EXPERIMENTAL: expected True or False, got "maybe"',
      'types-bad.ini:6: [aws info] AWS_PORT: 99999 is too large (at most 65535)',
      'types-bad.ini:7: [aws info] AWS_IS_SECURE: expected True or False, got "perhaps"',
      'types-bad.ini:14: [cluster c] CLUSTER_SIZE: expected a whole number, got "two"',
      'types-bad.ini:15: [cluster c] CLUSTER_USER: cannot be root: StarCluster creates this user on every node; use e.g. sgeadmin',
      'types-bad.ini:16: [cluster c] CLUSTER_SHELL: "bsh" is not one of bash, zsh, csh, ksh, tcsh (did you mean bash?)',
      'types-bad.ini:17: [cluster c] NODE_IMAGE_ID: "img-123" is neither an AMI id nor an image alias; aliases: debian-12, ubuntu-24.04, ubuntu-22.04, al2023 (or ami-…, or resolve:ssm:/parameter/name)',
      'types-bad.ini:19: [cluster c] SPOT_BID: -1 must be greater than 0',
      'types-bad.ini:20: [cluster c] DNS_PREFIX: expected True or False, got "sometimes"',
      'types-bad.ini:21: [cluster c] PROVIDER: "gce" is not one of ec2, local (did you mean ec2?)',
      'types-bad.ini:22: [cluster c] SHARED_FS: "nsf" is not one of nfs, sshfs, none (did you mean nfs?)',
      'types-bad.ini:23: [cluster c] SSH_CIDR: "10.0.0.0/33" is not a CIDR range such as 0.0.0.0/0 or 203.0.113.7/32',
      'types-bad.ini:24: [cluster c] ENGINES_PER_NODE: 0 is too small (at least 1)',
      'types-bad.ini:25: [cluster c] SUBNET_ID: "net-1" is not a subnet id such as subnet-0123abcd',
      'types-bad.ini:29: [volume v] MOUNT_PATH: cannot be / (the root filesystem): use a folder such as /data',
      'types-bad.ini:30: [volume v] PARTITION: expected a whole number, got "first"',
      'types-bad.ini:33: [volume w] VOLUME_ID: "disk-1" is not an EBS volume id such as vol-0123abcd',
      'types-bad.ini:34: [volume w] MOUNT_PATH: "relative/path" must be an absolute path such as /data',
    ]);
  });

  it('accepts every boolean spelling StarCluster users write', async () => {
    for (const [word, value] of [
      ['True', true],
      ['false', false],
      ['YES', true],
      ['no', false],
      ['1', true],
      ['0', false],
    ] as const) {
      const path = tempConfig(`[cluster l]\nPROVIDER = local\nDNS_PREFIX = ${word}\n`);
      const config = await loadConfig({ path, env: cleanEnv() });
      expect(config.clusters.get('l')?.dnsPrefix).toBe(value);
    }
  });

  it('fills in the documented defaults', async () => {
    const config = await load('full.ini');
    expect(config.global).toEqual({
      defaultTemplate: 'local',
      enableExperimental: false,
      refreshInterval: 10,
      include: [],
    });
    const local = getClusterTemplate(config);
    expect(local).toMatchObject({
      provider: 'local',
      clusterSize: 3,
      enginesPerNode: 2,
      sharedFs: 'none',
      clusterUser: 'sgeadmin',
      clusterShell: 'bash',
    });
    expect(config.permissions.get('http')).toEqual({
      name: 'http',
      protocol: 'tcp',
      fromPort: 80,
      toPort: 80,
      cidrIp: '0.0.0.0/0',
    });
    // KEY_LOCATION relative to the config file's folder.
    expect(config.keys.get('mykey')?.location).toBe(join(FIXTURES, 'keys/mykey.rsa'));
    expect(config.plugins.get('notebook')?.settings.packages).toBe('numpy,\nscipy');
  });
});

describe('required settings', () => {
  it('needs KEYNAME, CLUSTER_SIZE, NODE_IMAGE_ID and NODE_INSTANCE_TYPE for ec2, nothing for local', async () => {
    expect(await problems('required.ini')).toEqual([
      'required.ini:1: [cluster ec2missing] is missing required setting CLUSTER_SIZE (needed when PROVIDER = ec2)',
      'required.ini:1: [cluster ec2missing] is missing required setting KEYNAME (needed when PROVIDER = ec2)',
      'required.ini:1: [cluster ec2missing] is missing required setting NODE_IMAGE_ID (needed when PROVIDER = ec2)',
      'required.ini:1: [cluster ec2missing] is missing required setting NODE_INSTANCE_TYPE (needed when PROVIDER = ec2)',
      'required.ini:7: [key k] is missing required setting KEY_LOCATION',
    ]);
    const config = await loadConfig({ path: tempConfig('[cluster localok]\nPROVIDER = local\n'), env: cleanEnv() });
    expect(config.clusters.get('localok')).toMatchObject({ provider: 'local', clusterSize: 2, sharedFs: 'none' });
  });

  it('calls an empty value missing, at its own line', async () => {
    const path = tempConfig('[volume v]\nVOLUME_ID =\nMOUNT_PATH = /d\n');
    expect(await problems(path)).toEqual([`${path}:2: [volume v] is missing required setting VOLUME_ID (it is empty)`]);
  });

  it('rejects PUBLIC_IPS = False without SUBNET_ID', async () => {
    const path = tempConfig('[cluster l]\nPROVIDER = local\nPUBLIC_IPS = False\n');
    expect(await problems(path)).toEqual([
      `${path}:3: [cluster l] PUBLIC_IPS: False needs SUBNET_ID (nodes without public addresses must be in a VPC subnet)`,
    ]);
  });

  it('needs both AWS keys or neither, and AWS_PROXY for the proxy settings', async () => {
    const path = tempConfig('[aws info]\nAWS_ACCESS_KEY_ID = AKIA123\nAWS_PROXY_PORT = 3128\n');
    expect(await problems(path)).toEqual([
      `${path}:2: [aws info] AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both, or neither to use the standard AWS credential chain`,
      `${path}:3: [aws info] AWS_PROXY_PORT needs AWS_PROXY (the proxy host)`,
    ]);
  });
});

describe('EXTENDS', () => {
  it('resolves a chain of any depth, each level overriding the one above', async () => {
    const config = await load('extends-deep.ini');
    const e = getClusterTemplate(config, 'e');
    expect(e).toMatchObject({
      extends: 'd',
      keyname: 'k',
      clusterSize: 9,
      nodeImageId: 'ami-0000000a',
      nodeInstanceType: 'c1.xlarge',
      clusterUser: 'dave',
    });
    expect(getClusterTemplate(config, 'b')).toMatchObject({
      clusterSize: 4,
      nodeInstanceType: 'm1.small',
      clusterUser: 'alice',
    });
    expect(getClusterTemplate(config, 'a').extends).toBeUndefined();
    expect(e.location?.line).toBe(23);
  });

  it('reports cycles once and missing parents with did-you-mean', async () => {
    expect(await problems('extends-cycle.ini')).toEqual([
      'extends-cycle.ini:5: [cluster x] EXTENDS makes a cycle: x → z → y → x; remove one of these EXTENDS',
      'extends-cycle.ini:15: [cluster self] EXTENDS makes a cycle: self → self; remove one of these EXTENDS',
      'extends-cycle.ini:18: [cluster orphan] EXTENDS: there is no [cluster smallclster] section (did you mean smallcluster?); cluster templates: x, y, z, self, orphan, smallcluster',
    ]);
  });

  it('locates an inherited value at the parent line and names the child', async () => {
    const path = tempConfig(
      '[cluster p]\nPROVIDER = local\nPUBLIC_IPS = no\nSUBNET_ID = subnet-1\n[cluster c]\nEXTENDS = p\nSUBNET_ID =\n',
    );
    // The child's empty SUBNET_ID is unset, so it inherits the parent's and is valid.
    const config = await loadConfig({ path, env: cleanEnv() });
    expect(config.clusters.get('c')?.subnetId).toBe('subnet-1');
  });
});

describe('references', () => {
  it('checks KEYNAME, VOLUMES, PLUGINS, PERMISSIONS and DEFAULT_TEMPLATE, with did-you-mean for keys and sections', async () => {
    expect(await problems('dangling.ini')).toEqual([
      'dangling.ini:2: [global] DEFAULT_TEMPLATE: there is no [cluster smallclustr] section (did you mean smallcluster?); cluster templates: smallcluster',
      'dangling.ini:8: [cluster smallcluster] KEYNAME: there is no [key mykee] section (did you mean mykey?); keys: mykey',
      'dangling.ini:12: [cluster smallcluster] VOLUMES: "biodata" is listed twice',
      'dangling.ini:13: [cluster smallcluster] PLUGINS: there is no [plugin ipclustr] section (did you mean ipcluster?); plugin sections: ipcluster',
      'dangling.ini:14: [cluster smallcluster] PERMISSIONS: there is no [permission htpp] section (did you mean http?); permission sections: http',
      'dangling.ini:15: [cluster smallcluster] unknown setting "CLUSTR_SIZE" (did you mean CLUSTER_SIZE?)',
      'dangling.ini:16: [cluster smallcluster] unknown setting "AWS_REGION_NAME" (AWS_REGION_NAME belongs in [aws info])',
      'dangling.ini:25: unknown section type "[permision http]" (did you mean [permission …]?): sections are [global], [aws info], [key NAME], [cluster NAME], [volume NAME], [plugin NAME], [permission NAME]',
    ]);
  });

  it('accepts any key in a plugin section', async () => {
    const config = await load('full.ini');
    expect(config.plugins.get('notebook')?.settings).toMatchObject({ api_token: 'tok-1234567890' });
  });

  it('reads [vol NAME] as [volume NAME]', async () => {
    const path = tempConfig(
      '[cluster l]\nPROVIDER = local\nVOLUMES = data\n[vol data]\nVOLUME_ID = vol-1\nMOUNT_PATH = /data\n',
    );
    const config = await loadConfig({ path, env: cleanEnv() });
    expect(config.clusters.get('l')?.volumes).toEqual([{ name: 'data', volumeId: 'vol-1', mountPath: '/data' }]);
  });

  it('rejects two volumes with the same MOUNT_PATH in one template', async () => {
    const path = tempConfig(
      '[cluster l]\nPROVIDER = local\nVOLUMES = a, b\n[volume a]\nVOLUME_ID = vol-1\nMOUNT_PATH = /d\n[volume b]\nVOLUME_ID = vol-2\nMOUNT_PATH = /d/\n',
    );
    expect(await problems(path)).toEqual([
      `${path}:3: [cluster l] VOLUMES: volumes a and b have the same MOUNT_PATH /d`,
    ]);
  });
});

describe('NODE_INSTANCE_TYPE', () => {
  it('parses type[:ami][:count] items and the default type; counts that overflow CLUSTER_SIZE only warn', async () => {
    expect(await problems('node-types.ini')).toEqual([
      'node-types.ini:16: [cluster badlast] NODE_INSTANCE_TYPE: the last item "m1.small:1" must be a plain instance type (the default for the other workers), such as m1.small',
      'node-types.ini:20: [cluster badcount] NODE_INSTANCE_TYPE: item "m1.large:lots": the count "lots" must be a whole number of at least 1',
    ]);
    const text = readFileSync(fixture('node-types.ini'), 'utf8').split('\n[cluster badlast]')[0] ?? '';
    const path = tempConfig(text);
    const config = await loadConfig({ path, env: cleanEnv() });
    // StarCluster checks the counts at `start`, against the size it starts with (`-s` may raise it).
    expect(config.warnings).toEqual([
      `${path}:8: [cluster mixed] NODE_INSTANCE_TYPE (inherited by template overflow): the counts add up to 4 workers, but CLUSTER_SIZE 4 leaves 3 (the master is one of the 4): \`start\` refuses this template unless started with \`-s 5\` or more`,
    ]);
    expect(config.clusters.get('mixed')).toMatchObject({
      nodeInstanceType: 'm1.small',
      nodeInstanceTypes: [
        { instanceType: 'c1.xlarge', imageId: 'ami-0000000b', count: 2 },
        { instanceType: 'm1.large', count: 1 },
        { instanceType: 'm3.medium', imageId: 'ami-0000000c', count: 1 },
      ],
    });
  });
});

describe('INCLUDE', () => {
  it('pulls in files relative to the including file and ~, reads a cycle once, and locates a missing file', async () => {
    expect(await problems('include/main.ini')).toEqual([
      'include/main.ini:2: [global] INCLUDE: cannot read "missing.ini" (include/missing.ini: ENOENT)',
    ]);
    // ok.ini includes aws.ini, which includes ok.ini back, and ~/keys.ini ($HOME is include/home).
    const config = await load('include/ok.ini');
    expect(config.aws.regionName).toBe('ap-southeast-2');
    expect(config.keys.get('mykey')?.location).toBe(join(dirname(fixture('include/home/keys.ini')), 'mykey.rsa'));
    expect(getClusterTemplate(config).key?.name).toBe('mykey');
  });

  it('refuses URLs', async () => {
    const path = tempConfig('[global]\nINCLUDE = https://example.com/config\n');
    expect(await problems(path)).toEqual([
      `${path}:2: [global] INCLUDE: "https://example.com/config" is a URL: download it and INCLUDE its local path`,
    ]);
  });
});

describe('permissions', () => {
  it('checks protocol, port ranges, icmp -1/-1, from <= to, CIDR and one source only', async () => {
    expect(await problems('permissions.ini')).toEqual([
      'permissions.ini:7: [permission icmpbad] icmp rules need FROM_PORT = -1 and TO_PORT = -1, got 0 and 8',
      'permissions.ini:11: [permission reversed] FROM_PORT 90 is greater than TO_PORT 80',
      'permissions.ini:17: [permission toobig] TO_PORT: 70000 is too large (at most 65535)',
      'permissions.ini:20: [permission negative] FROM_PORT: -1 is not a tcp port (0 to 65535)',
      'permissions.ini:26: [permission nocidr] CIDR_IP: "300.1.2.3/8" is not a CIDR range such as 0.0.0.0/0 or 203.0.113.7/32',
      'permissions.ini:32: [permission both] sets both CIDR_IP and SOURCE_GROUP: a rule admits one or the other',
      'permissions.ini:34: [permission noports] is missing required setting FROM_PORT',
      'permissions.ini:34: [permission noports] is missing required setting TO_PORT',
      'permissions.ini:35: [permission noports] IP_PROTOCOL: "sctp" is not one of tcp, udp, icmp (did you mean tcp?)',
      'permissions.ini:39: [permission twice] sets both PROTOCOL and IP_PROTOCOL: keep IP_PROTOCOL',
    ]);
  });

  it("only warns about an unused permission's range or CIDR (StarCluster checked them at start)", async () => {
    const text = readFileSync(fixture('permissions.ini'), 'utf8').split('\n[cluster uses]')[0] ?? '';
    const path = tempConfig(text.replace(/\[permission (toobig|both|noports|twice)\][^[]*/g, ''));
    const config = await loadConfig({ path, env: cleanEnv() });
    expect(config.warnings?.map((w) => w.replace(`${path}:`, ''))).toEqual([
      '7: [permission icmpbad] icmp rules need FROM_PORT = -1 and TO_PORT = -1, got 0 and 8 (no cluster uses [permission icmpbad]; StarCluster would refuse it at `start` of a cluster that does)',
      '11: [permission reversed] FROM_PORT 90 is greater than TO_PORT 80 (no cluster uses [permission reversed]; StarCluster would refuse it at `start` of a cluster that does)',
      '15: [permission negative] FROM_PORT: -1 is not a tcp port (0 to 65535) (no cluster uses [permission negative]; StarCluster would refuse it at `start` of a cluster that does)',
      '21: [permission nocidr] CIDR_IP: "300.1.2.3/8" is not a CIDR range such as 0.0.0.0/0 or 203.0.113.7/32 (no cluster uses [permission nocidr]; StarCluster would refuse it at `start` of a cluster that does)',
    ]);
  });

  it('SOURCE_GROUP admits that group only: no CIDR_IP default beside it', async () => {
    const path = tempConfig(
      ['[permission db]', 'IP_PROTOCOL = tcp', 'FROM_PORT = 5432', 'TO_PORT = 5432', 'SOURCE_GROUP = bastion', ''].join(
        '\n',
      ),
    );
    const config = await loadConfig({ path, env: cleanEnv() });
    expect(config.permissions.get('db')).toEqual({
      name: 'db',
      protocol: 'tcp',
      fromPort: 5432,
      toPort: 5432,
      sourceGroup: 'bastion',
    });
  });

  it('accepts an icmp rule with -1/-1 and a CIDR', async () => {
    const config = await load('full.ini');
    expect(config.permissions.get('ping')).toEqual({
      name: 'ping',
      protocol: 'icmp',
      fromPort: -1,
      toPort: -1,
      cidrIp: '10.0.0.0/8',
    });
  });
});

describe('missing and unreadable files, templates', () => {
  it('throws ConfigNotFound with the init hint', async () => {
    const err = await loadConfig({ path: '/nonexistent/starcluster/config', env: cleanEnv() }).catch((e: unknown) => e);
    expect(StarclusterError.is(err) && err.code).toBe('ConfigNotFound');
    expect((err as StarclusterError).hint).toContain('starcluster config init');
    expect((err as StarclusterError).exitCode).toBe(3);
  });

  it('throws ConfigUnreadable for a folder', async () => {
    const err = await loadConfig({ path: FIXTURES, env: cleanEnv() }).catch((e: unknown) => e);
    expect(StarclusterError.is(err) && err.code).toBe('ConfigUnreadable');
  });

  it('resolves the path from --config, then STARCLUSTER_CONFIG, then STARCLUSTER_HOME/config, then ~/.starcluster/config', () => {
    const env = { HOME: '/home/u', STARCLUSTER_HOME: '/sc', STARCLUSTER_CONFIG: '~/alt.ini' };
    expect(resolveConfigPath('~/flag.ini', env)).toBe('/home/u/flag.ini');
    expect(resolveConfigPath(undefined, env)).toBe('/home/u/alt.ini');
    expect(resolveConfigPath(undefined, { HOME: '/home/u', STARCLUSTER_HOME: '/sc' })).toBe('/sc/config');
    expect(resolveConfigPath(undefined, { HOME: '/home/u' })).toMatch(/\/\.starcluster\/config$/);
  });

  it('uses STARCLUSTER_CONFIG when there is no --config', async () => {
    const config = await loadConfig({ env: cleanEnv({ STARCLUSTER_CONFIG: fixture('full.ini') }) });
    expect(config.path).toBe(fixture('full.ini'));
  });

  it('names the templates when one is unknown or none is given', async () => {
    const config = await load('extends-deep.ini');
    expect(() => getClusterTemplate(config, 'bb')).toThrowError(/no cluster template named "bb" \(did you mean b\?\)/);
    try {
      getClusterTemplate(config);
    } catch (error) {
      expect((error as StarclusterError).code).toBe('NoTemplate');
      expect((error as StarclusterError).details).toEqual([
        `templates in ${fixture('extends-deep.ini')}: a, b, c, d, e`,
      ]);
    }
    expect.assertions(3);
  });
});
