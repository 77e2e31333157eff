import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { createProvider } from '../cloud/index.js';
import { applyStartFlags, renderPlan, startCluster, type StartMode, type StartResult } from '../cluster/start.js';
import { loadTemplate } from '../cluster/session.js';
import { renderClusters } from '../cluster/list.js';

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
    'force-spot-master': Flags.boolean({ description: 'make the master a spot instance too', allowNo: true }),
    'subnet-id': Flags.string({ char: 'N', description: 'VPC subnet for every node' }),
    keyname: Flags.string({ char: 'k', description: 'key pair name (a [key] section)' }),
    'key-location': Flags.string({ char: 'K', description: 'private key file of the key pair' }),
    'cluster-user': Flags.string({ char: 'u', description: 'cluster user' }),
    'create-only': Flags.boolean({ char: 'o', description: 'create the nodes, skip setup and engines' }),
    'validate-only': Flags.boolean({ char: 'v', description: 'validate the template, create nothing' }),
    'skip-validation': Flags.boolean({ char: 'V', description: 'skip validation (not recommended)' }),
    'dry-run': Flags.boolean({ description: 'ask EC2 whether each request would succeed (DryRun), create nothing' }),
    plan: Flags.boolean({ description: 'show what would be created and the estimated cost, create nothing' }),
  };

  async run(): Promise<StartResult> {
    const f = this.flags;
    const { config, template: base } = await loadTemplate(f.config, f['cluster-template']);
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
        ...(f['force-spot-master'] !== undefined ? { forceSpotMaster: f['force-spot-master'] } : {}),
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
      skipValidation: f['skip-validation'],
      io: this.io,
      signal: this.signal,
    });
    if (mode === 'validate-only') this.io.log(`Cluster template ${template.name} is valid for ${result.name}.`);
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
    return result;
  }
}
