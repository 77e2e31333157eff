import { join } from 'node:path';
import { Client } from '../engines/client/client.js';
import { KEY_FILES, loadPeerKeys } from '../engines/protocol/keys.js';
import { deadlineIn, systemClock, type Clock } from '../clock.js';
import { JobError } from '../errors.js';
import { readPrivateKey } from '../remote/keys.js';
import { SshPool } from '../remote/pool.js';
import { openTunnel } from '../remote/tunnel.js';
import { retryUntil } from './retry.js';
import { CONTROLLER_START_MS, ENGINE_STATE_FILE, type EngineState } from './state.js';

/** Connects to a remote controller through an SSH tunnel to the master; closing the client closes both. */
export async function connectThroughTunnel(
  state: EngineState,
  stateDir: string,
  signal?: AbortSignal,
  clock: Clock = systemClock,
): Promise<Client> {
  if (!state.ssh)
    throw new JobError(
      'EngineStateInvalid',
      `${join(stateDir, ENGINE_STATE_FILE)} has no ssh entry: restart the cluster's engines`,
    );
  const pool = new SshPool({
    privateKey: await readPrivateKey(state.ssh.keyPath),
    knownHostsFile: state.ssh.knownHosts,
  });
  try {
    const connection = await pool.connection({ alias: 'master', address: state.ssh.address, user: state.ssh.user });
    const tunnel = await openTunnel(connection, state.host, state.clientPort);
    const keys = await loadPeerKeys(join(stateDir, KEY_FILES.client));
    const attempt = async (): Promise<Client> => {
      const client = await Client.connect({ endpoint: `tcp://127.0.0.1:${tunnel.localPort}`, keys, timeoutMs: 5_000 });
      const close = client.close.bind(client);
      client.close = async () => {
        await close();
        await tunnel.close();
        pool.close();
      };
      return client;
    };
    return await retryUntil(deadlineIn(CONTROLLER_START_MS, clock), attempt, {
      signal,
      expired: async (error) => {
        await tunnel.close();
        return error;
      },
    });
  } catch (error) {
    pool.close();
    throw error;
  }
}
