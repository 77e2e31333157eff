import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { createProvider } from '../cloud/index.js';
import { applyStartFlags, renderPlan, startCluster, type StartMode, type StartResult } from '../cluster/start.js';
import { loadTemplate } from '../cluster/session.js';
import { renderClusters } from '../cluster/list.js';
import { runSsh } from '../cli/ssh-terminal.js';
import type { ClusterShell } from '../config/types.js';
import { findNode, openRunningCluster } from '../setup/access.js';

export default class Start extends BaseCommand<typeof Start> {
  static override summary = 'Start a new cluster (or resume a half-made one).';
  static override description =
    'Validates the template against the cloud first and reports every problem at once (AMIs, instance ' +
    'types, key pair and its fingerprint, key file mode, zone, subnet, volumes), then creates the ' +
    'security group @sc-NAME, a placement group where the types support one, and the nodes in as few ' +
    'launches as possible, waits for them, sets them up over SSH and starts the engines. Ctrl-C or a ' +
    'failure removes what this run made; running start again on a half-made cluster resumes it. ' +
    '--plan shows what would be created (image aliases with the AMI ids they resolve to) and an estimated ' +
    'hourly cost; --dry-run asks EC2 with DryRun.';
  static override examples = [
    '<%= config.bin %> start mycluster',
    '<%= config.bin %> start mycluster -c largecluster -s 8 --plan',
    '<%= config.bin %> start mycluster --dry-run',
  ];
  static override args = { name: Args.string({ required: true, description: 'cluster name (its tag)' }) };
  static override flags = {
    'cluster-template': Flags.string({ char: 'c', description: 'cluster template (default: DEFAULT_TEMPLATE)' }),
    'cluster-size': Flags.integer({ char: 's', description: 'number of nodes, master included', min: 1 }),
    'master-image-id': Flags.string({
      char: 'm',
      description:
        'AMI of the master: an id, an alias (debian-12, ubuntu-24.04, ubuntu-22.04, al2023) or resolve:ssm:NAME',
    }),
    'node-image-id': Flags.string({
      char: 'n',
      description: 'AMI of the worker nodes: an id, an alias (see `starcluster listpublic`) or resolve:ssm:NAME',
    }),
    'master-instance-type': Flags.string({ char: 'I', description: 'instance type of the master' }),
    'node-instance-type': Flags.string({ char: 'i', description: 'instance type of the worker nodes' }),
    'availability-zone': Flags.string({ char: 'a', description: 'availability zone for every node' }),
    bid: Flags.string({ char: 'b', description: 'spot bid for worker nodes (USD/hour)' }),
    'force-spot-master': Flags.boolean({
      description: 'make the master a spot instance too (default: on-demand master)',
      exclusive: ['no-spot-master'],
    }),
    'no-spot-master': Flags.boolean({ description: 'keep the master on-demand in a spot cluster (the default)' }),
    'public-ips': Flags.boolean({
      description: 'reach the nodes by public IP (PUBLIC_IPS = True); --no-public-ips: by private IP',
      allowNo: true,
    }),
    'subnet-id': Flags.string({ char: 'N', description: 'VPC subnet for every node' }),
    keyname: Flags.string({ char: 'k', description: 'key pair name (a [key] section)' }),
    'key-location': Flags.string({ char: 'K', description: 'private key file of the key pair' }),
    'cluster-user': Flags.string({ char: 'u', description: 'cluster user' }),
    'cluster-shell': Flags.string({
      char: 'S',
      description: 'shell of the cluster user',
      options: ['bash', 'zsh', 'csh', 'ksh', 'tcsh'],
    }),
    'no-create': Flags.boolean({
      char: 'x',
      description: 'launch nothing: start the cluster’s stopped nodes and set them up (the cluster must exist)',
    }),
    'login-master': Flags.boolean({ char: 'l', description: 'log in to the master when the cluster is up' }),
    'disable-queue': Flags.boolean({
      char: 'q',
      description: 'do not set up the queue (DISABLE_QUEUE = True)',
      exclusive: ['enable-queue'],
    }),
    'enable-queue': Flags.boolean({ char: 'Q', description: 'set up the queue (DISABLE_QUEUE = False)' }),
    'refresh-interval': Flags.integer({
      char: 'r',
      description: 'seconds between polls while waiting for nodes (REFRESH_INTERVAL)',
      min: 1,
    }),
    description: Flags.string({ char: 'd', description: 'a description of the cluster (shown by listclusters)' }),
    'userdata-script': Flags.string({
      char: 'U',
      description: 'a user-data script every node runs at boot (repeatable; after USERDATA_SCRIPTS)',
      multiple: true,
    }),
    'dns-prefix': Flags.boolean({
      char: 'P',
      description: 'prefix node host names with the cluster name (mycluster-master)',
      exclusive: ['no-dns-prefix'],
    }),
    'no-dns-prefix': Flags.boolean({ char: 'p', description: 'do not prefix node host names (the default)' }),
    'create-only': Flags.boolean({ char: 'o', description: 'create the nodes, skip setup and engines' }),
    'validate-only': Flags.boolean({ char: 'v', description: 'validate the template, create nothing' }),
    'skip-validation': Flags.boolean({ char: 'V', description: 'skip validation (not recommended)' }),
    'dry-run': Flags.boolean({ description: 'ask EC2 whether each request would succeed (DryRun), create nothing' }),
    yes: Flags.boolean({
      char: 'y',
      description: 'launch without showing the plan and asking first (it only asks on a terminal)',
    }),
    plan: Flags.boolean({ description: 'show what would be created and the estimated cost, create nothing' }),
  };

