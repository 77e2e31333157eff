import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { createProvider } from '../cloud/index.js';
import { loadConfigOrEmpty } from '../cluster/session.js';
import { providerForCluster } from '../cloud/open.js';
import { terminateCluster, type TerminateResult } from '../cluster/terminate.js';

export default class Terminate extends BaseCommand<typeof Terminate> {
  static override summary = 'Terminate clusters: nodes, spot requests, placement group, security group.';
  static override description =
    'Finds everything by the cluster tag (so it works from any machine), stops the engines and runs the ' +
    'shutdown hooks (unreachable nodes are tolerated), terminates the instances, cancels spot requests, ' +
    'waits until they are gone, then deletes the placement group and the security group (retrying while ' +
    'EC2 still sees it in use). Running it again is harmless. EBS volumes named in [volume] are kept.';
  static override examples = ['<%= config.bin %> terminate mycluster', '<%= config.bin %> terminate a b -c'];
  static override strict = false;
  static override args = { name: Args.string({ required: true, description: 'cluster name(s)' }) };
  static override flags = {
    confirm: Flags.boolean({ char: 'c', description: 'do not ask for confirmation' }),
    force: Flags.boolean({ char: 'f', description: 'skip the shutdown hooks (broken or unreachable nodes)' }),
  };

  protected override assumeYes(): boolean {
    return Boolean(this.flags.confirm);
  }

  async run(): Promise<TerminateResult[]> {
    const config = await loadConfigOrEmpty(this.flags.config);
    const { argv } = await this.parse(Terminate);
    const names = argv.length ? argv.map(String) : [this.args.name];
    const results: TerminateResult[] = [];
    for (const name of names) {
      const provider = this.flags.region
        ? await createProvider(undefined, config, { kind: 'ec2', region: this.flags.region })
        : await providerForCluster(name, config);
      const r = await terminateCluster({
        name,
        config,
        provider,
        confirm: this.flags.confirm,
        force: this.flags.force,
        io: this.io,
        signal: this.signal,
      });
      results.push(r);
      if (r.declined) this.io.log(`Cluster ${name} was not terminated.`);
      else if (r.alreadyGone) this.io.log(`Cluster ${name}: nothing to terminate.`);
      else
        this.io.log(
          `Cluster ${name} terminated: ${r.terminated.length} instance(s)` +
            `${r.deletedSecurityGroups.length ? `, security group ${r.deletedSecurityGroups.join(', ')}` : ''}` +
            `${r.deletedPlacementGroup ? ', placement group' : ''}` +
            `${r.cancelledSpotRequests.length ? `, ${r.cancelledSpotRequests.length} spot request(s)` : ''}.`,
        );
    }
    return results;
  }
}
