import { createServer, type Server, type Socket } from 'node:net';
import { RemoteError } from '../errors.js';
import type { SshConnection } from './connection.js';

export interface Tunnel {
  /** The local port (on 127.0.0.1) that leads to the remote side. */
  readonly localPort: number;
  close(): Promise<void>;
}

/**
 * A local port forward: connections to 127.0.0.1:`localPort` (0 = any free port) reach
 * `remoteHost:remotePort` as seen from the node (e.g. the engine controller on the master's
 * loopback). Bound to loopback only: nothing on the network can use the tunnel.
 */
export function openTunnel(
  connection: SshConnection,
  remoteHost: string,
  remotePort: number,
  localPort = 0,
): Promise<Tunnel> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    connection.forwardOut(remoteHost, remotePort).then(
      (channel) => {
        socket.pipe(channel).pipe(socket);
        channel.on('close', () => socket.destroy());
        socket.on('close', () => channel.close());
        socket.on('error', () => channel.close());
      },
      () => socket.destroy(),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new RemoteError(
          'TunnelFailed',
          `cannot listen on 127.0.0.1:${localPort} for a tunnel to ${connection.alias}: ${error.message}`,
        ),
      ),
    );
    server.listen(localPort, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : localPort;
      resolve({
        localPort: port,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
