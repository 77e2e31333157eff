/** The SSH layer: the only module that talks ssh2. */
export { sshAddress, isFleetAddress, isLoopback } from './address.js';
export { connect, SshConnection, type ConnectTarget, type InteractiveIo } from './connection.js';
export { clusterKeyPair, generateKeyPair, publicKeyLine, readPrivateKey, type KeyPairText } from './keys.js';
export { checkHostKey, forgetHosts, knownHostsName, parseKnownHosts, type KnownHostEntry } from './known-hosts.js';
export { SshPool, type HostTarget, type SshPoolOptions } from './pool.js';
export { Semaphore, mapLimit } from './semaphore.js';
export { openTunnel, type Tunnel } from './tunnel.js';
export { openReverseTunnel, type ReverseTunnel } from './reverse-tunnel.js';
export {
  execChecked,
  shellQuote,
  type CommandRunner,
  type ExecOptions,
  type ExecResult,
  type RemoteHost,
  type TransferOptions,
  type TransferProgress,
} from './types.js';
export { waitForSsh, type WaitForSshOptions } from './wait.js';