  protected override cleanupCommand(): string | undefined {
    return this.args?.name ? `starcluster terminate ${this.args.name}` : undefined;
  }

  async run(): Promise<StartResult> {
    const f = this.flags;
    const { config: loaded, template: base } = await loadTemplate(f.config, f['cluster-template']);
    const config =
      f['refresh-interval'] !== undefined
        ? { ...loaded, global: { ...loaded.global, refreshInterval: f['refresh-interval'] } }
        : loaded;
    const bid = f.bid === undefined ? undefined : Number(f.bid);
    const template = applyStartFlags(
      base,
      {
        ...(f['cluster-size'] !== undefined ? { size: f['cluster-size'] } : {}),
        ...(f['master-image-id'] ? { masterImageId: f['master-image-id'] } : {}),
        ...(f['node-image-id'] ? { nodeImageId: f['node-image-id'] } : {}),
        ...(f['master-instance-type'] ? { masterInstanceType: f['master-instance-type'] } : {}),
        ...(f['node-instance-type'] ? { nodeInstanceType: f['node-instance-type'] } : {}),
        ...(f['availability-zone'] ? { availabilityZone: f['availability-zone'] } : {}),
        ...(bid !== undefined ? { spotBid: bid } : {}),
        ...(f['force-spot-master'] ? { forceSpotMaster: true } : f['no-spot-master'] ? { forceSpotMaster: false } : {}),
        ...(f['public-ips'] !== undefined ? { publicIps: f['public-ips'] } : {}),
        ...(f['cluster-shell'] ? { clusterShell: f['cluster-shell'] as ClusterShell } : {}),
        ...(f['disable-queue'] ? { disableQueue: true } : f['enable-queue'] ? { disableQueue: false } : {}),
        ...(f['dns-prefix'] ? { dnsPrefix: true } : f['no-dns-prefix'] ? { dnsPrefix: false } : {}),
        ...(f['userdata-script']?.length ? { userdataScripts: f['userdata-script'] } : {}),
        ...(f['subnet-id'] ? { subnetId: f['subnet-id'] } : {}),
        ...(f.keyname ? { keyname: f.keyname } : {}),
        ...(f['key-location'] ? { keyLocation: f['key-location'] } : {}),
        ...(f['cluster-user'] ? { clusterUser: f['cluster-user'] } : {}),
      },
      config,
    );
    const mode: StartMode = f['validate-only']
      ? 'validate-only'
      : f.plan
        ? 'plan'
        : f['dry-run']
          ? 'dry-run'
          : 'create';
    const result = await startCluster({
      name: this.args.name,
      template,
      config,
      provider: await createProvider(template, config, { ...(f.region ? { region: f.region } : {}) }),
      mode,
      createOnly: f['create-only'],
      noCreate: f['no-create'],
      ...(f.description ? { description: f.description } : {}),
      // On a terminal, show the plan and its hourly cost and ask; -y, --json and scripts never ask.
      confirm: !f.yes && this.io.interactive && Boolean(process.stdin.isTTY),
      skipValidation: f['skip-validation'],
      io: this.io,
      signal: this.signal,
    });
    if (result.declined)
      this.io.log(`Nothing was created. \`starcluster start ${result.name} -y\` launches without asking.`);
    else if (mode === 'validate-only') this.io.log(`Cluster template ${template.name} is valid for ${result.name}.`);
    else if (mode === 'plan') this.io.log(renderPlan(result.plan));
    else if (mode === 'dry-run') this.io.log([renderPlan(result.plan), ...(result.dryRun ?? [])].join('\n'));
    else
      this.io.log(
        renderClusters([
          {
            name: result.name,
            provider: result.provider,
            template: template.name,
            spotRequests: [],
            nodes: result.nodes,
          },
        ]),
      );
    if (f['login-master'] && mode === 'create' && !result.declined) {
      const ctx = await openRunningCluster({
        name: result.name,
        io: this.io,
        ...(f.config ? { configPath: f.config } : {}),
      });
      await runSsh(this.jsonEnabled(), LOGIN, { ctx, node: findNode(ctx, 'master') });
    }
    return result;
  }
}

/** `-l`: a login shell on the master as root, as StarCluster's ssh_to_master. */
const LOGIN = { user: 'root', 'forward-x11': false, 'forward-agent': false, 'pseudo-tty': false };
