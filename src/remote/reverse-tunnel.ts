import { connect as netConnect, type Socket } from 'node:net';
import type { ClientChannel } from 'ssh2';
import type { SshConnection } from './connection.js';

export interface ReverseTunnel {
  /** The port the node listens on (on its loopback unless another bind address was asked for). */
  readonly remotePort: number;
  close(): Promise<void>;
}

/**
 * A remote port forward (`ssh -R`): programs on the node connect to `127.0.0.1:remotePort` there
 * and reach `127.0.0.1:localPort` on this machine, through the SSH connection. The node cannot
 * otherwise reach this machine, and nothing listens on a network address: the node's listener is
 * on its loopback (sshd's GatewayPorts is off by default), ours is on our loopback.
 */
export async function openReverseTunnel(
  connection: SshConnection,
  localPort: number,
  options: { localHost?: string; remoteHost?: string; remotePort?: number } = {},
): Promise<ReverseTunnel> {
  const localHost = options.localHost ?? '127.0.0.1';
  const remoteHost = options.remoteHost ?? '127.0.0.1';
  const open = new Set<{ channel: ClientChannel; socket: Socket }>();
  const remotePort = await connection.forwardIn(remoteHost, options.remotePort ?? 0, (channel) => {
    const socket = netConnect(localPort, localHost);
    const pair = { channel, socket };
    open.add(pair);
    const end = (): void => {
      open.delete(pair);
      socket.destroy();
      channel.close();
    };
    socket.on('error', end);
    socket.on('close', end);
    channel.on('error', end);
    channel.on('close', end);
    socket.pipe(channel).pipe(socket);
  });
  let closed = false;
  return {
    remotePort,
    close: async () => {
      if (closed) return;
      closed = true;
      await connection.unforwardIn(remoteHost, remotePort);
      for (const { channel, socket } of open) {
        socket.destroy();
        channel.close();
      }
      open.clear();
    },
  };
}
