/**
 * rebootWatched: `restart` waits until each node has really gone down before setting it up again
 * (RebootInstances returns at once and the instance stays `running`). On the fleet, without it,
 * restart's setup ran on the old boot and was cut off (test/integration/fleet/restart.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../../src/errors.js';
import type { ExecOptions, ExecResult, RemoteHost } from '../../../src/remote/types.js';
import { rebootWatched } from '../../../src/setup/reboot.js';
import type { SetupNode } from '../../../src/setup/session.js';
import { context, record, RecordingAccess } from './recording-access.js';

/** Nodes whose held session ends when `reboot` is called (`down`), unless they never go down (`stuck`). */
class RebootingAccess extends RecordingAccess {
  readonly events: string[] = [];
  private readonly ends: (() => void)[] = [];
  constructor(
    private readonly unreachable: string[] = [],
    private readonly stuck: string[] = [],
  ) {
    super();
  }
  override host(node: SetupNode, user: string): RemoteHost {
    const base = super.host(node, user);
    const exec = (command: string, options?: ExecOptions): Promise<ExecResult> => {
      if (command === 'true')
        return this.unreachable.includes(node.alias)
          ? Promise.reject(new RemoteError('SshConnectFailed', `${node.alias}: no route`))
          : Promise.resolve({ stdout: '', stderr: '', code: 0 });
      this.events.push(`session ${node.alias}`);
      return new Promise((_resolve, reject) => {
        if (this.stuck.includes(node.alias)) {
          setTimeout(() => reject(new RemoteError('RemoteTimeout', 'did not finish')), options?.timeoutMs ?? 0);
          return;
        }
        this.ends.push(() => {
          this.events.push(`down ${node.alias}`);
          reject(new RemoteError('SshClosed', `connection to ${node.alias} closed while running`));
        });
      });
    };
    return { ...base, exec };
  }
  reboot(): Promise<void> {
    this.events.push('reboot');
    for (const end of this.ends.splice(0)) setImmediate(end);
    return Promise.resolve();
  }
}

const nodes = [record('master', '10.0.0.1'), record('node001', '10.0.0.2')];

describe('rebootWatched (restart)', () => {
  it('asks the reboot once a session is held on every node, and returns once each has ended', async () => {
    const access = new RebootingAccess();
    const ids = nodes.map((n) => n.id);
    const unwatched = await rebootWatched(context(nodes), ids, () => access.reboot(), { access });
    expect(unwatched).toEqual([]);
    expect(access.events).toEqual(['session master', 'session node001', 'reboot', 'down master', 'down node001']);
  });

  it('reboots a node it cannot reach unwatched, and names it', async () => {
    const access = new RebootingAccess(['node001']);
    const unwatched = await rebootWatched(context(nodes), ['i-master', 'i-node001'], () => access.reboot(), { access });
    expect(unwatched).toEqual(['node001']);
    expect(access.events).toEqual(['session master', 'reboot', 'down master']);
  });

  it('fails naming a node whose session outlives the wait: it never went down', async () => {
    const access = new RebootingAccess([], ['master']);
    await expect(
      rebootWatched(context(nodes), ['i-master'], () => access.reboot(), { access, timeoutMs: 1 }),
    ).rejects.toMatchObject({ code: 'RebootNotSeen', message: 'master did not go down after the reboot call' });
  });
});
